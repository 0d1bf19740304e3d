"""The fast strict parser (plain json.loads + key counting) answers exactly like the hook-based reference.

``parse_json_object`` parses without a per-object hook and compares the keys it kept with the keys
written in the text; ``reference_parse`` refuses duplicates with an ``object_pairs_hook``. Both must
accept the same bodies with the same value and refuse the same bodies with the same message.
"""

from __future__ import annotations

import gc
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cds_hooks import jsonbody
from cds_hooks.jsonbody import BodyError, parse_json_object, reference_parse

# Pieces of JSON string content, as written in the text: the characters that could fool a text scan
# (quotes, backslashes, colons, brackets, commas), escapes that spell other keys (\u0061 is "a"),
# NUL, lone and paired surrogates, non-ASCII.
_PIECES = [
    "a", "b", ":", "[", "]", "{", "}", ",", " ", "é", "€", "😀", "T09:00:00Z", "http://x/y",
    '\\"', "\\\\", "\\/", "\\n", "\\t", "\\b", "\\f", "\\r", "\\u0061", "\\u0022", "\\u005c", "\\u003a",
    "\\u0000", "\\ud800", "\\udfff", "\\ud83d\\ude00", '\\\\\\"', '\\":', '\\\\":',
]


def _outcome(fn: Any, raw: bytes, depth: int) -> tuple[str, Any]:
    try:
        return "ok", fn(raw, max_depth=depth)
    except BodyError as exc:
        return "refused", str(exc)


def _ws() -> st.SearchStrategy[str]:
    return st.sampled_from(["", "", " ", "\n", "\t ", "\r\n"])


def _string() -> st.SearchStrategy[str]:
    # Few distinct keys, so duplicates (also spelled differently) are common.
    return st.lists(st.sampled_from(_PIECES), max_size=4).map(lambda parts: '"' + "".join(parts) + '"')


_SCALARS = st.one_of(
    _string(),
    st.sampled_from(["0", "-1", "1.5e3", "true", "false", "null", "NaN", "-Infinity", "12345678901234567890"]),
)


def _containers(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    pair = st.tuples(_ws(), _string(), _ws(), _ws(), children, _ws()).map(lambda t: "{}{}{}:{}{}{}".format(*t))
    obj = st.lists(pair, max_size=4).map(lambda pairs: "{" + ",".join(pairs) + "}")
    arr = st.lists(st.tuples(_ws(), children).map("".join), max_size=4).map(lambda items: "[" + ",".join(items) + "]")
    return st.one_of(obj, arr)


_VALUES = st.recursive(_SCALARS, _containers, max_leaves=25)
_OBJECTS = _containers(_VALUES).filter(lambda text: text.startswith("{")) | _VALUES


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(text=_OBJECTS, depth=st.sampled_from([2, 3, 4, 5, 64]), cut=st.integers(min_value=0, max_value=40))
def test_fast_parser_answers_like_the_reference(text: str, depth: int, cut: int) -> None:
    raw = text.encode("utf-8")
    assert _outcome(parse_json_object, raw, depth) == _outcome(reference_parse, raw, depth)
    broken = raw[: max(0, len(raw) - cut)]  # truncated bodies: malformed, or (cut 0) the same
    assert _outcome(parse_json_object, broken, depth) == _outcome(reference_parse, broken, depth)


_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=6)


@settings(max_examples=100, deadline=None)
@given(
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _TEXT,
        lambda children: st.lists(children, max_size=4) | st.dictionaries(_TEXT, children, max_size=4),
        max_leaves=30,
    ),
    ascii_only=st.booleans(),
    indent=st.sampled_from([None, 0, 2]),
)
def test_fast_parser_reads_back_what_json_dumps_writes(value: Any, ascii_only: bool, indent: int | None) -> None:
    raw = json.dumps({"v": value}, ensure_ascii=ascii_only, indent=indent).encode("utf-8")
    assert parse_json_object(raw) == {"v": value} == reference_parse(raw)


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 1, "\\u0061": 2}',  # the same key spelled with an escape
        b'{"a\\":": 1, "a\\":": 2}',  # an escaped quote and a colon inside the key
        b'{"x": {"k": [1, {"q": 1, "q": 2}]}}',  # deep inside
        b'{"s": "\\\\", "s": "\\"}"}',  # escaped backslash then a quote that ends the string
        b'{"u": "\\ud83d\\ude00", "u": 0}',
    ],
)
def test_duplicates_hidden_by_escapes_or_nesting_are_refused(body: bytes) -> None:
    with pytest.raises(BodyError, match="duplicate key"):
        parse_json_object(body)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"a:": "{:}", "b": "\\":"}', {"a:": "{:}", "b": '":'}),
        (b'{"\\\\": "\\\\\\"", "k": [":", "]", "["]}', {"\\": '\\"', "k": [":", "]", "["]}),
        (b'{"emoji": "\\ud83d\\ude00 \xc3\xa9"}', {"emoji": "😀 é"}),
    ],
)
def test_strings_that_look_like_structure_are_read_as_written(body: bytes, expected: dict[str, Any]) -> None:
    assert parse_json_object(body) == expected


def test_depth_nul_and_surrogate_refusals_are_kept() -> None:
    ok = b'{"a":' + b"[" * 63 + b"]" * 63 + b"}"
    assert parse_json_object(ok)  # 64 levels: the limit
    with pytest.raises(BodyError, match="nested deeper than 64 levels"):
        parse_json_object(b'{"a":' + b"[" * 64 + b"]" * 64 + b"}")
    with pytest.raises(BodyError, match="nested deeper than 3 levels"):
        parse_json_object(b'{"a":{"b":[{}]}}', max_depth=3)
    with pytest.raises(BodyError, match="NUL"):
        parse_json_object(b'{"a": "x\\u0000"}')
    with pytest.raises(BodyError, match="unpaired surrogate"):
        parse_json_object(b'{"\\udc00": 1}')


def test_clean_bodies_never_need_the_reference_and_duplicates_always_do(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bytes] = []

    def spy(raw: bytes, *, max_depth: int = 64) -> dict[str, Any]:
        calls.append(raw)
        return reference_parse(raw, max_depth=max_depth)

    monkeypatch.setattr(jsonbody, "reference_parse", spy)
    tricky = 'say "a:b", {x}: [\\"] \\ é'  # quotes, colons, brackets and backslashes inside a string
    entries = [{"resource": {"id": f"o{i}", "t": tricky, "div": '<div xmlns="x">:</div>'}} for i in range(50)]
    clean = json.dumps({"resourceType": "Bundle", "entry": entries})
    assert parse_json_object(clean.encode())["entry"][49]["resource"] == entries[49]["resource"]
    assert calls == []
    with pytest.raises(BodyError, match="duplicate key 'id'"):
        parse_json_object(clean.replace('"t"', '"id"', 1).encode())
    assert len(calls) == 1


def test_the_garbage_collector_is_left_as_it_was_found() -> None:
    body = b'{"a": [1, {"b": 2}]}'
    assert gc.isenabled()
    parse_json_object(body)
    with pytest.raises(BodyError):
        parse_json_object(b'{"a": 1, "a": 2}')
    assert gc.isenabled()
    gc.disable()
    try:
        parse_json_object(body)
        assert not gc.isenabled()  # switched off by someone else: not switched back on by the parser
    finally:
        gc.enable()
