"""Conditions: the primary NEN, liver and extrahepatic metastases, syndromes and liver conditions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fhir.resources.R4B.condition import Condition

from nelm_fhir.ingest.clinical import morphology_extras
from nelm_fhir.ingest.collected import Collected, PrimaryCandidate
from nelm_fhir.ingest.common import Ctx, Item, model_codings, raw_entry, to_date, validated
from nelm_fhir.ingest.fastclinical import fast_condition
from nelm_fhir.model import (
    ConditionRecord,
    ConditionState,
    ExtrahepaticFinding,
    ExtrahepaticSite,
    Fact,
    ProcedureKind,
    ProcedureRecord,
    SyndromeFinding,
    SyndromeKind,
    UnconfirmedRecord,
)
from nelm_fhir.terminology import MappingEntry

__all__ = ["read_condition", "relevant_condition"]

NAMESPACES = ("primary", "metastasis", "condition", "syndrome", "history")
_NAMESPACE_SET = frozenset(NAMESPACES)
HISTOLOGY_EXTENSION = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-histology-morphology-behavior"

_TOTAL_PANCREATECTOMY = "pancreas-total-absence"
_SUGGESTS_ANASTOMOSIS = frozenset({"intestinal-anastomosis", "pancreas-partial-absence"})

_ACTIVE = {"active", "recurrence", "relapse"}
_HISTORY = {"inactive", "remission", "resolved"}
_REFUTED = {"refuted", "entered-in-error"}
_TENTATIVE = {"unconfirmed", "provisional", "differential"}

_EXTRAHEPATIC = {
    "bone": ExtrahepaticSite.BONE,
    "lung": ExtrahepaticSite.LUNG,
    "peritoneum": ExtrahepaticSite.PERITONEUM,
    "pleura": ExtrahepaticSite.PLEURA,
    "distant-nodes": ExtrahepaticSite.DISTANT_NODES,
    "regional-nodes": ExtrahepaticSite.REGIONAL_NODES,
    "lymph-nodes": ExtrahepaticSite.DISTANT_NODES,
}


def relevant_condition(raw: dict[str, Any], ctx: Ctx) -> MappingEntry | None:
    """Return the mapping entry that makes a raw Condition relevant, or None (raw codes only)."""
    return raw_entry(ctx.term, raw.get("code"), _NAMESPACE_SET)


def _state(cond: Any) -> tuple[ConditionState, bool] | None:
    """Return (state, recurrence) or None when the Condition must be ignored (refuted, entered-in-error)."""
    verification = {c for _s, c in model_codings(cond.verificationStatus)}
    if verification & _REFUTED:
        return None
    clinical = {c for _s, c in model_codings(cond.clinicalStatus)}
    if clinical & _ACTIVE:
        return ConditionState.ACTIVE, bool(clinical & {"recurrence", "relapse"})
    if clinical & _HISTORY:
        return ConditionState.HISTORY, False
    abated = any(
        getattr(cond, name, None) is not None
        for name in ("abatementDateTime", "abatementAge", "abatementPeriod", "abatementRange", "abatementString")
    )
    return (ConditionState.HISTORY if abated else ConditionState.ACTIVE), False


def _onset(cond: Any) -> dt.date | None:
    if cond.onsetDateTime is not None:
        return to_date(cond.onsetDateTime)
    if cond.onsetPeriod is not None:
        return to_date(cond.onsetPeriod.start) or to_date(cond.onsetPeriod.end)
    return None


def read_condition(item: Item, entry: MappingEntry, ctx: Ctx, out: Collected) -> None:
    """Validate one relevant Condition and add what it says to ``out`` (or a problem to ``ctx``)."""
    cond: Any = fast_condition(item.raw)
    if cond is None:
        cond = validated(Condition, item, ctx)
    if cond is None:
        return
    state = _state(cond)
    if state is None:
        return
    ref = item.ref
    matched = ctx.term.match(model_codings(cond.code), *NAMESPACES)
    record = ConditionRecord(
        concept=entry.name,
        code=matched[1] if matched is not None else f"{entry.system}|{entry.code}",
        state=state[0],
        source=ref,
        onset=_onset(cond),
        recorded=to_date(cond.recordedDate),
        recurrence=state[1],
    )
    if ctx.after_evaluation_date(ref, record.onset or record.recorded):
        return
    verification = {c for _s, c in model_codings(cond.verificationStatus) if c} & _TENTATIVE
    if verification:
        ctx.problem(
            f"{ref}.verificationStatus",
            f"verification status {sorted(verification)[0]}: counted as recorded, confirm before acting on it",
            severity="warning",
        )
    body_sites = [ctx.term.first(model_codings(site), "site") for site in cond.bodySite or ()]
    body = next((b.name for b in body_sites if b is not None), None)
    _morphology(cond, item, record, entry, ctx, out)
    syndrome = entry.attributes.get("syndrome")
    if syndrome is not None:
        out.syndromes.append(
            SyndromeFinding(kind=SyndromeKind(syndrome), state=record.state, source=ref, code=record.code)
        )
    if entry.namespace == "primary":
        portal = entry.attributes.get("portalDrained")
        out.primaries.append(
            PrimaryCandidate(
                record=record,
                site=entry.name,
                portal_drained=None if portal is None else portal == "true",
                body_site=body,
            )
        )
    elif entry.namespace == "metastasis":
        _metastasis(record, entry, body, ctx, out)
    elif entry.namespace == "syndrome":
        out.syndromes.append(
            SyndromeFinding(kind=SyndromeKind(entry.name), state=record.state, source=ref, code=record.code)
        )
    elif entry.namespace == "condition":
        out.add_condition(entry.name, record)
    elif entry.namespace == "history":
        _history(record, entry, out)


def _history(record: ConditionRecord, entry: MappingEntry, out: Collected) -> None:
    """B31: Z90.410 (no pancreas) implies a bilio-enteric anastomosis; Z98.0 / Z90.411 only suggest one."""
    date = record.onset or record.recorded
    if entry.name == _TOTAL_PANCREATECTOMY:
        kind = ProcedureKind.BILIO_ENTERIC_ANASTOMOSIS
        out.procedures.append(ProcedureRecord(kind=kind, code=record.code, source=record.source, date=date))
    elif entry.name in _SUGGESTS_ANASTOMOSIS:
        out.unconfirmed.append(
            UnconfirmedRecord(
                topic="bilio-enteric-status",
                text=f"{entry.code} {entry.display.split(' (')[0]}",
                source=record.source,
                date=date,
            )
        )


def _metastasis(record: ConditionRecord, entry: MappingEntry, body: str | None, ctx: Ctx, out: Collected) -> None:
    site = entry.name
    if site in {"unspecified", "other"} and body is not None:
        site = body
    if site == "liver":
        out.nelm.append(record)
        return
    if site == "unspecified":
        ctx.problem(
            f"{record.source}.bodySite",
            f"metastasis code {record.code} without a recognised body site: cannot tell liver from extrahepatic",
        )
        return
    extrahepatic = _EXTRAHEPATIC.get(site, ExtrahepaticSite.OTHER)
    if site == "lymph-nodes" and body == "regional-nodes":
        extrahepatic = ExtrahepaticSite.REGIONAL_NODES
    elif site == "lymph-nodes":
        ctx.problem(
            f"{record.source}.bodySite",
            "lymph-node metastasis not marked as regional: counted as distant nodes (B9)",
            severity="warning",
        )
    out.extrahepatic.append(
        ExtrahepaticFinding(
            site=extrahepatic,
            distant=extrahepatic is not ExtrahepaticSite.REGIONAL_NODES,
            state=record.state,
            source=record.source,
            code=record.code,
            date=record.onset or record.recorded,
        )
    )


def _morphology(cond: Any, item: Item, record: ConditionRecord, entry: MappingEntry, ctx: Ctx, out: Collected) -> None:
    """Keep the differentiation the Condition code implies and its mCODE histology-morphology extension."""
    date = record.onset or record.recorded
    differentiation = entry.attributes.get("differentiation")
    if differentiation is not None:
        out.morphology.append((Fact(value=record.code, source=item.ref, date=date), differentiation))
    for index, ext in enumerate(cond.extension or ()):
        if ext.url != HISTOLOGY_EXTENSION:
            continue
        matched = ctx.term.match(model_codings(ext.valueCodeableConcept), "morphology")
        if matched is None:
            ctx.problem(
                f"{item.ref}.extension[{index}].valueCodeableConcept",
                "histology-morphology-behavior code is not a recognised ICD-O-3 / SNOMED CT morphology",
                severity="warning",
            )
            continue
        found, sent = matched
        out.morphology.append((Fact(value=sent, source=item.ref, date=date), found.attributes.get("differentiation")))
        morphology_extras(found.attributes, item.ref, date, out)
        syndrome = found.attributes.get("syndrome")
        if syndrome is not None:  # B40: a hormone-named tumour is functional ("from morphology")
            out.syndromes.append(
                SyndromeFinding(
                    kind=SyndromeKind(syndrome), state=record.state, source=item.ref, code=sent, from_morphology=True
                )
            )
