"""The ``jti`` replay guard: the store's shared table when there is one, else a per-process cache.

The store (``app.extensions["nelm_store"]``, ``remember_jti(issuer, jti, expires_at) -> bool``)
keeps seen ``jti`` values in the database, so every replica refuses a token another replica has
already accepted. ``MemoryReplayCache`` stands in only in development when no store is
registered; production refuses to start without the store.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Protocol

__all__ = ["MemoryReplayCache", "ReplayGuard"]


class ReplayGuard(Protocol):
    """Anything that remembers a ``jti`` and says whether it is new."""

    def remember_jti(self, issuer: str, jti: str, expires_at: datetime) -> bool:
        """Return True the first time (issuer, jti) is seen, False for a replay within its lifetime."""
        ...


class MemoryReplayCache:
    """Per-process replay cache (development fallback only: replicas do not share it)."""

    def __init__(self, *, max_entries: int = 100_000) -> None:
        self._seen: dict[tuple[str, str], datetime] = {}
        self._lock = threading.Lock()
        self._max = max_entries

    def remember_jti(self, issuer: str, jti: str, expires_at: datetime) -> bool:
        """Return True the first time (issuer, jti) is seen, False for a replay within its lifetime."""
        now = datetime.now(UTC)
        with self._lock:
            if len(self._seen) >= self._max:
                self._seen = {k: v for k, v in self._seen.items() if v > now}
                if len(self._seen) >= self._max:
                    # Full of live tokens: refuse rather than forget (forgetting would allow replays).
                    return False
            previous = self._seen.get((issuer, jti))
            if previous is not None and previous > now:
                return False
            self._seen[(issuer, jti)] = expires_at
            return True
