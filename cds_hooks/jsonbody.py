"""Strict JSON parsing of request bodies: one function every endpoint uses.

Refuses what ``json.loads`` would quietly accept: duplicate keys (which value wins differs
between parsers, so a proxy and we could read different patients), NaN/Infinity, a number too large
for a double (``1e999``) or with more than ``MAX_NUMBER_DIGITS`` digits (Python refuses integers of
over 4,300 digits with a bare ValueError; no FHIR value needs a hundred), nesting deeper than a limit,
invalid UTF-8, and a top level that is not an object.
"""

from __future__ import annotations

import gc
import json
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["BodyError", "parse_json_object", "reference_parse"]

MAX_DEPTH = 64
MAX_NUMBER_DIGITS = 100
# A run of more digits than that anywhere in the text (in a number, or harmlessly in a string): the fast
# path leaves such a body to the reference parse, which checks every integer.
_LONG_DIGITS = re.compile(rb"[0-9]{%d}" % (MAX_NUMBER_DIGITS + 1))


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


def _bounded_int(digits: str) -> int:
    if len(digits) - digits.startswith("-") > MAX_NUMBER_DIGITS:
        raise BodyError(f"JSON number with more than {MAX_NUMBER_DIGITS} digits")
    return int(digits)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BodyError(f"JSON number {text[:20]}{'…' if len(text) > 20 else ''} is too large for a double")
    return value


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


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause CPython's cyclic garbage collector while a body is parsed.

    ``json.loads`` only builds new trees (no reference cycles, nothing for the collector to free), but
    the tens of thousands of containers it makes trigger collections that each scan the worker's
    whole heap: in a worker process they doubled the median parse of a 1,000-resource body. The
    collector is switched back on only if this call switched it off (another thread may be parsing).
    """
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def reference_parse(raw: bytes, *, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """Return the JSON object in ``raw`` the simple way (a hook on every object); raises BodyError.

    The definition of what the product accepts: ``parse_json_object`` must give the same value or
    the same error, and falls back to this function whenever its cheap checks see anything unusual.
    """
    text = _text(raw)
    try:
        with _collector_paused():
            value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants,
                               parse_int=_bounded_int, parse_float=_finite_float)
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


def _text(raw: bytes) -> str:
    if not raw.strip():
        raise BodyError("request body is empty; a JSON object is required")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(f"request body is not valid UTF-8 (byte {exc.start})") from None


# The fast path keeps, of the (valid) text, only what lies outside strings and matters: colons (one per
# key) and brackets. Escapes go first (an escaped quote does not end a string). Every byte that can
# follow a backslash in an escape is kept until then, so that deleting bytes never joins a backslash
# to a byte it did not escape.
_KEEP_WITH_ESCAPES = b'"\\:[]{}/bfnrtu'
_DROP_WITH_ESCAPES = bytes(c for c in range(256) if c not in _KEEP_WITH_ESCAPES)
_DROP = bytes(c for c in range(256) if c not in b'":[]{}')


def _structure(raw: bytes) -> tuple[int, bytes]:
    """Return the number of keys written in the valid JSON ``raw`` and its brackets (outside strings)."""
    if b"\\" in raw:
        kept = raw.translate(None, _DROP_WITH_ESCAPES).replace(b"\\\\", b"").replace(b'\\"', b"")
        kept = kept.translate(None, _DROP)
    else:
        kept = raw.translate(None, _DROP)
    # Unescaped quotes only delimit strings: split on them, the odd pieces are inside strings. Removing
    # adjacent quotes first (an empty string, or two strings with nothing that matters between them)
    # changes nothing outside strings and leaves far fewer pieces.
    outside = b"".join(kept.replace(b'""', b"").split(b'"')[::2])
    return outside.count(b":"), outside.translate(None, b":")


def _shallow(brackets: bytes, limit: int) -> bool:
    """Return True when the brackets of valid JSON surely nest at most ``limit`` deep (False: not sure).

    One pass removes every innermost ``{}`` and then every innermost ``[]``: at least one level and
    at most two. Empty after ``k`` passes means depth <= 2k.
    """
    passes = 0
    while brackets and 2 * passes < limit:
        brackets = brackets.replace(b"{}", b"").replace(b"[]", b"")
        passes += 1
    return not brackets


def parse_json_object(raw: bytes, *, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """Return the JSON object in ``raw``; raises BodyError with a client-safe message otherwise.

    Same answer as ``reference_parse``, about twice as fast on a clean body: plain ``json.loads``
    (no per-object pairs list), then the keys the parser kept are counted against the keys written in
    the text: a duplicate key is the only way they can differ. Anything unusual (an error, a
    duplicate, deep nesting, a top level that is not an object) is decided by ``reference_parse``.
    """
    text = _text(raw)
    if _LONG_DIGITS.search(raw):
        return reference_parse(raw, max_depth=max_depth)
    kept = 0

    def count_keys(obj: dict[str, Any]) -> dict[str, Any]:
        nonlocal kept
        kept += len(obj)
        return obj

    try:
        with _collector_paused():
            value = json.loads(text, object_hook=count_keys, parse_constant=_no_constants, parse_float=_finite_float)
    except (RecursionError, ValueError):  # JSONDecodeError and BodyError are ValueErrors
        return reference_parse(raw, max_depth=max_depth)
    if not isinstance(value, dict):
        return reference_parse(raw, max_depth=max_depth)
    written, brackets = _structure(raw)
    if written != kept or not _shallow(brackets, max_depth):
        return reference_parse(raw, max_depth=max_depth)
    if b"\\" in raw and _SUSPECT_ESCAPE.search(text):  # a NUL or surrogate needs a \\u escape
        _check_strings(value)
    return value
