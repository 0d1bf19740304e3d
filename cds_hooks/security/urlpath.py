"""URLs as the server will read them: dot segments resolved (``%2e`` included) before any prefix check.

``https://ehr/fhir/ok/../../escape`` starts with ``https://ehr/fhir/`` as text, but the HTTP client (urllib3
removes dot segments) and the server read it as ``https://ehr/escape``. So a URL is first put into the
form the request will have: ``%2e`` decoded to ``.`` (it means the same to most servers), dot segments
removed (RFC 3986 section 5.2.4). A URL that still hides a path separator (``%2f``, ``%5c``, ``\\``) or
a control character is refused outright: no prefix check can say where it goes.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

__all__ = ["normalised_url", "under_base"]

_ENCODED_DOT = re.compile("%2e", re.IGNORECASE)
_HIDDEN_SEPARATOR = re.compile(r"%2f|%5c|\\", re.IGNORECASE)


def _remove_dot_segments(path: str) -> str:
    out: list[str] = []
    segments = path.split("/")
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == "..":
            if len(out) > 1:
                out.pop()
            if last:
                out.append("")
        elif segment == ".":
            if last:
                out.append("")
        else:
            out.append(segment)
    return "/".join(out)


def normalised_url(url: str) -> str | None:
    """Return ``url`` with dot segments resolved, or None when it cannot be read safely."""
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        return None
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError:
        return None
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.username or parts.password:
        return None
    path = _ENCODED_DOT.sub(".", parts.path)
    if _HIDDEN_SEPARATOR.search(path):
        return None
    return urlunsplit((parts.scheme, parts.netloc.lower(), _remove_dot_segments(path or "/"), parts.query, ""))


def under_base(url: str, base: str) -> str | None:
    """Return the normalised ``url`` when it lies under ``base`` (same origin, path below it), else None."""
    target, root = normalised_url(url), normalised_url(base)
    if target is None or root is None:
        return None
    t, b = urlsplit(target), urlsplit(root)
    if (t.scheme, t.netloc) != (b.scheme, b.netloc):
        return None
    return target if t.path.startswith(b.path.rstrip("/") + "/") else None
