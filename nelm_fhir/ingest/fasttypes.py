"""Strict, cheap checks of raw FHIR R4 datatypes, for the quick paths of Condition, Procedure and Patient.

Each check returns True only for a value that full R4B validation accepts: a JSON object holds only
the elements listed (no nulls, no empty objects or arrays, no primitive ``_`` extensions, no
element ids), every primitive matches its FHIR regex (and dates are calendar dates). Anything
else returns False and the caller falls back to full ``fhir.resources`` validation, which names
the faulty element by its FHIR path. The checks are deliberately stricter than R4B: unusual data
costs a full validation, never a wrong acceptance.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

__all__ = [
    "ADDRESS",
    "CODING",
    "CONCEPT",
    "CONTACT_POINT",
    "DATE_TIME",
    "HUMAN_NAME",
    "ID",
    "IDENTIFIER",
    "META",
    "PERIOD",
    "REFERENCE",
    "Check",
    "boolean",
    "code",
    "concept",
    "date",
    "date_time",
    "extension",
    "fhir_id",
    "list_of",
    "matches",
    "obj",
    "one_choice",
    "positive_int",
    "string",
    "uri",
]

Check = Callable[[Any], bool]

ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
DATE_TIME = re.compile(
    r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])"
    r"(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|([+\-])((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?"
)


@lru_cache(maxsize=4096)
def matches(pattern: re.Pattern[str], value: str) -> bool:
    """Return True when ``value`` fully matches ``pattern`` (answers cached)."""
    # Charts repeat the same dates, systems and units thousands of times: remember the answers.
    return pattern.fullmatch(value) is not None


_DATE = re.compile(
    r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?"
)
_INSTANT = re.compile(
    r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])"
    r"T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|([+\-])((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
)
_CODE = re.compile(r"[^\s]+( [^\s]+)*")
_URI = re.compile(r"\S+")
_MAX_EXTENSION_DEPTH = 3


def string(value: Any) -> bool:
    """A FHIR string: non-empty, without surrounding whitespace (stricter than R4B)."""
    return isinstance(value, str) and value != "" and value.strip() == value


def uri(value: Any) -> bool:
    """A FHIR uri / canonical / url: no whitespace."""
    return isinstance(value, str) and matches(_URI, value)


def code(value: Any) -> bool:
    """A FHIR code: tokens separated by single spaces."""
    return isinstance(value, str) and matches(_CODE, value)


def boolean(value: Any) -> bool:
    """A JSON boolean."""
    return isinstance(value, bool)


def positive_int(value: Any) -> bool:
    """A FHIR positiveInt (32 bits)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31


def fhir_id(value: Any) -> bool:
    """A FHIR id: 1-64 characters of letters, digits, '-' and '.'."""
    return isinstance(value, str) and ID.fullmatch(value) is not None


@lru_cache(maxsize=4096)
def _calendar(text: str) -> bool:
    # The regexes allow 31 February; R4B parses full dates and rejects it. A leap second stays unparsed: refuse.
    if len(text) < 10:
        return True
    try:
        dt.date.fromisoformat(text[:10])
    except ValueError:
        return False
    return text[17:19] != "60"


def date(value: Any) -> bool:
    """A FHIR date (year, year-month or full calendar date)."""
    return isinstance(value, str) and matches(_DATE, value) and _calendar(value)


def date_time(value: Any) -> bool:
    """A FHIR dateTime (partial dates allowed; a time needs its zone)."""
    return isinstance(value, str) and matches(DATE_TIME, value) and _calendar(value)


def instant(value: Any) -> bool:
    """A FHIR instant (full date, time and zone)."""
    return isinstance(value, str) and matches(_INSTANT, value) and _calendar(value)


def obj(fields: Mapping[str, Check], required: frozenset[str] = frozenset()) -> Check:
    """Return a check of a JSON object holding only ``fields`` (each passing its check) and every ``required``."""
    known = dict(fields)

    def check(value: Any) -> bool:
        if not isinstance(value, dict) or not value or not required.issubset(value):
            return False
        for key, item in value.items():
            checker = known.get(key)
            if checker is None or item is None or not checker(item):
                return False
        return True

    return check


def list_of(check: Check) -> Check:
    """Return a check of a non-empty JSON array whose items all pass ``check``."""

    def check_list(value: Any) -> bool:
        return isinstance(value, list) and bool(value) and all(check(item) for item in value)

    return check_list


def one_choice(raw: Mapping[str, Any], choices: frozenset[str]) -> bool:
    """Return True when at most one of the choice elements ``choices`` (a FHIR ``[x]``) is present."""
    return len(choices.intersection(raw)) <= 1


CODING = obj({"system": uri, "version": string, "code": code, "display": string, "userSelected": boolean})


def _coding_ok(coding: Any) -> bool:
    """CODING written out: it runs for every code of every resource read, so no nested closures."""
    if not isinstance(coding, dict) or not coding:
        return False
    for key, value in coding.items():
        if key == "code" or key == "system":
            if not isinstance(value, str) or not matches(_CODE if key == "code" else _URI, value):
                return False
        elif key == "display" or key == "version":
            if not isinstance(value, str) or value == "" or value.strip() != value:
                return False
        elif key != "userSelected" or not isinstance(value, bool):
            return False
    return True


def concept(value: Any) -> bool:
    """A CodeableConcept: codings (``CODING``) and a text, nothing else."""
    if not isinstance(value, dict) or not value:
        return False
    for key, item in value.items():
        if key == "coding":
            if not isinstance(item, list) or not item or not all(_coding_ok(c) for c in item):
                return False
        elif key != "text" or not string(item):
            return False
    return True


CONCEPT: Check = concept
REFERENCE = obj({"reference": string, "type": uri, "display": string})
PERIOD = obj({"start": date_time, "end": date_time})
IDENTIFIER = obj({"use": code, "type": CONCEPT, "system": uri, "value": string, "period": PERIOD})
META = obj(
    {
        "versionId": fhir_id,
        "lastUpdated": instant,
        "source": uri,
        "profile": list_of(uri),
        "security": list_of(CODING),
        "tag": list_of(CODING),
    }
)
HUMAN_NAME = obj(
    {
        "use": code,
        "text": string,
        "family": string,
        "given": list_of(string),
        "prefix": list_of(string),
        "suffix": list_of(string),
        "period": PERIOD,
    }
)
CONTACT_POINT = obj({"system": code, "value": string, "use": code, "rank": positive_int, "period": PERIOD})
ADDRESS = obj(
    {
        "use": code,
        "type": code,
        "text": string,
        "line": list_of(string),
        "city": string,
        "district": string,
        "state": string,
        "postalCode": string,
        "country": string,
        "period": PERIOD,
    }
)

_EXTENSION_VALUES: dict[str, Check] = {
    "valueCodeableConcept": CONCEPT,
    "valueCoding": CODING,
    "valueReference": REFERENCE,
    "valueString": string,
    "valueCode": code,
    "valueBoolean": boolean,
    "valueDateTime": date_time,
}


def extension(value: Any, depth: int = 0) -> bool:
    """An Extension: a url and either one value of a common type or nested extensions (ext-1)."""
    if not isinstance(value, dict) or not uri(value.get("url")) or depth >= _MAX_EXTENSION_DEPTH:
        return False
    present = [key for key in value if key != "url"]
    if len(present) != 1:
        return False
    (key,) = present
    item = value[key]
    if key == "extension":
        return isinstance(item, list) and bool(item) and all(extension(sub, depth + 1) for sub in item)
    checker = _EXTENSION_VALUES.get(key)
    return checker is not None and item is not None and checker(item)
