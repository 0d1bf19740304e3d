"""PATHWAY.md binding decisions B28 (text only), B30-B32 and B34-B40 on the engine: both sides of every rule.

Each test builds baseline patient "B" (``tests.pathways.builder``) with one change and says, in its
comment, the clinical reasoning it checks. Ingestion of the codes behind these facts is tested in
``tests/ingest/test_clinical_codes.py``; the vignettes in ``tests/vignettes`` run the same rules end to end.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from nelm_fhir.model import (
    ConditionState,
    DiseaseStatus,
    DiseaseTrend,
    Fact,
    FrillingType,
    Grade,
    LabKind,
    LabResult,
    LiverLesion,
    NelmProfile,
    PregnancyRecord,
    PrimaryStatus,
    SpecimenSite,
    SyndromeFinding,
    SyndromeKind,
    UnreadableResult,
)
from nelm_fhir.pathways import Evaluation, Modality, evaluate, load_config
from tests.pathways.builder import NOW, RECENT, make_profile, months_ago
from tests.pathways.test_binding_decisions import with_ki67

CONFIG = load_config()
M = Modality
R, C, N, X, D = "recommended", "consider", "not-recommended", "contraindicated", "insufficient-data"
POSITIVE = {R, C}
SURGICAL = (M.CURATIVE_RESECTION, M.SIMULTANEOUS_RESECTION, M.PORTAL_VEIN_EMBOLIZATION, M.TWO_STAGE_HEPATECTOMY,
            M.ALPPS, M.CYTOREDUCTIVE_SURGERY, M.LIVER_TRANSPLANTATION, M.REPEAT_RESECTION)
HEPATECTOMIES = (M.CURATIVE_RESECTION, M.SIMULTANEOUS_RESECTION, M.REPEAT_RESECTION, M.PORTAL_VEIN_EMBOLIZATION,
                 M.TWO_STAGE_HEPATECTOMY, M.ALPPS)
UNRESECTABLE: dict[str, Any] = {"frilling": FrillingType.III, "r0": False, "flr": None, "lesions": (4.0, 3.0, 2.0)}
UNFIT_SINGLE: dict[str, Any] = {"age": 78, "ecog": 2, "fit": False}  # V16: ablation and embolization open


def run(profile: NelmProfile | None = None, **kwargs: Any) -> Evaluation:
    return evaluate(profile if profile is not None else make_profile(**kwargs), now=NOW, config=CONFIG)


def status(ev: Evaluation, modality: Modality) -> str:
    return ev.result(modality).status.value


def crit(ev: Evaluation, modality: Modality, cid: str) -> dict[str, Any]:
    found = [c.to_json() for c in ev.result(modality).criteria if c.id == cid]
    assert found, f"{modality}: no criterion {cid!r} in {[c.id for c in ev.result(modality).criteria]}"
    return found[0]


def gaps(ev: Evaluation, element: str) -> list[dict[str, Any]]:
    return [g.to_json() for g in ev.data_gaps if g.element == element]


# B28 (text part) — a decisive record written only as text: the options it could contraindicate are D, never R/C.

@pytest.mark.parametrize(("topic", "setting", "blocked", "unaffected"), [
    # V16-like unfit patient: RFA R and TAE C without the record; a text-only "Whipple" could contraindicate both.
    ("bilio-enteric", UNFIT_SINGLE, (M.RFA, M.MWA, M.TAE, M.TACE), (M.RADIOEMBOLIZATION, M.SOMATOSTATIN_ANALOGUE)),
    ("portal-vein-thrombosis", UNFIT_SINGLE, (M.TAE, M.TACE), (M.RFA, M.RADIOEMBOLIZATION)),
    # (SSA is not "unaffected" here: with resection unrated it is no longer "not needed", by design of B18/B23.)
    ("hepatic-failure", {}, (M.CURATIVE_RESECTION,), (M.INTERFERON_ALPHA,)),
    ("pregnancy", UNRESECTABLE | {"progressive": True}, (M.PRRT, M.RADIOEMBOLIZATION, M.TACE),
     (M.INTERFERON_ALPHA,)),
    ("extrahepatic", {}, (M.CURATIVE_RESECTION,), (M.INTERFERON_ALPHA,)),
])
def test_b28_text_only_record_makes_what_it_could_contraindicate_insufficient(
        topic: str, setting: dict[str, Any], blocked: tuple[Modality, ...], unaffected: tuple[Modality, ...]) -> None:
    plain, texted = run(**setting), run(**setting, unconfirmed=(topic,))
    for modality in blocked:
        assert status(plain, modality) in POSITIVE, (topic, modality, status(plain, modality))  # the other side
        assert status(texted, modality) == D, (topic, modality)
        assert crit(texted, modality, "record-confirmed")["note"].startswith(f"confirm: text naming {topic}")
    for modality in unaffected:
        assert status(texted, modality) == status(plain, modality), (topic, modality)
    gap = gaps(texted, "recordToConfirm")[0]
    assert gap["why"].startswith(f"confirm: text naming {topic}") and "B28" in gap["why"]
    assert {m.value for m in blocked} <= set(gap["blocks"])
    assert not gaps(plain, "recordToConfirm")


def test_b28_a_possible_pregnancy_also_caps_what_a_pregnancy_caps() -> None:
    # Found by the fail-safe property: a text-only pregnancy must not leave SSA recommended where a coded
    # pregnancy would cap it at consider.
    setting = UNRESECTABLE | {"progressive": True}
    plain, texted = run(**setting), run(**setting, unconfirmed=("pregnancy",))
    assert status(plain, M.SOMATOSTATIN_ANALOGUE) == R and status(texted, M.SOMATOSTATIN_ANALOGUE) == C
    assert "obstetric and MDT input required" in texted.result(M.SOMATOSTATIN_ANALOGUE).warnings[0]
    assert status(texted, M.TAE) == C


def test_b28_a_coded_contraindication_still_wins_over_a_text_record() -> None:
    # A coded Whipple contraindicates; the text record does not soften it to insufficient-data.
    ev = run(**UNFIT_SINGLE, whipple=True, unconfirmed=("bilio-enteric",))
    assert status(ev, M.RFA) == X and status(ev, M.TAE) == X


# B30 — the primary tumour.

def test_b30_no_primary_is_a_gap_for_the_three_options_that_need_it() -> None:
    # Without a primary Condition nobody knows whether it was resected: not "resected", not "unknown primary".
    ev = run(site=None)
    for modality in (M.CURATIVE_RESECTION, M.SIMULTANEOUS_RESECTION, M.LIVER_TRANSPLANTATION):
        assert status(ev, modality) == D, modality
        assert M.CURATIVE_RESECTION.value in gaps(ev, "primaryTumour")[0]["blocks"]
    assert gaps(ev, "primaryTumour")[0]["why"].startswith("primary tumour and whether it was resected")
    recorded = run()  # the other side: a resected ileal primary, curative resection recommended
    assert status(recorded, M.CURATIVE_RESECTION) == R and not gaps(recorded, "primaryTumour")


def test_b30_a_primary_without_resection_or_status_is_in_situ_for_every_option() -> None:
    # Recorded primary, no resection procedure, no primary-status finding: every option reads "in situ".
    ev = run(primary_status=None, lesions=(3.0,), flr=85.0)
    explicit = run(primary_status=PrimaryStatus.IN_SITU, lesions=(3.0,), flr=85.0)
    for modality in Modality:
        assert status(ev, modality) == status(explicit, modality), modality
    assert status(ev, M.SIMULTANEOUS_RESECTION) == R  # B10: synchronous primary in situ, limited disease
    assert status(ev, M.CURATIVE_RESECTION) == N
    assert "read as in situ (B30)" in crit(ev, M.SIMULTANEOUS_RESECTION, "synchronous-primary-in-situ")["note"]
    assert "read as in situ (B30)" in crit(ev, M.LIVER_TRANSPLANTATION, "primary-resected")["note"]
    assert not gaps(ev, "primaryStatus") and not gaps(ev, "primaryTumour")


# B31 — bilio-enteric anastomosis from every coding; weak status codes only ask for confirmation.

def test_b31_weak_status_code_asks_to_confirm_on_the_five_options() -> None:
    plain, weak = run(**UNFIT_SINGLE), run(**UNFIT_SINGLE, unconfirmed=("bilio-enteric-status",))
    for modality in (M.RFA, M.STEREOTACTIC_RFA, M.MWA, M.TAE, M.TACE):
        assert status(weak, modality) == D or status(plain, modality) not in POSITIVE, modality
    assert status(plain, M.RFA) == R and status(weak, M.RFA) == D
    gap = gaps(weak, "bilioEntericAnastomosis")[0]
    assert gap["why"].startswith("confirm whether a bilio-enteric anastomosis exists")
    assert set(gap["blocks"]) >= {"rfa", "mwa", "tae", "tace"}
    assert status(weak, M.RADIOEMBOLIZATION) == status(plain, M.RADIOEMBOLIZATION)


# B32 — pregnancy.

_PREG_X = (M.PRRT, M.PRRT_PLUS_RADIOEMBOLIZATION, M.RADIOEMBOLIZATION, M.TACE, M.EVEROLIMUS, M.SUNITINIB,
           M.CHEMOTHERAPY)


def test_b32_pregnancy_excludes_radiation_and_cytotoxic_options_and_caps_the_rest() -> None:
    setting = UNRESECTABLE | {"progressive": True, "site": None}  # PRRT R, TACE C without the pregnancy
    plain, pregnant = run(**setting), run(**setting, pregnant=True)
    assert status(plain, M.PRRT) == R and status(plain, M.TACE) == C
    for modality in _PREG_X:
        assert status(pregnant, modality) == X, modality
        c = crit(pregnant, modality, "not-pregnant")
        assert c["met"] is False and c["sources"] == ["Condition/pregnancy"]
        # PRRT is excluded by the review's A.5.13 list; the drugs and RE/TACE by labels (beyond the review).
        assert bool(c.get("beyondSourceReview")) is (modality is not M.PRRT), modality
    assert status(plain, M.SOMATOSTATIN_ANALOGUE) == R and status(pregnant, M.SOMATOSTATIN_ANALOGUE) == C
    assert "pregnancy: obstetric and MDT input required" in pregnant.result(M.SOMATOSTATIN_ANALOGUE).warnings
    assert status(pregnant, M.TAE) == C and "pregnancy: obstetric" in pregnant.result(M.TAE).warnings[0]
    assert any("obstetric and MDT input required" in n for n in pregnant.notes)


def test_b32_surgery_and_ablation_are_at_most_consider_with_the_warning() -> None:
    plain, pregnant = run(), run(pregnant=True)
    assert status(plain, M.CURATIVE_RESECTION) == R and status(pregnant, M.CURATIVE_RESECTION) == C
    assert "pregnancy: obstetric and MDT input required" in pregnant.result(M.CURATIVE_RESECTION).warnings
    unfit = run(**UNFIT_SINGLE, pregnant=True)
    assert status(run(**UNFIT_SINGLE), M.RFA) == R and status(unfit, M.RFA) == C


@pytest.mark.parametrize(("kind", "age_days", "state", "active"), [
    ("condition", 30 * 9, ConditionState.ACTIVE, True),     # recorded 9 months ago, not resolved
    ("condition", 30 * 11, ConditionState.ACTIVE, False),   # over 10 months: delivered by now
    ("condition", 30, ConditionState.HISTORY, False),       # resolved
    ("observation", 30, ConditionState.ACTIVE, True),       # "pregnant" 30 days ago (inclusive)
    ("observation", 31, ConditionState.ACTIVE, False),
])
def test_b32_windows(kind: str, age_days: int, state: ConditionState, active: bool) -> None:
    record = PregnancyRecord(source=f"{kind.title()}/p", code="x|y", kind=kind, pregnant=True, state=state,
                             date=NOW - dt.timedelta(days=age_days))
    ev = run(dataclasses.replace(make_profile(**UNRESECTABLE, progressive=True), pregnancy=(record,)))
    assert (status(ev, M.PRRT) == X) is active


def test_b32_a_newer_not_pregnant_answer_ends_it() -> None:
    old = PregnancyRecord(source="Condition/p", code="x|y", kind="condition", pregnant=True, date=months_ago(3))
    no = PregnancyRecord(source="Observation/no", code="x|y", kind="observation", pregnant=False, date=RECENT)
    base = make_profile(**UNRESECTABLE, progressive=True)
    assert status(run(dataclasses.replace(base, pregnancy=(old,))), M.PRRT) == X
    assert status(run(dataclasses.replace(base, pregnancy=(old, no))), M.PRRT) == R


# B34 — fitness evidence: a current MDT judgement or a current ECOG/Karnofsky.

def test_b34_no_current_fitness_evidence_makes_every_surgical_option_insufficient() -> None:
    ev = run(ecog=None, fit=None)
    for modality in SURGICAL:  # D even where the option would otherwise be N (B34 says they *are* D)
        assert status(ev, modality) == D, modality
    assert status(run(), M.LIVER_TRANSPLANTATION) == N  # the other side: fit, resectable -> N
    assert status(ev, M.CURATIVE_RESECTION) == D
    gap = gaps(ev, "fitness")[0]
    assert gap["why"].startswith("performance status or MDT fitness judgement")
    assert status(run(ecog=None, fit=True), M.CURATIVE_RESECTION) == R  # the MDT judgement alone suffices


def test_b34_a_stale_mdt_judgement_does_not_count() -> None:
    profile = make_profile(ecog=None, fit=True)
    old = dataclasses.replace(profile, fit_for_major_surgery=Fact(value=True, source="Observation/fit",
                                                                   date=NOW - dt.timedelta(days=91)))
    ev = run(old)
    assert status(ev, M.CURATIVE_RESECTION) == D and gaps(ev, "fitness")[0]["stale"] is True


# B35 — stale abnormal liver function on every hepatectomy; B16 excludes every hepatectomy.

def _stale_labs(profile: NelmProfile, kind: LabKind, value: float) -> NelmProfile:
    old = NOW - dt.timedelta(days=60)
    labs = (*(lab for lab in profile.labs if lab.kind is not kind),
            LabResult(kind=kind, value=value, unit="x", source=f"Observation/old-{kind.value}", date=old))
    return dataclasses.replace(profile, labs=labs)


@pytest.mark.parametrize(("kind", "abnormal", "normal"), [
    (LabKind.BILIRUBIN, 1.3, 1.2), (LabKind.ALBUMIN, 3.4, 3.5), (LabKind.INR, 1.3, 1.2)])
def test_b35_stale_abnormal_liver_function_caps_every_hepatectomy(kind: LabKind, abnormal: float,
                                                                   normal: float) -> None:
    bad = run(_stale_labs(make_profile(), kind, abnormal))
    ok = run(_stale_labs(make_profile(), kind, normal))
    assert status(ok, M.CURATIVE_RESECTION) == R  # a stale but normal value does not cap
    assert status(bad, M.CURATIVE_RESECTION) == C
    warning = bad.result(M.CURATIVE_RESECTION).warnings[0]
    assert warning.startswith(f"liver function last abnormal on {(NOW - dt.timedelta(days=60)).isoformat()}")
    assert "repeat before deciding" in warning
    for modality in HEPATECTOMIES:
        assert any(c.id == "liver-function-current" for c in bad.result(modality).criteria), modality
    assert status(bad, M.INTERFERON_ALPHA) == status(ok, M.INTERFERON_ALPHA)


def test_b35_b16_excludes_every_hepatectomy() -> None:
    staged = {"flr": 25.0, "frilling": FrillingType.II, "lesions": (3.0, 2.0)}
    for modality in HEPATECTOMIES:
        kwargs = staged if modality in (M.PORTAL_VEIN_EMBOLIZATION, M.TWO_STAGE_HEPATECTOMY, M.ALPPS) else {}
        assert status(run(**kwargs, labs={LabKind.BILIRUBIN: 3.1}), modality) == X, modality
        assert status(run(**kwargs, labs={LabKind.BILIRUBIN: 3.0}), modality) != X, modality


# B36 — (a) undetermined breaks the stable run; (b) controlled syndrome; (d) liver-biopsy note.

def test_b36a_undetermined_assessment_breaks_the_stable_run() -> None:
    statuses = (DiseaseStatus(trend=DiseaseTrend.STABLE, source="Observation/s3", date=months_ago(1)),
                DiseaseStatus(trend=DiseaseTrend.UNDETERMINED, source="Observation/s2", date=months_ago(4)),
                DiseaseStatus(trend=DiseaseTrend.STABLE, source="Observation/s1", date=months_ago(12)))
    milan = {**UNRESECTABLE, "r0": None, "involvement": 45.0, "ki67": 2.0}
    broken = run(dataclasses.replace(make_profile(**milan), disease_status=statuses))
    kept = run(dataclasses.replace(make_profile(**milan), disease_status=(statuses[0], statuses[2])))
    assert status(kept, M.LIVER_TRANSPLANTATION) == C  # stable 12 months
    assert status(broken, M.LIVER_TRANSPLANTATION) == N  # stable only since the undetermined result
    assert "stable 1 months" in crit(broken, M.LIVER_TRANSPLANTATION, "milan-stable")["note"]


@pytest.mark.parametrize(("refractory", "burden", "stable", "expected"), [
    (False, True, 8, C),   # controlled by SSA, burden symptoms, stable >= 6 months: non-functional path (B36b)
    (False, True, 4, N),   # controlled, but stable < 6 months
    (False, None, 8, N),   # controlled, no burden symptoms
    (True, None, 8, C),    # refractory: the functional path as before (B13)
    (None, True, 8, N),    # refractoriness not recorded: neither path is shown to hold
])
def test_b36b_controlled_syndrome_may_take_the_non_functional_path(refractory: bool | None, burden: bool | None,
                                                                    stable: int, expected: str) -> None:
    ev = run(syndrome=True, refractory=refractory, burden_symptoms=burden, stable_months=stable, debulk=80.0,
             **UNRESECTABLE)
    assert status(ev, M.CYTOREDUCTIVE_SURGERY) == expected


def test_b36d_liver_biopsy_note_never_when_a_liver_specimen_result_exists() -> None:
    staged = make_profile(flr=25.0, frilling=FrillingType.II, lesions=(3.0, 2.0))
    primary_higher = with_ki67(staged, (8.0, SpecimenSite.PRIMARY, months_ago(2)),
                               (4.0, SpecimenSite.LIVER, months_ago(2)))
    only_primary = with_ki67(staged, (8.0, SpecimenSite.PRIMARY, months_ago(2)))
    unknown_site = with_ki67(staged, (8.0, SpecimenSite.UNKNOWN, months_ago(2)))
    assert not any("liver biopsy" in n for n in run(primary_higher).notes)
    assert any("measured on the primary only" in n for n in run(only_primary).notes)
    assert any("specimen site not recorded" in n for n in run(unknown_site).notes)


# B37 — a stated WHO grade.

@pytest.mark.parametrize(("ki67", "stated", "grade", "set_by_statement"), [
    (None, Grade.G2, "G2", True),    # no number: the stated grade sets it (no B4 gap)
    (None, Grade.G3, "G3", True),
    (1.0, Grade.G3, "G3", True),     # with a number, the higher grade wins (here the statement)
    (25.0, Grade.G1, "G3", False),   # ... here the number
    (5.0, Grade.G2, "G2", False),    # equal: the number is shown
])
def test_b37_stated_grade(ki67: float | None, stated: Grade, grade: str, set_by_statement: bool) -> None:
    ev = run(ki67=ki67, stated_grade=stated)
    assert ev.profile_summary["grade"] == grade
    said = [n for n in ev.notes if "stated by pathology" in n]
    assert bool(said) is set_by_statement
    if set_by_statement:
        assert "Observation/who-grade" in said[0] and "B37" in said[0]
    assert not gaps(ev, "ki67Percent")


def test_b37_a_stated_g3_contraindicates_alpps_and_transplantation_and_no_grade_stays_b4() -> None:
    g3 = run(ki67=None, stated_grade=Grade.G3, flr=25.0, frilling=FrillingType.II, lesions=(3.0, 2.0))
    assert status(g3, M.ALPPS) == X and status(g3, M.LIVER_TRANSPLANTATION) == X
    none = run(ki67=None, flr=25.0, frilling=FrillingType.II, lesions=(3.0, 2.0))
    assert status(none, M.ALPPS) == D and gaps(none, "ki67Percent")


def test_b37_stated_g1_satisfies_the_milan_ki67_limit_but_g2_cannot() -> None:
    milan = {**UNRESECTABLE, "r0": None, "involvement": 45.0, "stable_months": 8, "ki67": None}
    assert status(run(**milan, stated_grade=Grade.G1), M.LIVER_TRANSPLANTATION) == C
    g2 = run(**milan, stated_grade=Grade.G2)  # Ki-67 3-20 %: below 10 % or not cannot be told
    assert status(g2, M.LIVER_TRANSPLANTATION) == D and gaps(g2, "ki67Percent")


# B38 — FLR only for a major resection.

@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"flr": None}, R),                                               # Frilling I, one 4 cm lesion: minor (default)
    ({"flr": None, "lesions": (5.0,)}, D),                           # 5.0 cm is not below 5: major, FLR needed
    ({"flr": None, "lesions": (3.0, 2.0), "frilling": None}, D),     # two lesions, no Frilling type: major
    ({"flr": None, "frilling": None}, D),                             # Frilling type not recorded: major
    ({"flr": None, "resection_extent": "major"}, D),                  # recorded major extent
    ({"flr": None, "resection_extent": "minor", "lesions": (6.0,)}, R),  # recorded minor extent decides
    ({"flr": 25.0}, N),                                               # a recorded FLR < 30 % still applies (B8)
    ({"flr": 25.0, "resection_extent": "minor"}, N),
])
def test_b38_flr_only_for_a_major_resection(kwargs: dict[str, Any], expected: str) -> None:
    ev = run(**kwargs)
    assert status(ev, M.CURATIVE_RESECTION) == expected
    c = crit(ev, M.CURATIVE_RESECTION, "flr-adequate")
    if expected == R and kwargs.get("flr") is None:
        assert c["note"].startswith("FLR not required")
        assert bool(c.get("engineeringDefault")) is ("resection_extent" not in kwargs)


def test_b38_default_is_labelled_an_engineering_default_in_the_rules_data() -> None:
    t = CONFIG.threshold("resection.minor-max-lesion-cm")
    assert (t.value, t.rule, t.engineering_default) == (5.0, "B38", True)


# B39 — the number of metastases.

def test_b39_the_larger_count_wins_and_unknown_is_never_single() -> None:
    one_size_three_counted = dataclasses.replace(
        make_profile(lesions=(3.0,), flr=None), lesion_count=Fact(value=3, source="Observation/count"))
    ev = run(one_size_three_counted)
    assert status(ev, M.CURATIVE_RESECTION) == D  # three lesions: not the minor-resection default (B38)
    two_sizes_one_counted = dataclasses.replace(
        make_profile(lesions=(3.0, 2.0), frilling=None, flr=None),
        lesion_count=Fact(value=1, source="Observation/count"))
    assert status(run(two_sizes_one_counted), M.SIMULTANEOUS_RESECTION) != R
    unknown = dataclasses.replace(make_profile(lesions=(), frilling=None, primary_status=PrimaryStatus.IN_SITU),
                                  lesions=(LiverLesion(source="Observation/flag", near_hilum=False),))
    single = make_profile(lesions=(3.0,), frilling=None, primary_status=PrimaryStatus.IN_SITU)
    assert status(run(single), M.SIMULTANEOUS_RESECTION) == R  # one sized lesion: limited disease
    assert status(run(unknown), M.SIMULTANEOUS_RESECTION) == D  # a flag without a size is not "one lesion"


def test_b39_multiple_opens_embolization_and_frilling_ii_means_multiple() -> None:
    base = {"r0": None, "frilling": None, "flr": None, "ecog": 1}
    assert status(run(**base, lesions=(3.0,)), M.TAE) in (D, N)
    counted = dataclasses.replace(make_profile(**base, lesions=(3.0,)),
                                  lesion_count=Fact(value=2, source="Observation/count"))
    assert status(run(counted), M.TAE) == C
    assert status(run(**{**base, "frilling": FrillingType.II}, lesions=(3.0,)), M.TAE) == C


# B40 — functional syndromes from every code and morphology.

@pytest.mark.parametrize("kind", list(SyndromeKind))
def test_b40_any_syndrome_kind_is_functional(kind: SyndromeKind) -> None:
    syndrome = SyndromeFinding(kind=kind, state=ConditionState.ACTIVE, source="Condition/tumour", code="x|8152/3",
                               from_morphology=True)
    ev = run(dataclasses.replace(make_profile(**UNRESECTABLE, krenning=None), syndromes=(syndrome,)))
    assert status(ev, M.SOMATOSTATIN_ANALOGUE) == R  # symptom control of any functional syndrome (B23)
    plain = run(**UNRESECTABLE, krenning=None)
    assert status(plain, M.SOMATOSTATIN_ANALOGUE) == D  # non-functional needs SSTR imaging
    cyto = run(dataclasses.replace(make_profile(**UNRESECTABLE, debulk=80.0, burden_symptoms=True),
                                   syndromes=(syndrome,)))
    assert "non-functional" not in " ".join(c.label for c in cyto.result(M.CYTOREDUCTIVE_SURGERY).criteria)


def test_a_larger_lesion_on_stale_imaging_leaves_the_largest_unknown() -> None:
    # Found by the fail-safe property: an out-of-date 6 cm lesion must not let a fresh 4 cm one read as
    # "every lesion below 5 cm" (RFA would go from not-recommended to consider/recommended).
    fresh_only = make_profile(**UNFIT_SINGLE, lesions=(4.0,))
    old_big = dataclasses.replace(fresh_only, lesions=(
        *fresh_only.lesions, LiverLesion(source="Observation/old-big", size_cm=6.0, date=NOW - dt.timedelta(days=120))))
    both_fresh = make_profile(**UNFIT_SINGLE, lesions=(4.0, 6.0))
    assert status(run(fresh_only), M.RFA) == R
    assert status(run(both_fresh), M.RFA) == N
    assert status(run(old_big), M.RFA) == D


def test_b28_on_b35_an_unreadable_liver_test_blocks_hepatectomies_a_missing_one_does_not() -> None:
    # B28: the newest bilirubin could not be read -> what it could exclude (every hepatectomy, B16) is D;
    # a bilirubin that is simply not recorded stays no gap for a resection (A.6), as before.
    missing = make_profile(labs={LabKind.BILIRUBIN: None})
    unreadable = dataclasses.replace(missing, unreadable=(
        UnreadableResult(kind="bilirubin", source="Observation/bili-bad", reason="unit 'mg' unknown", date=RECENT),))
    assert status(run(missing), M.CURATIVE_RESECTION) == R
    ev = run(unreadable)
    assert status(ev, M.CURATIVE_RESECTION) == D
    assert any(g.element == "bilirubin" and M.CURATIVE_RESECTION in g.blocks for g in ev.data_gaps)
