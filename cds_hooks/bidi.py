"""Bidirectional-text controls never reach a reader: every text answer has them replaced by U+FFFD.

Embedding, override and isolate controls (U+202A–U+202E, U+2066–U+2069) and the direction marks
(U+200E, U+200F, U+061C) let a string display in another order than it is stored: a draft order named
``"TACE \u202eELBATPECCA"`` reads as something else in a card, a page or a log viewer. The service never
needs them (card text is ours; record text is shown, not laid out), so they are replaced, visibly, by
U+FFFD in every JSON, HTML and plain-text response, whether written as the character or as a JSON
``\\uXXXX`` escape. Responses streamed from files (static assets) are left alone.
"""

from __future__ import annotations

import re

from flask import Flask, Response

__all__ = ["BIDI_CONTROLS", "init_app", "neutralise_body"]

BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
REPLACEMENT = "\ufffd"
_RAW = re.compile(f"[{BIDI_CONTROLS}]")
_ESCAPED = re.compile(rb"\\u(?:202[a-eA-E]|206[6-9]|200[eEfF]|061[cC])")
_RAW_BYTES = re.compile("|".join(c for c in BIDI_CONTROLS).encode("utf-8"))
_TEXT_TYPES = ("application/json", "application/fhir+json", "text/html", "text/plain", "text/markdown")


def neutralise_body(body: bytes) -> bytes:
    """Return a UTF-8 (JSON or HTML) body with bidi controls replaced, raw or as JSON escapes."""
    if b"\\u" in body:
        body = _ESCAPED.sub(rb"\\ufffd", body)
    if b"\xe2\x80" in body or b"\xe2\x81" in body or b"\xd8\x9c" in body:
        body = _RAW_BYTES.sub(REPLACEMENT.encode("utf-8"), body)
    return body


def init_app(app: Flask) -> None:
    """Register the after-request filter on ``app``."""

    @app.after_request
    def _no_bidi_controls(response: Response) -> Response:
        if response.direct_passthrough or response.is_streamed or response.mimetype not in _TEXT_TYPES:
            return response
        body = response.get_data()
        clean = neutralise_body(body)
        if clean is not body and clean != body:
            response.set_data(clean)
        return response
