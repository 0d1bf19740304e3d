"""What a clinician reads on every card of every vignette: short, in clinicians' words, true to the patient.

Measured over every public vignette, on patient-view and on order-select / order-sign for every option:

- each card's detail stays within about 120 words (DETAIL_WORD_BUDGET);
- no internal name reaches a clinician: rule ids (B19, A.7), element ids (ki67LiverSpecimen), option ids
  (portal-vein-embolization), status codes, raw UCUM ({INR}, 10*9/L, /2.mm2);
- criteria: those that decided a status come first and none is dropped;
- nothing on a card contradicts the patient's own facts (grade, resectability, SSTR status, spread).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from cds_hooks.cards import DETAIL_WORD_BUDGET, words
from cds_hooks.clinical_text import clinician_text, decisive_first, internal_names, quantity_text
from cds_hooks.evaluation import evaluate_record
from nelm_fhir.pathways.result import Modality, Status
from tests.service.conftest import NOW
from tests.service.requests_ import order_hook, patient_view
from tests.service.vignettes import EXPECTED, bundle, draft_order, patient_id

VIDS = sorted(EXPECTED)
ALL = [m.value for m in Modality]


@pytest.fixture
def app(module_app: Flask) -> Flask:
    """This module's tests only read: they share one app (order cards of drafts without overrides)."""
    return module_app


def _cards(app: Flask, service: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = app.test_client().post(f"/cds-services/{service}", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    cards: list[dict[str, Any]] = response.get_json()["cards"]
    return cards


def _every_card(app: Flask, vid: str) -> list[tuple[str, dict[str, Any]]]:
    pid = patient_id(vid)
    out = [("patient-view", c) for c in _cards(app, "nelm-pathway", patient_view(pid, bundle(vid)))]
    drafts = [draft_order(vid, m) for m in ALL]
    out += [("order-sign", c) for c in _cards(app, "nelm-order-sign", order_hook("order-sign", pid, drafts,
                                                                                   bundle(vid)))]
    out += [("order-select", c) for c in _cards(app, "nelm-order-select", order_hook(
        "order-select", pid, drafts, bundle(vid), selections=[f"ServiceRequest/{pid}-draft-alpps"]))]
    return out


def _shown_text(card: dict[str, Any]) -> str:
    """Return everything of a card an EHR shows a clinician."""
    parts = [card["summary"], card.get("detail", ""), card["source"].get("label", "")]
    parts += [s["label"] for s in card.get("suggestions", [])]
    parts += [a.get("description", "") for s in card.get("suggestions", []) for a in s.get("actions", [])]
    parts += [link["label"] for link in card.get("links", [])]
    parts += [r["display"] for r in card.get("overrideReasons", [])]
    return "\n".join(parts)


@pytest.mark.parametrize("vid", VIDS)
def test_every_card_detail_is_short(app: Flask, vid: str) -> None:
    for hook, card in _every_card(app, vid):
        count = words(card.get("detail", ""))
        assert count <= DETAIL_WORD_BUDGET, (vid, hook, card["summary"], count)
        assert len(card["summary"]) < 140


@pytest.mark.parametrize("vid", VIDS)
def test_no_internal_name_reaches_a_clinician(app: Flask, vid: str) -> None:
    for hook, card in _every_card(app, vid):
        found = internal_names(_shown_text(card))
        assert not found, (vid, hook, card["summary"], found)


@pytest.mark.parametrize("vid", VIDS)
def test_patient_view_is_a_headline_card_and_cards_needing_an_action(app: Flask, vid: str) -> None:
    cards = _cards(app, "nelm-pathway", patient_view(patient_id(vid), bundle(vid)))
    headline, *rest = cards
    assert headline["indicator"] == "info" and headline["detail"].startswith("**Next step")
    statuses = headline["extension"]["org.nelm-cds.pathway"]["statuses"]
    # every option worth discussing is named, with its status, in the headline
    for modality, status in statuses.items():
        if status in {"recommended", "consider", "insufficient-data"}:
            assert modality_name(modality) in headline["detail"], (vid, modality, status)
    # contraindications of options nobody ordered are folded in: named (at most four per cause) or counted
    folded = next((x for x in headline["detail"].splitlines() if x.startswith("**Contraindicated:**")), "")
    contraindicated = [m for m, s in statuses.items() if s == "contraindicated"]
    named = [m for m in contraindicated if modality_name(m) in folded]
    counted = sum(int(n) for n in re.findall(r"and (\d+) more", folded))
    assert len(named) + counted == len(contraindicated), (vid, folded)
    for card in rest:  # only what needs an action: a gap with its orders, a current treatment contraindicated
        if "suggestions" in card or card["summary"].startswith(("Current treatment contraindicated",
                                                                "Some records could not be read")):
            continue
        # A gap nothing can be ordered for is one to confirm in the chart (B28, B31): the card says so and
        # opens the app where the answer is recorded.
        assert "org.nelm-cds.dataGaps" in card.get("extension", {}), card
        assert "confirm" in card["detail"].lower() and any(link["type"] == "smart" for link in card["links"]), card
    assert len([c for c in cards if c["indicator"] != "info"]) <= 2


def modality_name(modality: str) -> str:
    """Return the card label of ``modality`` (imported lazily: the test reads like the card)."""
    from cds_hooks.clinical_text import modality_label

    return modality_label(modality)


@pytest.mark.parametrize("vid", VIDS)
def test_decisive_criteria_come_first_and_none_is_dropped(app: Flask, vid: str) -> None:
    evaluation = evaluate_record(app, bundle(vid), patient_id=patient_id(vid), now=NOW)
    for result in evaluation.results:
        ordered = decisive_first(result)
        assert sorted(map(id, ordered)) == sorted(map(id, result.criteria))  # a permutation: nothing dropped
        if result.status is Status.CONTRAINDICATED:
            assert ordered[0].met is False, (vid, result.modality)
        if result.status is Status.RECOMMENDED and any(c.met for c in result.criteria):
            assert ordered[0].met is True
    # the order-sign card lists every criterion that is not met or unknown, then counts the met ones
    pid = patient_id(vid)
    drafts = [draft_order(vid, m) for m in ALL]
    cards = _cards(app, "nelm-order-sign", order_hook("order-sign", pid, drafts, bundle(vid)))
    for card in cards:
        result = evaluation.result(Modality(card["source"]["topic"]["code"]))
        lines = card["detail"].splitlines()
        if result.status is Status.CONSIDER:
            met = [c for c in result.criteria if c.met is True]
            if met:
                shown = next(x for x in lines if x.startswith("**Criteria met:**"))
                assert all(clinician_text(c.label) in shown for c in met), (vid, result.modality)
            continue
        marks = [x for x in lines if x.startswith(("- ✗", "- ?"))]
        assert len(marks) == sum(1 for c in result.criteria if c.met is not True), (vid, result.modality)
        assert [x[2] for x in marks] == sorted((x[2] for x in marks), key="✗?".index) or \
            result.status is Status.INSUFFICIENT_DATA


# Claims a card may make, and the patient facts that would contradict them. A criterion marked ✗ (not met) or
# ? (unknown) states a requirement, not a claim about the patient, and is skipped.
def _contradictions(text: str, profile: dict[str, Any]) -> list[str]:
    text = "\n".join(x for x in text.splitlines() if not x.startswith(("- ✗", "- ?")))
    found = []
    grade = profile.get("grade")
    if grade == "G3" and re.search(r"G1/G2 disease|low-grade disease", text):
        found.append("G1/G2 claim on a G3 patient")
    if grade in {"G1", "G2"} and re.search(r"\bG3 (NET|disease|tumour)\b(?! NET:)", text):
        found.append("G3 claim on a G1/G2 patient")
    if profile.get("resectableR0") is True and re.search(r"(?<!not )\bunresectable\b", text):
        found.append("unresectable claim while R0 resection is feasible")
    krenning = profile.get("krenningScore")
    if isinstance(krenning, int | float) and krenning < 2 and re.search(r"(?<!not )SSTR-positive\b(?! \()", text):
        found.append("SSTR-positive claim with Krenning < 2")
    if profile.get("extrahepaticSites") and "no extrahepatic disease" in text.lower():
        found.append("no extrahepatic disease claimed while it is recorded")
    return found


@pytest.mark.parametrize("vid", VIDS)
def test_card_wording_never_contradicts_the_patients_facts(app: Flask, vid: str) -> None:
    evaluation = evaluate_record(app, bundle(vid), patient_id=patient_id(vid), now=NOW)
    profile = evaluation.profile_summary
    for hook, card in _every_card(app, vid):
        problems = _contradictions(card["summary"] + "\n" + card.get("detail", ""), profile)
        assert not problems, (vid, hook, card["summary"], problems)


def test_the_contradiction_check_can_fail() -> None:
    """The checks above are not vacuous: the sentence of the old SSA summary fails on a G3 patient."""
    assert _contradictions("Consider at MDT (G3 NET): SSTR-positive unresectable G1/G2 disease, first line",
                           {"grade": "G3"})
    assert _contradictions("PRRT: SSTR-positive disease", {"krenningScore": 1})
    assert not _contradictions("SSTR-positive G3 disease", {"grade": "G3", "krenningScore": 3})


@pytest.mark.parametrize(("text", "expected"), [
    ("resectable disease: not needed (B19).", "resectable disease: not needed."),
    ("Contraindicated: G3 tumour (B6, B11).", "Contraindicated: G3 tumour."),
    ("not fit for major surgery (MDT: not fit for major surgery, B7).",
     "not fit for major surgery (MDT: not fit for major surgery)."),
    ("grade unknown: SSA is first line for G1/G2 only (B4 caveat)", "grade unknown: SSA is first line for G1/G2 only"),
    ("regional nodes only (not distant, A.7 #18)", "regional nodes only (not distant)"),
    ("order portal-vein-embolization after ki67LiverSpecimen", "order Portal vein embolization then resection "
                                                               "after Ki-67 on a liver biopsy"),
    ("INR 1 {INR}; eGFR 85 mL/min/{1.73_m2}; platelets 250 10*9/L",
     "INR 1; eGFR 85 mL/min/1.73 m²; platelets 250 ×10⁹/L"),
])
def test_clinician_text_removes_internal_names(text: str, expected: str) -> None:
    assert clinician_text(text) == expected
    assert internal_names(text)  # the raw text did hold internal names
    assert internal_names(expected) == []


def test_units_are_written_as_clinicians_write_them() -> None:
    assert quantity_text(1.0, "{INR}") == "1"
    assert quantity_text(85, "mL/min/{1.73_m2}") == "85 mL/min/1.73 m²"
    assert quantity_text(250, "10*9/L") == "250 ×10⁹/L"
    assert quantity_text(4, "/2.mm2") == "4 per 2 mm²"
    assert internal_names("Observation/v01-lab-1975-2 and `Condition/v08-ki67`") == []  # references are not prose


@pytest.mark.parametrize("vid", ["V08", "V14", "V16", "V19", "V23", "V26"])
def test_every_evidence_link_of_a_card_lands_on_its_reference(app: Flask, vid: str) -> None:
    client = app.test_client()
    pages: dict[str, str] = {}
    for hook, card in _every_card(app, vid):
        for page, number in re.findall(r"\]\(http://localhost(/evidence[^#)]*)#ref-(\d+)\)", card.get("detail", "")):
            if page not in pages:
                response = client.get(page)
                assert response.status_code == 200, page
                pages[page] = response.get_data(as_text=True)
            assert f"id='ref-{number}'" in pages[page], (vid, hook, page, number)
    assert pages  # the cards did link their evidence
