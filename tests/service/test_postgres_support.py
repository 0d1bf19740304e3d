"""The shared throwaway-database helper: unique names, dropped afterwards, a clear skip when unreachable."""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa

from tests.support.postgres import admin_url, fresh_database, libpq_url


def _exists(name: str) -> bool:
    with psycopg.connect(libpq_url(admin_url()), autocommit=True, connect_timeout=3) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


@pytest.mark.postgres
def test_each_database_is_new_usable_and_dropped() -> None:
    with fresh_database("nelm_probe") as first, fresh_database("nelm_probe") as second:
        names = [sa.engine.make_url(u).database or "" for u in (first, second)]
        assert names[0] != names[1] and all(n.startswith("nelm_probe_") for n in names)
        engine = sa.create_engine(first)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT current_database()")).scalar() == names[0]
        # left open on purpose: the drop must not be blocked by a test's leftover connection
        leftover = engine.connect()
        assert all(_exists(n) for n in names)
    assert not any(_exists(n) for n in names)
    leftover.invalidate()
    engine.dispose()


def test_unreachable_server_skips_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NELM_TEST_POSTGRES_URL", "postgresql+psycopg://nobody:secret-pw@127.0.0.1:1/none")
    with pytest.raises(pytest.skip.Exception) as skipped, fresh_database():
        pytest.fail("must not be reached")
    reason = str(skipped.value)
    assert "PostgreSQL not reachable at 127.0.0.1:1" in reason and "NELM_TEST_POSTGRES_URL" in reason
    assert "secret-pw" not in reason


def test_prefix_must_be_a_plain_identifier() -> None:
    with pytest.raises(ValueError, match="prefix"), fresh_database('x"; DROP DATABASE postgres; --'):
        pytest.fail("must not be reached")
