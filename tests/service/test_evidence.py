"""Evidence pages: every card's source link resolves; pages show thresholds, references and outcomes."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from nelm_fhir.pathways.result import Modality
from tests.service.requests_ import patient_view
from tests.service.vignettes import bundle


@pytest.fixture
def app(module_app: Flask) -> Flask:
    """This module's tests only read: they share one app."""
    return module_app



@pytest.mark.parametrize("modality", [m.value for m in Modality])
def test_every_modality_has_an_evidence_page(client: FlaskClient, modality: str) -> None:
    response = client.get(f"/evidence/{modality}")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    doc = client.get(f"/evidence/{modality}?format=json").get_json()
    assert doc["modality"] == modality and doc["rulesVersion"]
    for ref in doc["references"]:
        listed = int(ref["number"]) <= 116  # the seed's reference list as provided ends at [116]
        assert ("reference list as provided ends" not in ref["citation"]) is listed, ref


def test_transplant_page_lists_milan_thresholds_and_references(client: FlaskClient) -> None:
    doc = client.get("/evidence/liver-transplantation?format=json").get_json()
    keys = {t["key"] for t in doc["thresholds"]}
    assert any(k.startswith("milan.") for k in keys)
    age = next(t for t in doc["thresholds"] if t["key"] == "milan.max-age-years")
    assert age["engineeringDefault"] is True
    html = client.get("/evidence/liver-transplantation").get_data(as_text=True)
    assert "engineering default" in html
    assert any(r["number"] == "59" for r in doc["references"])
    assert "Mazzaferro" in next(r["citation"] for r in doc["references"] if r["number"] == "59")


def test_unknown_modality_is_404(client: FlaskClient) -> None:
    assert client.get("/evidence/homeopathy").status_code == 404


def test_every_card_source_link_resolves(app: Flask) -> None:
    client = app.test_client()
    cards = client.post("/cds-services/nelm-pathway", json=patient_view("v14", bundle("V14"))).get_json()["cards"]
    for card in cards:
        path = card["source"]["url"].removeprefix("http://localhost")
        assert client.get(path).status_code == 200, path
