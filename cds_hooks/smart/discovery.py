"""The EHR's ``.well-known/smart-configuration``, cached per ``iss`` so a launch is not an outbound request.

``/smart/launch`` answers anyone (the EHR opens it in the user's browser, unauthenticated). Without a
cache every call made the service fetch the EHR's configuration: a free amplifier. A configuration read
is kept ``DISCOVERY_TTL_SECONDS``; a failure is remembered ``FAILURE_TTL_SECONDS`` (the same error is
answered again without a new request), so at most one request per ``iss`` per period leaves the
service, whatever the number of launches. Only registered ``iss`` values reach here (``launch.py``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask

from cds_hooks.smart.oauth import DiscoveryError, SmartConfiguration

__all__ = ["DISCOVERY_TTL_SECONDS", "FAILURE_TTL_SECONDS", "DiscoveryCache", "cached_discovery"]

DISCOVERY_TTL_SECONDS = 300.0
FAILURE_TTL_SECONDS = 30.0


@dataclass
class DiscoveryCache:
    """Per-iss cache of SMART configurations and recent failures (thread-safe)."""

    clock: Callable[[], float] = time.monotonic
    _entries: dict[str, tuple[float, SmartConfiguration | DiscoveryError]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, iss: str, fetch: Callable[[], SmartConfiguration]) -> SmartConfiguration:
        """Return the cached configuration of ``iss``, fetching it when absent or stale; raises DiscoveryError."""
        with self._lock:
            cached = self._entries.get(iss)
        if cached is not None and cached[0] > self.clock():
            if isinstance(cached[1], DiscoveryError):
                raise cached[1]
            return cached[1]
        try:
            config = fetch()
        except DiscoveryError as exc:
            with self._lock:
                self._entries[iss] = (self.clock() + FAILURE_TTL_SECONDS, exc)
            raise
        with self._lock:
            self._entries[iss] = (self.clock() + DISCOVERY_TTL_SECONDS, config)
        return config


def cached_discovery(app: Flask, iss: str, fetch: Callable[[], SmartConfiguration]) -> SmartConfiguration:
    """Return ``iss``'s SMART configuration through the app's cache (created on first use)."""
    cache = app.extensions.setdefault("nelm_smart_discovery", DiscoveryCache())
    if not isinstance(cache, DiscoveryCache):
        raise TypeError("nelm_smart_discovery is not a DiscoveryCache")
    return cache.get(iss, fetch)
