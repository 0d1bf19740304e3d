"""The ``fhirServer`` allow-list: a hook's FHIR server is fetched only when trusted for the token's issuer.

Without it, any caller holding a valid JWT could make us send requests (and the EHR's access token)
to a URL of their choosing (server-side request forgery, token leakage). An allow-list entry is a
URL prefix compared by parts: same scheme, host and port, and a path equal to the entry's path or
below it on a segment boundary (``https://ehr/fhir`` allows ``https://ehr/fhir/r4``, not
``https://ehr/fhirx``). Development entries may use ``:*`` for any port on a loopback host.
"""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

from cds_hooks.security.trust import TrustConfig

__all__ = ["FhirServerAllowList", "url_allowed"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _parts(url: str) -> SplitResult | None:
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        return None
    if "\\" in url or any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        return None
    segments = parts.path.split("/")
    if any(s in {".", ".."} or "%2e" in s.lower() or "%2f" in s.lower() or "%5c" in s.lower() for s in segments):
        return None
    return parts


def _port(parts: SplitResult) -> int:
    return parts.port or _DEFAULT_PORTS[parts.scheme]


def url_allowed(url: str, entry: str, *, production: bool) -> bool:
    """Return True when ``url`` lies under the allow-list ``entry`` (scheme, host, port, path prefix)."""
    any_port = entry.count(":*") == 1
    allowed = _parts(entry.replace(":*", ":1", 1) if any_port else entry)
    target = _parts(url)
    if allowed is None or target is None:
        return False
    if production and target.scheme != "https":
        return False
    if target.scheme != allowed.scheme or target.hostname != allowed.hostname:
        return False
    if not any_port and _port(target) != _port(allowed):
        return False
    prefix = allowed.path.rstrip("/")
    path = target.path.rstrip("/")
    return path == prefix or path.startswith(prefix + "/")


class FhirServerAllowList:
    """``app.extensions["nelm_fhir_allow"]``: (issuer, fhirServer URL) -> may we fetch from it."""

    def __init__(self, trust: TrustConfig, *, production: bool, auth_disabled: bool) -> None:
        self._trust = trust
        self._production = production
        self._auth_disabled = auth_disabled

    def __call__(self, issuer: str | None, url: str) -> bool:
        """Return True when ``url`` may be fetched for a client of ``issuer``."""
        if not isinstance(url, str) or _parts(url) is None:
            return False
        if issuer is None:
            # No verified client: only when authentication is switched off in development.
            return self._auth_disabled and not self._production
        trust = self._trust.issuer(issuer)
        if trust is None:
            return False
        return any(url_allowed(url, entry, production=self._production) for entry in trust.fhir_servers)
