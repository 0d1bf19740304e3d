"""B27-B29 and B33, one form or edge at a time: how a result is written never changes what it says.

Ingest-level tests read a small record; engine-level tests change one resource of a public
vignette (V24: PRRT with eGFR 45, V01: ideal resection) and check the decision and its gap.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import pytest

from nelm_fhir.ingest import ingest
from nelm_fhir.ingest.explain import explain_record, render_explanation
from nelm_fhir.model import Grade, LabKind
from nelm_fhir.model.renal import ckd_epi_2021
from nelm_fhir.pathways import Modality, Status, evaluate, load_config
from tests.ingest.builders import LOINC, UCUM, cc, ki67, lab, observation, patient, problems_at, profile, quantity

VIGNETTES = Path(__file__).resolve().parents[1] / "vignettes"
NOW = dt.date(2026, 11, 26)
CONFIG = load_config()


def _ki67_text(text: str) -> Any:
    obs = ki67("k", 0.0)
    del obs["valueQuantity"]
    obs["valueString"] = text
    return profile(obs)


# --- valueString ---------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "value"), [("22 %", 22.0), ("22%", 22.0), ("22", 22.0), (" 2,5 % ", 2.5)])
def test_ki67_as_text_with_or_without_unit(text: str, value: float) -> None:
    prof = _ki67_text(text)
    assert [r.value for r in prof.ki67] == [value]
    assert not [p for p in prof.problems if p.severity == "error"]


def test_lab_as_text_with_unit_and_without_unit() -> None:
    with_unit = observation("b", cc(LOINC, "1975-2"), valueString="0.6 mg/dL")
    bare = observation("a", cc(LOINC, "1751-7"), valueString="4.1")  # albumin 4.1 of what? never guessed
    prof = profile(with_unit, bare)
    assert [(lab.kind, lab.value, lab.unit) for lab in prof.labs] == [(LabKind.BILIRUBIN, 0.6, "mg/dL")]
    assert problems_at(prof, "Observation/a.valueString")
    assert [(u.kind, u.source) for u in prof.unreadable] == [("albumin", "Observation/a")]


def test_text_that_is_not_a_number_is_unreadable_not_absent() -> None:
    prof = _ki67_text("see pathology report")
    assert prof.ki67 == () and prof.grade is None
    assert [u.kind for u in prof.unreadable] == ["ki67"]
    assert problems_at(prof, "Observation/k.valueString")


# --- comparators at the G2/G3 boundary and thresholds -------------------------------------------


@pytest.mark.parametrize(
    ("text", "grade", "comparator"),
    [
        ("> 20 %", Grade.G3, ">"),
        ("<= 20 %", Grade.G2, "<="),
        ("< 20 %", Grade.G2, "<"),
        ("> 25", Grade.G3, ">"),
        ("<3%", Grade.G1, "<"),
        ("≤ 2 %", Grade.G1, "<="),
    ],
)
def test_comparator_decides_at_the_grade_boundary(text: str, grade: Grade, comparator: str) -> None:
    prof = _ki67_text(text)
    assert prof.grade is not None and prof.grade.grade is grade
    assert [r.comparator for r in prof.ki67] == [comparator]
    assert [p.severity for p in prof.problems] == ["warning"]  # read as the bound, and said so


@pytest.mark.parametrize("text", [">= 20 %", "> 15 %", "≥ 3 %"])
def test_a_bound_that_spans_two_grades_is_unreadable(text: str) -> None:
    prof = _ki67_text(text)
    assert prof.ki67 == () and [u.kind for u in prof.unreadable] == ["ki67"]


def test_strict_bound_lies_just_inside_its_interval() -> None:
    obs = lab("e", "98979-8", 30, "mL/min/{1.73_m2}")
    obs["valueQuantity"]["comparator"] = "<"
    [egfr] = profile(obs).labs
    assert egfr.comparator == "<" and egfr.value < 30 and math.isclose(egfr.value, 30)


# --- valueRange: the worse end decides --------------------------------------------------------


def _range(low: float | None, high: float | None, unit: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if low is not None:
        out["low"] = quantity(low, unit)
    if high is not None:
        out["high"] = quantity(high, unit)
    return out


def test_range_worse_end_decides() -> None:
    k = ki67("k", 0.0)
    del k["valueQuantity"]
    k["valueRange"] = _range(15, 25, "%")
    egfr = observation("e", cc(LOINC, "98979-8"), valueRange=_range(25, 40, "mL/min/{1.73_m2}"))
    bili = observation("b", cc(LOINC, "1975-2"), valueRange=_range(2.0, 3.5, "mg/dL"))
    prof = profile(k, egfr, bili)
    assert prof.grade is not None and prof.grade.grade is Grade.G3  # 25 %, not 15 %
    assert {lab.kind: lab.value for lab in prof.labs} == {LabKind.EGFR: 25.0, LabKind.BILIRUBIN: 3.5}


def test_range_open_on_the_worse_side_is_a_bound() -> None:
    egfr = observation("e", cc(LOINC, "98979-8"), valueRange=_range(None, 60, "mL/min/{1.73_m2}"))
    [reading] = profile(egfr).labs
    assert (reading.value, reading.comparator) == (60.0, "<=")


# --- molar and mass units ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loinc", "value", "unit", "kind", "expected"),
    [
        ("14631-6", 51.3, "umol/L", LabKind.BILIRUBIN, 3.0),
        ("14631-6", 17.1, "µmol/L", LabKind.BILIRUBIN, 1.0),
        ("14682-9", 88.4, "umol/L", LabKind.CREATININE, 1.0),
        ("2160-0", 1.2, "mg/dL", LabKind.CREATININE, 1.2),
        ("1751-7", 30, "g/L", LabKind.ALBUMIN, 3.0),
        ("59260-0", 5.0, "mmol/L", LabKind.HAEMOGLOBIN, 8.055),
    ],
)
def test_molar_and_mass_units_of_one_analyte(
    loinc: str, value: float, unit: str, kind: LabKind, expected: float
) -> None:
    [result] = profile(lab("x", loinc, value, unit)).labs
    assert result.kind is kind and math.isclose(result.value, expected, rel_tol=1e-6)


# --- dates: effectiveDateTime, else end of effectivePeriod, else issued; undated --------------------


def test_period_end_then_issued_then_undated() -> None:
    period = lab("p", "1975-2", 0.6, "mg/dL")
    del period["effectiveDateTime"]
    period["effectivePeriod"] = {"start": "2026-01-01", "end": "2026-11-20T10:00:00Z"}
    issued = lab("i", "1751-7", 4.1, "g/dL")
    del issued["effectiveDateTime"]
    issued["issued"] = "2026-11-21T08:00:00Z"
    undated = lab("u", "6301-6", 1.0, "{INR}")
    del undated["effectiveDateTime"]
    prof = profile(period, issued, undated)
    assert {lab.source: lab.date for lab in prof.labs} == {
        "Observation/p": dt.date(2026, 11, 20),
        "Observation/i": dt.date(2026, 11, 21),
        "Observation/u": None,
    }
    [warning] = problems_at(prof, "Observation/u")
    assert warning.severity == "warning" and "B29" in warning.message


# --- panels, synoptic reports and DiagnosticReports ------------------------------------------------


def test_blood_count_panel_components_are_read_as_single_results_b33() -> None:
    panel = observation(
        "cbc",
        cc(LOINC, "58410-2"),
        component=[
            {"code": cc(LOINC, "718-7"), "valueQuantity": quantity(7.9, "g/dL")},
            {"code": cc(LOINC, "777-3"), "valueQuantity": quantity(74, "10*9/L")},
            {"code": cc(LOINC, "6690-2"), "valueQuantity": quantity(3, "furlong")},
            {"code": cc(LOINC, "1742-6"), "valueQuantity": quantity(30, "U/L")},  # ALT: known, not read
        ],
    )
    prof = profile(panel)
    assert {lab.kind: lab.value for lab in prof.labs} == {LabKind.HAEMOGLOBIN: 7.9, LabKind.PLATELETS: 74.0}
    assert {(u.kind, u.source) for u in prof.unreadable} == {("leukocytes", "Observation/cbc")}
    assert problems_at(prof, "Observation/cbc.component[2]")


def test_diagnostic_report_contained_and_referenced_results_conclusion_code() -> None:
    inner = ki67("k1", 12.0)
    del inner["effectiveDateTime"], inner["subject"]
    outside = lab("bili", "1975-2", 0.6, "mg/dL")
    del outside["effectiveDateTime"]
    report = {
        "resourceType": "DiagnosticReport",
        "id": "path-1",
        "status": "final",
        "code": cc(LOINC, "60568-3"),
        "subject": {"reference": "Patient/p1"},
        "effectivePeriod": {"start": "2026-10-01", "end": "2026-10-03"},
        "contained": [inner],
        "result": [{"reference": "#k1"}, {"reference": "Observation/bili"}],
        "conclusionCode": [cc("http://terminology.hl7.org/CodeSystem/icd-o-3", "8246/3")],
    }
    prof = profile(report, outside)
    [k] = prof.ki67
    assert (k.value, k.source, k.date) == (12.0, "DiagnosticReport/path-1#k1", dt.date(2026, 10, 3))
    assert [(lab.source, lab.date) for lab in prof.labs] == [("Observation/bili", dt.date(2026, 10, 3))]
    assert prof.differentiation is not None and prof.differentiation.value.value == "poor"


# --- B28 and B29 through the engine ------------------------------------------------------------------


def _vignette(vid: str) -> dict[str, Any]:
    return json.loads((VIGNETTES / f"{vid}.json").read_text(encoding="utf-8"))


def _resource(bundle: dict[str, Any], rid: str) -> dict[str, Any]:
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["id"] == rid)


def _run(bundle: dict[str, Any]) -> Any:
    return evaluate(ingest(bundle, as_of=NOW), now=NOW, config=CONFIG)


def _newer_copy(bundle: dict[str, Any], rid: str, new_id: str, **changes: Any) -> dict[str, Any]:
    copy_ = copy.deepcopy(_resource(bundle, rid))
    copy_.update(id=new_id, effectiveDateTime=NOW.isoformat(), **changes)
    bundle["entry"].append({"fullUrl": f"urn:uuid:{new_id}", "resource": copy_})
    return copy_


def test_unreadable_newest_egfr_never_lets_the_older_one_decide_b28() -> None:
    bundle = _vignette("V24")
    assert _run(bundle).result(Modality.PRRT).status is Status.CONSIDER  # eGFR 45, CrCl 47
    for rid in ("v24-lab-98979-8", "v24-lab-35591-7"):
        _resource(bundle, rid)["valueQuantity"]["value"] = 80.0  # the older results look fine
        _newer_copy(bundle, rid, f"{rid}-new", valueQuantity={"value": 2.1, "unit": "furlong"})
    ev = _run(bundle)
    assert ev.result(Modality.PRRT).status is Status.INSUFFICIENT_DATA
    gap = next(g for g in ev.data_gaps if g.element == "renalFunction")
    assert "could not be read" in gap.why and gap.last_source in {
        "Observation/v24-lab-98979-8-new",
        "Observation/v24-lab-35591-7-new",
    }
    assert any(p.startswith("Observation/v24-lab-98979-8-new") for p in ev.problems)


def test_unreadable_older_result_does_not_block_a_newer_readable_one() -> None:
    bundle = _vignette("V24")
    old = _resource(bundle, "v24-lab-98979-8")
    old["valueQuantity"]["unit"] = old["valueQuantity"]["code"] = "furlong"
    old["effectiveDateTime"] = "2026-10-01"
    assert _run(bundle).result(Modality.PRRT).status is Status.CONSIDER  # CrCl 47 of 2026-11-16 decides


def test_unreadable_ki67_blocks_grading_unless_readable_data_is_already_g3() -> None:
    low = _vignette("V01")
    _newer_copy(low, "v01-ki67", "v01-ki67-new", valueString="not assessable")
    ev = _run(low)
    assert ev.result(Modality.CURATIVE_RESECTION).status is Status.INSUFFICIENT_DATA
    assert "ki67Percent" in {g.element for g in ev.data_gaps}
    high = _vignette("V06")  # Ki-67 21 %: G3 already, the worst case
    _newer_copy(high, "v06-ki67", "v06-ki67-new", valueString="not assessable")
    assert _run(high).result(Modality.ALPPS).status is Status.CONTRAINDICATED


@pytest.mark.parametrize(
    ("egfr", "status"),
    [("< 30", Status.CONTRAINDICATED), ("< 45", Status.INSUFFICIENT_DATA), ("> 60", Status.CONSIDER)],
)
def test_egfr_bound_decides_only_beyond_the_threshold(egfr: str, status: Status) -> None:
    bundle = _vignette("V24")
    for rid in ("v24-lab-98979-8", "v24-lab-35591-7"):
        obs = _resource(bundle, rid)
        obs["valueString"] = egfr + " mL/min/{1.73_m2}" if rid.endswith("98979-8") else egfr + " mL/min"
        del obs["valueQuantity"]
    # "> 60" both: adequate renal function; PRRT is then C for the stable/other reasons of V24 (or R)
    got = _run(bundle).result(Modality.PRRT).status
    assert got is status or (egfr == "> 60" and got in {Status.RECOMMENDED, Status.CONSIDER})


def test_undated_result_is_stale_and_named_in_the_gaps_b29() -> None:
    bundle = _vignette("V24")
    for rid in ("v24-lab-98979-8", "v24-lab-35591-7"):
        del _resource(bundle, rid)["effectiveDateTime"]
    ev = _run(bundle)
    assert ev.result(Modality.PRRT).status is Status.INSUFFICIENT_DATA
    gap = next(g for g in ev.data_gaps if g.element == "renalFunction")
    assert gap.stale and "no date" in gap.why and "B29" in gap.why


def test_dated_result_on_either_side_of_the_undated_case() -> None:
    bundle = _vignette("V24")
    assert "renalFunction" not in {g.element for g in _run(bundle).data_gaps}


# --- B33: eGFR from creatinine ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("creatinine", "age", "sex", "expected"),
    [
        (1.2, 55, "male", 71),  # kidney.org CKD-EPI 2021 calculator example: 71 mL/min/1.73 m²
        (1.0, 50, "male", 92),  # 142 × (1/0.9)^-1.2 × 0.9938^50 = 91.7
        (0.7, 40, "female", 112),  # at κ: 142 × 0.9938^40 × 1.012 = 111.7
        (2.0, 70, "female", 26),  # 142 × (2/0.7)^-1.2 × 0.9938^70 × 1.012 = 26.0
    ],
)
def test_ckd_epi_2021_against_worked_values(creatinine: float, age: int, sex: str, expected: int) -> None:
    value = ckd_epi_2021(creatinine, age, sex)
    assert value is not None and round(value) == expected


def test_ckd_epi_needs_adult_age_and_a_sex_with_a_coefficient() -> None:
    assert ckd_epi_2021(1.0, 17, "male") is None
    assert ckd_epi_2021(1.0, 50, "unknown") is None


def _without_renal(bundle: dict[str, Any]) -> dict[str, Any]:
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["id"] not in {"v24-lab-98979-8", "v24-lab-35591-7"}]
    return bundle


def test_egfr_is_computed_from_a_current_creatinine_b33() -> None:
    bundle = _without_renal(_vignette("V24"))
    assert _run(bundle).result(Modality.PRRT).status is Status.INSUFFICIENT_DATA
    bundle["entry"].append(
        {"resource": lab("v24-creat", "14682-9", 250, "umol/L", date="2026-11-20", subject="Patient/v24")}
    )
    ev = _run(bundle)
    prrt = ev.result(Modality.PRRT)
    assert prrt.status is Status.CONTRAINDICATED  # creatinine 2.83 mg/dL at 64: eGFR about 24
    renal = next(c for c in prrt.criteria if c.id == "renal-function-not-severe")
    assert "computed from creatinine" in (renal.note or "") and renal.sources == ("Observation/v24-creat",)


def test_a_current_measured_egfr_wins_over_creatinine() -> None:
    bundle = _vignette("V24")
    bundle["entry"].append(
        {"resource": lab("v24-creat", "2160-0", 3.0, "mg/dL", date="2026-11-20", subject="Patient/v24")}
    )
    prrt = _run(bundle).result(Modality.PRRT)
    assert prrt.status is Status.CONSIDER
    assert not any("computed" in (c.note or "") for c in prrt.criteria)


# --- explain -------------------------------------------------------------------------------------------


def test_explain_names_every_resource_and_why() -> None:
    older = lab("bili-old", "1975-2", 0.5, "mg/dL", date="2026-10-01")
    bad = lab("bili-bad", "1751-7", 4.1, "furlong")
    other = observation("bp", cc(LOINC, "85354-9"), valueQuantity=quantity(120, "mm[Hg]"))
    data_ = [patient(), lab("bili", "1975-2", 0.6, "mg/dL"), older, bad, other]
    from tests.ingest.builders import bundle

    record = bundle(*data_)
    prof = ingest(record, as_of=NOW)
    uses = {u.reference: u for u in explain_record(record, prof)}
    assert len(uses) == 5
    assert uses["Observation/bili"].use == "used" and "bilirubin 0.6" in uses["Observation/bili"].why
    assert uses["Observation/bili-old"].use == "superseded" and "Observation/bili" in uses["Observation/bili-old"].why
    assert uses["Observation/bili-bad"].use == "unreadable" and uses["Observation/bili-bad"].problems
    newer_bad = lab("bili-newer-bad", "1975-2", 0.7, "furlong", date="2026-11-20")
    record = bundle(*data_, newer_bad)
    uses = {u.reference: u for u in explain_record(record, ingest(record, as_of=NOW))}
    assert uses["Observation/bili"].use == "superseded" and "could not be read" in uses["Observation/bili"].why
    assert uses["Observation/bp"].use == "ignored"
    assert uses["Patient/p1"].use == "used"
    table = render_explanation(list(uses.values()))
    assert "HOW THE RECORD WAS READ" in table and "Observation/bili-bad" in table


def test_explain_is_ucum_free_where_it_says_why_a_record_was_ignored() -> None:
    record = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "resource": {
                    "resourceType": "Observation",
                    "id": "x",
                    "status": "final",
                    "code": cc(UCUM, "x"),
                    "valueQuantity": quantity(1, "1"),
                }
            }
        ],
    }
    [use] = explain_record(record, ingest(record, as_of=NOW))
    assert use.use == "ignored" and "not a code the pathway uses" in use.why
