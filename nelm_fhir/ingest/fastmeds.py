"""A strict, cheap check of the medication elements the ingest reads (MedicationRequest/Statement/Administration).

Charts hold a record per injection (monthly somatostatin analogues for years). Like ``fastpath``
for Observations, this checks every element the ingest reads against the FHIR R4 rules and that
every top-level key is an element of the resource; anything else falls back to full R4B validation,
which names the faulty element by its FHIR path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B.medicationadministration import MedicationAdministration
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.medicationstatement import MedicationStatement

from nelm_fhir.ingest.fastpath import DATE_TIME, ID, codings_ok, element_shapes, matches, shapes_ok

__all__ = ["FastMedication", "FastPeriod", "fast_medication"]


_SHAPES = {
    "MedicationRequest": element_shapes(MedicationRequest),
    "MedicationStatement": element_shapes(MedicationStatement),
    "MedicationAdministration": element_shapes(MedicationAdministration),
}
_STATUSES = {
    "MedicationRequest": frozenset(
        {"active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped", "draft", "unknown"}
    ),
    "MedicationStatement": frozenset(
        {"active", "completed", "entered-in-error", "intended", "stopped", "on-hold", "unknown", "not-taken"}
    ),
    "MedicationAdministration": frozenset(
        {"in-progress", "not-done", "on-hold", "completed", "entered-in-error", "stopped", "unknown"}
    ),
}
_INTENTS = frozenset(
    {"proposal", "plan", "order", "original-order", "reflex-order", "filler-order", "instance-order", "option"}
)
# Elements whose content the ingest would read from the model, or that change the resource's meaning.
_NEEDS_MODEL = frozenset({"modifierExtension", "dispenseRequest", "contained"})


@dataclass(frozen=True, slots=True)
class FastPeriod:
    """effectivePeriod: start and end as written."""

    start: str | None
    end: str | None


@dataclass(frozen=True, slots=True)
class FastMedication:
    """The elements a medication reading needs, with the attribute names of the R4B models."""

    status: str
    intent: str | None = None
    authoredOn: str | None = None
    effectiveDateTime: str | None = None
    effectivePeriod: FastPeriod | None = None
    dispenseRequest: None = None


def _date_time(raw: dict[str, Any], key: str) -> tuple[bool, str | None]:
    value = raw.get(key)
    if value is None:
        return key not in raw, None
    return (True, value) if isinstance(value, str) and matches(DATE_TIME, value) else (False, None)


def _reference_ok(value: Any, *, required: bool) -> bool:
    if value is None:
        return not required
    return (
        isinstance(value, dict)
        and isinstance(value.get("reference", ""), str)
        and set(value)
        <= {
            "reference",
            "display",
            "type",
            "identifier",
            "id",
            "extension",
        }
    )


def fast_medication(raw: dict[str, Any]) -> FastMedication | None:
    """Return the read elements of a well-formed medication resource, or None when full validation must decide."""
    rtype = raw.get("resourceType")
    if not isinstance(rtype, str) or rtype not in _SHAPES:
        return None
    if not _NEEDS_MODEL.isdisjoint(raw) or not shapes_ok(raw, _SHAPES[rtype]):
        return None
    rid = raw.get("id")
    if rid is not None and (not isinstance(rid, str) or ID.fullmatch(rid) is None):
        return None
    status = raw.get("status")
    if not isinstance(status, str) or status not in _STATUSES[rtype]:
        return None
    if not _reference_ok(raw.get("subject"), required=True):
        return None
    concept, reference = raw.get("medicationCodeableConcept"), raw.get("medicationReference")
    if (concept is None) == (reference is None):
        return None  # medication[x] is required, exactly one
    if concept is not None and not codings_ok(concept):
        return None
    if reference is not None and not _reference_ok(reference, required=True):
        return None
    intent: str | None = None
    if rtype == "MedicationRequest":
        intent = raw.get("intent")
        if not isinstance(intent, str) or intent not in _INTENTS:
            return None
        ok, authored = _date_time(raw, "authoredOn")
        return FastMedication(status=status, intent=intent, authoredOn=authored) if ok else None
    ok, effective = _date_time(raw, "effectiveDateTime")
    period_raw = raw.get("effectivePeriod")
    period: FastPeriod | None = None
    if period_raw is not None:
        if not isinstance(period_raw, dict) or not set(period_raw) <= {"start", "end"}:
            return None
        ok_start, start = _date_time(period_raw, "start")
        ok_end, end = _date_time(period_raw, "end")
        if not (ok_start and ok_end) or (start is not None and end is not None and start > end):
            return None  # R4B checks start <= end; let it say so
        period = FastPeriod(start=start, end=end)
    if not ok or (effective is not None and period is not None):
        return None
    if rtype == "MedicationAdministration" and effective is None and period is None:
        return None  # effective[x] is required
    return FastMedication(status=status, effectiveDateTime=effective, effectivePeriod=period)
