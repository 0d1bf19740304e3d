"""PATHWAY.md C.1 boundary-value matrix: every row, on both sides of its threshold."""

from __future__ import annotations

from typing import Any

import pytest

from nelm_fhir.model import FrillingType, LabKind
from nelm_fhir.pathways import Evaluation, Modality, evaluate, load_config
from tests.pathways.builder import NOW, make_profile

CONFIG = load_config()
R, C, N, X, D = "recommended", "consider", "not-recommended", "contraindicated", "insufficient-data"

# Milan candidate (V19-like): diffuse unresectable, stable 8 months, Ki-67 2 %, involvement 45 %, age 55.
MILAN: dict[str, Any] = {"frilling": FrillingType.III, "r0": None, "involvement": 45.0, "stable_months": 8,
                         "ki67": 2.0, "lesions": (3.0, 2.5, 2.0), "flr": None}
# Unresectable progressive disease: the PRRT-indicated setting (V14 without PVT).
PRRT: dict[str, Any] = {"frilling": FrillingType.III, "r0": False, "ki67": 4.0, "progressive": True,
                        "lesions": (4.0, 3.0, 2.0), "flr": None}
# Single lesion, surgery unsafe (V16).
ABLATE: dict[str, Any] = {"age": 78, "ecog": 2, "fit": False}


def _run(**kwargs: Any) -> Evaluation:
    return evaluate(make_profile(**kwargs), now=NOW, config=CONFIG)


def _status(ev: Evaluation, modality: Modality) -> str:
    return ev.result(modality).status.value


def _criterion(ev: Evaluation, modality: Modality, cid: str) -> dict[str, Any]:
    return next(c.to_json() for c in ev.result(modality).criteria if c.id == cid)


@pytest.mark.parametrize(("ki67", "grade", "note"), [
    (2.0, "G1", False), (2.5, "G1", True), (3.0, "G2", False), (20.0, "G2", False), (20.5, "G3", False),
    (21.0, "G3", False),
])
def test_ki67_grade(ki67: float, grade: str, note: bool) -> None:
    ev = _run(ki67=ki67)
    assert ev.profile_summary["grade"] == grade
    assert ev.profile_summary["ki67Percent"] == ki67
    assert (any("unclassified" in n for n in ev.notes)) is note


def test_ki67_missing_is_insufficient_data_for_grade_dependent_options() -> None:
    ev = _run(ki67=None)
    assert "grade" not in ev.profile_summary
    for modality in (Modality.CURATIVE_RESECTION, Modality.ALPPS, Modality.LIVER_TRANSPLANTATION, Modality.PRRT,
                     Modality.EVEROLIMUS, Modality.SUNITINIB, Modality.CHEMOTHERAPY):
        assert _status(ev, modality) == D, modality
    gap = next(g for g in ev.data_gaps if g.element == "ki67Percent")
    assert "http://loinc.org|29593-1" in gap.codes and Modality.ALPPS in gap.blocks


@pytest.mark.parametrize(("flr", "resection", "pve"), [(30.0, R, N), (29.9, N, R), (29.0, N, R)])
def test_flr_one_stage_threshold(flr: float, resection: str, pve: str) -> None:
    ev = _run(flr=flr, ki67=5.0, frilling=FrillingType.II, lesions=(3.5, 2.0))
    assert _status(ev, Modality.CURATIVE_RESECTION) == resection
    assert _status(ev, Modality.PORTAL_VEIN_EMBOLIZATION) == pve
    if flr == 30.0:
        assert any("at threshold" in n for n in ev.result(Modality.CURATIVE_RESECTION).notes)


@pytest.mark.parametrize(("size", "rfa", "stereotactic", "note"), [
    (4.9, R, N, False), (5.0, N, C, True), (5.1, N, C, False),
])
def test_rfa_largest_diameter(size: float, rfa: str, stereotactic: str, note: bool) -> None:
    ev = _run(lesions=(size,), **ABLATE)
    assert _status(ev, Modality.RFA) == rfa
    assert _status(ev, Modality.STEREOTACTIC_RFA) == stereotactic
    assert _status(ev, Modality.MWA) == C
    assert ("exactly the limit" in _criterion(ev, Modality.RFA, "lesion-size")["note"]) is note


@pytest.mark.parametrize(("age", "status", "note_2007"), [(55, C, False), (56, C, True), (60, C, True), (61, N, False)])
def test_milan_age(age: int, status: str, note_2007: bool) -> None:
    ev = _run(age=age, **MILAN)
    assert _status(ev, Modality.LIVER_TRANSPLANTATION) == status
    crit = _criterion(ev, Modality.LIVER_TRANSPLANTATION, "milan-age")
    assert ("original 2007" in crit["note"]) is note_2007
    assert crit["engineeringDefault"] is True
    if age > 45:
        assert any("ELTR" in w for w in ev.result(Modality.LIVER_TRANSPLANTATION).warnings)


@pytest.mark.parametrize(("involvement", "status"), [(50.0, C), (51.0, N)])
def test_milan_liver_involvement(involvement: float, status: str) -> None:
    assert _status(_run(**{**MILAN, "involvement": involvement}), Modality.LIVER_TRANSPLANTATION) == status


@pytest.mark.parametrize(("months", "status"), [(6, C), (5, N)])
def test_milan_stability_months(months: int, status: str) -> None:
    ev = _run(**{**MILAN, "stable_months": months})
    assert _status(ev, Modality.LIVER_TRANSPLANTATION) == status
    assert ev.profile_summary["monthsStable"] == months


@pytest.mark.parametrize(("ki67", "status", "mdt_note"), [(9.9, C, False), (10.0, N, True)])
def test_milan_ki67(ki67: float, status: str, mdt_note: bool) -> None:
    ev = _run(**{**MILAN, "ki67": ki67})
    assert _status(ev, Modality.LIVER_TRANSPLANTATION) == status
    assert ("MDT may override" in _criterion(ev, Modality.LIVER_TRANSPLANTATION, "milan-ki67")["note"]) is mdt_note


@pytest.mark.parametrize(("debulk", "status"), [(70.0, C), (69.0, N)])
def test_debulking_achievable(debulk: float, status: str) -> None:
    ev = _run(syndrome=True, refractory=True, debulk=debulk, frilling=FrillingType.III, r0=None, flr=None,
              lesions=(4.0, 3.0, 2.0), ki67=3.0)
    assert _status(ev, Modality.CYTOREDUCTIVE_SURGERY) == status


@pytest.mark.parametrize(("egfr", "status"), [(50.0, R), (49.0, C), (30.0, C), (29.0, X)])
def test_prrt_renal_tiers(egfr: float, status: str) -> None:
    ev = _run(labs={LabKind.EGFR: egfr}, **PRRT)
    assert _status(ev, Modality.PRRT) == status
    if status == C:
        assert any("measured GFR" in w for w in ev.result(Modality.PRRT).warnings)
    if status == X:
        assert _status(ev, Modality.PRRT_PLUS_RADIOEMBOLIZATION) == X


@pytest.mark.parametrize(("kind", "ok", "low"), [
    (LabKind.PLATELETS, 75.0, 74.0), (LabKind.HAEMOGLOBIN, 8.0, 7.9), (LabKind.LEUKOCYTES, 2.0, 1.9),
])
def test_prrt_marrow(kind: LabKind, ok: float, low: float) -> None:
    assert _status(_run(labs={kind: ok}, **PRRT), Modality.PRRT) == R
    assert _status(_run(labs={kind: low}, **PRRT), Modality.PRRT) == N


@pytest.mark.parametrize(("kind", "normal", "insufficient"), [
    (LabKind.BILIRUBIN, 3.0, 3.1), (LabKind.INR, 1.5, 1.6), (LabKind.ALBUMIN, 3.0, 2.9),
])
def test_hepatic_insufficiency_flag(kind: LabKind, normal: float, insufficient: float) -> None:
    ok = _run(labs={kind: normal}, **PRRT)
    bad = _run(labs={kind: insufficient}, **PRRT)
    for modality in (Modality.TAE, Modality.TACE, Modality.RADIOEMBOLIZATION):
        assert _status(ok, modality) == C, modality
        assert _status(bad, modality) == X, modality
    assert _status(ok, Modality.PRRT) == R
    assert _status(bad, Modality.PRRT) == N
    crit = _criterion(bad, Modality.TAE, "no-hepatic-insufficiency")
    assert crit["met"] is False and crit["engineeringDefault"] is True and crit["sources"]
