"""Read a request body of at most ``limit`` bytes, whatever its transfer encoding; more is an error.

With ``Content-Length`` Werkzeug refuses an oversized body before reading it. A chunked body has no
length: Werkzeug then wraps the server's (terminated) input in a stream capped at the limit that simply
stops there, so a valid JSON prefix followed by megabytes of padding and garbage would be read as the
valid prefix. Here the input is read to one byte past the limit: if that byte exists, the body is too
large.
"""

from __future__ import annotations

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

__all__ = ["BodyTooLargeError", "read_body"]

_CHUNK = 65_536


class BodyTooLargeError(ValueError):
    """The body is larger than the limit."""


def read_body(limit: int) -> bytes:
    """Return the request body; raises BodyTooLargeError when it is longer than ``limit`` bytes."""
    if request.content_length is not None:
        if request.content_length > limit:
            raise BodyTooLargeError
        try:
            raw = request.get_data(cache=False)
        except RequestEntityTooLarge:
            raise BodyTooLargeError from None
        if len(raw) > limit:
            raise BodyTooLargeError
        return raw
    if "wsgi.input_terminated" not in request.environ:
        return b""  # no length and a server that does not end the stream: nothing can be read safely
    stream = request.environ["wsgi.input"]
    parts: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = stream.read(min(_CHUNK, limit + 1 - size))
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)
        size += len(chunk)
    raise BodyTooLargeError
