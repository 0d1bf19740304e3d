"""PATHWAY.md binding decisions B1–B26, one focused group of tests each, both sides of every condition.

Each test builds a profile with ``tests.pathways.builder`` and asserts what a clinician sees:
the status, the criterion id and note, the data gap, and the ``engineeringDefault`` /
``beyondSourceReview`` flags that PATHWAY.md requires (B11 age, B16, B19 tiers, B23, B24).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nelm_fhir.model import (
    ConditionRecord,
    ConditionState,
    Differentiation,
    DiseaseStatus,
    DiseaseTrend,
    ExtrahepaticSite,
    Fact,
    FrillingType,
    Ki67Result,
    LabKind,
    NelmProfile,
    PrimarySite,
    PrimaryStatus,
    ProcedureKind,
    ProcedureRecord,
    SpecimenSite,
)
from nelm_fhir.model.grading import assess_grade
from nelm_fhir.pathways import TUMOUR_BOARD_NOTE, Evaluation, Modality, evaluate, load_config
from tests.pathways.builder import NOW, make_profile, months_ago

CONFIG = load_config()
M = Modality
R, C, N, X, D = "recommended", "consider", "not-recommended", "contraindicated", "insufficient-data"

SURGICAL = (M.CURATIVE_RESECTION, M.SIMULTANEOUS_RESECTION, M.PORTAL_VEIN_EMBOLIZATION, M.TWO_STAGE_HEPATECTOMY,
            M.ALPPS, M.CYTOREDUCTIVE_SURGERY, M.LIVER_TRANSPLANTATION, M.REPEAT_RESECTION)
GRADE_DEPENDENT = (*SURGICAL, M.PRRT, M.EVEROLIMUS, M.SUNITINIB, M.CHEMOTHERAPY)
SYSTEMIC = (M.SOMATOSTATIN_ANALOGUE, M.EVEROLIMUS, M.SUNITINIB, M.CHEMOTHERAPY, M.INTERFERON_ALPHA)

# Diffuse unresectable disease (Frilling III), several lesions: the setting of liver-directed and PRRT options.
UNRESECTABLE: dict[str, Any] = {"frilling": FrillingType.III, "r0": False, "flr": None, "lesions": (4.0, 3.0, 2.0)}
# V19-like Milan candidate.
MILAN: dict[str, Any] = {**UNRESECTABLE, "r0": None, "involvement": 45.0, "stable_months": 8, "ki67": 2.0}
# Single lesion, surgery unsafe (V16).
UNFIT: dict[str, Any] = {"age": 78, "ecog": 2, "fit": False}


def run(profile: NelmProfile | None = None, *, config: Any = CONFIG, **kwargs: Any) -> Evaluation:
    """Evaluate ``profile`` (or baseline patient B with ``kwargs``) at NOW."""
    return evaluate(profile if profile is not None else make_profile(**kwargs), now=NOW, config=config)


def status(ev: Evaluation, modality: Modality) -> str:
    return ev.result(modality).status.value


def crit(ev: Evaluation, modality: Modality, cid: str) -> dict[str, Any]:
    found = [c.to_json() for c in ev.result(modality).criteria if c.id == cid]
    assert found, f"{modality}: no criterion {cid!r} in {[c.id for c in ev.result(modality).criteria]}"
    return found[0]


def gap(ev: Evaluation, element: str) -> dict[str, Any]:
    found = [g.to_json() for g in ev.data_gaps if g.element == element]
    assert found, f"no data gap {element!r} in {[g.element for g in ev.data_gaps]}"
    return found[0]


def site_config(tmp_path: Path, thresholds: dict[str, float]) -> Any:
    path = tmp_path / "site.json"
    path.write_text(json.dumps({"name": "qa-site", "thresholds": thresholds}), encoding="utf-8")
    return load_config(path)


def with_statuses(profile: NelmProfile, *statuses: tuple[DiseaseTrend, dt.date]) -> NelmProfile:
    records = tuple(DiseaseStatus(trend=t, source=f"Observation/status-{i}", date=d) for i, (t, d) in
                    enumerate(statuses))
    return dataclasses.replace(profile, disease_status=records)


def with_ki67(profile: NelmProfile, *results: tuple[float, SpecimenSite, dt.date]) -> NelmProfile:
    ki = tuple(Ki67Result(value=v, specimen=s, source=f"Observation/ki67-{s.value}-{i}", date=d)
               for i, (v, s, d) in enumerate(results))
    return dataclasses.replace(profile, ki67=ki, grade=assess_grade(ki, profile.mitotic_count))


# B1 — WHO 2019 grade; the higher of Ki-67 and mitotic grade wins; 2 < Ki-67 < 3 is G1 with a note.

@pytest.mark.parametrize(("ki67", "mitoses", "grade", "mitoses_note"), [
    (1.0, None, "G1", False), (2.9, None, "G1", False), (3.0, None, "G2", False), (20.0, None, "G2", False),
    (20.1, None, "G3", False), (1.0, 1.9, "G1", False), (1.0, 2.0, "G2", True), (1.0, 21.0, "G3", True),
    (25.0, 1.0, "G3", False), (None, 20.0, "G2", False), (None, 20.5, "G3", False),
])
def test_b1_grade_is_the_higher_of_ki67_and_mitoses(ki67: float | None, mitoses: float | None, grade: str,
                                                      mitoses_note: bool) -> None:
    ev = run(ki67=ki67, mitoses=mitoses)
    assert ev.profile_summary["grade"] == grade
    assert any("mitotic count" in n for n in ev.notes) is mitoses_note
    if ki67 is not None:
        assert ev.profile_summary["ki67Percent"] == ki67  # the raw value is kept


def test_b1_ki67_between_2_and_3_is_g1_with_the_review_scheme_note() -> None:
    ev = run(ki67=2.5)
    assert ev.profile_summary["grade"] == "G1" and ev.profile_summary["ki67Percent"] == 2.5
    assert any("2.5 % is graded G1 by WHO 2019" in n and "unclassified" in n for n in ev.notes)
    assert not any("unclassified" in n for n in run(ki67=2.0).notes)


# B2 — several Ki-67 results: the highest is used, discordance flagged, liver biopsy note for staged options.

def test_b2_highest_ki67_is_used_and_discordance_is_flagged() -> None:
    profile = with_ki67(make_profile(), (2.0, SpecimenSite.PRIMARY, months_ago(4)), (8.0, SpecimenSite.LIVER,
                                                                                    months_ago(2)))
    ev = run(profile)
    assert ev.profile_summary["ki67Percent"] == 8 and ev.profile_summary["grade"] == "G2"
    assert ev.profile_summary["ki67Discordant"] is True
    assert any("discordance" in n and "primary 2 % (G1)" in n and "liver 8 % (G2)" in n for n in ev.notes)


def test_b2_highest_value_wins_even_on_the_primary_and_same_grade_is_not_discordant() -> None:
    ev = run(with_ki67(make_profile(), (12.0, SpecimenSite.PRIMARY, months_ago(4)),
                       (4.0, SpecimenSite.LIVER, months_ago(2))))
    assert ev.profile_summary["ki67Percent"] == 12 and "ki67Discordant" not in ev.profile_summary
    assert not any("discordance" in n for n in ev.notes)


def test_b2_primary_only_ki67_adds_liver_biopsy_note_when_staged_procedure_is_considered() -> None:
    staged = {"flr": 25.0, "frilling": FrillingType.II, "lesions": (3.0, 2.0), "ki67": 5.0}
    ev = run(specimen=SpecimenSite.PRIMARY, **staged)
    assert status(ev, M.PORTAL_VEIN_EMBOLIZATION) == R
    assert any("pre-operative liver biopsy recommended" in n for n in ev.notes)
    assert "Pre-operative liver biopsy" in (gap(ev, "ki67LiverSpecimen")["orderLabel"] or "")
    assert crit(ev, M.ALPPS, "ki67-liver-specimen")["met"] is False
    liver = run(specimen=SpecimenSite.LIVER, **staged)
    assert not any("liver biopsy" in n for n in liver.notes)
    assert not any(g.element == "ki67LiverSpecimen" for g in liver.data_gaps)
    unknown_site = run(specimen=SpecimenSite.UNKNOWN, **staged)
    assert any(n.startswith("Ki-67 specimen site not recorded: pre-operative liver biopsy") for n in unknown_site.notes)
    assert not any("primary only" in n for n in unknown_site.notes)
    # No staged option considered (FLR adequate): no note even with a primary-only Ki-67.
    one_stage = run(specimen=SpecimenSite.PRIMARY)
    assert not any("liver biopsy" in n for n in one_stage.notes)


# B3 — differentiation is separate; NEC from codes; 8249/3 never grades; Ki-67 ≤ 20 % with unknown = well.

@pytest.mark.parametrize("code", ["icdo3|8246/3", "icdo3|8013/3", "icdo3|8041/3", "icd10cm|C7A.1"])
def test_b3_nec_from_morphology_code(code: str) -> None:
    ev = run(differentiation=None, morphology=(code,), ki67=40.0)
    assert status(ev, M.CURATIVE_RESECTION) == X
    assert crit(ev, M.CURATIVE_RESECTION, "not-nec")["sources"] == ["Condition/primary"]
    assert ev.profile_summary["differentiation"] == "poor"


def test_b3_never_infers_nec_from_ki67_alone() -> None:
    ev = run(differentiation=Differentiation.WELL, ki67=70.0)
    assert status(ev, M.CURATIVE_RESECTION) == C  # G3 NET: at most C (B6), never X for NEC
    assert crit(ev, M.CURATIVE_RESECTION, "not-nec")["met"] is True
    assert status(ev, M.CHEMOTHERAPY) == C  # not the NEC platinum-etoposide R


def test_b3_icdo_8249_never_sets_a_grade() -> None:
    ev = run(ki67=None, morphology=("icdo3|8249/3",))
    assert "grade" not in ev.profile_summary
    assert status(ev, M.LIVER_TRANSPLANTATION) == D


def test_b3_unknown_differentiation_counts_as_well_up_to_20_percent() -> None:
    ev = run(differentiation=None, ki67=15.0)
    assert ev.profile_summary["differentiation"].startswith("well (assumed")
    assert status(ev, M.CURATIVE_RESECTION) == R
    high = run(differentiation=None, ki67=25.0)
    assert status(high, M.CURATIVE_RESECTION) == D
    assert crit(high, M.CURATIVE_RESECTION, "differentiation-known")["met"] is None
    assert M.CURATIVE_RESECTION.value in gap(high, "differentiation")["blocks"]


# B4 — no Ki-67 and no mitotic count: grade-dependent options D with LOINC 29593-1; CIs still checked.

def test_b4_missing_grade_makes_every_grade_dependent_option_insufficient() -> None:
    ev = run(ki67=None, **UNRESECTABLE)
    for modality in GRADE_DEPENDENT:
        if modality is M.CYTOREDUCTIVE_SURGERY:
            continue  # rated below: its own indication may be unmet first
        assert status(ev, modality) == D, modality
        assert crit(ev, modality, "grade-known")["met"] is None
    ki = gap(ev, "ki67Percent")
    assert "http://loinc.org|29593-1" in ki["codes"] and "B4" in ki["why"]
    assert {M.ALPPS.value, M.PRRT.value, M.CHEMOTHERAPY.value} <= set(ki["blocks"])
    assert status(ev, M.TAE) == C  # grade-independent option still rated


def test_b4_grade_independent_contraindications_are_still_reported() -> None:
    ev = run(ki67=None, fit=False, pvt=True, whipple=True, **UNRESECTABLE)
    for modality in SURGICAL:
        assert status(ev, modality) == X, modality
    assert status(ev, M.TAE) == X and status(ev, M.RFA) == X


# B5 — NEC branch.

def test_b5_nec_branch() -> None:
    ev = run(differentiation=Differentiation.POOR, ki67=70.0, **UNRESECTABLE)
    for modality in (M.CURATIVE_RESECTION, M.SIMULTANEOUS_RESECTION, M.PORTAL_VEIN_EMBOLIZATION,
                     M.TWO_STAGE_HEPATECTOMY, M.ALPPS, M.LIVER_TRANSPLANTATION, M.REPEAT_RESECTION):
        assert status(ev, modality) == X, modality
    for modality in (M.CYTOREDUCTIVE_SURGERY, M.RFA, M.STEREOTACTIC_RFA, M.MWA, M.TAE, M.TACE,
                     M.RADIOEMBOLIZATION, M.PRRT):
        assert status(ev, modality) == N, modality
        assert crit(ev, modality, "not-nec")["met"] is False
    assert status(ev, M.CHEMOTHERAPY) == R
    assert "platinum" in ev.result(M.CHEMOTHERAPY).summary and "etoposide" in ev.result(M.CHEMOTHERAPY).summary


# B6 — G3 NET.

def test_b6_g3_net_restrictions() -> None:
    ev = run(ki67=25.0)
    assert status(ev, M.ALPPS) == X and status(ev, M.LIVER_TRANSPLANTATION) == X
    assert status(ev, M.CURATIVE_RESECTION) == C
    assert "G3 NET (B6)" in ev.result(M.CURATIVE_RESECTION).summary
    assert crit(ev, M.CURATIVE_RESECTION, "grade-g1-g2")["met"] is False
    assert status(run(ki67=20.0), M.CURATIVE_RESECTION) == R


def test_b6_g3_prrt_needs_dual_tracer_information_and_is_at_most_consider() -> None:
    base = {**UNRESECTABLE, "ki67": 25.0, "progressive": True}
    without = run(**base)
    assert status(without, M.PRRT) == D
    assert M.PRRT.value in gap(without, "fdgPetPositive")["blocks"]
    with_fdg = run(fdg=True, **base)
    assert status(with_fdg, M.PRRT) == C  # progressive would be R for G1/G2
    assert crit(with_fdg, M.PRRT, "dual-tracer")["met"] is True
    assert status(run(**{**base, "ki67": 10.0}), M.PRRT) == R


# B7 — fitness.

@pytest.mark.parametrize(("kwargs", "unfit"), [
    ({"fit": False}, True), ({"ecog": 3}, True), ({"ecog": 4}, True), ({"ecog": 2}, False),
    ({"ecog": 2, "fit": True}, False), ({"ecog": 3, "fit": True}, True),
])
def test_b7_unfit_makes_every_surgical_option_contraindicated(kwargs: dict[str, Any], unfit: bool) -> None:
    ev = run(**kwargs)
    for modality in SURGICAL:
        assert (status(ev, modality) == X) is unfit, modality
    assert crit(ev, M.CURATIVE_RESECTION, "fit-for-major-surgery")["met"] is (not unfit)
    if not unfit:
        assert status(ev, M.CURATIVE_RESECTION) == R


# B8 — FLR and R0.

@pytest.mark.parametrize(("flr", "curative", "pve", "two_stage", "alpps"), [
    (30.0, R, N, N, N), (29.9, N, R, C, C), (10.0, N, R, C, C),
])
def test_b8_flr_threshold_routes_to_staged_options(flr: float, curative: str, pve: str, two_stage: str,
                                                   alpps: str) -> None:
    ev = run(flr=flr, ki67=5.0, frilling=FrillingType.II, lesions=(3.5, 2.0))
    assert (status(ev, M.CURATIVE_RESECTION), status(ev, M.PORTAL_VEIN_EMBOLIZATION),
            status(ev, M.TWO_STAGE_HEPATECTOMY), status(ev, M.ALPPS)) == (curative, pve, two_stage, alpps)
    assert crit(ev, M.CURATIVE_RESECTION, "flr-adequate")["met"] is (flr >= 30)


def test_b8_alpps_not_for_g3_and_r0_needed() -> None:
    ev = run(flr=25.0, ki67=21.0, frilling=FrillingType.II, lesions=(3.5, 2.0))
    assert status(ev, M.ALPPS) == X and status(ev, M.PORTAL_VEIN_EMBOLIZATION) == C
    no_r0 = run(r0=False)
    assert status(no_r0, M.CURATIVE_RESECTION) == N
    assert crit(no_r0, M.CURATIVE_RESECTION, "resectable-r0")["met"] is False


# B9 — distant vs regional extrahepatic disease.

@pytest.mark.parametrize("site", [ExtrahepaticSite.BONE, ExtrahepaticSite.LUNG, ExtrahepaticSite.PERITONEUM,
                                  ExtrahepaticSite.DISTANT_NODES, ExtrahepaticSite.OTHER])
def test_b9_distant_disease(site: ExtrahepaticSite) -> None:
    ev = run(extrahepatic=(site,))
    assert status(ev, M.CURATIVE_RESECTION) == N and status(ev, M.SIMULTANEOUS_RESECTION) == N
    assert status(ev, M.LIVER_TRANSPLANTATION) == X
    assert crit(ev, M.CURATIVE_RESECTION, "no-distant-extrahepatic-disease")["note"] == f"distant disease: {site.value}"


def test_b9_regional_nodes_are_not_distant() -> None:
    ev = run(extrahepatic=(ExtrahepaticSite.REGIONAL_NODES,))
    assert status(ev, M.CURATIVE_RESECTION) == R
    assert "regional nodes only" in crit(ev, M.CURATIVE_RESECTION, "no-distant-extrahepatic-disease")["note"]
    assert status(ev, M.LIVER_TRANSPLANTATION) != X


# B10 — simultaneous resection.

def test_b10_simultaneous_resection() -> None:
    synchronous = {"primary_status": PrimaryStatus.IN_SITU, "flr": 85.0, "lesions": (3.0,)}
    assert status(run(**synchronous), M.SIMULTANEOUS_RESECTION) == R
    major = run(**{**synchronous, "frilling": FrillingType.II, "lesions": (6.0, 3.0)})
    assert status(major, M.SIMULTANEOUS_RESECTION) == N
    assert "major or staged hepatectomy" in major.result(M.SIMULTANEOUS_RESECTION).summary
    assert status(run(fit=False, **synchronous), M.SIMULTANEOUS_RESECTION) == X
    assert status(run(), M.SIMULTANEOUS_RESECTION) == N  # primary already resected: nothing to resect with it


# B11 — liver transplantation (Milan).

def test_b11_milan_candidate_is_consider_never_recommended() -> None:
    ev = run(age=60, **MILAN)
    result = ev.result(M.LIVER_TRANSPLANTATION)
    assert result.status.value == C
    for cid in ("milan-ki67", "milan-involvement", "milan-stable", "milan-age", "disease-not-resectable",
                "primary-portal-drained", "primary-resected"):
        assert crit(ev, M.LIVER_TRANSPLANTATION, cid)["met"] is True, cid
    assert crit(ev, M.LIVER_TRANSPLANTATION, "milan-age")["engineeringDefault"] is True
    assert any("age > 45" in w and "[58]" in w for w in result.warnings)


@pytest.mark.parametrize(("age", "warning"), [(45, False), (46, True)])
def test_b11_age_over_45_is_a_risk_note_not_an_exclusion(age: int, warning: bool) -> None:
    ev = run(age=age, **MILAN)
    assert status(ev, M.LIVER_TRANSPLANTATION) == C
    assert any("ELTR" in w for w in ev.result(M.LIVER_TRANSPLANTATION).warnings) is warning


@pytest.mark.parametrize(("override", "cid"), [
    ({"age": 61}, "milan-age"), ({"ki67": 10.0}, "milan-ki67"), ({"ki67": 20.0}, "milan-ki67"),
    ({"involvement": 51.0}, "milan-involvement"), ({"stable_months": 5}, "milan-stable"),
    ({"primary_status": PrimaryStatus.IN_SITU}, "primary-resected"),
    ({"frilling": FrillingType.I, "r0": True, "lesions": (3.0,)}, "disease-not-resectable"),
    ({"extrahepatic": (ExtrahepaticSite.REGIONAL_NODES,)}, "milan-no-extrahepatic-disease"),
])
def test_b11_other_unmet_criteria_are_not_recommended_and_named(override: dict[str, Any], cid: str) -> None:
    ev = run(**{**MILAN, **override})
    assert status(ev, M.LIVER_TRANSPLANTATION) == N
    assert crit(ev, M.LIVER_TRANSPLANTATION, cid)["met"] is False


@pytest.mark.parametrize("override", [
    {"differentiation": Differentiation.POOR}, {"ki67": 21.0}, {"extrahepatic": (ExtrahepaticSite.BONE,)},
    {"site": PrimarySite.UNKNOWN, "primary_status": PrimaryStatus.UNKNOWN_PRIMARY}, {"site": PrimarySite.LUNG},
    {"site": PrimarySite.RECTUM},
])
def test_b11_hard_exclusions_are_contraindicated(override: dict[str, Any]) -> None:
    assert status(run(**{**MILAN, **override}), M.LIVER_TRANSPLANTATION) == X


# B12 — months stable from CancerDiseaseStatus: the current unbroken stable/improved run.

def test_b12_run_starts_after_the_last_worsened_result() -> None:
    profile = with_statuses(make_profile(**MILAN), (DiseaseTrend.STABLE, months_ago(14)),
                            (DiseaseTrend.WORSENED, months_ago(9)), (DiseaseTrend.STABLE, months_ago(5)),
                            (DiseaseTrend.IMPROVED, months_ago(1)))
    ev = run(profile)
    assert ev.profile_summary["monthsStable"] == 5 and ev.profile_summary["progressive"] is False
    milan = crit(ev, M.LIVER_TRANSPLANTATION, "milan-stable")
    assert milan["met"] is False and "since " + months_ago(5).isoformat() in milan["note"]
    assert set(milan["sources"]) == {"Observation/status-2", "Observation/status-3"}
    unbroken = with_statuses(make_profile(**MILAN), (DiseaseTrend.STABLE, months_ago(14)),
                             (DiseaseTrend.IMPROVED, months_ago(9)), (DiseaseTrend.STABLE, months_ago(1)))
    assert run(unbroken).profile_summary["monthsStable"] == 14
    assert status(run(unbroken), M.LIVER_TRANSPLANTATION) == C


def test_b12_worsened_latest_result_is_progression() -> None:
    profile = with_statuses(make_profile(**MILAN), (DiseaseTrend.STABLE, months_ago(14)),
                            (DiseaseTrend.WORSENED, months_ago(1)))
    ev = run(profile)
    assert ev.profile_summary["progressive"] is True and ev.profile_summary["monthsStable"] == 0
    assert "progressive" in crit(ev, M.LIVER_TRANSPLANTATION, "milan-stable")["note"]


def test_b12_worse_result_wins_a_tie_on_the_same_date_whatever_the_record_order() -> None:
    day = months_ago(1)
    for order in ((DiseaseTrend.STABLE, DiseaseTrend.WORSENED), (DiseaseTrend.WORSENED, DiseaseTrend.STABLE)):
        profile = with_statuses(make_profile(**MILAN), (DiseaseTrend.STABLE, months_ago(12)),
                                (order[0], day), (order[1], day))
        assert run(profile).profile_summary["progressive"] is True


def test_b12_undetermined_breaks_the_run_and_a_latest_undetermined_needs_restaging() -> None:
    middle = with_statuses(make_profile(**MILAN), (DiseaseTrend.STABLE, months_ago(12)),
                           (DiseaseTrend.UNDETERMINED, months_ago(8)), (DiseaseTrend.STABLE, months_ago(4)),
                           (DiseaseTrend.STABLE, months_ago(1)))
    assert run(middle).profile_summary["monthsStable"] == 4
    latest = with_statuses(make_profile(**MILAN), (DiseaseTrend.STABLE, months_ago(12)),
                           (DiseaseTrend.UNDETERMINED, months_ago(1)))
    ev = run(latest)
    assert "monthsStable" not in ev.profile_summary and "progressive" not in ev.profile_summary
    assert status(ev, M.LIVER_TRANSPLANTATION) == D
    assert "undetermined" in crit(ev, M.LIVER_TRANSPLANTATION, "milan-stable")["note"]
    assert M.LIVER_TRANSPLANTATION.value in gap(ev, "monthsStable")["blocks"]


def test_b12_assessments_after_the_evaluation_date_are_ignored() -> None:
    profile = with_statuses(make_profile(**MILAN), (DiseaseTrend.STABLE, months_ago(8)),
                            (DiseaseTrend.STABLE, months_ago(1)), (DiseaseTrend.WORSENED, NOW + dt.timedelta(days=5)))
    ev = run(profile)
    assert ev.profile_summary["progressive"] is False and ev.profile_summary["monthsStable"] == 8


def test_b12_stale_latest_assessment_is_a_stale_gap() -> None:
    old = NOW - dt.timedelta(days=120)
    profile = with_statuses(make_profile(**MILAN), (DiseaseTrend.STABLE, months_ago(20)), (DiseaseTrend.STABLE, old))
    ev = run(profile)
    stale = gap(ev, "monthsStable")
    assert stale["stale"] is True and stale["lastSeen"] == old.isoformat()
    assert stale["lastSource"] == "Observation/status-1"
    assert status(ev, M.LIVER_TRANSPLANTATION) == D


# B13 — cytoreduction: two paths, ≥ 70 % inclusive.

CYTO: dict[str, Any] = {**UNRESECTABLE, "ki67": 3.0, "debulk": 70.0}


@pytest.mark.parametrize(("kwargs", "expected", "cid"), [
    ({"syndrome": True, "refractory": True}, C, "refractory-syndrome"),
    # B36(b): a syndrome controlled by SSA takes the non-functional path (here: no burden symptoms, so N).
    ({"syndrome": True, "refractory": False}, N, "tumour-burden-symptoms"),
    ({"syndrome": True}, N, "refractory-syndrome"),
    ({"burden_symptoms": True, "stable_months": 6}, C, "stable-6-months"),
    ({"burden_symptoms": True, "stable_months": 5}, N, "stable-6-months"),
    ({"burden_symptoms": True, "progressive": True}, N, "stable-6-months"),
    ({"burden_symptoms": False, "stable_months": 12}, N, "tumour-burden-symptoms"),
    ({"stable_months": 12}, N, "tumour-burden-symptoms"),
])
def test_b13_two_paths(kwargs: dict[str, Any], expected: str, cid: str) -> None:
    ev = run(**{**CYTO, **kwargs})
    assert status(ev, M.CYTOREDUCTIVE_SURGERY) == expected
    assert crit(ev, M.CYTOREDUCTIVE_SURGERY, cid)["met"] is (expected == C)
    if expected == N:
        assert ev.result(M.CYTOREDUCTIVE_SURGERY).summary.startswith("Not recommended: ")


@pytest.mark.parametrize(("debulk", "expected"), [(70.0, C), (69.9, N), (None, D)])
def test_b13_debulking_threshold_inclusive(debulk: float | None, expected: str) -> None:
    ev = run(**{**CYTO, "syndrome": True, "refractory": True, "debulk": debulk})
    assert status(ev, M.CYTOREDUCTIVE_SURGERY) == expected
    if debulk is None:
        assert M.CYTOREDUCTIVE_SURGERY.value in gap(ev, "achievableDebulkingPercent")["blocks"]


def test_b13_stable_path_without_course_is_insufficient_data() -> None:
    ev = run(**{**CYTO, "burden_symptoms": True, "stable_months": None})
    assert status(ev, M.CYTOREDUCTIVE_SURGERY) == D


# B14 — RFA.

@pytest.mark.parametrize(("size", "rfa", "stereo", "mwa"), [(4.9, R, N, C), (5.0, N, C, C), (7.0, N, C, C)])
def test_b14_rfa_size(size: float, rfa: str, stereo: str, mwa: str) -> None:
    ev = run(lesions=(size,), **UNFIT)
    assert (status(ev, M.RFA), status(ev, M.STEREOTACTIC_RFA), status(ev, M.MWA)) == (rfa, stereo, mwa)


@pytest.mark.parametrize(("kwargs", "cid"), [
    ({"near_hilum": True}, "no-lesion-near-hilum"), ({"subcapsular": True}, "no-lesion-subcapsular"),
    ({"whipple": True}, "no-bilio-enteric-anastomosis"),
])
def test_b14_rfa_location_contraindications(kwargs: dict[str, Any], cid: str) -> None:
    ev = run(lesions=(2.0,), **UNFIT, **kwargs)
    assert status(ev, M.RFA) == X
    assert crit(ev, M.RFA, cid)["met"] is False


def test_b14_rfa_not_instead_of_a_recommended_resection() -> None:
    ev = run(lesions=(2.0,))
    assert status(ev, M.CURATIVE_RESECTION) == R and status(ev, M.RFA) == N


# B15 — bilio-enteric anastomosis from Whipple or any bilio-enteric procedure.

@pytest.mark.parametrize("kind", [ProcedureKind.WHIPPLE, ProcedureKind.BILIO_ENTERIC_ANASTOMOSIS])
def test_b15_bilio_enteric_anastomosis(kind: ProcedureKind) -> None:
    profile = dataclasses.replace(
        make_profile(**UNFIT, lesions=(3.0, 2.0), frilling=FrillingType.II, r0=False),
        procedures=(ProcedureRecord(kind=kind, code="sct|3360004", source="Procedure/bea", date=months_ago(30)),),
    )
    ev = run(profile)
    for modality in (M.TAE, M.TACE, M.RFA, M.MWA):
        assert status(ev, modality) == X, modality
        assert crit(ev, modality, "no-bilio-enteric-anastomosis")["sources"] == ["Procedure/bea"]
    re = ev.result(M.RADIOEMBOLIZATION)
    assert re.status.value == C and any("bilio-enteric anastomosis" in w for w in re.warnings)
    assert ev.profile_summary["bilioEntericAnastomosis"] is True
    clean = run(**UNFIT, lesions=(3.0, 2.0), frilling=FrillingType.II, r0=False)
    assert status(clean, M.TAE) == C and not clean.result(M.RADIOEMBOLIZATION).warnings


# B16 — hepatic insufficiency (configurable engineering default).

@pytest.mark.parametrize(("labs", "failure", "insufficient"), [
    ({LabKind.BILIRUBIN: 3.1}, False, True), ({LabKind.BILIRUBIN: 3.0}, False, False),
    ({LabKind.ALBUMIN: 2.9}, False, True), ({LabKind.INR: 1.6}, False, True), ({}, True, True), ({}, False, False),
])
def test_b16_hepatic_insufficiency(labs: dict[LabKind, float], failure: bool, insufficient: bool) -> None:
    ev = run(labs=labs, hepatic_failure=failure, progressive=True, **UNRESECTABLE)
    for modality in (M.TAE, M.TACE, M.RADIOEMBOLIZATION):
        assert (status(ev, modality) == X) is insufficient, modality
    assert status(ev, M.PRRT) == (N if insufficient else R)
    c = crit(ev, M.TAE, "no-hepatic-insufficiency")
    assert c["engineeringDefault"] is True and c["met"] is (not insufficient)
    resectable = run(labs=labs, hepatic_failure=failure)
    assert status(resectable, M.CURATIVE_RESECTION) == (X if insufficient else R)


def test_b16_thresholds_are_configurable(tmp_path: Path) -> None:
    config = site_config(tmp_path, {"hepatic.max-bilirubin-mg-dl": 2.0})
    assert status(run(labs={LabKind.BILIRUBIN: 2.5}, **UNRESECTABLE), M.TAE) == C
    ev = run(make_profile(labs={LabKind.BILIRUBIN: 2.5}, **UNRESECTABLE), config=config)
    assert status(ev, M.TAE) == X and "bilirubin 2.5 mg/dL > 2" in crit(ev, M.TAE, "no-hepatic-insufficiency")["note"]


# B17 — portal vein thrombosis.

def test_b17_pvt() -> None:
    ev = run(pvt=True, **UNRESECTABLE)
    assert status(ev, M.TAE) == X and status(ev, M.TACE) == X
    re = ev.result(M.RADIOEMBOLIZATION)
    assert re.status.value == C and any("portal vein thrombosis" in w for w in re.warnings)
    assert crit(ev, M.TAE, "no-portal-vein-thrombosis")["sources"] == ["Condition/pvt"]
    resolved = dataclasses.replace(make_profile(**UNRESECTABLE), portal_vein_thrombosis=(
        ConditionRecord(concept="pvt", code="icd|I81", state=ConditionState.HISTORY, source="Condition/pvt-old"),))
    assert status(run(resolved), M.TAE) == C


# B18 — TAE/TACE setting.

def test_b18_tae_tace_setting() -> None:
    unresectable = run(**UNRESECTABLE)
    assert status(unresectable, M.TAE) == C and status(unresectable, M.TACE) == C
    resectable = run()
    assert status(resectable, M.TAE) == N and status(resectable, M.TACE) == N


def test_b18_limited_resectable_disease_is_not_recommended_even_while_resection_awaits_data() -> None:
    # single lesion, R0 feasible per MDT, a major resection planned (B38): curative resection waits for volumetry
    ev = run(flr=None, resection_extent="major")
    assert status(ev, M.CURATIVE_RESECTION) == D
    assert status(ev, M.TAE) == N
    assert crit(ev, M.TAE, "liver-directed-indication")["note"] == "limited NELM, R0 resection feasible per MDT"
    assert M.TAE not in next(g for g in ev.data_gaps if g.element == "flrPercent").blocks


# B19 — PRRT.

PRRT: dict[str, Any] = {**UNRESECTABLE, "ki67": 4.0, "progressive": True}


@pytest.mark.parametrize(("krenning", "expected"), [(1, X), (0, X), (2, R), (4, R)])
def test_b19_krenning(krenning: int, expected: str) -> None:
    ev = run(krenning=krenning, **PRRT)
    assert status(ev, M.PRRT) == expected
    assert crit(ev, M.PRRT, "sstr-uptake")["met"] is (expected == R)


@pytest.mark.parametrize(("egfr", "crcl", "expected"), [
    (50.0, None, R), (49.0, None, C), (30.0, None, C), (29.0, None, X), (45.0, 52.0, R), (25.0, 35.0, C),
])
def test_b19_renal_tiers(egfr: float, crcl: float | None, expected: str) -> None:
    ev = run(labs={LabKind.EGFR: egfr, LabKind.CRCL: crcl}, **PRRT)
    assert status(ev, M.PRRT) == expected
    for cid in ("renal-function", "renal-function-not-severe"):
        assert crit(ev, M.PRRT, cid)["engineeringDefault"] is True
    assert any("measured GFR" in w for w in ev.result(M.PRRT).warnings) is (expected == C)


@pytest.mark.parametrize(("kind", "low", "cid"), [
    (LabKind.PLATELETS, 74.0, "platelets-adequate"), (LabKind.HAEMOGLOBIN, 7.9, "haemoglobin-adequate"),
    (LabKind.LEUKOCYTES, 1.9, "leukocytes-adequate"),
])
def test_b19_marrow_reserve(kind: LabKind, low: float, cid: str) -> None:
    ev = run(labs={kind: low}, **PRRT)
    assert status(ev, M.PRRT) == N
    c = crit(ev, M.PRRT, cid)
    assert c["met"] is False and c["engineeringDefault"] is True


def test_b19_setting() -> None:
    assert status(run(**PRRT), M.PRRT) == R  # progressive unresectable G1/G2
    assert status(run(**{**PRRT, "progressive": False}), M.PRRT) == C  # stable unresectable
    spread = run(**{**PRRT, "progressive": False, "extrahepatic": (ExtrahepaticSite.BONE,)})
    assert status(spread, M.PRRT) == R
    assert status(run(ki67=4.0, progressive=True), M.PRRT) == N  # resectable disease
    unknown = run(**{**PRRT, "progressive": False, "stable_months": None})
    assert status(unknown, M.PRRT) == C and "disease course not recorded" in unknown.result(M.PRRT).summary


# B20 — PRRT + RE.

BULKY: dict[str, Any] = {**PRRT, "lesions": (9.0, 3.0), "extrahepatic": (ExtrahepaticSite.BONE,)}


def test_b20_prrt_plus_re() -> None:
    assert status(run(**BULKY), M.PRRT_PLUS_RADIOEMBOLIZATION) == C
    by_involvement = run(**{**BULKY, "lesions": (3.0, 2.0), "involvement": 25.0})
    assert status(by_involvement, M.PRRT_PLUS_RADIOEMBOLIZATION) == C
    assert "involvement 25 %" in crit(by_involvement, M.PRRT_PLUS_RADIOEMBOLIZATION, "bulky-liver-disease")["note"]
    small = run(**{**BULKY, "lesions": (3.0, 2.0), "involvement": 24.0})
    assert status(small, M.PRRT_PLUS_RADIOEMBOLIZATION) == N
    assert status(run(**{**BULKY, "extrahepatic": ()}), M.PRRT_PLUS_RADIOEMBOLIZATION) == N
    assert status(run(**{**BULKY, "krenning": 1}), M.PRRT_PLUS_RADIOEMBOLIZATION) == X
    assert status(run(**{**BULKY, "labs": {LabKind.BILIRUBIN: 4.0}}), M.PRRT_PLUS_RADIOEMBOLIZATION) == X


# B21 — recurrence.

def test_b21_recurrence_makes_repeat_resection_the_surgical_option() -> None:
    ev = run(recurrent=True, lesions=(1.5, 2.2), frilling=None)
    assert status(ev, M.REPEAT_RESECTION) == R
    assert status(ev, M.CURATIVE_RESECTION) == N
    assert "repeat resection" in ev.result(M.CURATIVE_RESECTION).summary
    assert status(run(recurrent=True, fit=False), M.REPEAT_RESECTION) == X
    assert status(run(recurrent=True, extrahepatic=(ExtrahepaticSite.BONE,)), M.REPEAT_RESECTION) == N
    assert status(run(recurrent=True, r0=False), M.REPEAT_RESECTION) == N
    assert status(run(), M.REPEAT_RESECTION) == N


def test_b21_recurrence_from_first_recording_after_liver_resection() -> None:
    # Ingestion folds "first recorded after a liver resection" into recurrent_nelm; the condition is not flagged.
    base = make_profile()
    profile = dataclasses.replace(
        base,
        nelm=(ConditionRecord(concept="nelm", code="icd|C7B.02", state=ConditionState.ACTIVE,
                              source="Condition/nelm-new", recorded=months_ago(2)),),
        recurrent_nelm=Fact(value=True, source="Condition/nelm-new"),
    )
    ev = run(profile)
    assert status(ev, M.REPEAT_RESECTION) == R
    assert "Condition/nelm-new" in crit(ev, M.REPEAT_RESECTION, "recurrent-nelm")["sources"]


# B22 — unknown primary.

def test_b22_unknown_primary() -> None:
    ev = run(site=PrimarySite.UNKNOWN, primary_status=PrimaryStatus.UNKNOWN_PRIMARY, ki67=5.0, flr=55.0)
    assert status(ev, M.CURATIVE_RESECTION) == C
    assert crit(ev, M.CURATIVE_RESECTION, "primary-known")["met"] is False
    assert status(ev, M.LIVER_TRANSPLANTATION) == X
    assert any("search for the primary" in n for n in ev.notes)


# B23 — systemic therapy, beyond the source review.

def test_b23_every_systemic_option_is_flagged_beyond_the_source_review() -> None:
    ev = run(**PRRT)
    out = {r["modality"]: r for r in ev.to_json()["recommendations"]}
    for modality in SYSTEMIC:
        assert ev.result(modality).beyond_source_review is True
        assert out[modality.value]["beyondSourceReview"] is True
    for modality in (M.CURATIVE_RESECTION, M.PRRT, M.TAE):
        assert "beyondSourceReview" not in out[modality.value]


def test_b23_somatostatin_analogue() -> None:
    assert status(run(**{**PRRT, "progressive": False}), M.SOMATOSTATIN_ANALOGUE) == R
    assert status(run(syndrome=True, krenning=1, **UNRESECTABLE), M.SOMATOSTATIN_ANALOGUE) == R
    negative = run(krenning=1, **UNRESECTABLE)
    assert status(negative, M.SOMATOSTATIN_ANALOGUE) == N
    assert crit(negative, M.SOMATOSTATIN_ANALOGUE, "sstr-positive")["beyondSourceReview"] is True
    pannet = run(site=PrimarySite.PANCREAS, ki67=12.0, **UNRESECTABLE)
    assert status(pannet, M.SOMATOSTATIN_ANALOGUE) == C
    assert status(run(site=PrimarySite.PANCREAS, ki67=9.0, **UNRESECTABLE), M.SOMATOSTATIN_ANALOGUE) == R
    assert status(run(), M.SOMATOSTATIN_ANALOGUE) == N  # resectable


def test_b23_targeted_and_cytotoxic_options() -> None:
    si = run(**PRRT)
    pan = run(site=PrimarySite.PANCREAS, **PRRT)
    assert status(si, M.SUNITINIB) == N and status(pan, M.SUNITINIB) == C
    assert status(si, M.EVEROLIMUS) == C and status(pan, M.EVEROLIMUS) == C
    assert status(run(site=PrimarySite.RECTUM, **PRRT), M.EVEROLIMUS) == N
    assert status(run(site=PrimarySite.PANCREAS, **{**PRRT, "progressive": False}), M.EVEROLIMUS) == N
    assert status(pan, M.CHEMOTHERAPY) == C and status(si, M.CHEMOTHERAPY) == N
    assert status(run(differentiation=Differentiation.POOR, ki67=60.0, **UNRESECTABLE), M.CHEMOTHERAPY) == R
    assert status(run(syndrome=True, refractory=True, **UNRESECTABLE), M.INTERFERON_ALPHA) == C
    assert status(run(syndrome=True, refractory=False, **UNRESECTABLE), M.INTERFERON_ALPHA) == N


# B24 — staleness per input class, configurable.

@pytest.mark.parametrize(("days", "stale"), [(30, False), (31, True)])
def test_b24_labs_30_days(days: int, stale: bool) -> None:
    when = NOW - dt.timedelta(days=days)
    ev = run(lab_date=when, **PRRT)
    assert (status(ev, M.PRRT) == D) is stale
    if stale:
        g = gap(ev, "platelets")
        assert g["stale"] is True and g["lastSeen"] == when.isoformat() and g["lastSource"] == "Observation/platelets"
        assert "older than 30 days" in g["why"] and "B24" in g["why"] and "engineering default" in g["why"]
        assert ev.profile_summary["labs"]["platelets"]["stale"] is True


@pytest.mark.parametrize(("days", "stale"), [(90, False), (91, True)])
def test_b24_imaging_and_performance_status_90_days(days: int, stale: bool) -> None:
    when = NOW - dt.timedelta(days=days)
    ev = run(imaging_date=when, **PRRT)
    assert (status(ev, M.PRRT) == D) is stale
    profile = make_profile()
    assert profile.ecog is not None
    old_ecog = dataclasses.replace(profile, ecog=dataclasses.replace(profile.ecog, date=when))
    ecog = run(old_ecog)
    assert (status(ecog, M.CURATIVE_RESECTION) == D) is stale
    if stale:
        assert gap(ev, "krenningScore")["lastSource"] == "Observation/krenning"
        assert gap(ecog, "fitness")["stale"] is True


def test_b24_windows_are_configurable(tmp_path: Path) -> None:
    config = site_config(tmp_path, {"staleness.labs-days": 60, "staleness.imaging-days": 180})
    ev = run(make_profile(lab_date=NOW - dt.timedelta(days=45), imaging_date=NOW - dt.timedelta(days=120), **PRRT),
             config=config)
    assert status(ev, M.PRRT) == R
    assert ("staleness.labs-days", "60") in ev.config_overrides


# B25 — the tumour board note, for every patient.

@pytest.mark.parametrize("profile", [
    make_profile(), make_profile(ki67=None, site=None, krenning=None, flr=None, labs={k: None for k in LabKind}),
    make_profile(differentiation=Differentiation.POOR, ki67=80.0),
])
def test_b25_tumour_board_note_always_first(profile: NelmProfile) -> None:
    ev = run(profile)
    assert ev.notes[0] == TUMOUR_BOARD_NOTE and "[14,15]" in TUMOUR_BOARD_NOTE


# B26 — absent findings are "none recorded"; absent measurements are data gaps.

def test_b26_absent_findings_read_none_recorded() -> None:
    ev = run(involvement=30.0, **UNRESECTABLE)
    for modality, cid in ((M.CURATIVE_RESECTION, "no-distant-extrahepatic-disease"),
                          (M.TAE, "no-portal-vein-thrombosis"), (M.TAE, "no-bilio-enteric-anastomosis")):
        c = crit(ev, modality, cid)
        assert c["met"] is True and c["note"] == "none recorded"
    assert crit(ev, M.INTERFERON_ALPHA, "refractory-syndrome")["note"] == "none recorded"
    assert not ev.data_gaps


@pytest.mark.parametrize(("kwargs", "modality", "element"), [
    ({"flr": None, "resection_extent": "major"}, M.CURATIVE_RESECTION, "flrPercent"),  # B38: major only
    ({"krenning": None, **PRRT}, M.PRRT, "krenningScore"),
    ({"labs": {LabKind.PLATELETS: None}, **PRRT}, M.PRRT, "platelets"),
    ({"labs": {LabKind.INR: None}, **UNRESECTABLE}, M.TAE, "inr"),
    ({"ki67": None}, M.CURATIVE_RESECTION, "ki67Percent"),
])
def test_b26_absent_measurement_is_a_gap_never_a_normal_value(kwargs: dict[str, Any], modality: Modality,
                                                              element: str) -> None:
    ev = run(**kwargs)
    assert status(ev, modality) == D
    g = gap(ev, element)
    assert modality.value in g["blocks"] and "stale" not in g


_TRENDS = st.sampled_from(list(DiseaseTrend))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(_TRENDS, st.integers(min_value=0, max_value=80)), min_size=1, max_size=6,
                unique_by=lambda t: t[1]), st.randoms(use_true_random=False))
def test_b12_months_stable_matches_an_independent_reading(history: list[tuple[DiseaseTrend, int]],
                                                          rnd: Any) -> None:
    """Whatever the record order: the run of stable/improved back from the newest assessment."""
    dated = [(trend, NOW - dt.timedelta(days=days)) for trend, days in history]
    rnd.shuffle(dated)
    ev = run(with_statuses(make_profile(**MILAN), *dated))
    newest_first = sorted(dated, key=lambda x: x[1], reverse=True)
    run_start = None
    for trend, when in newest_first:
        if trend not in (DiseaseTrend.STABLE, DiseaseTrend.IMPROVED):
            break
        run_start = when
    newest = newest_first[0][0]
    expected: int | None
    if newest is DiseaseTrend.WORSENED:
        expected = 0
    elif run_start is None:
        expected = None
    else:
        expected = (NOW.year - run_start.year) * 12 + NOW.month - run_start.month - (NOW.day < run_start.day)
    assert ev.profile_summary.get("monthsStable") == expected
    assert ev.profile_summary.get("progressive") == (
        True if newest is DiseaseTrend.WORSENED else None if newest is DiseaseTrend.UNDETERMINED else False)
