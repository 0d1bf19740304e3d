"""Suggested orders an EHR can place: orderable codes first, our own code last, valid FHIR R4B resources.

Every create-action of every card of every vignette (patient-view, and order-sign with a draft order
of every modality) is checked: it parses as an R4B ServiceRequest/MedicationRequest, it carries no
observation-only LOINC code, a replacement order names our modality code last and, when the
modality has a reviewed orderable code, an orderable code first; and with our private code removed
(an EHR that ignores unknown systems) the order is still recognised as the same family of treatment.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.servicerequest import ServiceRequest
from flask import Flask

from cds_hooks.orderables import (
    ORDERABLES_FILE,
    OrderablesError,
    gap_order_codings,
    load_orderables,
    modality_order,
    parse_orderables,
)
from cds_hooks.orders import _FAMILIES
from nelm_fhir.pathways.result import MODALITY_SYSTEM, Modality
from nelm_fhir.terminology import default_terminology
from tests.service.requests_ import order_hook, patient_view
from tests.service.vignettes import EXPECTED, bundle, draft_order, patient_id

LOINC = "http://loinc.org"
MODELS = {"ServiceRequest": ServiceRequest, "MedicationRequest": MedicationRequest}
ORDERABLE_LOINC = {(c["system"], c["code"]) for v in load_orderables().gaps.values() for c in v
                   if c["system"] == LOINC}


@pytest.fixture
def app(module_app: Flask) -> Flask:
    return module_app


def _creates(answer: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for card in answer["cards"]:
        for suggestion in card.get("suggestions", []):
            for action in suggestion.get("actions", []):
                if action["type"] == "create":
                    yield action["resource"]


def _codings(resource: dict[str, Any]) -> list[dict[str, str]]:
    concept = resource.get("code") or resource.get("medicationCodeableConcept") or {}
    codings: list[dict[str, str]] = concept.get("coding", [])
    return codings


def _answers(app: Flask, vid: str) -> list[dict[str, Any]]:
    client = app.test_client()
    pid = patient_id(vid)
    out = [client.post("/cds-services/nelm-pathway", json=patient_view(pid, bundle(vid))).get_json()]
    orders = [draft_order(vid, m.value) for m in Modality]
    out.append(client.post("/cds-services/nelm-order-sign", json=order_hook("order-sign", pid, orders, bundle(vid)))
               .get_json())
    return out


def _family(modality: str) -> frozenset[str]:
    found = [f for f in _FAMILIES if Modality(modality) in f]
    return frozenset(m.value for f in found for m in f) or frozenset({modality})


@pytest.mark.parametrize("vid", sorted(EXPECTED))
def test_every_suggested_order_is_valid_r4b_and_orderable(app: Flask, vid: str) -> None:
    resources = [r for answer in _answers(app, vid) for r in _creates(answer)]
    term = default_terminology()
    for resource in resources:
        MODELS[resource["resourceType"]].model_validate(resource)  # raises on any invalid element
        codings = _codings(resource)
        loinc = {(c["system"], c["code"]) for c in codings if c["system"] == LOINC}
        assert loinc <= ORDERABLE_LOINC, f"observation-only LOINC in an order: {loinc - ORDERABLE_LOINC}"
        own = [c for c in codings if c["system"] == MODALITY_SYSTEM]
        if not own:
            continue  # a data-gap order
        assert codings[-1] == own[0], "our modality code is the extra (last) coding"
        modality = own[0]["code"]
        orderable = load_orderables().modalities.get(modality, ())
        assert codings[:-1] == list(orderable)
        if orderable:
            # An EHR that drops our private system still reads the order as the same kind of treatment.
            stripped = [(c["system"], c["code"]) for c in codings[:-1]]
            assert term.modality_for_order(stripped) in _family(modality)


def test_some_vignette_suggests_orders_of_each_kind(app: Flask) -> None:
    resources = [r for vid in ("V08", "V14", "V23") for a in _answers(app, vid) for r in _creates(a)]
    kinds = {r["resourceType"] for r in resources}
    assert kinds == {"ServiceRequest", "MedicationRequest"}
    assert any(len(_codings(r)) >= 2 for r in resources), "a replacement carries an orderable code and ours"
    assert any(c["system"] == "http://snomed.info/sct" and c["code"] == "86259008"
               for r in resources for c in _codings(r)), "the Ki-67 gap order is a liver biopsy"


@pytest.mark.parametrize("modality", list(Modality))
def test_every_modality_order_ends_with_our_code_and_names_its_resource(modality: Modality) -> None:
    kind, codings = modality_order(modality, "label")
    assert codings[-1] == {"system": MODALITY_SYSTEM, "code": modality.value, "display": "label"}
    assert kind == ("MedicationRequest" if modality in {Modality.SOMATOSTATIN_ANALOGUE, Modality.EVEROLIMUS,
                                                        Modality.SUNITINIB, Modality.CHEMOTHERAPY,
                                                        Modality.INTERFERON_ALPHA} else "ServiceRequest")


def test_every_verified_procedure_code_is_recognised_as_its_family() -> None:
    term = default_terminology()
    for modality, codings in load_orderables().modalities.items():
        for c in codings:
            assert term.modality_for_order([(c["system"], c["code"])]) in _family(modality), (modality, c)


def test_gap_orders_drop_observation_codes_and_keep_ours() -> None:
    finding = {"system": "https://nelm-cds.org/fhir/CodeSystem/nelm-finding", "code": "krenning-score",
               "display": "x"}
    ecog = {"system": LOINC, "code": "89247-1", "display": "ECOG"}
    assert gap_order_codings("krenningScore", [finding]) == [finding]
    assert gap_order_codings("fitness", [ecog]) == []  # an assessment, not an orderable test
    assert [c["code"] for c in gap_order_codings("platelets", [{"system": LOINC, "code": "777-3", "display": "p"}])] \
        == ["24317-0"]


def _doc() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ORDERABLES_FILE.read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["gaps"]["platelets"][0].pop("orderObs"), "ORDER_OBS"),
        (lambda d: d["modalities"].update({"laser": d["modalities"]["tae"]}), r"unknown modality id\(s\) laser"),
        (lambda d: d["modalities"]["tae"][0].pop("evidence"), "names its evidence"),
        (lambda d: d["modalities"]["tae"][0].update({"status": "MAYBE"}), "VERIFIED or UNVERIFIED"),
        (lambda d: d.pop("release"), "release is required"),
        (lambda d: d["gaps"].update({"inr": []}), "non-empty list"),
    ],
)
def test_a_malformed_orderables_file_names_the_entry(change: Any, message: str) -> None:
    doc = copy.deepcopy(_doc())
    change(doc)
    with pytest.raises(OrderablesError, match=message):
        parse_orderables(doc)


def test_unverified_codings_are_never_put_into_orders() -> None:
    doc = _doc()
    unverified = {(c["system"], c["code"]) for group in (*doc["modalities"].values(), *doc["gaps"].values())
                  for c in group if c["status"] == "UNVERIFIED"}
    assert unverified, "the file lists candidates for review"
    parsed = parse_orderables(doc)
    emitted = {(c["system"], c["code"]) for group in (*parsed.modalities.values(), *parsed.gaps.values())
               for c in group}
    assert not unverified & emitted
