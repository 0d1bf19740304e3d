"""A strict, cheap check of the Observation elements the ingest reads, for simple Observations.

Full ``fhir.resources`` R4B validation costs about 0.3-0.5 ms per Observation; a chart holds
hundreds of routine labs. For an Observation without specimen, members or data-absent reason,
this module checks every element the ingest reads (id, status, code, subject, effective[x],
issued, focus references, the value, the body site, each component's code and value) against the
FHIR R4 datatype rules (codes and codings strictly, see ``fasttypes``), and that every top-level key
is an R4 Observation element. When anything is off, the caller falls back to full R4B validation, which
names the faulty element by its FHIR path. Elements the ingest never reads (reference ranges,
notes, interpretation) are left to the sending system.
"""

from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fhir.resources.R4B.observation import Observation
from pydantic import BaseModel

from nelm_fhir.ingest.fasttypes import CONCEPT, DATE_TIME, ID, matches

__all__ = [
    "DATE_TIME",
    "ID",
    "FastComponent",
    "FastConcept",
    "FastObservation",
    "FastQuantity",
    "FastReference",
    "codings_ok",
    "fast_observation",
    "matches",
]

_INSTANT = re.compile(
    r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])"
    r"T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|([+\-])((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
)
_CODE = re.compile(r"[^\s]+( [^\s]+)*")
_STATUSES = frozenset(
    {"registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown"}
)
_COMPARATORS = frozenset({"<", "<=", ">=", ">"})


def element_shapes(model: type[BaseModel]) -> dict[str, str]:
    """Return each JSON element of ``model`` with its shape: list-object, list-primitive, object or primitive."""
    shapes: dict[str, str] = {}
    for name, info in model.model_fields.items():
        annotation: Any = info.annotation
        if typing.get_origin(annotation) in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        if typing.get_origin(annotation) is list:
            (item,) = typing.get_args(annotation)
            shapes[info.alias or name] = "list-" + _shape(item)
        else:
            shapes[info.alias or name] = _shape(annotation)
    return shapes


def _shape(annotation: Any) -> str:
    if typing.get_origin(annotation) is typing.Annotated or annotation in (str, bool, int, float, Decimal):
        return "primitive"
    return "object"


_PRIMITIVE = (str, int, float, bool)


def shapes_ok(raw: dict[str, Any], shapes: dict[str, str]) -> bool:
    """Return True when every element of ``raw`` is known and has its JSON shape (no nulls, no empty arrays).

    The content of elements the ingest does not read is not checked further.
    """
    for key, value in raw.items():
        if key == "resourceType":
            continue
        shape = shapes.get(key)
        if shape is None or value is None:
            return False
        if shape == "object":
            if not isinstance(value, dict) or not value:
                return False
        elif shape == "primitive":
            if not isinstance(value, _PRIMITIVE):
                return False
        else:
            if not isinstance(value, list) or not value:
                return False
            wanted = dict if shape == "list-object" else _PRIMITIVE
            if not all(isinstance(item, wanted) and item != {} for item in value):
                return False
    return True


_SHAPES = element_shapes(Observation)
_ELEMENTS = frozenset({"resourceType", *_SHAPES})
_READ_VALUES = frozenset({"valueQuantity", "valueInteger", "valueBoolean", "valueCodeableConcept"})
_OTHER_VALUES = frozenset(k for k in _ELEMENTS if k.lstrip("_").startswith("value")) - _READ_VALUES
# Elements that need the full model (their content is read) or change the meaning of the resource.
_NEEDS_MODEL = frozenset(
    {"specimen", "hasMember", "modifierExtension", "dataAbsentReason"}
    | {"effectivePeriod", "effectiveInstant", "effectiveTiming"}
)
_INT32 = (-(2**31), 2**31 - 1)


@dataclass(frozen=True, slots=True)
class FastQuantity:
    """The valueQuantity elements the ingest reads."""

    value: float
    unit: str | None
    system: str | None
    code: str | None
    comparator: str | None


@dataclass(frozen=True, slots=True)
class FastCoding:
    """One coding of a value CodeableConcept."""

    system: str | None
    code: str | None


@dataclass(frozen=True, slots=True)
class FastConcept:
    """A value CodeableConcept: its codings."""

    coding: tuple[FastCoding, ...]


@dataclass(frozen=True, slots=True)
class FastReference:
    """A Reference of ``focus``: the reference string (mCODE disease status names its Condition)."""

    reference: str | None


@dataclass(frozen=True, slots=True)
class FastObservation:
    """The Observation elements the ingest reads, with the attribute names of the R4B model."""

    status: str
    effectiveDateTime: str | None
    issued: str | None
    valueQuantity: FastQuantity | None = None
    valueInteger: int | None = None
    valueBoolean: bool | None = None
    valueCodeableConcept: FastConcept | None = None
    effectivePeriod: None = None
    effectiveInstant: None = None
    dataAbsentReason: None = None
    specimen: None = None
    focus: tuple[FastReference, ...] | None = None
    component: tuple[FastComponent, ...] | None = None


@dataclass(frozen=True, slots=True)
class FastComponent:
    """One Observation component: its code and value, with the attribute names of the R4B model."""

    code: FastConcept
    valueQuantity: FastQuantity | None = None
    valueInteger: int | None = None
    valueBoolean: bool | None = None
    valueCodeableConcept: FastConcept | None = None
    dataAbsentReason: None = None


def _opt_str(holder: dict[str, Any], key: str, pattern: re.Pattern[str] | None = None) -> tuple[bool, str | None]:
    value = holder.get(key)
    if value is None:
        return key not in holder, None
    if not isinstance(value, str) or (pattern is not None and not matches(pattern, value)):
        return False, None
    return True, value


def codings_ok(concept: Any) -> bool:
    """Return True when ``concept`` is a well-formed CodeableConcept with codings (``fasttypes.CONCEPT``)."""
    # Each coding's code, system and text are checked against the FHIR regexes: R4B rejects a code " 718-7".
    return isinstance(concept, dict) and isinstance(concept.get("coding"), list) and CONCEPT(concept)


def _quantity(quantity: Any) -> FastQuantity | None:
    if not isinstance(quantity, dict):
        return None
    value = quantity.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not _QUANTITY_KEYS.issuperset(quantity):
        return None
    ok_unit, unit = _opt_str(quantity, "unit")
    ok_system, system = _opt_str(quantity, "system", _CODE)
    ok_code, code = _opt_str(quantity, "code", _CODE)
    comparator = quantity.get("comparator")
    if not (ok_unit and ok_system and ok_code) or (
        comparator is not None and (not isinstance(comparator, str) or comparator not in _COMPARATORS)
    ):
        return None
    return FastQuantity(value=float(value), unit=unit, system=system, code=code, comparator=comparator)


_QUANTITY_KEYS = frozenset({"value", "unit", "system", "code", "comparator"})
_REFERENCE_KEYS = frozenset({"reference", "display", "type"})
_URI = re.compile(r"\S+")


def _text_ok(value: Any) -> bool:
    # A FHIR string: non-empty; surrounding whitespace is left to full validation.
    return isinstance(value, str) and value != "" and value.strip() == value


def _focus(focus: Any) -> tuple[FastReference, ...] | None:
    """Return the references of ``focus`` (a non-empty list of objects), or None when full validation must decide."""
    found = []
    for item in focus:
        if not _REFERENCE_KEYS.issuperset(item):
            return None
        reference, display, kind = item.get("reference"), item.get("display"), item.get("type")
        if (reference is not None and not _text_ok(reference)) or (display is not None and not _text_ok(display)):
            return None
        if kind is not None and (not isinstance(kind, str) or not matches(_URI, kind)):
            return None
        found.append(FastReference(reference=reference))
    return tuple(found)


def fast_observation(raw: dict[str, Any]) -> FastObservation | None:
    """Return the read elements of a simple, well-formed Observation, or None when full validation must decide."""
    if not _NEEDS_MODEL.isdisjoint(raw) or not _OTHER_VALUES.isdisjoint(raw) or not shapes_ok(raw, _SHAPES):
        return None
    rid = raw.get("id")
    if rid is not None and (not isinstance(rid, str) or ID.fullmatch(rid) is None):  # ids are unique: no cache
        return None
    status = raw.get("status")
    if not isinstance(status, str) or status not in _STATUSES or not codings_ok(raw.get("code")):
        return None
    subject = raw.get("subject")
    if subject is not None and (not isinstance(subject, dict) or not isinstance(subject.get("reference", ""), str)):
        return None
    ok_eff, effective = _opt_str(raw, "effectiveDateTime", DATE_TIME)
    ok_issued, issued = _opt_str(raw, "issued", _INSTANT)
    if not (ok_eff and ok_issued):
        return None
    if "bodySite" in raw and not codings_ok(raw["bodySite"]):
        return None
    components: tuple[FastComponent, ...] | None = None
    if "component" in raw:
        components = _components(raw["component"])
        if components is None:
            return None
    values = _value(raw)
    if values is None or (not values and components is None):
        return None  # no value without components (or several values): full validation reports it
    focus: tuple[FastReference, ...] | None = None
    if "focus" in raw:
        focus = _focus(raw["focus"])
        if focus is None:
            return None
    return FastObservation(status, effective, issued, **values, focus=focus, component=components)


def _concept(concept: dict[str, Any]) -> FastConcept:
    return FastConcept(coding=tuple(FastCoding(system=c.get("system"), code=c.get("code")) for c in concept["coding"]))


def _value(holder: dict[str, Any]) -> dict[str, Any] | None:
    """Return the value of an Observation or component as keyword arguments ({}: none), or None when malformed."""
    present = _READ_VALUES.intersection(holder)
    if not present:
        return {}
    if len(present) > 1:
        return None
    (kind,) = present
    value = holder[kind]
    if kind == "valueQuantity":
        quantity = _quantity(value)
        return None if quantity is None else {kind: quantity}
    if kind == "valueInteger":
        if isinstance(value, bool) or not isinstance(value, int) or not _INT32[0] <= value <= _INT32[1]:
            return None
        return {kind: value}
    if kind == "valueBoolean":
        return {kind: value} if isinstance(value, bool) else None
    return {kind: _concept(value)} if codings_ok(value) else None


_COMPONENT_KEYS = frozenset({"code", *_READ_VALUES})


def _components(components: Any) -> tuple[FastComponent, ...] | None:
    """Return the components (code and value only), or None when full validation must decide."""
    found = []
    for component in components:
        if not _COMPONENT_KEYS.issuperset(component) or not codings_ok(component.get("code")):
            return None
        values = _value(component)
        if values is None:
            return None
        found.append(FastComponent(_concept(component["code"]), **values))
    return tuple(found)
