"""Evaluation → patient-view cards: few, short, each needing an action (CONTRACT.md section 2, PATHWAY.md B25).

One headline card names the next step and every option worth discussing by name and status, folds
in what is contraindicated for options nobody ordered, and always advises review by the NEN
multidisciplinary tumour board (B25: it is the one info card that says so). Besides it, a card only
for what needs an action: a missing or stale datum (with suggestions that create the orders as draft
ServiceRequests) and a contraindication that matters now, i.e. of a treatment the record shows as
current. Each card's detail stays within about :data:`DETAIL_WORD_BUDGET` words: the decisive facts
with value and date, the evidence as links, the SMART app for the rest. Every card names the facts it
used with their FHIR references in the ``org.nelm-cds.basedOn`` extension. Wording suggests
("consider", "discuss"); it never commands.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from cds_hooks.cardparts import (
    DETAIL_WORD_BUDGET,
    NONE_RECORDED,
    CardContext,
    FactLine,
    coding_of,
    criterion_line,
    evidence_links,
    facts_by_source,
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
from cds_hooks.clinical_text import clinician_text, decided, decisive_first, element_label, record_problem
from cds_hooks.orderables import gap_order_codings
from cds_hooks.report_candidates import ReportReading, report_block
from nelm_fhir.model import DrugClass, ExposureState, NelmProfile
from nelm_fhir.pathways.result import DataGap, Evaluation, Modality, ModalityResult, Status

__all__ = ["DETAIL_WORD_BUDGET", "patient_view_cards", "unreadable_data_card", "words"]

TUMOUR_BOARD_EVIDENCE = ("[14]", "[15]")
_APP_POINTER = "Every criterion and source: in the app."

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


def _by_status(evaluation: Evaluation, status: Status) -> list[ModalityResult]:
    return [r for r in evaluation.results if r.status is status]


def _names(results: Sequence[ModalityResult]) -> str:
    return ", ".join(label_of(r.modality) for r in results)


def _some(results: Sequence[ModalityResult], limit: int = 3) -> str:
    """Return up to ``limit`` option names and how many more (folded contraindications of options nobody ordered)."""
    shown = _names(results[:limit])
    return shown + (f" and {len(results) - limit} more" if len(results) > limit else "")


def _cause(result: ModalityResult) -> str:
    """Return the decisive reason of a contraindication in a few words (the first unmet criterion's note)."""
    unmet = [c for c in result.criteria if c.met is False]
    if unmet:
        return phrase(unmet[0].note or unmet[0].label)
    return reason_of(result)


def _stale_sources(evaluation: Evaluation) -> frozenset[str]:
    return frozenset(g.last_source for g in evaluation.data_gaps if g.stale and g.last_source)


# Facts a clinician looks at first, in this order; the rest follow in the profile's order.
_FACT_PRIORITY = ("grade", "ki67", "mitoses", "differentiation", "extrahepatic", "fit", "ecog", "r0", "flr", "pvt",
                  "hepatic-failure", "involvement", "krenning", "disease-status", "largest-lesion", "lesion-count",
                  "primary", "age", "drugs")


def _decisive_facts(groups: Sequence[Sequence[ModalityResult]], facts: Sequence[FactLine]) -> list[FactLine]:
    """Return the facts behind the criteria that decided the statuses of ``groups``, most telling first.

    Facts of an earlier group come first (the headline passes the next step, then the contraindications,
    then the rest); within a group, the clinician's usual order (grade, Ki-67, spread, resectability, …).
    """
    index = facts_by_source(facts)
    found: dict[str, tuple[int, FactLine]] = {}
    for g, results in enumerate(groups):
        for result in results:
            for criterion in decided(result):
                for source in criterion.sources:
                    for fact in index.get(source, ()):
                        found.setdefault(f"{fact.key}|{fact.value}", (g, fact))
    rank = {k: i for i, k in enumerate(_FACT_PRIORITY)}
    order = {id(f): i for i, f in enumerate(facts)}

    def key(gf: tuple[int, FactLine]) -> tuple[int, int, int]:
        group, fact = gf
        # A well-differentiated tumour and laboratory values that met a safety threshold decide little on
        # their own (they only exclude NEC or organ failure): after every group's more telling facts.
        plain = (fact.key == "differentiation" and fact.value == "well") or (
            fact.key.startswith("lab:") and group == 0)
        return (len(groups) if plain else group, rank.get(fact.key, len(rank)), order.get(id(fact), 0))

    ranked = sorted(found.values(), key=key)
    return [fact for _, fact in ranked]


def _based_on(facts: Sequence[FactLine]) -> dict[str, Any]:
    return {"org.nelm-cds.basedOn": [f.to_json() for f in facts]} if facts else {}


def _fit_facts(lines: list[str], facts: Sequence[FactLine], stale: frozenset[str], *, at: int) -> None:
    """Insert "Decisive facts: …" at ``at`` with as many facts as the word budget allows, naming how many are left."""
    shown: list[str] = []
    base = words("\n".join(lines))
    for fact in facts:
        text = fact.brief() + (" _(stale)_" if stale.intersection(fact.sources) else "")
        trial = "**Decisive facts:** " + "; ".join([*shown, text]) + "."
        left = len(facts) - len(shown) - 1
        if base + words(trial) + (4 if left else 0) > DETAIL_WORD_BUDGET:
            break
        shown.append(text)
    if not facts:
        return
    rest = len(facts) - len(shown)
    if not shown:  # the card is full: the facts stay in the extension and the app
        line = f"**Decisive facts:** +{rest} in the app."
        if base + words(line) <= DETAIL_WORD_BUDGET:
            lines.insert(at, line)
        return
    line = "**Decisive facts:** " + "; ".join(shown) + ("." if not rest else f"; +{rest} in the app.")
    lines.insert(at, line)


def _current_modalities(profile: NelmProfile | None) -> dict[Modality, list[str]]:
    """Return the drug treatments the record shows as current, with the FHIR references saying so."""
    if profile is None:
        return {}
    by_class = {DrugClass.SSA: Modality.SOMATOSTATIN_ANALOGUE, DrugClass.EVEROLIMUS: Modality.EVEROLIMUS,
                DrugClass.SUNITINIB: Modality.SUNITINIB, DrugClass.CHEMOTHERAPY: Modality.CHEMOTHERAPY,
                DrugClass.LU177: Modality.PRRT, DrugClass.INTERFERON: Modality.INTERFERON_ALPHA}
    out: dict[Modality, list[str]] = {}
    for drug in profile.drugs:
        if drug.state is ExposureState.CURRENT and drug.drug_class in by_class:
            out.setdefault(by_class[drug.drug_class], []).append(drug.source)
    return out


def _headline_card(evaluation: Evaluation, ctx: CardContext, facts: Sequence[FactLine]) -> dict[str, Any]:
    recommended = _by_status(evaluation, Status.RECOMMENDED)
    consider = _by_status(evaluation, Status.CONSIDER)
    contraindicated = _by_status(evaluation, Status.CONTRAINDICATED)
    unrated = _by_status(evaluation, Status.INSUFFICIENT_DATA)
    not_rec = _by_status(evaluation, Status.NOT_RECOMMENDED)
    missing = list(dict.fromkeys(element_label(g.element) for g in evaluation.data_gaps))
    if recommended:
        head = f"Recommended: {_names(recommended)}"
        if consider:
            head += f"; discuss at the tumour board: {_names(consider[:2])}"
            head += f" (+{len(consider) - 2})" if len(consider) > 2 else ""
    elif consider:
        head = (f"No option meets all criteria: {len(consider)} to discuss at the NEN tumour board "
                f"({_names(consider[:2])}{', …' if len(consider) > 2 else ''})")
    else:
        head = "No option meets all criteria: NEN tumour board review advised"
    first = recommended[0] if recommended else None
    lines: list[str] = []
    if first is not None:
        lines.append(f"**Next step: {label_of(first.modality)}** (recommended): {md(reason_of(first))}.")
        if len(recommended) > 1:
            lines.append(f"**Also recommended:** {_names(recommended[1:])}.")
    elif missing:
        lines.append(f"**Next step:** complete the missing data ({md(', '.join(missing[:3]))}), then discuss "
                     "the options at the NEN tumour board.")
    else:
        lines.append("**Next step:** discuss the options below at the NEN tumour board.")
    if consider:
        lines.append(f"**To discuss:** {_names(consider)}.")
    if unrated:
        lines.append(f"**Cannot be rated yet** (data missing): {_names(unrated)}.")
    if contraindicated:
        groups: dict[str, list[ModalityResult]] = {}
        for r in contraindicated:
            groups.setdefault(_cause(r), []).append(r)
        lines.append("**Contraindicated:** " + "; ".join(f"{_some(g)} ({md(cause)})" for cause, g in groups.items())
                     + ".")
    if not_rec:
        lines.append(f"{len(not_rec)} other option{'s' if len(not_rec) > 1 else ''} not recommended (see the app).")
    if evaluation.problems:
        lines.append(f"{len(evaluation.problems)} record{'s' if len(evaluation.problems) > 1 else ''} could not "
                     "be used (see the app).")
    if evaluation.config_overrides:
        lines.append("This site's thresholds differ from the defaults (see the app).")
    board = evidence_links(ctx, None, TUMOUR_BOARD_EVIDENCE)
    tail = [f"Review by the NEN multidisciplinary tumour board is advised for every patient with NELM {board}."]
    if first is not None:
        tail.append(f"Evidence: {evidence_links(ctx, first.modality, first.evidence, limit=4)}")
    tail.append(_APP_POINTER)
    decisive = _decisive_facts([recommended[:1], contraindicated, recommended[1:], consider, unrated], facts)
    at = len(lines)
    lines += tail
    _fit_facts(lines, decisive, _stale_sources(evaluation), at=at)
    if decisive and not any(x.startswith("**Decisive facts:** ") and not x.startswith("**Decisive facts:** +")
                            for x in lines):
        # A full card: the general pointer to the app gives way to the facts that decided (the link stays).
        lines = [x for x in lines if not x.startswith("**Decisive facts:** ") and x != _APP_POINTER]
        _fit_facts(lines, decisive, _stale_sources(evaluation), at=at)
    extension: dict[str, Any] = {"org.nelm-cds.pathway": {
        "rulesVersion": evaluation.rules_version,
        "configuration": evaluation.config_name,
        "statuses": {r.modality.value: r.status.value for r in evaluation.results},
    }}
    if evaluation.config_overrides:
        extension["org.nelm-cds.pathway"]["siteOverrides"] = dict(evaluation.config_overrides)
    if evaluation.problems:  # counted in words above; each with its FHIR path for integration engineers
        extension["org.nelm-cds.pathway"]["problems"] = list(evaluation.problems)
    # The headline used every fact of the record: the decisive ones first (marked), then the rest.
    rest = [f for f in facts if f.sources and f not in decisive]
    based = [{**f.to_json(), "decisive": True} for f in decisive] + [f.to_json() for f in rest]
    if based:
        extension["org.nelm-cds.basedOn"] = based
    return {
        "uuid": new_uuid(),
        "summary": short(head),
        "detail": "\n\n".join(lines),
        "indicator": "info",
        "source": source_of(ctx, None, label="NELM Pathways: treatment options and tumour board"),
        "links": [link_to_app(ctx, {"view": "pathway"})],
        "extension": extension,
    }


def _current_contraindication_cards(evaluation: Evaluation, ctx: CardContext, facts: Sequence[FactLine],
                                    current: dict[Modality, list[str]]) -> list[dict[str, Any]]:
    """Return a warning card for each contraindicated treatment the record shows as current (it matters now)."""
    cards: list[dict[str, Any]] = []
    for result in _by_status(evaluation, Status.CONTRAINDICATED):
        if result.modality not in current:
            continue
        name = label_of(result.modality)
        why = [c for c in decisive_first(result) if c.met is False]
        lines = [f"**{name} is contraindicated** and the record shows it as a current treatment: "
                 f"{md(reason_of(result))}. Consider reviewing it with the treating team.", "",
                 *[criterion_line(c) for c in why]]
        facts_used = _decisive_facts([[result]], facts)
        drug_facts = [f for f in facts if set(f.sources) & set(current[result.modality])]
        lines += ["", f"Evidence: {evidence_links(ctx, result.modality, result.evidence, limit=4)}"]
        at = len(lines) - 1
        _fit_facts(lines, [*facts_used, *drug_facts], _stale_sources(evaluation), at=at)
        cards.append({
            "uuid": new_uuid(),
            "summary": short(f"Current treatment contraindicated: {name} ({_cause(result)})"),
            "detail": "\n".join(lines),
            "indicator": "warning",
            "source": source_of(ctx, result.modality, label=f"NELM Pathways: {name}"),
            "links": [link_to_app(ctx, {"modality": result.modality.value})],
        })
        if facts_used or drug_facts:
            cards[-1]["extension"] = _based_on([*facts_used, *drug_facts])
    return cards


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


def _gap_suggestions(ctx: CardContext, gaps: Sequence[DataGap]) -> list[dict[str, Any]]:
    """Return one suggestion per orderable (several gaps one order, e.g. a blood count): draft ServiceRequests."""
    orders: dict[str, list[tuple[list[dict[str, str]], str]]] = {}
    for gap in gaps:
        order = _order_for(gap)
        if order is not None:
            orders.setdefault(order[0], []).append((order[1], clinician_text(gap.why)))
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
    return suggestions


def _add_within_budget(lines: list[str], extra: Sequence[str]) -> None:
    """Append ``extra`` (the reports' quotes) while the detail keeps to its word budget; count what is left out."""
    left_out = 0
    for line in extra:
        if words("\n".join([*lines, line])) <= DETAIL_WORD_BUDGET:
            lines.append(line)
        elif line.startswith("- "):
            left_out += 1
    while lines and not lines[-1].strip():
        lines.pop()
    if left_out:
        more = f"+{left_out} more found in the reports: in the app."
        if words("\n".join([*lines, more])) <= DETAIL_WORD_BUDGET:
            lines.append(more)


def _data_gap_card(evaluation: Evaluation, ctx: CardContext, facts: Sequence[FactLine],
                   reports: ReportReading | None = None) -> dict[str, Any] | None:
    # The gap that blocks most options first.
    gaps = sorted(evaluation.data_gaps, key=lambda g: -len(g.blocks))
    if not gaps:
        return None
    elements = list(dict.fromkeys(element_label(g.element) for g in gaps))
    blocked = list(dict.fromkeys(m for g in gaps for m in g.blocks))
    summary = f"Missing or stale data: {', '.join(elements[:3])}" + (f" (+{len(elements) - 3})" if len(elements) > 3
                                                                     else "")
    if blocked:
        summary += f"; {len(blocked)} option{'s' if len(blocked) > 1 else ''} cannot be rated"
    lines: list[str] = []
    index = facts_by_source(facts)
    used: list[FactLine] = []
    for gap in gaps:
        state = "stale" if gap.stale else "missing"
        if gap.stale and gap.last_source:
            known = [f for f in index.get(gap.last_source, []) if f.value and f.value != NONE_RECORDED]
            used += known
            last = f"last: {known[0].brief()}" if known else (
                f"last {gap.last_seen.isoformat()}" if gap.last_seen else "")
            state += f", {last}" if last else ""
        # "required by N option(s)" says again what "Blocks N options" says.
        why = re.sub(r";?\s*required by \d+ option\(s\)", "", prose(gap.why)).rstrip(".")
        blocks = f" Blocks {len(gap.blocks)} option{'s' if len(gap.blocks) > 1 else ''}." if gap.blocks else ""
        lines.append(f"- **{md(sentence(element_label(gap.element)))}** ({md(state)}): {md(why)}.{blocks}")
    if 0 < len(blocked) <= 3:  # more are named in the headline card
        lines += ["", f"Cannot be rated until then: {_names([evaluation.result(m) for m in blocked])}."]
    suggestions = _gap_suggestions(ctx, gaps)
    if suggestions:
        lines += ["", "The suggestions create draft orders for the clinician to review and sign."]
    # Issue 15: what the reports say about a gap, quoted to confirm (never used until confirmed). Long gap
    # explanations give way to the quotes first (up to half the budget), then the quotes to the budget.
    block = report_block(gaps, reports, ctx, element_label)
    reserve = min(words("\n".join(block.lines)), DETAIL_WORD_BUDGET // 2) if block is not None else 0
    while words("\n".join(lines)) + reserve > DETAIL_WORD_BUDGET and len(lines) > 1:
        # Long explanations give way first; the element, its state and what it blocks stay (the app has the rest).
        longest = max(range(len(lines)), key=lambda i: words(lines[i]) if lines[i].startswith("- **") else 0)
        if not lines[longest].startswith("- **") or ": " not in lines[longest]:
            break
        head, _, rest = lines[longest].partition("): ")
        blocks = rest[rest.rfind(" Blocks "):] if " Blocks " in rest else ""
        lines[longest] = f"{head}).{blocks}"
    card: dict[str, Any] = {
        "uuid": new_uuid(),
        "summary": short(summary),
        "detail": "\n".join(lines),
        "indicator": "warning",
        # One blocked option: its topic and evidence page; several: the evidence index, and the extension.
        "source": source_of(ctx, blocked[0] if len(blocked) == 1 else None, label="NELM Pathways: data gaps"),
        "links": [link_to_app(ctx, {"view": "data-gaps"})],
        "extension": {"org.nelm-cds.dataGaps": [g.element for g in gaps], **_based_on(used)},
    }
    if blocked:  # one blocked option too: the card names what it is about (CONTRACT.md section 5)
        card["extension"]["org.nelm-cds.modalities"] = [m.value for m in blocked]
    # One link per gap a report can fill, and the proposals as data for the app and integration engineers.
    if block is not None:
        detail = card["detail"].split("\n")
        _add_within_budget(detail, block.lines)
        card["detail"] = "\n".join(detail)
        card["links"] += block.links
        card["extension"] = {**card["extension"], **block.extension}
    if suggestions:
        card["suggestions"] = suggestions
        card["selectionBehavior"] = "any"
    return card


def unreadable_data_card(ctx: CardContext, reasons: Sequence[str]) -> dict[str, Any]:
    """Return the info card naming records that could not be read (cards may be incomplete)."""
    keys = ", ".join(dict.fromkeys(record_problem(r).split(":", 1)[0].lower() for r in reasons))
    lines = ["Some of the patient's records could not be read from the EHR, so options that depend on them may "
             "show as missing data. Re-open the patient to retry.", "",
             *[f"- {md(record_problem(r))}" for r in reasons]]
    return {
        "uuid": new_uuid(),
        "summary": short(f"Some records could not be read ({keys}); the pathway may be incomplete"),
        "detail": "\n".join(lines),
        "indicator": "info",
        "source": source_of(ctx, None, label="NELM Pathways"),
        "extension": {"org.nelm-cds.unreadable": list(reasons)},  # as the service saw them, for integrators
    }


def patient_view_cards(
    evaluation: Evaluation, ctx: CardContext, *, unreadable: Sequence[str] = (), profile: NelmProfile | None = None,
    reports: ReportReading | None = None,
) -> list[dict[str, Any]]:
    """Return the patient-view cards for ``evaluation``: the headline card first, then those needing an action.

    With ``profile`` (the engine's input) the cards name the decisive facts with values and dates, and their
    FHIR references in the ``org.nelm-cds.basedOn`` extension.
    """
    facts = profile_facts(profile) if profile is not None else []
    cards = [_headline_card(evaluation, ctx, facts)]
    cards += _current_contraindication_cards(evaluation, ctx, facts, _current_modalities(profile))
    gap = _data_gap_card(evaluation, ctx, facts, reports)
    if gap is not None:
        cards.append(gap)
    if unreadable:
        cards.append(unreadable_data_card(ctx, unreadable))
    return cards
