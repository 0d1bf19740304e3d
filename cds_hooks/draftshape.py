"""The shape of a draft order, checked before anything reads it: a bad element is a 400 naming its FHIR path.

``orders.py`` reads, of each draft ServiceRequest / MedicationRequest: ``id``, ``code``,
``medicationCodeableConcept``, ``medicationReference`` and ``contained`` (a contained Medication's
``code``); ``wire.py`` reads ``subject`` and ``patient``. Each must have its FHIR R4 shape where present
(a CodeableConcept is an object whose ``coding`` is an array of objects with string ``system``, ``code``,
``display``, and whose ``text`` is a string; a Reference is an object with a string ``reference``), so
that a malformed order is refused with the path of the bad element rather than failing later.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cds_hooks.errors import RequestError

__all__ = ["check_draft_order"]

_ORDER_TYPES = frozenset({"ServiceRequest", "MedicationRequest"})


def _fail(path: str, what: str) -> RequestError:
    return RequestError(f"{path} must be {what}", expression=path)


def _string(value: Any, path: str) -> None:
    if not isinstance(value, str):
        raise _fail(path, "a string")


def _codeable_concept(value: Any, path: str) -> None:
    if not isinstance(value, dict):
        raise _fail(path, "a CodeableConcept (an object)")
    coding = value.get("coding")
    if coding is not None:
        if not isinstance(coding, list):
            raise _fail(f"{path}.coding", "an array of Coding objects")
        for i, item in enumerate(coding):
            if not isinstance(item, dict):
                raise _fail(f"{path}.coding[{i}]", "a Coding (an object)")
            for element in ("system", "code", "display", "version"):
                if element in item and item[element] is not None:
                    _string(item[element], f"{path}.coding[{i}].{element}")
    if value.get("text") is not None:
        _string(value["text"], f"{path}.text")


def _reference(value: Any, path: str) -> None:
    if not isinstance(value, dict):
        raise _fail(path, "a Reference (an object)")
    if value.get("reference") is not None:
        _string(value["reference"], f"{path}.reference")


def check_draft_order(resource: Mapping[str, Any], path: str) -> None:
    """Raise RequestError naming the first malformed element the service reads of a draft order at ``path``."""
    if resource.get("resourceType") not in _ORDER_TYPES:
        return  # other resources in draftOrders are not read
    if resource.get("id") is not None:
        _string(resource["id"], f"{path}.id")
    for element in ("code", "medicationCodeableConcept"):
        if resource.get(element) is not None:
            _codeable_concept(resource[element], f"{path}.{element}")
    for element in ("medicationReference", "subject", "patient"):
        if resource.get(element) is not None:
            _reference(resource[element], f"{path}.{element}")
    contained = resource.get("contained")
    if contained is not None:
        if not isinstance(contained, list):
            raise _fail(f"{path}.contained", "an array of resources")
        for i, item in enumerate(contained):
            if not isinstance(item, dict) or not isinstance(item.get("resourceType"), str):
                raise _fail(f"{path}.contained[{i}]", "a FHIR resource (an object with resourceType)")
            if item.get("id") is not None:
                _string(item["id"], f"{path}.contained[{i}].id")
            if item.get("code") is not None:
                _codeable_concept(item["code"], f"{path}.contained[{i}].code")
