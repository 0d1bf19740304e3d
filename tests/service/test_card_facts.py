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
_FACT = re.compile(r"^- \*\*(?P<label>[^*]+)\*\* (?P<rest>.*)$")


@pytest.fixture
def app(module_app: Flask) -> Flask:
    """This module's tests only read: they share one app."""
    return module_app


def _cards(app: Flask, service: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = app.test_client().post(f"/cds-services/{service}", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    cards: list[dict[str, Any]] = response.get_json()["cards"]
    return cards


def _facts_section(detail: str) -> list[str]:
    section = detail.split("**Facts used**", 1)[1].split("\n\n**", 1)[0]
    return [line for line in section.strip().splitlines() if line.strip()]


def test_summary_card_reads_like_a_clinician_wrote_it(app: Flask) -> None:
    detail = _cards(app, "nelm-pathway", patient_view("v14", bundle("V14")))[0]["detail"]
    facts = _facts_section(detail)
    assert "- **Ki-67** 4 % on liver biopsy · 2026-08-26 · `Observation/v14-ki67`" in facts
    assert "- **Platelets** 250 ×10⁹/L · 2026-11-16 · `Observation/v14-lab-777-3`" in facts
    assert "- **Portal vein thrombosis** active · 2026-10-27 · `Condition/v14-pvt`" in facts
    assert "- **Extrahepatic disease** none recorded" in facts
    assert any(f.startswith("- **Primary tumour** small intestine, resected, portal-venous drainage") for f in facts)
    for raw in ("portalDrained", "ki67Percent", "monthsStable", "labs:"):
        assert raw not in detail


@pytest.mark.parametrize("vid", VIDS)
def test_every_fact_has_a_label_and_a_reference_and_unknowns_are_omitted(app: Flask, vid: str) -> None:
    detail = _cards(app, "nelm-pathway", patient_view(patient_id(vid), bundle(vid)))[0]["detail"]
    facts = _facts_section(detail)
    assert facts
    for line in facts:
        match = _FACT.match(line)
        assert match, line
        label, rest = match["label"], match["rest"]
        assert not re.search(r"\b[a-z]+[A-Z]\w*:", line), line  # no camelCase keys
        assert "None" not in rest, line
        if "none recorded" in rest:
            assert label in B26_LABELS, line
            assert "`" not in rest, line
        else:
            assert re.search(r"`[A-Za-z]+/[^`]+`", rest), line  # its FHIR reference


def test_contraindication_card_names_the_facts_behind_it(app: Flask) -> None:
    cards = _cards(app, "nelm-pathway", patient_view("v14", bundle("V14")))
    contra = next(c for c in cards if c["summary"].startswith("Contraindicated: TAE"))
    behind = contra["detail"].split("**Facts behind it**", 1)[1]
    assert "- **Portal vein thrombosis** active · 2026-10-27 · `Condition/v14-pvt`" in behind


def test_order_sign_card_names_the_facts_behind_it(app: Flask) -> None:
    cards = _cards(app, "nelm-order-sign", order_hook("order-sign", "v14", [draft_order("V14", "tace")],
                                                      bundle("V14")))
    (card,) = cards
    assert card["indicator"] == "critical"
    assert "**Portal vein thrombosis** active · 2026-10-27 · `Condition/v14-pvt`" in card["detail"]


def test_stale_values_are_named_with_value_date_and_reference(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    app.extensions["nelm_clock"] = lambda: dt.date(2027, 1, 10)  # labs of 2026-11-16 are now > 30 days old
    try:
        cards = _cards(app, "nelm-pathway", patient_view("v14", bundle("V14")))
    finally:
        store_of(app).dispose()
    assert "- **Platelets** 250 ×10⁹/L _(stale)_ · 2026-11-16 · `Observation/v14-lab-777-3`" in cards[0]["detail"]
    gap = next(c for c in cards if c["summary"].startswith("Missing or stale data"))
    line = next(x for x in gap["detail"].splitlines() if x.startswith("- **platelets**"))
    assert "last value 2026-11-16 (Observation/v14-lab-777-3)" in line
    assert "Last result: Platelets 250 ×10⁹/L." in line


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
