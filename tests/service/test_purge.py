"""Attack finding 7: expired replay entries and SMART sessions are purged, by one replica per interval."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from cds_hooks.app import create_app
from cds_hooks.config import Settings
from cds_hooks.purge import PURGE_INTERVAL_SECONDS, Purger
from cds_hooks.smart.sessions import SESSION_TABLE
from cds_hooks.store import Store, jwt_replay_table
from tests.support.postgres import fresh_database

NOW = dt.datetime(2026, 12, 2, 12, 0, 0)


def _replicas(url: str, count: int = 2) -> list[Flask]:
    return [create_app(Settings(database_url=url)) for _ in range(count)]


def _fill(store: Store, sessions_engine: sa.Engine, tag: str) -> None:
    """Two expired and one live row in each table."""
    past, future = dt.datetime(2020, 1, 1), dt.datetime(2999, 1, 1)
    with store.engine.begin() as conn:
        for i, expires in enumerate((past, past, future)):
            conn.execute(jwt_replay_table.insert().values(issuer="https://ehr", jti=f"{tag}-{i}", expires_at=expires))
    with sessions_engine.begin() as conn:
        for i, expires in enumerate((past, past, future)):
            conn.execute(SESSION_TABLE.insert().values(id_hash=f"{tag}-{i}".ljust(64, "0"), created_at=past,
                                                       expires_at=expires, payload=b"x"))


def _counts(store: Store) -> tuple[int, int]:
    with store.engine.connect() as conn:
        return (int(conn.execute(sa.select(sa.func.count()).select_from(jwt_replay_table)).scalar() or 0),
                int(conn.execute(sa.select(sa.func.count()).select_from(SESSION_TABLE)).scalar() or 0))


def _clock(purger: Purger, now: list[dt.datetime]) -> Purger:
    purger.clock = lambda: now[0]
    purger._next_try = 0.0
    return purger


def _one_purge_per_interval(apps: list[Flask]) -> None:
    store = apps[0].extensions["nelm_store"]
    engine = apps[0].extensions["nelm_smart"].sessions.engine
    now = [NOW]
    purgers = [_clock(app.extensions["nelm_purger"], now) for app in apps]
    # any earlier run (app start-up requests) is before NOW - interval
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE maintenance SET last_run = :t"), {"t": dt.datetime(2000, 1, 1)})
    _fill(store, engine, "a")
    assert _counts(store) == (3, 3)
    assert apps[0].test_client().get("/healthz").status_code == 200  # a request: the purge runs after it
    assert _counts(store) == (1, 1)  # only the live rows remain
    _fill(store, engine, "b")
    purgers[1]._next_try = 0.0
    assert purgers[1].maybe_run() is None  # the other replica: this interval is already taken
    assert _counts(store) == (4, 4)
    now[0] = NOW + dt.timedelta(seconds=PURGE_INTERVAL_SECONDS + 1)
    purgers[1]._next_try = 0.0
    assert purgers[1].maybe_run() == {"jwt_replay": 2, "smart_session": 2}
    assert _counts(store) == (2, 2)
    # many processes racing for the next interval: exactly one wins
    now[0] += dt.timedelta(seconds=PURGE_INTERVAL_SECONDS + 1)
    racers = [Purger(store=store, purges={}, clock=lambda: now[0]) for _ in range(8)]
    wins: list[bool] = []
    threads = [threading.Thread(target=lambda p=p: wins.append(p.claim())) for p in racers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 7 + [True]


def test_replicas_on_sqlite_purge_once_per_interval(tmp_path: Path) -> None:
    apps = _replicas(f"sqlite:///{tmp_path / 'shared.sqlite3'}")
    try:
        _one_purge_per_interval(apps)
    finally:
        for app in apps:
            app.extensions["nelm_store"].dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_database("nelm_purge") as url:
        yield url


@pytest.mark.postgres
def test_replicas_on_postgresql_purge_once_per_interval(pg_url: str) -> None:
    apps = _replicas(pg_url)
    try:
        _one_purge_per_interval(apps)
    finally:
        for app in apps:
            app.extensions["nelm_store"].dispose()


def test_a_failing_purge_never_fails_the_request(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'nelm.sqlite3'}"))
    with app.extensions["nelm_store"].engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE maintenance"))
    _clock(app.extensions["nelm_purger"], [NOW])
    assert app.test_client().get("/healthz").status_code == 200
