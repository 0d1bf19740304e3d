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
    out = dict(pairs)
    if len(out) != len(pairs):  # rare: only then look for the culprit
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise BodyError(f"duplicate key {key!r} in JSON object")
            seen.add(key)
    return out


def _no_constants(name: str) -> Any:
    raise BodyError(f"{name} is not valid JSON")


# A lone surrogate (``"\\ud800"``) is valid JSON syntax but not Unicode: it cannot be stored, logged or
# re-encoded. NUL cannot be stored by PostgreSQL. Both are refused here rather than failing later.
# Both can only reach a parsed string through a \\u escape (raw NUL is a control character that the
# parser refuses; raw surrogates cannot survive UTF-8 decoding), so one scan of the text finds the
# bodies worth a closer look.
_BAD_CHARACTERS = re.compile("[\x00\ud800-\udfff]")
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")
_PLAIN_STRING = re.compile(rb'"[^"]*"')
_INNERMOST_PAIR = re.compile(rb"[\[{][\]}]")
_NOT_BRACKETS_OR_QUOTES = bytes(c for c in range(128) if chr(c) not in '[]{}"')


def _check_text(text: str) -> None:
    bad = _BAD_CHARACTERS.search(text)
    if bad is not None:
        what = "a NUL character" if bad.group() == "\x00" else f"an unpaired surrogate \\u{ord(bad.group()):04x}"
        raise BodyError(f"JSON string holds {what}: not valid Unicode text")


def _check_strings(value: Any) -> None:
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                _check_text(key)
                stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            _check_text(item)


def _check_depth(raw: bytes, limit: int) -> None:
    """Raise BodyError when the (already valid) JSON ``raw`` nests deeper than ``limit``.

    Works on the text at C speed: escaped backslashes and quotes are dropped, then everything but
    brackets and quotes (string contents left are only non-ASCII bytes), then whole strings; innermost
    ``[]``/``{}`` pairs are then peeled off once per level: anything left after ``limit`` peels is deeper.
    """
    skeleton = raw.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_BRACKETS_OR_QUOTES)
    brackets = _PLAIN_STRING.sub(b"", skeleton)
    for _ in range(limit):
        if not brackets:
            return
        brackets = _INNERMOST_PAIR.sub(b"", brackets)
    if brackets:
        raise BodyError(f"JSON nested deeper than {limit} levels")


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
    _check_depth(raw, max_depth)
    if _SUSPECT_ESCAPE.search(text):
        _check_strings(value)
    return value
