"""Cards name the facts they used as a clinician reads them: label, value with unit, date, FHIR reference."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from cds_hooks.store import store_of
from tests.service.conftest import make_app
from tests.service.requests_ import order_hook, patient_view
from tests.service.vignettes import EXPECTED, bundle, draft_order, patient_id

VIDS = sorted(EXPECTED)
# The elements whose absence is meaningful (PATHWAY.md B26): only these may read "none recorded".
B26_LABELS = {"Extrahepatic disease", "Portal vein thrombosis", "Hepatic failure", "Bilio-enteric anastomosis",
              "Functional syndrome"}


@pytest.fixture
def app(module_app: Flask) -> Flask:
    """This module's tests only read: they share one app."""
    return module_app


def _cards(app: Flask, service: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = app.test_client().post(f"/cds-services/{service}", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    cards: list[dict[str, Any]] = response.get_json()["cards"]
    return cards


def _decisive(detail: str) -> str:
    line = next((x for x in detail.splitlines() if x.startswith("**Decisive facts:** ")), "")
    return line.removeprefix("**Decisive facts:** ")


def test_headline_card_reads_like_a_clinician_wrote_it(app: Flask) -> None:
    headline = _cards(app, "nelm-pathway", patient_view("v14", bundle("V14")))[0]
    facts = _decisive(headline["detail"])
    # TAE/TACE are contraindicated by the portal vein thrombosis: that fact decides, with value and date
    assert "Portal vein thrombosis: active (2026-10-27)" in facts
    assert "Krenning score (SSTR imaging): 3 (2026-10-27)" in facts  # PRRT, the next step, rests on it
    based = {f["fact"]: f for f in headline["extension"]["org.nelm-cds.basedOn"]}
    assert based["Portal vein thrombosis"]["references"] == ["Condition/v14-pvt"]
    assert based["Krenning score (SSTR imaging)"] == {
        "fact": "Krenning score (SSTR imaging)", "value": "3", "date": "2026-10-27",
        "references": ["Observation/v14-krenning"], "decisive": True}
    assert any("decisive" not in f for f in based.values())  # every fact used is named; the deciding ones marked
    for raw in ("portalDrained", "ki67Percent", "monthsStable", "labs:", "Observation/", "Condition/"):
        assert raw not in headline["detail"]


@pytest.mark.parametrize("vid", VIDS)
def test_every_decisive_fact_has_a_label_a_value_and_its_fhir_reference(app: Flask, vid: str) -> None:
    cards = _cards(app, "nelm-pathway", patient_view(patient_id(vid), bundle(vid)))
    for card in cards:
        based = card.get("extension", {}).get("org.nelm-cds.basedOn", [])
        facts = _decisive(card["detail"])
        if card is cards[0]:
            assert facts and not facts.startswith("+") and based, vid  # the headline names what decided it
        for fact in based:
            assert fact["fact"] and fact["value"] and "None" not in fact["value"], fact
            assert fact["references"], fact
            # a result contained in a DiagnosticReport is named by the report and its local id (``#synoptic``)
            reference = r"^[A-Z][A-Za-z]+/[A-Za-z0-9\-.]+(#[A-Za-z0-9\-.]+)?$"
            assert all(re.match(reference, r) for r in fact["references"]), fact
        # every fact the detail shows is one of those the extension references
        for shown in (x for x in facts.split("; ") if x and not x.startswith("+")):
            label = shown.split(":", 1)[0]
            assert label in {f["fact"] for f in based}, (vid, shown)


def test_order_sign_card_names_the_facts_behind_it(app: Flask) -> None:
    cards = _cards(app, "nelm-order-sign", order_hook("order-sign", "v14", [draft_order("V14", "tace")],
                                                      bundle("V14")))
    (card,) = cards
    assert card["indicator"] == "critical"
    assert "Portal vein thrombosis: active (2026-10-27)" in _decisive(card["detail"])
    assert {"fact": "Portal vein thrombosis", "value": "active", "date": "2026-10-27",
            "references": ["Condition/v14-pvt"]} in card["extension"]["org.nelm-cds.basedOn"]


def test_stale_values_are_named_with_value_date_and_reference(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    app.extensions["nelm_clock"] = lambda: dt.date(2027, 1, 10)  # labs of 2026-11-16 are now > 30 days old
    try:
        cards = _cards(app, "nelm-pathway", patient_view("v14", bundle("V14")))
    finally:
        store_of(app).dispose()
    gap = next(c for c in cards if c["summary"].startswith("Missing or stale data"))
    line = next(x for x in gap["detail"].splitlines() if x.startswith("- **Platelets**"))
    assert "(stale, last: Platelets: 250 ×10⁹/L (2026-11-16))" in line
    assert {"fact": "Platelets", "value": "250 ×10⁹/L", "date": "2026-11-16",
            "references": ["Observation/v14-lab-777-3"]} in gap["extension"]["org.nelm-cds.basedOn"]


def test_profile_facts_omit_unknowns_and_say_none_recorded_only_where_absence_means_none() -> None:
    from cds_hooks.cardparts import NONE_RECORDED, profile_facts
    from nelm_fhir.model import (
        ConditionState,
        ExtrahepaticFinding,
        ExtrahepaticSite,
        LabKind,
        LabResult,
        NelmProfile,
    )

    bare = profile_facts(NelmProfile(patient="Patient/x", as_of=dt.date(2026, 11, 26)))
    assert {f.label for f in bare if f.value == NONE_RECORDED} == B26_LABELS
    assert {f.label for f in bare} == B26_LABELS  # nothing else is known: nothing else is shown (no Ki-67 line)

    profile = NelmProfile(
        patient="Patient/x", as_of=dt.date(2026, 11, 26),
        extrahepatic=(ExtrahepaticFinding(site=ExtrahepaticSite.BONE, distant=True, state=ConditionState.HISTORY,
                                          source="Condition/bone-1", code="http://snomed.info/sct|94222008"),),
        labs=(LabResult(kind=LabKind.EGFR, value=72.0, unit="mL/min/{1.73_m2}", source="Observation/egfr-1",
                        date=dt.date(2026, 11, 1)),),
    )
    lines = {f.label: f.markdown() for f in profile_facts(profile)}
    assert lines["Extrahepatic disease"] == "- **Extrahepatic disease** history only: bone · `Condition/bone-1`"
    assert lines["eGFR"] == "- **eGFR** 72 mL/min/1.73 m² · 2026-11-01 · `Observation/egfr-1`"
