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
        # the seed review's reference list runs to [117]; every cited number has its citation
        assert 1 <= int(ref["number"]) <= 117, ref
        assert "reference list as provided ends" not in ref["citation"], ref


def test_reference_list_matches_the_seed_review() -> None:
    import json
    from pathlib import Path

    data = Path(__file__).resolve().parents[1] / "data" / "seed-references.json"
    numbered = json.loads(data.read_text(encoding="utf-8"))["references"]
    assert len(numbered) == 117
    ours = json.loads(
        (Path(__file__).resolve().parents[2] / "cds_hooks" / "evidence_references.json").read_text(encoding="utf-8")
    )["references"]
    assert set(ours) == set(numbered)
    assert all(ours[n] == numbered[n].strip() for n in numbered)


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


def test_every_threshold_of_the_rules_appears_on_some_evidence_page(client: FlaskClient) -> None:
    """No configurable threshold is invisible to the clinician reading the evidence pages."""
    shown: set[str] = set()
    general: set[str] = set()
    for modality in Modality:
        doc = client.get(f"/evidence/{modality.value}?format=json").get_json()
        shown |= {t["key"] for t in doc["thresholds"]}
        general |= set(doc["generalThresholds"])
    config = client.application.extensions["nelm_pathway_config"]
    assert set(config.thresholds) <= shown | general
    alpps = client.get("/evidence/alpps?format=json").get_json()
    assert "staleness.ki67-months" in {t["key"] for t in alpps["thresholds"]}
