"""Strict JSON parsing of request bodies: one function every endpoint uses.

Refuses what ``json.loads`` would quietly accept: duplicate keys (which value wins differs
between parsers, so a proxy and we could read different patients), NaN/Infinity, nesting deeper
than a limit, invalid UTF-8, and a top level that is not an object.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["BodyError", "parse_json_object"]

MAX_DEPTH = 64


class BodyError(ValueError):
    """The body is not an acceptable JSON object; ``str()`` is a message safe to return."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise BodyError(f"duplicate key {key!r} in JSON object")
        out[key] = value
    return out


def _no_constants(name: str) -> Any:
    raise BodyError(f"{name} is not valid JSON")


# A lone surrogate (``"\\ud800"``) is valid JSON syntax but not Unicode: it cannot be stored, logged or
# re-encoded. NUL cannot be stored by PostgreSQL. Both are refused here rather than failing later.
_BAD_CHARACTERS = re.compile("[\x00\ud800-\udfff]")


def _check_text(text: str) -> None:
    bad = _BAD_CHARACTERS.search(text)
    if bad is not None:
        what = "a NUL character" if bad.group() == "\x00" else f"an unpaired surrogate \\u{ord(bad.group()):04x}"
        raise BodyError(f"JSON string holds {what}: not valid Unicode text")


def _depth(value: Any, limit: int) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise BodyError(f"JSON nested deeper than {limit} levels")
        if isinstance(item, dict):
            for key in item:
                _check_text(key)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, str):
            _check_text(item)


def parse_json_object(raw: bytes, *, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """Return the JSON object in ``raw``; raises BodyError with a client-safe message otherwise."""
    if not raw.strip():
        raise BodyError("request body is empty; a JSON object is required")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(f"request body is not valid UTF-8 (byte {exc.start})") from None
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except RecursionError:
        raise BodyError(f"JSON nested deeper than {max_depth} levels") from None
    except json.JSONDecodeError as exc:
        raise BodyError(f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(value, dict):
        raise BodyError(f"the JSON body must be an object, not {type(value).__name__}")
    _depth(value, max_depth)
    return value
