"""Ingest of the codes behind PATHWAY.md B28 (text only), B31, B32, B37, B38 and B40, end to end to the statuses.

Each case is a FHIR record shaped as an EHR exports it; both sides of each rule are checked
(the code that triggers it and a neighbour that must not).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from nelm_fhir.ingest.clinical import PREGNANCY_MONTHS, text_topics
from nelm_fhir.model import Grade, ProcedureKind, SyndromeKind
from nelm_fhir.pathways import Modality, evaluate, load_config
from tests.ingest.builders import (
    FINDING,
    ICD10CM,
    ICD10PCS,
    ICDO3,
    LOINC,
    MCODE,
    SNOMED,
    baseline,
    cc,
    condition,
    finding,
    observation,
    primary,
    procedure,
    profile,
)

CPT = "http://www.ama-assn.org/go/cpt"
NOW = dt.date(2026, 11, 26)
CONFIG = load_config()
M = Modality
Json = dict[str, Any]


def statuses(*resources: Json) -> dict[Modality, str]:
    ev = evaluate(profile(*resources), now=NOW, config=CONFIG)
    return {r.modality: r.status.value for r in ev.results}


def text_condition(cid: str, text: str, **kw: Any) -> Json:
    return condition(cid, {"text": text}, **kw)


def text_procedure(pid: str, text: str, **kw: Any) -> Json:
    return procedure(pid, {"text": text}, **kw)


# B31 — CPT and ICD-10-PCS component resections; Z codes.

@pytest.mark.parametrize(("code", "kind"), [
    ("48150", ProcedureKind.WHIPPLE), ("48152", ProcedureKind.WHIPPLE), ("48153", ProcedureKind.WHIPPLE),
    ("48154", ProcedureKind.WHIPPLE), ("48155", ProcedureKind.WHIPPLE),
    ("47760", ProcedureKind.BILIO_ENTERIC_ANASTOMOSIS), ("47765", ProcedureKind.BILIO_ENTERIC_ANASTOMOSIS),
    ("47780", ProcedureKind.BILIO_ENTERIC_ANASTOMOSIS), ("47785", ProcedureKind.BILIO_ENTERIC_ANASTOMOSIS),
    ("47120", ProcedureKind.LIVER_RESECTION), ("47122", ProcedureKind.LIVER_RESECTION),
    ("47125", ProcedureKind.LIVER_RESECTION), ("47130", ProcedureKind.LIVER_RESECTION),
])
def test_b31_cpt_codes(code: str, kind: ProcedureKind) -> None:
    prof = profile(*baseline(), procedure("p", cc(CPT, code)))
    assert kind in {p.kind for p in prof.procedures}


def test_b31_cpt_whipple_contraindicates_ablation_and_embolization_and_a_neighbour_code_does_not() -> None:
    with_whipple = statuses(*baseline(), procedure("p", cc(CPT, "48150")))
    neighbour = profile(*baseline(), procedure("p", cc(CPT, "48146")))  # distal pancreatectomy: no anastomosis
    assert all(with_whipple[m] == "contraindicated" for m in (M.RFA, M.MWA, M.TAE, M.TACE))
    assert not {p.kind for p in neighbour.procedures} & {ProcedureKind.WHIPPLE, ProcedureKind.BILIO_ENTERIC_ANASTOMOSIS}


def test_b31_cpt_liver_resection_makes_a_later_nelm_recurrent() -> None:
    # B21: NELM first recorded after a liver resection (here CPT 47120 in 2023) is a recurrence.
    prof = profile(*baseline(), procedure("hx", cc(CPT, "47120"), date="2023-03-01"))
    assert prof.recurrent_nelm is not None and prof.recurrent_nelm.value is True


@pytest.mark.parametrize(("pancreas", "duodenum", "same_day", "whipple"), [
    ("0FBG0ZZ", "0DT90ZZ", True, True),
    ("0FTG0ZZ", "0DB90ZZ", True, True),
    ("0FBG4ZZ", "0DT94ZZ", True, True),   # laparoscopic components
    ("0FBG0ZZ", "0DT90ZZ", False, False),  # different days: two operations, not one Whipple
    ("0FBG0ZZ", None, True, False),       # pancreas alone (e.g. enucleation)
])
def test_b31_pcs_components_on_one_day(pancreas: str, duodenum: str | None, same_day: bool, whipple: bool) -> None:
    resources = [*baseline(), procedure("pan", cc(ICD10PCS, pancreas), date="2023-05-04")]
    if duodenum:
        resources.append(procedure("duo", cc(ICD10PCS, duodenum), date="2023-05-04" if same_day else "2023-09-01"))
    prof = profile(*resources)
    assert (ProcedureKind.WHIPPLE in {p.kind for p in prof.procedures}) is whipple
    assert (statuses(*resources)[M.TAE] == "contraindicated") is whipple


def test_b31_z_codes() -> None:
    total = profile(*baseline(), condition("z", cc(ICD10CM, "Z90.410")))
    assert ProcedureKind.BILIO_ENTERIC_ANASTOMOSIS in {p.kind for p in total.procedures}
    for code in ("Z98.0", "Z90.411"):
        prof = profile(*baseline(), condition("z", cc(ICD10CM, code)))
        assert [u.topic for u in prof.unconfirmed] == ["bilio-enteric-status"], code
        assert not {p.kind for p in prof.procedures} & {ProcedureKind.BILIO_ENTERIC_ANASTOMOSIS}
    ev = evaluate(profile(*baseline(), condition("z", cc(ICD10CM, "Z98.0"))), now=NOW, config=CONFIG)
    gap = next(g for g in ev.data_gaps if g.element == "bilioEntericAnastomosis")
    assert gap.why.startswith("confirm whether a bilio-enteric anastomosis exists") and gap.last_source == "Condition/z"


# B32 — pregnancy codes and the pregnancy-status Observation.

@pytest.mark.parametrize(("system", "code"), [
    (ICD10CM, "Z33.1"), (ICD10CM, "O09.90"), (ICD10CM, "O26.891"), (SNOMED, "77386006"), (SNOMED, "72892002"),
])
def test_b32_pregnancy_conditions(system: str, code: str) -> None:
    prof = profile(*baseline(), condition("preg", cc(system, code), onset="2026-09-01"))
    assert [r.source for r in prof.pregnancy] == ["Condition/preg"]
    assert statuses(*baseline(), condition("preg", cc(system, code), onset="2026-09-01"))[M.PRRT] == "contraindicated"


def test_b32_a_neighbouring_code_is_not_pregnancy() -> None:
    prof = profile(*baseline(), condition("x", cc(ICD10CM, "Z34.90"), onset="2026-09-01"))  # supervision: unmapped
    assert prof.pregnancy == ()
    assert profile(*baseline(), condition("n", cc(ICD10CM, "N18.3"))).pregnancy == ()


@pytest.mark.parametrize(("answer", "pregnant"), [
    (cc(LOINC, "LA15173-0"), True), (cc(SNOMED, "77386006"), True), (cc(LOINC, "LA26683-5"), False),
    (cc(SNOMED, "60001007"), False),
])
def test_b32_pregnancy_status_observation(answer: Json, pregnant: bool) -> None:
    obs = observation("ps", cc(LOINC, "82810-3"), category="social-history", valueCodeableConcept=answer,
                      effectiveDateTime="2026-11-20")
    prof = profile(*baseline(), obs)
    assert [r.pregnant for r in prof.pregnancy] == [pregnant]
    assert (statuses(*baseline(), obs)[M.PRRT] == "contraindicated") is pregnant


def test_b32_an_undated_pregnant_answer_is_to_confirm() -> None:
    obs = observation("ps", cc(LOINC, "82810-3"), category="social-history",
                      valueCodeableConcept=cc(LOINC, "LA15173-0"))
    obs.pop("effectiveDateTime", None)
    prof = profile(*baseline(), obs)
    assert prof.pregnancy == () and [u.topic for u in prof.unconfirmed] == ["pregnancy"]
    assert statuses(*baseline(), obs)[M.PRRT] == "insufficient-data"


def test_b32_unknown_answer_is_neither() -> None:
    obs = observation("ps", cc(LOINC, "82810-3"), category="social-history",
                      valueCodeableConcept=cc(LOINC, "LA4489-6"), effectiveDateTime="2026-11-20")
    assert profile(*baseline(), obs).pregnancy == ()


# B28 (text part) — conservative matcher: positives and negatives.

@pytest.mark.parametrize(("text", "topics"), [
    ("Whipple procedure 2019", ["bilio-enteric"]),
    ("Pylorus-preserving pancreaticoduodenectomy", ["bilio-enteric"]),
    ("Roux-en-Y hepaticojejunostomy", ["bilio-enteric"]),
    ("Choledochojejunostomy", ["bilio-enteric"]),
    ("Portal vein thrombosis", ["portal-vein-thrombosis"]),
    ("Thrombosis of the main portal vein", ["portal-vein-thrombosis"]),
    ("Hepatic failure", ["hepatic-failure"]),
    ("Decompensated cirrhosis", ["hepatic-failure"]),
    ("Pregnant, second trimester", ["pregnancy"]),
    ("Metastases to bone", ["extrahepatic"]),
    ("Peritoneal carcinomatosis", ["extrahepatic"]),
    ("Lung metastasis", ["extrahepatic"]),
    ("Secondary malignant neoplasm of bone", ["extrahepatic"]),
    ("Skin rash secondary to octreotide", []),
    ("Secondary infection of skin", []),
    ("Bone pain, spread throughout", []),
    # negatives: negated, past, unrelated or liver-only
    ("No portal vein thrombosis", []),
    ("Portal vein thrombosis ruled out", []),
    ("Pregnancy test negative", []),
    ("History of pregnancy", []),
    ("Liver metastases", []),
    ("Biliary stent", []),
    ("Whippet bite", []),
    ("Bone density scan", []),
    ("Hepatic steatosis", []),
    ("Non-pregnant", []),
])
def test_b28_text_topics(text: str, topics: list[str]) -> None:
    assert text_topics(text) == topics


def test_b28_text_only_condition_and_procedure_reach_the_profile_with_a_problem() -> None:
    prof = profile(*baseline(), text_condition("pvt", "Portal vein thrombosis"),
                   text_procedure("whip", "Whipple 2019"))
    topics = {(u.topic, u.source) for u in prof.unconfirmed}
    assert topics == {("portal-vein-thrombosis", "Condition/pvt"), ("bilio-enteric", "Procedure/whip")}
    assert any(p.path == "Condition/pvt.code" and "coded only by text" in p.message for p in prof.problems)
    ev = evaluate(prof, now=NOW, config=CONFIG)
    assert ev.result(M.TAE).status.value == "insufficient-data"
    assert any(g.why.startswith("confirm: Portal vein thrombosis") for g in ev.data_gaps)


@pytest.mark.parametrize("resource", [
    text_condition("pvt", "Portal vein thrombosis", clinical="resolved"),
    text_condition("pvt", "Portal vein thrombosis", verification="refuted"),
    text_condition("pvt", "Portal vein thrombosis", onset="2027-01-01"),  # after the evaluation date
    text_procedure("whip", "Whipple", status="not-done"),
    condition("pvt", {**cc(ICD10CM, "I81"), "text": "Portal vein thrombosis"}),  # coded: the code decides
])
def test_b28_what_is_not_a_text_only_record(resource: Json) -> None:
    assert profile(*baseline(), resource).unconfirmed == ()


def test_b28_a_local_code_the_product_does_not_know_leaves_the_text_to_decide() -> None:
    local = {"coding": [{"system": "urn:oid:1.2.3.4", "code": "PVT-77", "display": "Pfortaderthrombose"}],
             "text": "Portal vein thrombosis"}
    assert [u.topic for u in profile(*baseline(), condition("loc", local)).unconfirmed] == ["portal-vein-thrombosis"]


def test_b28_text_pregnancy_uses_the_b32_window() -> None:
    recent = profile(*baseline(), text_condition("p", "Pregnant", onset="2026-03-01"))
    old = profile(*baseline(), text_condition("p", "Ectopic pregnancy", onset="2010-03-01"))
    assert [u.topic for u in recent.unconfirmed] == ["pregnancy"] and old.unconfirmed == ()
    assert CONFIG.value("pregnancy.condition-months") == PREGNANCY_MONTHS  # one window for coded and text


def test_b28_a_resolved_whipple_note_still_counts() -> None:
    # An anastomosis does not resolve: "Status post Whipple" marked resolved is still one to confirm.
    prof = profile(*baseline(), text_condition("sp", "Status post Whipple", clinical="resolved"))
    assert [u.topic for u in prof.unconfirmed] == ["bilio-enteric"]


# B37 / B38 local findings; B37 from the mCODE histology extension.

@pytest.mark.parametrize(("value", "grade"), [
    (cc(FINDING, "G2"), Grade.G2), (cc(SNOMED, "1286772002"), Grade.G3), (cc(SNOMED, "1155708003"), Grade.G1)])
def test_b37_who_grade_finding(value: Json, grade: Grade) -> None:
    prof = profile(*baseline(), finding("wg", "who-grade", valueCodeableConcept=value))
    assert prof.stated_grade is not None and prof.stated_grade.value is grade


def test_b37_who_grade_finding_with_an_unknown_value_is_a_problem() -> None:
    prof = profile(*baseline(), finding("wg", "who-grade", valueCodeableConcept=cc(FINDING, "G4")))
    assert prof.stated_grade is None and any(p.path.startswith("Observation/wg") for p in prof.problems)


def test_b37_histology_extension_with_a_grade_concept() -> None:
    ext = [{"url": f"{MCODE}/mcode-histology-morphology-behavior", "valueCodeableConcept": cc(SNOMED, "1286770005")}]
    resources = [r for r in baseline() if r["id"] != "primary"]
    prof = profile(*resources, primary(extension=ext))
    assert prof.stated_grade is not None and prof.stated_grade.value is Grade.G2


@pytest.mark.parametrize(("code", "extent"), [("major", "major"), ("minor", "minor")])
def test_b38_resection_extent_finding(code: str, extent: str) -> None:
    prof = profile(*baseline(), finding("ext", "resection-extent", valueCodeableConcept=cc(FINDING, code)))
    assert prof.resection_extent is not None and prof.resection_extent.value == extent


# B40 — syndromes from every code and from morphology.

@pytest.mark.parametrize(("system", "code", "kind"), [
    (ICD10CM, "E16.3", SyndromeKind.GLUCAGONOMA), (ICD10CM, "E24.3", SyndromeKind.ECTOPIC_ACTH),
    (ICD10CM, "E16.1", SyndromeKind.INSULINOMA), (ICD10CM, "E16.4", SyndromeKind.GASTRINOMA),
    (ICD10CM, "E34.00", SyndromeKind.CARCINOID),
])
def test_b40_syndrome_conditions(system: str, code: str, kind: SyndromeKind) -> None:
    prof = profile(*baseline(), condition("syn", cc(system, code)))
    assert [(s.kind, s.from_morphology) for s in prof.syndromes] == [(kind, False)]


@pytest.mark.parametrize(("code", "kind"), [
    ("8151/3", SyndromeKind.INSULINOMA), ("8152/3", SyndromeKind.GLUCAGONOMA), ("8153/3", SyndromeKind.GASTRINOMA),
    ("8155/3", SyndromeKind.VIPOMA), ("8156/3", SyndromeKind.SOMATOSTATINOMA),
])
def test_b40_syndrome_from_morphology(code: str, kind: SyndromeKind) -> None:
    ext = [{"url": f"{MCODE}/mcode-histology-morphology-behavior", "valueCodeableConcept": cc(ICDO3, code)}]
    resources = [r for r in baseline() if r["id"] != "primary"]
    prof = profile(*resources, primary(extension=ext))
    assert [(s.kind, s.from_morphology) for s in prof.syndromes] == [(kind, True)]
    ev = evaluate(prof, now=NOW, config=CONFIG)
    assert ev.result(M.SOMATOSTATIN_ANALOGUE).status.value == "recommended"  # symptom control (B23)
    note = next(c.note for c in ev.result(M.SOMATOSTATIN_ANALOGUE).criteria if c.id == "functional-syndrome")
    assert note == f"{kind.value.replace('-', ' ')} (from morphology)"


def test_b40_a_plain_net_morphology_is_not_a_syndrome() -> None:
    ext = [{"url": f"{MCODE}/mcode-histology-morphology-behavior", "valueCodeableConcept": cc(ICDO3, "8240/3")}]
    resources = [r for r in baseline() if r["id"] != "primary"]
    assert profile(*resources, primary(extension=ext)).syndromes == ()


def test_b28_malformed_codings_never_raise() -> None:
    # Found by the ingest property test: a non-list "coding" must not break the text reader.
    prof = profile(*baseline(), condition("bad", {"coding": 3.5, "text": "Whipple"}),
                   procedure("bad2", {"coding": [None, "x"], "text": "Hepaticojejunostomy"}))
    assert {u.topic for u in prof.unconfirmed} == {"bilio-enteric"}
