"""The shared throwaway-database helper: unique names, dropped afterwards; skips only when nothing is there."""

from __future__ import annotations

import socket
import threading

import psycopg
import pytest
import sqlalchemy as sa

from tests.support import postgres
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_nothing_configured_and_no_server_skips_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NELM_TEST_POSTGRES_URL", raising=False)
    monkeypatch.setattr(postgres, "DEFAULT_ADMIN_URL", f"postgresql+psycopg://nobody:secret-pw@127.0.0.1:{_free_port()}/x")
    with pytest.raises(pytest.skip.Exception) as skipped, fresh_database():
        pytest.fail("must not be reached")
    reason = str(skipped.value)
    assert "PostgreSQL not reachable at 127.0.0.1:" in reason and "NELM_TEST_POSTGRES_URL" in reason
    assert "secret-pw" not in reason


def test_a_configured_url_that_does_not_connect_fails_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """CI sets the URL: a server that is down must fail the run, not skip the production-store tests."""
    monkeypatch.setenv("NELM_TEST_POSTGRES_URL", f"postgresql+psycopg://nobody:secret-pw@127.0.0.1:{_free_port()}/x")
    with pytest.raises(pytest.fail.Exception) as failed, fresh_database():
        pytest.fail("must not be reached")
    message = str(failed.value)
    assert "NELM_TEST_POSTGRES_URL is set" in message and "secret-pw" not in message


@pytest.mark.postgres
def test_refused_credentials_on_a_real_server_fail_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    with fresh_database("nelm_probe"):  # a real server is here (skips on a machine without one)
        pass
    url = sa.engine.make_url(admin_url()).set(username="nelm_no_such_role", password="secret-pw")
    monkeypatch.setenv("NELM_TEST_POSTGRES_URL", url.render_as_string(hide_password=False))
    with pytest.raises(pytest.fail.Exception) as failed, fresh_database():
        pytest.fail("must not be reached")
    assert "refused the test connection" in str(failed.value) and "secret-pw" not in str(failed.value)


def test_a_listening_server_that_refuses_the_default_url_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing configured, but something listens at the default address and refuses: a failure, not a skip."""
    monkeypatch.delenv("NELM_TEST_POSTGRES_URL", raising=False)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        stop = threading.Event()

        def refuse() -> None:
            listener.settimeout(0.2)
            while not stop.is_set():
                try:
                    conn, _ = listener.accept()
                except OSError:
                    continue
                conn.close()  # not PostgreSQL: the handshake fails

        worker = threading.Thread(target=refuse, daemon=True)
        worker.start()
        monkeypatch.setattr(postgres, "DEFAULT_ADMIN_URL", f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres")
        try:
            with pytest.raises(pytest.fail.Exception) as failed, fresh_database():
                pytest.fail("must not be reached")
        finally:
            stop.set()
            worker.join(2)
    assert "a server listens there" in str(failed.value)


def test_prefix_must_be_a_plain_identifier() -> None:
    with pytest.raises(ValueError, match="prefix"), fresh_database('x"; DROP DATABASE postgres; --'):
        pytest.fail("must not be reached")
