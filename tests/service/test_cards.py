"""Evaluation → patient-view and order cards: few, valid, explained, never commanding."""

from __future__ import annotations

import json
from typing import Any

from cds_hooks.cardparts import CardContext
from cds_hooks.cards import MAX_CONTRAINDICATION_CARDS, patient_view_cards
from cds_hooks.orders import DraftOrder, draft_orders_of, order_cards
from cds_hooks.validate import validate_cds_response
from nelm_fhir.pathways.result import MODALITY_SYSTEM, Modality
from tests.service.evaluations import nec_patient, pvt_patient

CTX = CardContext(base_url="https://cds.example.org", service_id="nelm-pathway", patient_id="v14",
                  user_id="Practitioner/COREPRACTITIONER1", encounter_id="enc-1")


def _valid(cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    assert validate_cds_response({"cards": cards}) == []
    return cards


def test_patient_view_has_summary_contraindication_gap_and_tumour_board_cards() -> None:
    cards = _valid(patient_view_cards(pvt_patient(), CTX))
    assert [c["indicator"] for c in cards] == ["info", "warning", "warning", "info"]
    summary, contra, gap, board = cards
    assert summary["summary"].startswith("NELM pathway: PRRT, Somatostatin analogue recommended")
    assert "1 option to discuss at MDT" in summary["summary"]
    assert "Observation/krenning-1" in summary["detail"] and "Krenning 3 on 2026-10-20" in summary["detail"]
    assert "[106]" in summary["detail"]
    assert "beyond the source review" in summary["detail"]
    assert "engineering default" in summary["detail"]
    # TAE and TACE share one cause: one card, both named, machine-readable in the extension
    assert contra["summary"] == ("Contraindicated: TAE (bland embolization), TACE "
                                "(active portal vein thrombosis recorded 2026-10-02)")
    assert contra["extension"] == {"org.nelm-cds.modalities": ["tae", "tace"]}
    assert "Condition/pvt-1" in contra["detail"]
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
    assert "(`platelets`, stale; last value 2026-09-01 (Observation/plt-1))" in gap["detail"]
    assert board["summary"].startswith("Discuss at the NEN multidisciplinary tumour board")
    assert "Radioembolization" in board["detail"] and "[14,15]" in board["detail"]


def test_every_card_links_to_the_app_and_evidence() -> None:
    for card in patient_view_cards(pvt_patient(), CTX):
        link = card["links"][0]
        assert link["type"] == "smart" and link["url"] == "https://cds.example.org/smart/launch"
        json.loads(link["appContext"])
        assert card["source"]["url"].startswith("https://cds.example.org/evidence")


def test_single_modality_cards_carry_the_modality_topic() -> None:
    nec = patient_view_cards(nec_patient(), CTX)
    # seven contraindications with one cause: one card, not seven
    contra = [c for c in nec if c["indicator"] == "warning"]
    assert len(contra) == 1
    assert "topic" not in contra[0]["source"]
    assert len(contra[0]["extension"]["org.nelm-cds.modalities"]) == 7
    assert len(contra) <= MAX_CONTRAINDICATION_CARDS
    assert "milan.max-age-years = 55" in nec[0]["detail"]  # site overrides are shown


def test_no_data_gap_card_without_gaps_and_tumour_board_always() -> None:
    cards = _valid(patient_view_cards(nec_patient(), CTX))
    assert not any("suggestions" in c for c in cards)
    assert cards[-1]["summary"].startswith("Discuss at the NEN multidisciplinary tumour board")


def test_unreadable_records_are_named_in_an_info_card() -> None:
    cards = _valid(patient_view_cards(nec_patient(), CTX, unreadable=["labs: request to fhirServer timed out"]))
    info = [c for c in cards if "could not be read" in c["summary"]]
    assert len(info) == 1 and "labs" in info[0]["detail"]


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
