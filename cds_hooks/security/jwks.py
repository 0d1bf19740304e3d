"""JWK Sets fetched from allow-listed ``jku`` URLs: cached, re-fetched on an unknown ``kid``, rate-limited.

Only URLs that the trust configuration allow-lists for the token's issuer ever reach this cache
(the verifier checks that first), so a token cannot make us fetch an arbitrary URL. Fetches have a
timeout, follow no redirects and read at most ``MAX_JWKS_BYTES``. A failed fetch keeps the keys
already cached (a key being rotated in stays usable until the cache expires).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import jwt
import requests

from cds_hooks.security.trust import TrustConfigError, parse_jwk

__all__ = ["MAX_JWKS_BYTES", "JwksCache"]

MAX_JWKS_BYTES = 256 * 1024
log = logging.getLogger("nelm.security.jwks")


@dataclass(slots=True)
class _Entry:
    lock: threading.Lock = field(default_factory=threading.Lock)
    keys: dict[str, jwt.PyJWK] = field(default_factory=dict)
    every: tuple[jwt.PyJWK, ...] = ()  # every signature key of the set, with or without kid, in order
    fetched_at: float | None = None  # last successful fetch
    attempted_at: float | None = None  # last attempt, successful or not


class JwksCache:
    """Keys of remote JWK Sets by (URL, kid), thread-safe, shared by every request of a worker."""

    def __init__(
        self,
        *,
        timeout_seconds: float,
        cache_seconds: float,
        min_refetch_seconds: float,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._timeout = timeout_seconds
        self._cache_seconds = cache_seconds
        self._min_refetch = min_refetch_seconds
        self._session = session or requests.Session()
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()  # guards _entries; each URL has its own lock for its fetches

    def key(self, url: str, kid: str) -> jwt.PyJWK | None:
        """Return the key ``kid`` of the JWK Set at ``url``, fetching it when needed; None when absent."""
        with self._lock:
            entry = self._entries.setdefault(url, _Entry())
        # A slow jku delays only tokens of that jku, not every verification of the worker.
        with entry.lock:
            now = self._clock()
            fresh = entry.fetched_at is not None and now - entry.fetched_at < self._cache_seconds
            if fresh and kid in entry.keys:
                return entry.keys[kid]
            self._refetch(url, entry, now)
            return entry.keys.get(kid)

    def key_set(self, url: str, *, refresh: bool = False) -> tuple[jwt.PyJWK, ...]:
        """Return every signature key of the JWK Set at ``url`` (keys without ``kid`` included).

        For tokens that name no ``kid`` (OpenID Connect allows that when the set holds one key).
        ``refresh`` re-reads the set, within the same rate limit as an unknown kid (key rotation).
        """
        with self._lock:
            entry = self._entries.setdefault(url, _Entry())
        with entry.lock:
            now = self._clock()
            fresh = entry.fetched_at is not None and now - entry.fetched_at < self._cache_seconds
            if refresh or not fresh:
                self._refetch(url, entry, now)
            return entry.every

    def _refetch(self, url: str, entry: _Entry, now: float) -> None:
        if entry.attempted_at is not None and now - entry.attempted_at < self._min_refetch:
            return
        entry.attempted_at = now
        parsed = self._fetch(url)
        if parsed is not None:
            entry.keys, entry.every = parsed
            entry.fetched_at = now

    def _fetch(self, url: str) -> tuple[dict[str, jwt.PyJWK], tuple[jwt.PyJWK, ...]] | None:
        try:
            with self._session.get(
                url,
                timeout=self._timeout,
                allow_redirects=False,
                stream=True,
                headers={"Accept": "application/json"},
            ) as response:
                if response.status_code != 200:
                    log.warning("jku fetch refused", extra={"fields": {"jku": url, "status": response.status_code}})
                    return None
                body = b""
                for chunk in response.iter_content(chunk_size=16384):
                    body += chunk
                    if len(body) > MAX_JWKS_BYTES:
                        log.warning("jku answer too large", extra={"fields": {"jku": url}})
                        return None
        except requests.RequestException as exc:
            log.warning("jku fetch failed", extra={"fields": {"jku": url, "error": type(exc).__name__}})
            return None
        return self._parse(url, body)

    def _parse(self, url: str, body: bytes) -> tuple[dict[str, jwt.PyJWK], tuple[jwt.PyJWK, ...]] | None:
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            log.warning("jku answer is not JSON", extra={"fields": {"jku": url}})
            return None
        if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
            log.warning("jku answer is not a JWK Set", extra={"fields": {"jku": url}})
            return None
        keys: dict[str, jwt.PyJWK] = {}
        every: list[jwt.PyJWK] = []
        for i, item in enumerate(data["keys"]):
            try:
                key = parse_jwk(item, f"keys[{i}]", require_kid=False)
            except TrustConfigError as exc:
                # Encryption keys and the like may share a JWK Set; skip them, keep the rest.
                log.info("jku key skipped", extra={"fields": {"jku": url, "reason": str(exc)}})
                continue
            every.append(key)
            if "kid" in item:  # a key without kid is found only by key_set (never for a token naming a kid)
                keys.setdefault(str(item["kid"]), key)
        log.info("jku fetched", extra={"fields": {"jku": url, "kids": sorted(keys), "keys": len(every)}})
        return keys, tuple(every)
