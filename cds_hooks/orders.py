"""Draft orders → modality → card, for order-select and order-sign (CONTRACT.md section 2).

Each draft ServiceRequest / MedicationRequest is mapped to a modality: our modality code is
recognised directly, standard and site codes through the terminology (``mappings/``). The answer
for that order follows the pathway's status: contraindicated → ``critical`` with override
reasons and suggestions that remove the order or replace it by the pathway's alternative;
not-recommended or insufficient data → ``warning``; consider → a brief ``info``; recommended or
unmapped → no card.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cds_hooks.cardparts import (
    DETAIL_WORD_BUDGET,
    CardContext,
    FactLine,
    criterion_line,
    evidence_links,
    label_of,
    link_to_app,
    md,
    new_uuid,
    phrase,
    profile_facts,
    prose,
    reason_of,
    sentence,
    short,
    source_of,
    words,
)
from cds_hooks.clinical_text import clinician_text, decided, decisive_first, element_label, status_label
from cds_hooks.orderables import modality_order
from nelm_fhir.model import NelmProfile
from nelm_fhir.pathways.result import MODALITY_SYSTEM, Evaluation, Modality, ModalityResult, Status

__all__ = ["OVERRIDE_REASONS", "DraftOrder", "ModalityMapper", "alert_key", "draft_orders_of", "order_cards"]

OVERRIDE_SYSTEM = "https://nelm-cds.org/fhir/CodeSystem/override-reason"
OVERRIDE_REASONS: tuple[dict[str, str], ...] = (
    {"system": OVERRIDE_SYSTEM, "code": "mdt-decision", "display": "Decided by the multidisciplinary tumour board"},
    {"system": OVERRIDE_SYSTEM, "code": "record-incomplete",
     "display": "Record is incomplete or out of date; the contraindication does not apply"},
    {"system": OVERRIDE_SYSTEM, "code": "benefit-outweighs-risk",
     "display": "Expected benefit outweighs the risk for this patient"},
    {"system": OVERRIDE_SYSTEM, "code": "patient-preference", "display": "Informed patient preference"},
)

_FAMILIES: tuple[frozenset[Modality], ...] = (
    frozenset({Modality.CURATIVE_RESECTION, Modality.SIMULTANEOUS_RESECTION, Modality.PORTAL_VEIN_EMBOLIZATION,
               Modality.TWO_STAGE_HEPATECTOMY, Modality.ALPPS, Modality.CYTOREDUCTIVE_SURGERY,
               Modality.LIVER_TRANSPLANTATION, Modality.REPEAT_RESECTION}),
    frozenset({Modality.RFA, Modality.STEREOTACTIC_RFA, Modality.MWA}),
    frozenset({Modality.TAE, Modality.TACE, Modality.RADIOEMBOLIZATION, Modality.PRRT_PLUS_RADIOEMBOLIZATION}),
    frozenset({Modality.PRRT, Modality.PRRT_PLUS_RADIOEMBOLIZATION}),
    frozenset({Modality.SOMATOSTATIN_ANALOGUE, Modality.EVEROLIMUS, Modality.SUNITINIB, Modality.CHEMOTHERAPY,
               Modality.INTERFERON_ALPHA}),
)

# (codings as [{"system": ..., "code": ...}]) -> modality id or None; wraps Terminology.modality_for_order.
ModalityMapper = Callable[[list[dict[str, str]]], str | None]


@dataclass(frozen=True, slots=True, kw_only=True)
class DraftOrder:
    """One draft order of the hook: its reference, its codings and the modality it maps to."""

    reference: str | None  # "ServiceRequest/123"; None when the draft has no id
    resource_type: str
    display: str
    codings: tuple[dict[str, str], ...]
    modality: Modality | None


def _codings_of(resource: dict[str, Any]) -> tuple[list[dict[str, str]], str]:
    concept: Any = None
    if resource.get("resourceType") == "MedicationRequest":
        concept = resource.get("medicationCodeableConcept")
        ref = (resource.get("medicationReference") or {}).get("reference")
        if concept is None and isinstance(ref, str) and ref.startswith("#"):
            for contained in resource.get("contained") or []:
                if isinstance(contained, dict) and contained.get("id") == ref[1:]:
                    concept = contained.get("code")
    else:
        concept = resource.get("code")
    if not isinstance(concept, dict):
        return [], ""
    codings = [
        {"system": str(c["system"]), "code": str(c["code"])}
        for c in concept.get("coding") or []
        if isinstance(c, dict) and isinstance(c.get("system"), str) and isinstance(c.get("code"), str)
    ]
    display = concept.get("text") if isinstance(concept.get("text"), str) else ""
    if not display:
        for c in concept.get("coding") or []:
            if isinstance(c, dict) and isinstance(c.get("display"), str):
                display = c["display"]
                break
    return codings, str(display)


def draft_orders_of(resources: Sequence[dict[str, Any]], mapper: ModalityMapper,
                    *, only: Sequence[str] | None = None) -> list[DraftOrder]:
    """Return the ServiceRequests/MedicationRequests of ``resources`` with their modality (``only``: selections)."""
    out: list[DraftOrder] = []
    wanted = set(only) if only is not None else None
    for resource in resources:
        kind = resource.get("resourceType")
        if kind not in {"ServiceRequest", "MedicationRequest"}:
            continue
        rid = resource.get("id")
        reference = f"{kind}/{rid}" if isinstance(rid, str) and rid else None
        if wanted is not None and reference not in wanted:
            continue
        codings, display = _codings_of(resource)
        modality: Modality | None = None
        for c in codings:
            if c["system"] == MODALITY_SYSTEM and c["code"] in Modality._value2member_map_:
                modality = Modality(c["code"])
                break
        if modality is None and codings:
            mapped = mapper(codings)
            if mapped is not None and mapped in Modality._value2member_map_:
                modality = Modality(mapped)
        out.append(DraftOrder(reference=reference, resource_type=str(kind), display=display or (reference or kind),
                              codings=tuple(codings), modality=modality))
    return out


def _alternative(evaluation: Evaluation, modality: Modality) -> ModalityResult | None:
    family = next((f for f in _FAMILIES if modality in f), frozenset())
    wanted = (Status.RECOMMENDED, Status.CONSIDER)
    ranked = [r for r in evaluation.results if r.modality is not modality and r.status in wanted]
    ranked.sort(key=lambda r: (r.modality not in family, r.status is not Status.RECOMMENDED))
    return ranked[0] if ranked else None


def _replacement(ctx: CardContext, order: DraftOrder, alt: ModalityResult) -> dict[str, Any]:
    kind, codings = modality_order(alt.modality, label_of(alt.modality))  # orderable codes, then ours
    resource: dict[str, Any]
    if kind == "MedicationRequest":
        resource = {"resourceType": "MedicationRequest", "status": "draft", "intent": "proposal",
                    "medicationCodeableConcept": {"coding": codings, "text": label_of(alt.modality)},
                    "subject": {"reference": f"Patient/{ctx.patient_id}"}}
    else:
        resource = {"resourceType": "ServiceRequest", "status": "draft", "intent": "proposal",
                    "code": {"coding": codings, "text": label_of(alt.modality)},
                    "subject": {"reference": f"Patient/{ctx.patient_id}"}}
    if ctx.encounter_id:
        resource["encounter"] = {"reference": f"Encounter/{ctx.encounter_id}"}
    actions: list[dict[str, Any]] = []
    if order.reference:
        actions.append({"type": "delete", "description": f"Remove the draft order {clinician_text(order.display)}",
                        "resourceId": order.reference})
    actions.append({"type": "create", "description": f"Create a draft order: {label_of(alt.modality)}",
                    "resource": resource})
    verb = "Replace with" if order.reference else "Add"
    suggestion: dict[str, Any] = {"label": short(f"{verb} {label_of(alt.modality)} ({status_label(alt.status)})", 80),
                                  "uuid": new_uuid(), "actions": actions}
    if alt.status is Status.RECOMMENDED:
        suggestion["isRecommended"] = True
    return suggestion


_CAP = re.compile(r"^at most 'consider':\s*", re.IGNORECASE)
def _remarks(result: ModalityResult, *, notes: bool = True) -> list[str]:
    """Return warnings (and notes) as clinicians read them; a cap ("at most 'consider'") says why it is only that."""
    out = []
    for text in (*result.warnings, *(result.notes if notes else ())):
        plain = prose(text)
        out.append(f"- Only for discussion: {md(_CAP.sub('', plain))}" if _CAP.match(plain) else f"- ⚠ {md(plain)}")
    return out


def alert_key(result: ModalityResult) -> str:
    """Return what an order alert is about: the status and the criteria that decided it (same key, same alert)."""
    return result.status.value + ":" + ",".join(sorted(c.id for c in decided(result)))


def _order_line(order: DraftOrder, name: str) -> list[str]:
    shown = order.display.strip()
    if not shown or shown.lower() in {name.lower(), (order.modality.value if order.modality else "")}:
        return []
    return [f"Draft order: {md(clinician_text(shown))}, read as {name}.", ""]


def _order_card(evaluation: Evaluation, ctx: CardContext, order: DraftOrder, result: ModalityResult,
                gap_elements: Sequence[str], facts: Sequence[FactLine]) -> dict[str, Any] | None:
    status = result.status
    name = label_of(result.modality)
    if status is Status.RECOMMENDED:
        return None
    ordered = decisive_first(result)
    # The evidence of the deciding criteria first: the reference a clinician wants is the one behind the alert.
    evidence = evidence_links(ctx, result.modality, [*(e for c in decided(result) for e in c.evidence),
                                                     *result.evidence], limit=4)
    if status is Status.CONSIDER:
        lines = [f"**{name}: to discuss at the NEN tumour board before signing.** {md(sentence(reason_of(result)))}.",
                 "",
                 *_order_line(order, name), *_remarks(result)]
        met_labels = [clinician_text(c.label) for c in ordered if c.met is True]
        if met_labels:
            lines += ["", "**Criteria met:** " + "; ".join(md(m) for m in met_labels) + "."]
        if evidence:
            lines += ["", f"Evidence: {evidence}"]
        info: dict[str, Any] = {
            "uuid": new_uuid(), "summary": short(f"{name}: conditional option, discuss at the tumour board"),
            "detail": "\n".join(lines), "indicator": "info",
            "source": source_of(ctx, result.modality, label=f"NELM Pathways: {name}"),
            "links": [link_to_app(ctx, {"modality": result.modality.value})]}
        based = [f for f in facts if set(f.sources) & set(result.sources)]
        if based:
            info["extension"] = {"org.nelm-cds.basedOn": [f.to_json() for f in based]}
        return info
    lines = [f"**{name}: {status_label(status)} for this patient.** {md(sentence(reason_of(result)))}.", "",
             *_order_line(order, name)]
    why = [c for c in ordered if c.met is not True]
    lines += [criterion_line(c) for c in why] or [f"- {md(reason_of(result))}"]
    met = sum(1 for c in ordered if c.met is True)
    if met:
        lines.append(f"- {met} other criteri{'a' if met > 1 else 'on'} met (see the app)")
    lines += [w for w in _remarks(result, notes=False) if not w.startswith("- Only for discussion")]
    if status is Status.INSUFFICIENT_DATA and gap_elements and not any(c.met is None for c in why):
        lines += ["", "Missing or stale: " + ", ".join(md(element_label(e)) for e in gap_elements) + "."]
    behind = [f for f in facts if set(f.sources) & {s for c in why for s in c.sources}]
    if behind:
        stale = frozenset(g.last_source for g in evaluation.data_gaps if g.stale and g.last_source)
        lines += ["", "**Decisive facts:** " + "; ".join(
            f.brief() + (" _(stale)_" if stale.intersection(f.sources) else "") for f in behind) + "."]
    if evidence:
        lines += ["", f"Evidence: {evidence}"]
    while words("\n".join(lines)) > DETAIL_WORD_BUDGET and any(x.startswith("- ⚠") for x in lines):
        # Cautions give way first (the app shows them); the deciding criteria and facts stay.
        lines.remove(next(x for x in reversed(lines) if x.startswith("- ⚠")))
    suggestions: list[dict[str, Any]] = []
    if order.reference:
        suggestions.append({"label": short(f"Remove the draft order for {name}", 80), "uuid": new_uuid(),
                            "actions": [{"type": "delete",
                                         "description": f"Remove the draft order {clinician_text(order.display)}",
                                         "resourceId": order.reference}]})
    alt = _alternative(evaluation, result.modality)
    if alt is not None and status is not Status.INSUFFICIENT_DATA:
        suggestions.append(_replacement(ctx, order, alt))
    if status is Status.CONTRAINDICATED:
        unmet = [phrase(c.note or c.label) for c in ordered if c.met is False]
        summary = f"Contraindicated: {name} ({unmet[0]})" if unmet else f"Contraindicated: {name}"
        indicator = "critical"
    elif status is Status.NOT_RECOMMENDED:
        summary = f"Not recommended for this patient: {name}"
        indicator = "warning"
    else:
        missing = ", ".join(element_label(e) for e in gap_elements[:3])
        summary = f"{name}: required data missing ({missing or 'see detail'})"
        indicator = "warning"
    about: dict[str, Any] = {"modality": result.modality.value, "status": status.value, "alert": alert_key(result)}
    if order.reference:
        about["draftOrder"] = order.reference
    extension: dict[str, Any] = {"org.nelm-cds.order": about}
    if behind:
        extension["org.nelm-cds.basedOn"] = [f.to_json() for f in behind]
    card: dict[str, Any] = {
        "uuid": new_uuid(),
        "summary": short(summary),
        "detail": "\n".join(lines),
        "indicator": indicator,
        "source": source_of(ctx, result.modality, label=f"NELM Pathways: {name}"),
        "links": [link_to_app(ctx, {"modality": result.modality.value})],
        "extension": extension,
    }
    if suggestions:
        card["suggestions"] = suggestions
        card["selectionBehavior"] = "at-most-one"
    if status is Status.CONTRAINDICATED:
        card["overrideReasons"] = [dict(r) for r in OVERRIDE_REASONS]
    return card


def order_cards(evaluation: Evaluation, ctx: CardContext, orders: Sequence[DraftOrder], *,
                profile: NelmProfile | None = None) -> list[dict[str, Any]]:
    """Return one card per mapped draft order whose modality is not recommended; none for the rest.

    With ``profile`` each card names the facts behind its unmet criteria (value, date, FHIR reference).
    """
    facts = profile_facts(profile) if profile is not None else []
    cards: list[dict[str, Any]] = []
    for order in orders:
        if order.modality is None:
            continue
        result = evaluation.result(order.modality)
        gaps = [g.element for g in evaluation.data_gaps if order.modality in g.blocks]
        card = _order_card(evaluation, ctx, order, result, list(dict.fromkeys(gaps)), facts)
        if card is not None:
            cards.append(card)
    cards.sort(key=lambda c: {"critical": 0, "warning": 1, "info": 2}[c["indicator"]])
    return cards
