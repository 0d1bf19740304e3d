"""Engine behaviour beyond single thresholds: absence vs missing, staleness, summary, notes, purity."""

from __future__ import annotations

import dataclasses
import datetime as dt

from nelm_fhir.model import ConditionRecord, ConditionState, Differentiation, Ki67Result, SpecimenSite
from nelm_fhir.model.grading import assess_grade
from nelm_fhir.pathways import TUMOUR_BOARD_NOTE, Modality, Status, evaluate, load_config
from tests.pathways.builder import NOW, make_profile

CONFIG = load_config()


def test_absent_findings_are_none_recorded_not_gaps() -> None:
    ev = evaluate(make_profile(frilling=None, r0=False, lesions=(3.0, 2.0), flr=None), now=NOW, config=CONFIG)
    tae = ev.result(Modality.TAE)
    assert tae.status is Status.CONSIDER
    crits = {c.id: c for c in tae.criteria}
    assert crits["no-portal-vein-thrombosis"].met is True
    assert crits["no-portal-vein-thrombosis"].note == "none recorded"
    assert crits["no-bilio-enteric-anastomosis"].note == "none recorded"
    assert not any(g.element in {"pvt", "bilioEnteric"} for g in ev.data_gaps)


def test_missing_measurement_is_a_gap_never_a_normal_value() -> None:
    ev = evaluate(make_profile(krenning=None, frilling=None, r0=False, lesions=(3.0, 2.0), flr=None),
                  now=NOW, config=CONFIG)
    assert ev.result(Modality.PRRT).status is Status.INSUFFICIENT_DATA
    gap = next(g for g in ev.data_gaps if g.element == "krenningScore")
    assert gap.codes == ("https://nelm-cds.org/fhir/CodeSystem/nelm-finding|krenning-score",)
    assert gap.order_label == "SSTR PET/CT (68Ga-DOTATATE)"
    assert Modality.PRRT in gap.blocks and not gap.stale
    assert gap.to_json()["orderLabel"] == "SSTR PET/CT (68Ga-DOTATATE)"


def test_stale_imaging_and_performance_status_count_as_missing() -> None:
    old = NOW - dt.timedelta(days=91)
    profile = make_profile(imaging_date=old)
    ev = evaluate(profile, now=NOW, config=CONFIG)
    assert ev.result(Modality.CURATIVE_RESECTION).status is Status.INSUFFICIENT_DATA
    gap = next(g for g in ev.data_gaps if g.element == "flrPercent")
    assert gap.stale and gap.last_seen == old and gap.last_source == "Observation/flr"
    assert "older than 90 days" in gap.why
    assert "flrPercent" not in ev.profile_summary
    fresh = evaluate(make_profile(imaging_date=NOW - dt.timedelta(days=90)), now=NOW, config=CONFIG)
    assert fresh.result(Modality.CURATIVE_RESECTION).status is Status.RECOMMENDED


def test_stale_ecog_leaves_fitness_unknown() -> None:
    profile = make_profile()
    assert profile.ecog is not None
    stale = dataclasses.replace(profile, ecog=dataclasses.replace(profile.ecog, date=NOW - dt.timedelta(days=120)))
    ev = evaluate(stale, now=NOW, config=CONFIG)
    assert ev.result(Modality.CURATIVE_RESECTION).status is Status.INSUFFICIENT_DATA
    assert next(g for g in ev.data_gaps if g.element == "fitness").stale


def test_summary_omits_unknowns_and_never_writes_zero() -> None:
    ev = evaluate(make_profile(flr=None, involvement=None, ecog=None, krenning=None, age=None), now=NOW, config=CONFIG)
    summary = ev.profile_summary
    for key in ("flrPercent", "liverInvolvementPercent", "ecog", "krenningScore", "ageYears"):
        assert key not in summary
    assert summary["grade"] == "G1" and summary["ki67Specimen"] == "liver"


def test_discordant_ki67_uses_highest_and_notes_it() -> None:
    base = make_profile()
    ki = (Ki67Result(value=2.0, specimen=SpecimenSite.PRIMARY, source="Observation/ki67-primary"),
          Ki67Result(value=12.0, specimen=SpecimenSite.LIVER, source="Observation/ki67-liver"))
    profile = dataclasses.replace(base, ki67=ki, grade=assess_grade(ki, None))
    ev = evaluate(profile, now=NOW, config=CONFIG)
    assert ev.profile_summary["grade"] == "G2" and ev.profile_summary["ki67Percent"] == 12
    assert ev.profile_summary["ki67Discordant"] is True
    assert any("discordance" in n for n in ev.notes)


def test_high_ki67_without_differentiation_does_not_infer_nec() -> None:
    ev = evaluate(make_profile(ki67=35.0, differentiation=None), now=NOW, config=CONFIG)
    assert ev.result(Modality.CURATIVE_RESECTION).status is Status.INSUFFICIENT_DATA
    assert ev.result(Modality.ALPPS).status is Status.CONTRAINDICATED
    assert ev.result(Modality.CHEMOTHERAPY).status is not Status.RECOMMENDED
    assert any(g.element == "differentiation" for g in ev.data_gaps)


def test_nec_without_ki67_still_gets_platinum_etoposide() -> None:
    ev = evaluate(make_profile(ki67=None, differentiation=Differentiation.POOR), now=NOW, config=CONFIG)
    assert ev.result(Modality.CHEMOTHERAPY).status is Status.RECOMMENDED
    assert ev.result(Modality.CURATIVE_RESECTION).status is Status.CONTRAINDICATED
    assert ev.profile_summary["differentiation"] == "poor"


def test_flags_for_rules_beyond_the_review() -> None:
    ev = evaluate(make_profile(), now=NOW, config=CONFIG)
    for modality in (Modality.SOMATOSTATIN_ANALOGUE, Modality.EVEROLIMUS, Modality.SUNITINIB, Modality.CHEMOTHERAPY,
                     Modality.INTERFERON_ALPHA):
        assert ev.result(modality).to_json()["beyondSourceReview"] is True
    assert "beyondSourceReview" not in ev.result(Modality.CURATIVE_RESECTION).to_json()


def test_outcomes_evidence_and_board_note() -> None:
    ev = evaluate(make_profile(), now=NOW, config=CONFIG)
    resection = ev.result(Modality.CURATIVE_RESECTION).to_json()
    assert "[26]" in resection["evidence"] and "[10]" in resection["evidence"]
    assert any("5-year OS 70 %" in o for o in resection["outcomes"])
    flr = next(c for c in resection["criteria"] if c["id"] == "flr-adequate")
    assert flr == {"id": "flr-adequate", "label": "future liver remnant at least 30 %", "met": True,
                   "note": "FLR 70 %", "sources": ["Observation/flr"], "evidence": ["[10]"]}
    assert ev.notes[0] == TUMOUR_BOARD_NOTE


def test_evaluation_date_is_an_input_not_the_clock() -> None:
    profile = make_profile(frilling=None, r0=False, stable_months=5, involvement=40.0, ki67=2.0, lesions=(3.0, 2.0))
    early = evaluate(profile, now=NOW, config=CONFIG)
    later = evaluate(profile, now=NOW + dt.timedelta(days=31), config=CONFIG)
    assert early.profile_summary["monthsStable"] == 5
    assert early.result(Modality.LIVER_TRANSPLANTATION).status is Status.NOT_RECOMMENDED
    assert later.profile_summary["monthsStable"] == 6
    assert later.evaluated_at == NOW + dt.timedelta(days=31)


def test_carcinoid_heart_disease_lowers_surgery_to_consider_with_a_warning() -> None:
    heart = ConditionRecord(concept="carcinoid-heart-disease", code="sct|36222008", state=ConditionState.ACTIVE,
                            source="Condition/heart")
    profile = dataclasses.replace(make_profile(), carcinoid_heart_disease=(heart,))
    result = evaluate(profile, now=NOW, config=CONFIG).result(Modality.CURATIVE_RESECTION)
    assert result.status is Status.CONSIDER
    assert any("cardiology assessment" in w for w in result.warnings)
    assert "Condition/heart" in result.sources
