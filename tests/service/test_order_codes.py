"""Draft orders reach a modality through standard codes (mappings/) and site ConceptMaps, unchanged code."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from cds_hooks.config import REPO_ROOT
from cds_hooks.store import store_of
from cds_hooks.validate import validate_cds_response
from tests.service.conftest import make_app
from tests.service.requests_ import draft_medication_request, draft_service_request, order_hook
from tests.service.vignettes import bundle

SITE_MAP = REPO_ROOT / "mappings" / "site-example" / "site-orders.conceptmap.json"


@pytest.fixture
def site_app(tmp_path: Path) -> Iterator[Flask]:
    app = make_app(tmp_path, site_mapping_files=(SITE_MAP,))
    yield app
    store_of(app).dispose()


def _cards(app: Flask, hook: str, orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    service = "nelm-order-sign" if hook == "order-sign" else "nelm-order-select"
    response = app.test_client().post(f"/cds-services/{service}", json=order_hook(hook, "v14", orders, bundle("V14")))
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    assert validate_cds_response(body) == []
    cards: list[dict[str, Any]] = body["cards"]
    return cards


def test_snomed_order_code_maps_to_its_modality(app: Flask) -> None:
    order = draft_service_request("sr-tae", "v14", "http://snomed.info/sct", "41209002", "Embolization of liver")
    cards = _cards(app, "order-sign", [order])
    assert [(c["indicator"], c["source"]["topic"]["code"]) for c in cards] == [("critical", "tae")]


def test_rxnorm_medication_order_maps_through_its_drug_class(app: Flask) -> None:
    order = draft_medication_request("mr-evero", "v14", "http://www.nlm.nih.gov/research/umls/rxnorm", "141704",
                                     "everolimus")
    cards = _cards(app, "order-select", [order])
    # V14: everolimus is "consider" (progressive SI-NET, ENETS beyond the review): brief info, no suggestions
    assert [(c["indicator"], c["source"]["topic"]["code"]) for c in cards] == [("info", "everolimus")]
    assert "suggestions" not in cards[0]


def test_site_code_is_unknown_without_and_mapped_with_the_site_file(app: Flask, site_app: Flask) -> None:
    order = draft_service_request("sr-local", "v14", "https://example-hospital.org/fhir/CodeSystem/ir-orders",
                                  "IR-TACE-LIVER", "Hepatic chemoembolisation")
    assert _cards(app, "order-sign", [order]) == []
    cards = _cards(site_app, "order-sign", [order])
    assert [(c["indicator"], c["source"]["topic"]["code"]) for c in cards] == [("critical", "tace")]
    assert cards[0]["suggestions"][0]["actions"][0]["resourceId"] == "ServiceRequest/sr-local"


def test_contained_medication_is_read(app: Flask) -> None:
    order = {"resourceType": "MedicationRequest", "id": "mr-c", "status": "draft", "intent": "order",
             "contained": [{"resourceType": "Medication", "id": "med",
                            "code": {"coding": [{"system": "https://nelm-cds.org/fhir/CodeSystem/modality",
                                                 "code": "interferon-alpha"}]}}],
             "medicationReference": {"reference": "#med"}, "subject": {"reference": "Patient/v14"}}
    cards = _cards(app, "order-sign", [order])
    assert [c["source"]["topic"]["code"] for c in cards] == ["interferon-alpha"]
