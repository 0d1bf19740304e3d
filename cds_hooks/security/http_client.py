"""The hardened outbound HTTP client: what the SMART app uses to talk to the EHR (as prefetch does).

Every request: no redirect is followed off the allowed base (``stay_under``, the ``iss`` or FHIR base;
at most ``MAX_REDIRECTS`` within it, GET only, the ``Authorization`` header kept only there); the answer
is read up to ``max_bytes`` and refused beyond (a 60 MiB answer must not swell a worker); the connect and
read timeouts apply to every socket read. The result is an ordinary ``requests.Response`` whose body is
already read, so callers use ``.status_code``, ``.headers`` and ``.json()`` as before. Refusals are
``requests.RequestException`` subclasses: code that handles an unreachable server handles them too.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

import requests

from cds_hooks.security.urlpath import under_base

__all__ = ["DEFAULT_MAX_BYTES", "MAX_REDIRECTS", "RedirectRefused", "ResponseTooLarge", "safe_request"]

DEFAULT_MAX_BYTES = 4 * 1024 * 1024
MAX_REDIRECTS = 3
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class ResponseTooLarge(requests.RequestException):
    """The answer is larger than the cap; it was not read."""


class RedirectRefused(requests.RequestException):
    """The server redirected off the allowed base (or too often)."""


def _read_capped(response: requests.Response, max_bytes: int) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise ResponseTooLarge(f"answer of {declared} bytes is larger than {max_bytes}")
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = response.raw.read1(65_536, decode_content=True)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise ResponseTooLarge(f"answer larger than {max_bytes} bytes")
        chunks.append(chunk)


def safe_request(method: str, url: str, *, stay_under: str, timeout: float, max_bytes: int = DEFAULT_MAX_BYTES,
                 session: requests.Session | None = None, **kwargs: Any) -> requests.Response:
    """Send one request as described above and return the response with its body read."""
    http = session or requests.Session()
    try:
        for _ in range(MAX_REDIRECTS + 1):
            if under_base(url, stay_under) is None and url.rstrip("/") != stay_under.rstrip("/"):
                raise RedirectRefused("the request would leave the EHR's server")
            response = http.request(method, url, timeout=timeout, allow_redirects=False, stream=True, **kwargs)
            try:
                location = response.headers.get("Location")
                if response.status_code in _REDIRECTS and location and method.upper() == "GET":
                    url = urljoin(url, location)
                    continue
                body = _read_capped(response, max_bytes)
            finally:
                response.close()
            response._content = body  # the body is read: .json() and .text work as usual
            return response
        raise RedirectRefused(f"more than {MAX_REDIRECTS} redirects")
    finally:
        if session is None:
            http.close()
