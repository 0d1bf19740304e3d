"""FHIR R4 → NelmProfile. The only package of ``nelm_fhir`` that imports ``fhir.resources`` (R4B).

``ingest(data, as_of=..., terminology=..., patient_id=...)`` accepts a Bundle (searchset,
collection, transaction, batch), a CDS Hooks ``prefetch`` object or a list of resources.
Raises ``NotABundleError`` (not one of those shapes) or ``PatientMismatchError`` (another
patient's resource); anything else wrong with a relevant resource becomes an ``IngestProblem``
in ``profile.problems`` and the rest of the record is still used.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from nelm_fhir.ingest.assemble import assemble
from nelm_fhir.ingest.bundle import check_patient, index_items, unpack
from nelm_fhir.ingest.collected import Collected
from nelm_fhir.ingest.common import Ctx, Item
from nelm_fhir.ingest.condition import read_condition, relevant_condition
from nelm_fhir.ingest.errors import NotABundleError, PatientMismatchError
from nelm_fhir.ingest.medication import MEDICATION_TYPES, read_medication, relevant_medication
from nelm_fhir.ingest.observation import FINAL, IGNORED, read_observation, relevant_observation
from nelm_fhir.ingest.patient import read_patient
from nelm_fhir.ingest.procedure import read_procedure, relevant_procedure
from nelm_fhir.model import NelmProfile
from nelm_fhir.terminology import MappingEntry, Terminology, default_terminology

__all__ = ["NotABundleError", "PatientMismatchError", "ingest"]

Reader = Callable[[Item, MappingEntry, Ctx, Collected], None]

_UNKNOWN_PATIENT = "Patient/unknown"


def ingest(
    data: Any,
    *,
    as_of: dt.date,
    terminology: Terminology | None = None,
    patient_id: str | None = None,
) -> NelmProfile:
    """Return one patient's NELM profile at ``as_of``; raises NotABundleError or PatientMismatchError."""
    ctx = Ctx(term=terminology if terminology is not None else default_terminology(), as_of=as_of)
    items = index_items(unpack(data, ctx), ctx)
    patient = check_patient(items, patient_id, ctx)
    out = Collected()
    relevant: list[tuple[Item, MappingEntry, Reader]] = []
    for item in items:
        rtype = item.raw.get("resourceType")
        if rtype == "Patient":
            read_patient(item, ctx, out)
            continue
        found = _relevant(item, rtype, ctx)
        if found is None:
            continue
        if item.raw.get("modifierExtension"):
            ctx.problem(f"{item.ref}.modifierExtension", "carries a modifier extension the product does not understand")
            continue
        relevant.append((item, *found))
    for item, entry, reader in _drop_superseded_preliminary(relevant):
        reader(item, entry, ctx, out)
    return assemble(out, ctx, patient or out.patient_ref or _UNKNOWN_PATIENT)


def _relevant(item: Item, rtype: Any, ctx: Ctx) -> tuple[MappingEntry, Reader] | None:
    """Return the entry and reader of a relevant resource, looking only at raw codes (cheap)."""
    entry: MappingEntry | None
    reader: Reader
    if rtype == "Observation":
        entry, reader = relevant_observation(item.raw, ctx), read_observation
    elif rtype == "Condition":
        entry, reader = relevant_condition(item.raw, ctx), read_condition
    elif rtype == "Procedure":
        entry, reader = relevant_procedure(item.raw, ctx), read_procedure
    elif rtype in MEDICATION_TYPES:
        entry, reader = relevant_medication(item.raw, ctx, item), read_medication
    else:
        return None
    return (entry, reader) if entry is not None else None


def _status(item: Item) -> str:
    status = item.raw.get("status")
    return status if isinstance(status, str) else ""


def _drop_superseded_preliminary(
    relevant: list[tuple[Item, MappingEntry, Reader]],
) -> list[tuple[Item, MappingEntry, Reader]]:
    """Drop preliminary/registered Observations of a concept that also has a final/amended/corrected one."""
    final_concepts = {
        entry.concept
        for item, entry, _r in relevant
        if item.raw.get("resourceType") == "Observation" and _status(item) in FINAL
    }
    kept = []
    for item, entry, reader in relevant:
        status = _status(item)
        if item.raw.get("resourceType") == "Observation":
            if status in IGNORED:
                continue
            if status not in FINAL and entry.concept in final_concepts:
                continue
        kept.append((item, entry, reader))
    return kept
