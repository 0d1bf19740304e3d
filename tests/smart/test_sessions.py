"""Server-side SMART sessions: migration 0002 on SQLite and PostgreSQL, encryption, expiry, rotation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from cds_hooks.smart.sessions import SESSION_TABLE, SmartSessionStore
from cds_hooks.store import MIGRATIONS, Store
from tests.support.postgres import fresh_database


@pytest.fixture(params=["sqlite", "postgresql"])
def migrated(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A store migrated to head (0001 + 0002) on SQLite or on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        store = Store(f"sqlite:///{tmp_path / 'instance' / 'nelm.sqlite3'}")
        store.upgrade()
        yield store
        store.dispose()
        return
    with fresh_database("nelm_smart") as url:
        store = Store(url)
        try:
            store.upgrade()
            yield store
        finally:
            store.dispose()


def test_migration_creates_the_session_table_idempotently(migrated: Store) -> None:
    migrated.upgrade()  # again: nothing to do
    # At head, which includes 0002 (later revisions such as 0003_issued_cards build on it).
    script = ScriptDirectory(str(MIGRATIONS))
    assert migrated.revision() == script.get_current_head()
    assert "0002_smart_sessions" in {r.revision for r in script.walk_revisions()}
    columns = {c["name"] for c in sa.inspect(migrated.engine).get_columns("smart_session")}
    assert columns == {"id_hash", "created_at", "expires_at", "payload"}


def test_round_trip_rotation_and_deletion(migrated: Store) -> None:
    sessions = SmartSessionStore(migrated.engine, secret="k1", lifetime=dt.timedelta(hours=1))
    sid = sessions.create({"access_token": "secret-token-value", "patient": "p1"})
    assert sessions.load(sid) == {"access_token": "secret-token-value", "patient": "p1"}
    with migrated.engine.connect() as conn:
        row = conn.execute(sa.select(SESSION_TABLE)).one()
    assert row.id_hash != sid and sid not in row.id_hash  # only a hash of the cookie value is stored
    assert b"secret-token-value" not in bytes(row.payload)  # encrypted at rest
    sessions.save(sid, {"patient": "p2"})
    assert sessions.load(sid) == {"patient": "p2"}
    new = sessions.rotate(sid, {"patient": "p3"})
    assert new != sid and sessions.load(sid) is None and sessions.load(new) == {"patient": "p3"}
    sessions.delete(new)
    assert sessions.load(new) is None


def test_expired_unknown_and_foreign_sessions_are_not_loaded(migrated: Store) -> None:
    expired = SmartSessionStore(migrated.engine, secret="k1", lifetime=dt.timedelta(seconds=-1))
    sid = expired.create({"x": 1})
    live = SmartSessionStore(migrated.engine, secret="k1", lifetime=dt.timedelta(hours=1))
    assert live.load(sid) is None
    assert live.purge_expired() >= 1
    assert live.load("no-such-session") is None and live.load("") is None and live.load("x" * 500) is None
    other_key = SmartSessionStore(migrated.engine, secret="rotated", lifetime=dt.timedelta(hours=1))
    assert other_key.load(live.create({"x": 2})) is None  # written under another secret: launch again
