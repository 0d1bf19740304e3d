"""MedicationRequest, MedicationStatement and MedicationAdministration: SSA, everolimus, sunitinib, chemo, Lu-177."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fhir.resources.R4B.medicationadministration import MedicationAdministration
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.medicationstatement import MedicationStatement

from nelm_fhir.ingest.collected import Collected
from nelm_fhir.ingest.common import Ctx, Item, coding_pairs, raw_list, to_date, validated
from nelm_fhir.ingest.fastmeds import fast_medication
from nelm_fhir.model import DrugClass, DrugExposure, ExposureState
from nelm_fhir.terminology import MappingEntry

__all__ = ["MEDICATION_TYPES", "read_medication", "relevant_medication"]

MEDICATION_TYPES = frozenset({"MedicationRequest", "MedicationStatement", "MedicationAdministration"})

# status -> exposure; statuses not listed (draft, cancelled, entered-in-error, not-taken, intended...) are ignored
_STATES: dict[str, dict[str, ExposureState]] = {
    "MedicationRequest": {
        "active": ExposureState.CURRENT,
        "on-hold": ExposureState.CURRENT,
        "completed": ExposureState.PAST,
        "stopped": ExposureState.PAST,
    },
    "MedicationStatement": {
        "active": ExposureState.CURRENT,
        "on-hold": ExposureState.CURRENT,
        "completed": ExposureState.PAST,
        "stopped": ExposureState.PAST,
        "unknown": ExposureState.PAST,
    },
    "MedicationAdministration": {
        "in-progress": ExposureState.CURRENT,
        "on-hold": ExposureState.CURRENT,
        "completed": ExposureState.PAST,
        "stopped": ExposureState.PAST,
    },
}
_NOT_AN_EXPOSURE_INTENT = {"proposal", "plan", "option"}


def _medication_codings(raw: dict[str, Any], item: Item | None, ctx: Ctx) -> list[tuple[str | None, str | None]]:
    """Return codings of medicationCodeableConcept, or of the referenced Medication (code and ingredients)."""
    pairs = coding_pairs(raw.get("medicationCodeableConcept"))
    if pairs:
        return pairs
    reference = raw.get("medicationReference")
    if isinstance(reference, dict) and item is not None:
        target = ctx.resolve(reference.get("reference"), item)
        if target is not None and target.raw.get("resourceType") == "Medication":
            pairs = coding_pairs(target.raw.get("code"))
            for ingredient in raw_list(target.raw, "ingredient"):
                if isinstance(ingredient, dict):
                    pairs.extend(coding_pairs(ingredient.get("itemCodeableConcept")))
    return pairs


def relevant_medication(raw: dict[str, Any], ctx: Ctx, item: Item | None = None) -> MappingEntry | None:
    """Return the drug entry that makes a raw medication resource relevant, or None."""
    return ctx.term.first(_medication_codings(raw, item, ctx), "drug")


def _dates(model: Any, rtype: str) -> tuple[dt.date | None, dt.date | None]:
    if rtype == "MedicationRequest":
        validity = model.dispenseRequest.validityPeriod if model.dispenseRequest is not None else None
        start = to_date(validity.start) if validity is not None else None
        end = to_date(validity.end) if validity is not None else None
        return start or to_date(model.authoredOn), end
    period = model.effectivePeriod
    if period is not None:
        return to_date(period.start), to_date(period.end)
    return to_date(model.effectiveDateTime), None


def read_medication(item: Item, entry: MappingEntry, ctx: Ctx, out: Collected) -> None:
    """Validate one relevant medication resource and add the exposure (current or past) to ``out``."""
    rtype = str(item.raw.get("resourceType"))
    model: Any = fast_medication(item.raw)
    if model is not None:
        if model.intent in _NOT_AN_EXPOSURE_INTENT:
            return
    elif rtype == "MedicationRequest":
        model = validated(MedicationRequest, item, ctx)
        if model is not None and model.intent in _NOT_AN_EXPOSURE_INTENT:
            return
    elif rtype == "MedicationStatement":
        model = validated(MedicationStatement, item, ctx)
    else:
        model = validated(MedicationAdministration, item, ctx)
    if model is None:
        return
    state = _STATES[rtype].get(str(model.status))
    if state is None:
        return
    start, end = _dates(model, rtype)
    if ctx.after_evaluation_date(item.ref, start):
        return
    drug_class = DrugClass(entry.attributes["drugClass"])
    matched = ctx.term.match(_medication_codings(item.raw, item, ctx), "drug")
    out.drugs.append(
        DrugExposure(
            drug_class=drug_class,
            ingredient=entry.name,
            state=state,
            source=item.ref,
            code=matched[1] if matched is not None else f"{entry.system}|{entry.code}",
            start=start,
            end=end,
        )
    )
