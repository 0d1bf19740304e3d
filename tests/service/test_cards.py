"""Evaluation → patient-view and order cards: few, valid, explained, never commanding."""

from __future__ import annotations

import json
from typing import Any

from cds_hooks.cardparts import CardContext
from cds_hooks.cards import patient_view_cards
from cds_hooks.clinical_text import internal_names
from cds_hooks.orders import DraftOrder, draft_orders_of, order_cards
from cds_hooks.validate import validate_cds_response
from nelm_fhir.pathways.result import MODALITY_SYSTEM, Modality
from tests.service.evaluations import nec_patient, pvt_patient

CTX = CardContext(base_url="https://cds.example.org", service_id="nelm-pathway", patient_id="v14",
                  user_id="Practitioner/COREPRACTITIONER1", encounter_id="enc-1")


def _valid(cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    assert validate_cds_response({"cards": cards}) == []
    return cards


def test_patient_view_is_a_headline_card_plus_the_cards_that_need_an_action() -> None:
    cards = _valid(patient_view_cards(pvt_patient(), CTX))
    assert [c["indicator"] for c in cards] == ["info", "warning"]
    headline, gap = cards
    assert headline["summary"].startswith("Recommended: PRRT, Somatostatin analogue")
    assert "discuss at the tumour board: Radioembolization" in headline["summary"]
    detail = headline["detail"]
    # the next step first, then the options to discuss by name, then what nobody ordered but is contraindicated
    assert detail.startswith("**Next step: PRRT** (recommended)")
    assert detail.index("Next step") < detail.index("**To discuss:** Radioembolization") < detail.index(
        "**Contraindicated:** TAE (bland embolization), TACE (active portal vein thrombosis recorded 2026-10-02)")
    # evidence as links to the evidence pages' anchors; the tumour-board advice (B25) is always on this card
    assert "[[106]](https://cds.example.org/evidence/prrt#ref-106)" in detail
    assert "tumour board is advised for every patient" in detail
    assert "(https://cds.example.org/evidence#ref-14)" in detail
    assert headline["extension"]["org.nelm-cds.pathway"]["statuses"]["tace"] == "contraindicated"
    assert gap["selectionBehavior"] == "any"
    action = gap["suggestions"][0]["actions"][0]
    assert action["type"] == "create"
    request = action["resource"]
    assert request["resourceType"] == "ServiceRequest" and request["status"] == "draft"
    assert request["code"]["coding"] == [{"system": "http://loinc.org", "code": "24317-0",  # an orderable panel
                                          "display": "Hemogram and platelets WO differential panel - Blood"}]
    assert request["subject"] == {"reference": "Patient/v14"}
    assert request["encounter"] == {"reference": "Encounter/enc-1"}
    assert request["requester"] == {"reference": "Practitioner/COREPRACTITIONER1"}
    assert "- **Platelets** (stale, last 2026-09-01)" in gap["detail"]
    assert gap["extension"]["org.nelm-cds.dataGaps"] == ["platelets"]


def test_every_card_links_to_the_app_and_evidence() -> None:
    for card in patient_view_cards(pvt_patient(), CTX):
        link = card["links"][0]
        assert link["type"] == "smart" and link["url"] == "https://cds.example.org/smart/launch"
        json.loads(link["appContext"])
        assert card["source"]["url"].startswith("https://cds.example.org/evidence")


def test_contraindications_of_options_nobody_ordered_fold_into_the_headline() -> None:
    nec = _valid(patient_view_cards(nec_patient(), CTX))
    # seven contraindications with one cause: one phrase of the headline card, not seven interruptions
    assert [c["indicator"] for c in nec] == ["info"]
    detail = nec[0]["detail"]
    assert detail.count("NEC (ICD-O-3 8041/3)") == 1
    assert "Curative liver resection, Simultaneous resection of primary and NELM" in detail
    assert "and 4 more (NEC (ICD-O-3 8041/3))" in detail  # at most three names per cause; the app lists all
    assert nec[0]["extension"]["org.nelm-cds.pathway"]["siteOverrides"] == {"milan.max-age-years": "55"}
    assert "This site's thresholds differ from the defaults" in detail  # said in words; the keys in the JSON
    assert "milan.max-age-years" not in detail


def test_no_data_gap_card_without_gaps_and_tumour_board_always() -> None:
    for evaluation in (nec_patient(), pvt_patient()):
        cards = _valid(patient_view_cards(evaluation, CTX))
        assert "Review by the NEN multidisciplinary tumour board is advised" in cards[0]["detail"]
    assert not any("suggestions" in c for c in patient_view_cards(nec_patient(), CTX))


def test_unreadable_records_are_named_in_an_info_card() -> None:
    cards = _valid(patient_view_cards(nec_patient(), CTX, unreadable=["labs: request to fhirServer timed out"]))
    info = [c for c in cards if "could not be read" in c["summary"]]
    assert len(info) == 1
    assert "- Laboratory results: request to the EHR's FHIR server timed out" in info[0]["detail"]
    assert internal_names(info[0]["summary"] + "\n" + info[0]["detail"]) == []  # no "fhirServer", no prefetch keys
    assert info[0]["extension"] == {"org.nelm-cds.unreadable": ["labs: request to fhirServer timed out"]}


def test_no_card_commands() -> None:
    for evaluation in (pvt_patient(), nec_patient()):
        for card in patient_view_cards(evaluation, CTX):
            text = (card["summary"] + " " + card.get("detail", "")).lower()
            assert "must " not in text and "do not " not in text


def _order(resource_type: str, rid: str, code: str, system: str = MODALITY_SYSTEM) -> dict[str, Any]:
    concept = {"coding": [{"system": system, "code": code}], "text": f"order {code}"}
    key = "code" if resource_type == "ServiceRequest" else "medicationCodeableConcept"
    return {"resourceType": resource_type, "id": rid, "status": "draft", "intent": "order", key: concept,
            "subject": {"reference": "Patient/v14"}}


def _orders(*resources: dict[str, Any], only: list[str] | None = None) -> list[DraftOrder]:
    local = {("urn:site", "TACE-1"): "tace"}
    return draft_orders_of(resources, lambda codings: next(
        (local[(c["system"], c["code"])] for c in codings if (c["system"], c["code"]) in local), None), only=only)


def test_contraindicated_order_is_critical_with_override_reasons_and_alternatives() -> None:
    orders = _orders(_order("ServiceRequest", "sr-1", "TACE-1", "urn:site"))
    assert orders[0].modality is Modality.TACE
    cards = _valid(order_cards(pvt_patient(), CTX, orders))
    assert len(cards) == 1
    card = cards[0]
    assert card["indicator"] == "critical"
    assert card["summary"] == "Contraindicated: TACE (active portal vein thrombosis recorded 2026-10-02)"
    assert card["source"]["topic"]["code"] == "tace"
    assert all(r["display"] for r in card["overrideReasons"])
    remove, replace = card["suggestions"]
    assert remove["actions"] == [{"type": "delete", "description": "Remove the draft order order TACE-1",
                                  "resourceId": "ServiceRequest/sr-1"}]
    # same family first: radioembolization (consider) replaces TACE
    assert replace["actions"][0]["resourceId"] == "ServiceRequest/sr-1"
    # orderable code first (SNOMED CT), our modality code last
    assert [c["code"] for c in replace["actions"][1]["resource"]["code"]["coding"]] == ["1156383000",
                                                                                      "radioembolization"]
    assert card["selectionBehavior"] == "at-most-one"


def test_recommended_and_unmapped_orders_get_no_card_and_consider_gets_info() -> None:
    orders = _orders(_order("MedicationRequest", "mr-1", "prrt"), _order("ServiceRequest", "sr-9", "99999", "urn:x"),
                     _order("ServiceRequest", "sr-2", "radioembolization"))
    cards = _valid(order_cards(pvt_patient(), CTX, orders))
    assert [c["indicator"] for c in cards] == ["info"]
    assert cards[0]["source"]["topic"]["code"] == "radioembolization"
    assert "suggestions" not in cards[0]


def test_order_select_considers_only_the_selected_orders() -> None:
    resources = (_order("ServiceRequest", "sr-1", "tace"), _order("ServiceRequest", "sr-2", "tae"))
    orders = _orders(*resources, only=["ServiceRequest/sr-2"])
    assert [o.reference for o in orders] == ["ServiceRequest/sr-2"]
    cards = _valid(order_cards(pvt_patient(), CTX, orders))
    assert cards[0]["suggestions"][0]["actions"][0]["resourceId"] == "ServiceRequest/sr-2"


def test_insufficient_data_order_is_a_warning_naming_the_gap() -> None:
    orders = _orders(_order("ServiceRequest", "sr-3", "liver-transplantation"))
    cards = _valid(order_cards(pvt_patient(), CTX, orders))
    assert cards[0]["indicator"] == "warning"
    assert cards[0]["summary"] == "Liver transplantation: required data missing (platelets)"
    assert "overrideReasons" not in cards[0]


def test_not_recommended_order_is_a_warning_with_removal() -> None:
    orders = _orders(_order("ServiceRequest", "sr-4", "rfa"))
    cards = _valid(order_cards(pvt_patient(), CTX, orders))
    assert cards[0]["indicator"] == "warning"
    assert cards[0]["summary"] == "Not recommended for this patient: Radiofrequency ablation"
    assert cards[0]["suggestions"][0]["actions"][0]["type"] == "delete"
    # no ablation option is rated well: the best-rated option of any family is offered, marked recommended
    replace = cards[0]["suggestions"][1]
    assert replace["label"] == "Replace with PRRT (recommended)" and replace["isRecommended"] is True


def test_a_contraindicated_current_treatment_gets_its_own_warning_card() -> None:
    import dataclasses
    import datetime as dt

    from nelm_fhir.model import DrugClass, DrugExposure, ExposureState, NelmProfile
    from nelm_fhir.pathways.result import Criterion, ModalityResult, Status

    nec = Criterion(id="not-nec", label="not poorly differentiated (NEC)", met=False,
                    note="poorly differentiated neuroendocrine carcinoma recorded", sources=("Condition/primary",))
    base = nec_patient()
    results = tuple(
        ModalityResult(modality=r.modality, status=Status.CONTRAINDICATED, summary="Contraindicated: NEC (B5).",
                       criteria=(nec,), evidence=("[2]",)) if r.modality is Modality.SOMATOSTATIN_ANALOGUE else r
        for r in base.results)
    evaluation = dataclasses.replace(base, results=results)
    on_ssa = NelmProfile(patient="Patient/v14", as_of=dt.date(2026, 11, 26), drugs=(DrugExposure(
        drug_class=DrugClass.SSA, ingredient="octreotide", state=ExposureState.CURRENT,
        source="MedicationStatement/oct-1", code="http://www.nlm.nih.gov/research/umls/rxnorm|7617"),))
    cards = _valid(patient_view_cards(evaluation, CTX, profile=on_ssa))
    current = [c for c in cards if c["summary"].startswith("Current treatment contraindicated")]
    assert len(current) == 1 and current[0]["indicator"] == "warning"
    assert current[0]["source"]["topic"]["code"] == "somatostatin-analogue"
    assert "(B5)" not in current[0]["detail"] and "record shows it as a current treatment" in current[0]["detail"]
    assert {"fact": "Current NELM drugs", "value": "octreotide", "references": ["MedicationStatement/oct-1"]} in \
        current[0]["extension"]["org.nelm-cds.basedOn"]
    # the same contraindication without the drug in the record: folded into the headline, no extra card
    assert [c["indicator"] for c in patient_view_cards(evaluation, CTX)] == ["info"]
