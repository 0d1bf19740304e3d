"""Evaluation → patient-view cards: few and useful (CONTRACT.md section 2, PATHWAY.md B25).

One summary card (what is recommended, what to discuss), one warning card per contraindication
that matters (modalities sharing the same cause are grouped), one data-gap card whose
suggestions create the missing orders as draft ServiceRequests, an info card naming records that
could not be read, and always the tumour-board card. Cards support a decision: wording suggests
("consider", "discuss"), it never commands.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from cds_hooks.cardparts import (
    CardContext,
    FactLine,
    coding_of,
    criterion_line,
    evidence_line,
    facts_behind,
    facts_by_source,
    label_of,
    link_to_app,
    md,
    new_uuid,
    profile_facts,
    short,
    source_of,
)
from cds_hooks.orderables import gap_order_codings
from cds_hooks.report_candidates import ReportReading, report_block
from nelm_fhir.model import NelmProfile
from nelm_fhir.pathways import TUMOUR_BOARD_NOTE
from nelm_fhir.pathways.result import DataGap, Evaluation, ModalityResult, Status

__all__ = ["MAX_CONTRAINDICATION_CARDS", "patient_view_cards", "unreadable_data_card"]

MAX_CONTRAINDICATION_CARDS = 4

# What to order for a missing element (display, system, code). The engine's ``DataGap.order_label``
# names the order when present; the code comes from here, else from the gap's first code. An element
# with neither an order label nor an entry here (e.g. a missing birth date) gets no order suggestion.
_F = "https://nelm-cds.org/fhir/CodeSystem/nelm-finding"
_ORDERS: dict[str, tuple[str, str, str]] = {
    "ki67Percent": ("Ki-67 index on a liver metastasis biopsy", "http://loinc.org", "29593-1"),
    "ki67LiverSpecimen": ("Pre-operative liver biopsy: Ki-67 index", "http://loinc.org", "29593-1"),
    "krenningScore": ("SSTR PET/CT (68Ga-DOTATATE) with Krenning score", _F, "krenning-score"),
    "flrPercent": ("CT liver volumetry: future liver remnant", _F, "flr-percent"),
    "liverInvolvementPercent": ("CT/MRI liver volumetry: tumour involvement", _F, "liver-involvement-percent"),
    "fitness": ("ECOG performance status assessment", "http://loinc.org", "89247-1"),
    "renalFunction": ("eGFR (CKD-EPI 2021)", "http://loinc.org", "98979-8"),
    "lesionSize": ("Liver MRI/CT: size of each lesion", "http://loinc.org", "33728-7"),
    "monthsStable": ("Restaging: cancer disease status", "http://loinc.org", "97509-4"),
    "platelets": ("Platelet count", "http://loinc.org", "777-3"),
    "haemoglobin": ("Haemoglobin", "http://loinc.org", "718-7"),
    "leukocytes": ("Leukocyte count", "http://loinc.org", "6690-2"),
    "bilirubin": ("Total bilirubin", "http://loinc.org", "1975-2"),
    "albumin": ("Albumin", "http://loinc.org", "1751-7"),
    "inr": ("INR", "http://loinc.org", "6301-6"),
}


# Short names of the engine's data-gap elements, for summaries a clinician reads at a glance.
_SHORT: dict[str, str] = {
    "ki67Percent": "Ki-67", "ki67LiverSpecimen": "liver Ki-67", "differentiation": "differentiation",
    "primarySite": "primary site", "primaryStatus": "primary status", "ageYears": "age",
    "fitness": "fitness (ECOG)", "resectableR0": "resectability", "flrPercent": "FLR",
    "frillingType": "Frilling type", "liverInvolvementPercent": "liver involvement", "lesionSize": "lesion sizes",
    "monthsStable": "disease status", "achievableDebulkingPercent": "debulking estimate",
    "krenningScore": "SSTR PET", "fdgPetPositive": "FDG-PET", "renalFunction": "eGFR", "inr": "INR",
}


def short_name(element: str) -> str:
    """Return a clinician's short name for a data-gap element (camelCase split as a fallback)."""
    return _SHORT.get(element) or re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", element).lower()


def _by_status(evaluation: Evaluation, status: Status) -> list[ModalityResult]:
    return [r for r in evaluation.results if r.status is status]


def _names(results: Sequence[ModalityResult]) -> str:
    return ", ".join(label_of(r.modality) for r in results)


def _fact_value(value: Any) -> str:
    if isinstance(value, dict) and "value" in value:
        text = f"{md(value['value'])}" + (f" {md(value['unit'])}" if value.get("unit") else "")
        where = [md(value[k]) for k in ("source", "date") if value.get(k)]
        return text + (f" ({', '.join(where)})" if where else "")
    if isinstance(value, list):
        return ", ".join(_fact_value(v) for v in value)
    if isinstance(value, dict):
        return md(json.dumps(value, sort_keys=True))
    return md(value)


def _summary_lines(summary: dict[str, Any]) -> list[str]:
    """Return one Markdown line per element of the profile summary (only when no profile was passed)."""
    lines: list[str] = []
    for key, value in summary.items():
        if value in (None, "", [], {}):
            continue
        label = md(short_name(key).capitalize())
        if isinstance(value, dict) and "value" not in value and all(isinstance(v, dict) for v in value.values()):
            lines.append(f"- **{label}**:")
            lines += [f"  - {md(k)}: {_fact_value(v)}" for k, v in value.items()]
        else:
            lines.append(f"- **{label}** {_fact_value(value)}")
    return lines


def _stale_sources(evaluation: Evaluation) -> frozenset[str]:
    return frozenset(g.last_source for g in evaluation.data_gaps if g.stale and g.last_source)


def _summary_card(evaluation: Evaluation, ctx: CardContext, folded: Sequence[ModalityResult],
                  facts: Sequence[FactLine] | None) -> dict[str, Any]:
    recommended = _by_status(evaluation, Status.RECOMMENDED)
    consider = _by_status(evaluation, Status.CONSIDER)
    if recommended:
        head = f"NELM pathway: {_names(recommended[:2])} recommended"
        if len(recommended) > 2:
            head += f" (+{len(recommended) - 2})"
    else:
        head = "NELM pathway: no option meets all criteria"
    if consider:
        head += f"; {len(consider)} option{'s' if len(consider) > 1 else ''} to discuss at MDT"
    lines = [f"**Evaluation of {md(evaluation.patient)} on {evaluation.evaluated_at.isoformat()}** "
             f"(rules {md(evaluation.rules_version)}, configuration {md(evaluation.config_name)})", ""]
    stale = _stale_sources(evaluation)
    fact_lines = ([f.markdown(stale=bool(stale.intersection(f.sources))) for f in facts] if facts is not None
                  else _summary_lines(evaluation.profile_summary))
    if fact_lines:
        lines += ["**Facts used**", "", *fact_lines, ""]
    for title, group in (("Recommended", recommended), ("Consider (discuss at the tumour board)", consider)):
        if not group:
            continue
        lines += [f"**{title}**", ""]
        for r in group:
            lines.append(f"- **{label_of(r.modality)}**: {md(r.summary)} {evidence_line(r)}".rstrip())
            lines += [f"  {criterion_line(c)}" for c in r.criteria if c.met is not None][:6]
            lines += [f"  - ⚠ {md(w)}" for w in r.warnings]
            lines += [f"  - {md(n)}" for n in r.notes]
            lines += [f"  - Outcome: {md(o)}" for o in r.outcomes]
        lines.append("")
    not_rec = _by_status(evaluation, Status.NOT_RECOMMENDED)
    if not_rec:
        lines += ["**Not recommended**", ""]
        lines += [f"- {label_of(r.modality)}: {md(r.summary)}" for r in not_rec]
        lines.append("")
    if folded:
        lines += ["**Also contraindicated**", ""]
        lines += [f"- {label_of(r.modality)}: {md(r.summary)}" for r in folded]
        lines.append("")
    notes = [n for n in evaluation.notes if n != TUMOUR_BOARD_NOTE]  # the tumour-board card says it
    if notes:
        lines += ["**Notes**", "", *[f"- {md(n)}" for n in notes], ""]
    if evaluation.problems:
        lines += ["**Records not used** (unusable data)", "", *[f"- {md(p)}" for p in evaluation.problems], ""]
    if evaluation.config_overrides:
        lines += ["Site configuration overrides: "
                  + ", ".join(f"{md(k)} = {md(v)}" for k, v in evaluation.config_overrides), ""]
    lines.append("Decision support only: options and criteria are for the treating team and the tumour board.")
    return {
        "uuid": new_uuid(),
        "summary": short(head),
        "detail": "\n".join(lines),
        "indicator": "info",
        "source": source_of(ctx, None, label="NELM Pathways: treatment options"),
        "links": [link_to_app(ctx, {"view": "pathway"})],
        # Machine-readable for integrators: every modality's status, the rules version.
        "extension": {"org.nelm-cds.pathway": {
            "rulesVersion": evaluation.rules_version,
            "statuses": {r.modality.value: r.status.value for r in evaluation.results},
        }},
    }


def _cause(result: ModalityResult) -> tuple[str, ...]:
    unmet = tuple(sorted(c.id for c in result.criteria if c.met is False))
    return unmet or (result.summary,)


def _contraindication_cards(
    evaluation: Evaluation, ctx: CardContext, facts: Sequence[FactLine]
) -> tuple[list[dict[str, Any]], list[ModalityResult]]:
    groups: dict[tuple[str, ...], list[ModalityResult]] = {}
    for r in _by_status(evaluation, Status.CONTRAINDICATED):
        groups.setdefault(_cause(r), []).append(r)
    ordered = list(groups.values())
    cards: list[dict[str, Any]] = []
    folded: list[ModalityResult] = []
    for group in ordered[MAX_CONTRAINDICATION_CARDS:]:
        folded.extend(group)
    for group in ordered[:MAX_CONTRAINDICATION_CARDS]:
        first = group[0]
        unmet = [c for c in first.criteria if c.met is False]
        reason = (unmet[0].note or unmet[0].label) if unmet else first.summary
        summary = short(f"Contraindicated: {_names(group)} ({reason})")
        lines = [f"**{_names(group)}: contraindicated.** {md(first.summary)}", "", "**Why**", ""]
        lines += [criterion_line(c) for c in first.criteria if c.met is False] or [f"- {md(first.summary)}"]
        for r in group:
            lines += [f"- ⚠ {md(w)}" for w in r.warnings]
        behind = facts_behind([s for c in unmet for s in c.sources], facts, _stale_sources(evaluation))
        if behind:
            lines += ["", "**Facts behind it**", "", *behind]
        lines += ["", f"Evidence: {evidence_line(first) or 'see the evidence page'}"]
        modalities = [r.modality.value for r in group]
        card: dict[str, Any] = {
            "uuid": new_uuid(),
            "summary": summary,
            "detail": "\n".join(lines),
            "indicator": "warning",
            # One modality: its topic. Several (same cause): no single topic; the extension lists them and
            # the url is the first one's evidence page, which carries the shared cause's evidence.
            "source": source_of(ctx, first.modality, label=f"NELM Pathways: {label_of(first.modality)}",
                                topic=len(group) == 1),
            "links": [link_to_app(ctx, {"modality": modalities[0]})],
        }
        if len(group) > 1:
            card["extension"] = {"org.nelm-cds.modalities": modalities}
        cards.append(card)
    return cards, folded


def _order_for(gap: DataGap) -> tuple[str, list[dict[str, str]]] | None:
    """Return (display, Codings) of the order that would fill ``gap``, or None when nothing can be ordered."""
    label = getattr(gap, "order_label", None)
    known = _ORDERS.get(gap.element)
    if known is not None:
        display, system, code = known
        own = [{"system": system, "code": code, "display": label or display}]
        return (label or display), gap_order_codings(gap.element, own)  # orderable codes first (orderables.py)
    if not label:
        return None
    coding = coding_of(gap.codes[0]) if gap.codes else None
    return label, gap_order_codings(gap.element, [{**coding, "display": label}] if coding else [])


def _draft_service_request(ctx: CardContext, display: str, coding: list[dict[str, str]], why: str) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "proposal",
        "code": {"text": display, **({"coding": coding} if coding else {})},
        "subject": {"reference": f"Patient/{ctx.patient_id}"},
        "reasonCode": [{"text": f"NELM pathway data gap: {why}"[:500]}],
    }
    if ctx.encounter_id:
        resource["encounter"] = {"reference": f"Encounter/{ctx.encounter_id}"}
    if ctx.user_id and ctx.user_id.startswith(("Practitioner/", "PractitionerRole/")):
        resource["requester"] = {"reference": ctx.user_id}
    return resource


def _data_gap_card(evaluation: Evaluation, ctx: CardContext, facts: Sequence[FactLine],
                   reports: ReportReading | None = None) -> dict[str, Any] | None:
    # The gap that blocks most options first.
    gaps = sorted(evaluation.data_gaps, key=lambda g: -len(g.blocks))
    if not gaps:
        return None
    elements = list(dict.fromkeys(short_name(g.element) for g in gaps))
    blocked = list(dict.fromkeys(m for g in gaps for m in g.blocks))
    summary = f"Missing or stale data: {', '.join(elements[:3])}" + (f" (+{len(elements) - 3})" if len(elements) > 3
                                                                     else "")
    if blocked:
        summary += f"; {len(blocked)} option{'s' if len(blocked) > 1 else ''} cannot be rated"
    lines = ["**Inputs the pathway needs but the record does not hold (or holds only stale values)**", ""]
    orders: dict[str, list[tuple[list[dict[str, str]], str]]] = {}
    for gap in gaps:
        state = "stale" if gap.stale else "missing"
        seen = ""
        if gap.last_seen is not None:
            seen = f"; last value {gap.last_seen.isoformat()}"
            if gap.last_source:
                seen += f" ({md(gap.last_source)})"
        codes = ", ".join(f"`{c}`" for c in gap.codes)
        blocks = ", ".join(label_of(m) for m in gap.blocks)
        last = ""
        if gap.last_source:
            known = [f for f in facts_by_source(facts).get(gap.last_source, []) if f.value]
            if known:
                last = f" Last result: {md(known[0].label)} {md(known[0].value)}."
        lines.append(f"- **{md(short_name(gap.element))}** (`{md(gap.element)}`, {state}{seen}): "
                     f"{md(gap.why).rstrip('.')}."
                     + last + (f" Codes: {codes}." if codes else "") + (f" Blocks: {blocks}." if blocks else ""))
        order = _order_for(gap)
        if order is not None:
            orders.setdefault(order[0], []).append((order[1], gap.why))
    block = report_block(gaps, reports, ctx, short_name)  # issue 15: candidates from the reports, to confirm
    lines += block.lines if block is not None else ()
    suggestions: list[dict[str, Any]] = []
    for display, items in orders.items():
        codings = {json.dumps(c, sort_keys=True) for c, _ in items if c}
        # One order for several inputs (e.g. a full blood count): text only, the EHR picks its local order.
        coding = items[0][0] if len(codings) == 1 else []
        why = "; ".join(dict.fromkeys(w for _, w in items))
        suggestions.append({
            "label": short(f"Order: {display}", 80),
            "uuid": new_uuid(),
            "actions": [{
                "type": "create",
                "description": f"Create a draft order: {display}",
                "resource": _draft_service_request(ctx, display, coding, why),
            }],
        })
    lines += ["", "Suggestions create draft orders for the clinician to review and sign; none is signed here."]
    card: dict[str, Any] = {
        "uuid": new_uuid(),
        "summary": short(summary),
        "detail": "\n".join(lines),
        "indicator": "warning",
        # One blocked option: its topic and evidence page; several: the evidence index, and the extension.
        "source": source_of(ctx, blocked[0] if len(blocked) == 1 else None, label="NELM Pathways: data gaps"),
        "links": [link_to_app(ctx, {"view": "data-gaps"})],
    }
    if len(blocked) > 1:
        card["extension"] = {"org.nelm-cds.modalities": [m.value for m in blocked]}
    if block is not None:  # issue 15: one link per gap a report can fill, and the proposals as data
        card["links"] += block.links
        card["extension"] = {**card.get("extension", {}), **block.extension}
    if suggestions:
        card["suggestions"] = suggestions
        card["selectionBehavior"] = "any"
    return card


def _tumour_board_card(evaluation: Evaluation, ctx: CardContext) -> dict[str, Any]:
    consider = _by_status(evaluation, Status.CONSIDER)
    lines = ["Review by the NEN multidisciplinary tumour board is advised for every patient with NELM: the "
             "review calls MDT discussion \"paramount\" for choosing and sequencing options [14,15].", ""]
    if consider:
        lines += ["**Options to discuss**", "", *[f"- {label_of(r.modality)}: {md(r.summary)}" for r in consider], ""]
    if evaluation.data_gaps:
        lines += ["**Bring to the meeting**: "
                  + ", ".join(dict.fromkeys(md(short_name(g.element)) for g in evaluation.data_gaps))
                  + " (missing or stale).", ""]
    lines.append("Evidence: [14], [15] (seed review); PATHWAY.md B25.")
    return {
        "uuid": new_uuid(),
        "summary": "Discuss at the NEN multidisciplinary tumour board before deciding on treatment",
        "detail": "\n".join(lines),
        "indicator": "info",
        "source": source_of(ctx, None, label="NELM Pathways: tumour board"),
        "links": [link_to_app(ctx, {"view": "tumour-board"})],
    }


def unreadable_data_card(ctx: CardContext, reasons: Sequence[str]) -> dict[str, Any]:
    """Return the info card naming records that could not be read (cards may be incomplete)."""
    keys = ", ".join(dict.fromkeys(r.split(":", 1)[0] for r in reasons))
    lines = ["Some of the patient's records could not be read from the EHR, so options that depend on them may "
             "show as missing data. Re-open the patient to retry.", "", *[f"- {md(r)}" for r in reasons]]
    return {
        "uuid": new_uuid(),
        "summary": short(f"Some records could not be read ({keys}); the pathway may be incomplete"),
        "detail": "\n".join(lines),
        "indicator": "info",
        "source": source_of(ctx, None, label="NELM Pathways"),
    }


def patient_view_cards(
    evaluation: Evaluation, ctx: CardContext, *, unreadable: Sequence[str] = (), profile: NelmProfile | None = None,
    reports: ReportReading | None = None,
) -> list[dict[str, Any]]:
    """Return the patient-view cards for ``evaluation``, most important first.

    With ``profile`` (the engine's input) every card names its facts with labels, values, dates and FHIR
    references; without it the summary card falls back to the evaluation's profile summary.
    """
    facts = profile_facts(profile) if profile is not None else None
    contraindications, folded = _contraindication_cards(evaluation, ctx, facts or ())
    cards = [_summary_card(evaluation, ctx, folded, facts), *contraindications]
    gap = _data_gap_card(evaluation, ctx, facts or (), reports)
    if gap is not None:
        cards.append(gap)
    if unreadable:
        cards.append(unreadable_data_card(ctx, unreadable))
    cards.append(_tumour_board_card(evaluation, ctx))
    return cards
