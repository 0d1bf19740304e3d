"""Procedures: liver and primary resections, Whipple / bilio-enteric anastomosis, ablation, embolization, PVE, PRRT."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fhir.resources.R4B.procedure import Procedure

from nelm_fhir.ingest.collected import Collected, ProcedureNote
from nelm_fhir.ingest.common import Ctx, Item, model_codings, raw_entry, ref_key, to_date, validated
from nelm_fhir.ingest.fastclinical import fast_procedure
from nelm_fhir.model import ProcedureKind, ProcedureRecord
from nelm_fhir.terminology import MappingEntry

__all__ = ["read_procedure", "relevant_procedure"]

COUNTED = frozenset({"completed", "in-progress"})
_PROCEDURE = frozenset({"procedure"})
_PRIMARY_RESECTIONS = {"pancreas-resection", "small-bowel-resection"}


def relevant_procedure(raw: dict[str, Any], ctx: Ctx) -> MappingEntry | None:
    """Return the mapping entry that makes a raw Procedure relevant, or None (raw codes only)."""
    return raw_entry(ctx.term, raw.get("code"), _PROCEDURE)


def _performed(proc: Any) -> dt.date | None:
    if proc.performedDateTime is not None:
        return to_date(proc.performedDateTime)
    if proc.performedPeriod is not None:
        return to_date(proc.performedPeriod.start) or to_date(proc.performedPeriod.end)
    return None


def _extension_codings(extensions: Any) -> list[tuple[str | None, str | None]]:
    """Return every coding inside (nested) extensions, e.g. mCODE modality-and-technique."""
    pairs: list[tuple[str | None, str | None]] = []
    for ext in extensions or ():
        pairs.extend(model_codings(getattr(ext, "valueCodeableConcept", None)))
        pairs.extend(_extension_codings(getattr(ext, "extension", None)))
    return pairs


def read_procedure(item: Item, entry: MappingEntry, ctx: Ctx, out: Collected) -> None:
    """Validate one relevant Procedure and add it to ``out`` when it was done (completed or in progress)."""
    proc: Any = fast_procedure(item.raw)
    if proc is None:
        proc = validated(Procedure, item, ctx)
    if proc is None or proc.status not in COUNTED:
        return
    date = _performed(proc)
    if ctx.after_evaluation_date(item.ref, date):
        return
    matched = ctx.term.match(model_codings(proc.code), "procedure")
    code = matched[1] if matched is not None else f"{entry.system}|{entry.code}"
    name = entry.name
    if name == "radiotherapy-course":
        techniques = {ctx.term.concept(s, c) for s, c in _extension_codings(proc.extension)}
        if "procedure:radioembolization" in techniques:
            name = "radioembolization"
        elif "procedure:prrt" in techniques:
            name = "prrt"
        else:
            return  # external-beam or other radiotherapy: not a NELM procedure
    reasons: list[str] = []
    for reason in proc.reasonReference or ():
        if reason.reference:
            target = ctx.resolve(reason.reference, item)
            reasons.append(target.ref if target is not None else ref_key(reason.reference))
    for concept in proc.reasonCode or ():
        found = ctx.term.first(model_codings(concept), "primary", "metastasis")
        if found is not None:
            reasons.append(found.concept)
    out.procedure_notes.append(
        ProcedureNote(source=item.ref, concept=name, code=code, reasons=tuple(reasons), date=date)
    )
    if name == "surgical":
        return  # a generic surgical procedure: its reason decides what it was (see assemble)
    kind = ProcedureKind.PRIMARY_RESECTION if name in _PRIMARY_RESECTIONS else ProcedureKind(name)
    out.procedures.append(ProcedureRecord(kind=kind, code=code, source=item.ref, date=date))
