"""Expired rows are purged on a schedule that works with any number of replicas and workers.

The JWT replay cache (``jwt_replay``) and the SMART sessions (``smart_session``) hold rows that expire;
nothing else deletes them. Each worker process, at most once per ``PURGE_INTERVAL_SECONDS``, tries to
claim the purge after a request: a conditional UPDATE of the one ``maintenance`` row (``task =
'purge'``) that succeeds only when the timestamp stored there is older than the interval. Exactly one
process of all replicas wins per interval (the database serialises the UPDATE); it deletes the expired
rows and the others do nothing. No scheduler, no leader, no extra process; a replica that stops simply
stops competing. Failures are logged and never reach the request.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from cds_hooks.store import Store, metadata

__all__ = ["PURGE_INTERVAL_SECONDS", "Purger", "init_app", "maintenance_table"]

log = logging.getLogger("nelm.cds.purge")

PURGE_INTERVAL_SECONDS = 300.0
TASK = "purge"

maintenance_table = sa.Table(  # created by the Alembic revision 0004_maintenance
    "maintenance",
    metadata,
    sa.Column("task", sa.String(32), primary_key=True),
    sa.Column("last_run", sa.DateTime(), nullable=False),
)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)  # naive UTC, as every table of the store


@dataclass
class Purger:
    """Claims and runs the purge for one process; ``clock`` and ``monotonic`` are injectable for tests."""

    store: Store
    purges: dict[str, Callable[[], int]]
    interval: float = PURGE_INTERVAL_SECONDS
    clock: Callable[[], dt.datetime] = _utc_now
    monotonic: Callable[[], float] = time.monotonic
    _next_try: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def claim(self) -> bool:
        """Return True when this process won the purge of the current interval (one winner in all replicas)."""
        now = self.clock()
        with self.store.engine.begin() as conn:
            result = conn.execute(
                maintenance_table.update()
                .where(maintenance_table.c.task == TASK,
                       maintenance_table.c.last_run <= now - dt.timedelta(seconds=self.interval))
                .values(last_run=now)
            )
        return bool(result.rowcount == 1)

    def maybe_run(self) -> dict[str, int] | None:
        """Purge when due and claimed; return the rows deleted per table, or None when not this time."""
        with self._lock:
            if self.monotonic() < self._next_try:
                return None
            self._next_try = self.monotonic() + self.interval
        try:
            if not self.claim():
                return None
            deleted = {name: purge() for name, purge in self.purges.items()}
        except SQLAlchemyError as exc:
            log.warning("purge of expired rows failed: %s", type(exc).__name__)
            return None
        log.info("expired rows purged", extra={"fields": deleted})
        return deleted


def init_app(app: Flask) -> None:
    """Register the opportunistic purge (after the store and the SMART app are set up)."""
    store = app.extensions.get("nelm_store")
    if not isinstance(store, Store):
        return
    purges: dict[str, Callable[[], int]] = {"jwt_replay": store.purge_expired_jtis}
    smart = app.extensions.get("nelm_smart")
    sessions = getattr(smart, "sessions", None)
    if sessions is not None and getattr(sessions, "engine", None) is store.engine:
        purges["smart_session"] = sessions.purge_expired
    purger = Purger(store=store, purges=purges)
    app.extensions["nelm_purger"] = purger

    @app.teardown_request
    def _purge(_exc: BaseException | None) -> None:
        purger.maybe_run()
