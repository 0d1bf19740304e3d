"""Observations: labs with unit conversion, Ki-67, ECOG/Karnofsky, TumorSize, disease status, local findings."""

from __future__ import annotations

import datetime as dt

import pytest

from nelm_fhir.model import (
    Differentiation,
    DiseaseTrend,
    FrillingType,
    LabKind,
    PrimaryStatus,
    SpecimenSite,
)
from tests.ingest.builders import (
    FINDING,
    LOINC,
    SNOMED,
    cc,
    finding,
    ki67,
    lab,
    observation,
    problems_at,
    profile,
    quantity,
    specimen,
    tumour_size,
)

# (LOINC, value, unit as sent, kind, canonical value, canonical unit)
LAB_TABLE = [
    ("1975-2", 0.6, "mg/dL", LabKind.BILIRUBIN, 0.6, "mg/dL"),
    ("1975-2", 51.3, "umol/L", LabKind.BILIRUBIN, 3.0, "mg/dL"),
    ("1975-2", 17.1, "µmol/L", LabKind.BILIRUBIN, 1.0, "mg/dL"),
    ("1751-7", 4.1, "g/dL", LabKind.ALBUMIN, 4.1, "g/dL"),
    ("1751-7", 30, "g/L", LabKind.ALBUMIN, 3.0, "g/dL"),
    ("718-7", 13.5, "g/dL", LabKind.HAEMOGLOBIN, 13.5, "g/dL"),
    ("718-7", 80, "g/L", LabKind.HAEMOGLOBIN, 8.0, "g/dL"),
    ("718-7", 5.0, "mmol/L", LabKind.HAEMOGLOBIN, 8.055, "g/dL"),
    ("777-3", 250, "10*9/L", LabKind.PLATELETS, 250.0, "10*9/L"),
    ("777-3", 75, "10*3/uL", LabKind.PLATELETS, 75.0, "10*9/L"),
    ("26515-7", 74000, "/uL", LabKind.PLATELETS, 74.0, "10*9/L"),
    ("6690-2", 6.5, "10*9/L", LabKind.LEUKOCYTES, 6.5, "10*9/L"),
    ("6690-2", 1.9, "10*3/uL", LabKind.LEUKOCYTES, 1.9, "10*9/L"),
    ("26464-8", 2000, "/uL", LabKind.LEUKOCYTES, 2.0, "10*9/L"),
    ("751-8", 3.9, "10*3/uL", LabKind.NEUTROPHILS, 3.9, "10*9/L"),
    ("98979-8", 85, "mL/min/{1.73_m2}", LabKind.EGFR, 85.0, "mL/min/{1.73_m2}"),
    ("62238-1", 49, "mL/min/1.73m2", LabKind.EGFR, 49.0, "mL/min/{1.73_m2}"),
    ("33914-3", 29, "mL/min/1.73 m2", LabKind.EGFR, 29.0, "mL/min/{1.73_m2}"),
    ("2164-2", 50, "mL/min", LabKind.CRCL, 50.0, "mL/min"),
    ("35591-7", 47, "mL/min", LabKind.CRCL, 47.0, "mL/min"),
    ("2160-0", 88.4, "umol/L", LabKind.CREATININE, 1.0, "mg/dL"),
    ("6301-6", 1.6, "{INR}", LabKind.INR, 1.6, "{INR}"),
    ("34714-6", 1.5, "1", LabKind.INR, 1.5, "{INR}"),
    ("9811-1", 120, "ng/mL", LabKind.CHROMOGRANIN_A, 120.0, "ng/mL"),
    ("9811-1", 120, "ug/L", LabKind.CHROMOGRANIN_A, 120.0, "ng/mL"),
    ("25587-7", 3.1, "nmol/L", LabKind.CHROMOGRANIN_A, 3.1, "nmol/L"),
    ("1695-6", 450, "mg/(24.h)", LabKind.HIAA_5, 450.0, "mg/(24.h)"),
    ("1695-6", 450, "mg/24h", LabKind.HIAA_5, 450.0, "mg/(24.h)"),
    ("14573-0", 2300, "umol/(24.h)", LabKind.HIAA_5, 2300.0, "umol/(24.h)"),
]


@pytest.mark.parametrize(("loinc", "value", "unit", "kind", "expected", "canonical"), LAB_TABLE)
def test_labs_are_converted_to_the_canonical_unit(
    loinc: str, value: float, unit: str, kind: LabKind, expected: float, canonical: str
) -> None:
    prof = profile(lab("l1", loinc, value, unit))
    assert prof.problems == ()
    result = prof.latest_lab(kind)
    assert result is not None
    assert result.value == pytest.approx(expected)
    assert (result.unit, result.source, result.loinc, result.date) == (
        canonical,
        "Observation/l1",
        loinc,
        dt.date(2026, 11, 1),
    )


def test_unit_given_only_as_display_text_is_used() -> None:
    obs = lab("l1", "1975-2", 34.2, "umol/L")
    obs["valueQuantity"] = {"value": 34.2, "unit": "µmol/L"}
    prof = profile(obs)
    bilirubin = prof.latest_lab(LabKind.BILIRUBIN)
    assert bilirubin is not None and bilirubin.value == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("loinc", "unit"),
    [("1975-2", "mmol/L"), ("718-7", "%"), ("98979-8", "mL/min"), ("777-3", "10*6/L"), ("1751-7", "mg/dL")],
)
def test_an_unknown_unit_is_a_problem_on_that_fact_never_a_guess(loinc: str, unit: str) -> None:
    prof = profile(lab("bad", loinc, 3.0, unit), lab("good", "718-7", 12.0, "g/dL"))
    assert [lab.source for lab in prof.labs] == ["Observation/good"]
    [problem] = prof.problems
    assert problem.path == "Observation/bad.valueQuantity.code"
    assert unit in problem.message and problem.severity == "error"


def test_a_lab_without_unit_or_value_is_a_problem() -> None:
    no_unit = lab("nounit", "1975-2", 1.0, "mg/dL")
    no_unit["valueQuantity"] = {"value": 1.0}
    absent = observation("absent", cc(LOINC, "718-7"), dataAbsentReason=cc("http://x", "not-performed"))
    prof = profile(no_unit, absent)
    assert prof.labs == ()
    paths = {p.path: p for p in prof.problems}
    assert "no unit" in paths["Observation/nounit.valueQuantity.unit"].message
    assert paths["Observation/absent.dataAbsentReason"].severity == "warning"


def test_an_invalid_observation_is_reported_with_its_fhir_path_and_the_rest_is_used() -> None:
    broken = lab("broken", "718-7", 13.0, "g/dL")
    broken["valueQuantity"]["value"] = "thirteen"
    wrong_date = lab("baddate", "1975-2", 1.0, "mg/dL", date="2026-13-01")
    prof = profile(broken, wrong_date, lab("ok", "1751-7", 4.0, "g/dL"))
    assert [x.kind for x in prof.labs] == [LabKind.ALBUMIN]
    paths = {p.path for p in prof.problems}
    assert "Observation/broken.valueQuantity.value" in paths
    assert "Observation/baddate.effectiveDateTime" in paths


# status -> kept when alone?
STATUS_TABLE = [
    ("final", True),
    ("amended", True),
    ("corrected", True),
    ("preliminary", True),
    ("registered", True),
    ("cancelled", False),
    ("entered-in-error", False),
]


@pytest.mark.parametrize(("status", "kept"), STATUS_TABLE)
def test_observation_status_alone(status: str, kept: bool) -> None:
    prof = profile(lab("x", "718-7", 9.0, "g/dL", status=status))
    assert (prof.latest_lab(LabKind.HAEMOGLOBIN) is not None) is kept


@pytest.mark.parametrize("status", ["preliminary", "registered"])
def test_preliminary_results_are_ignored_when_a_final_one_exists(status: str) -> None:
    prof = profile(
        lab("prelim", "718-7", 7.0, "g/dL", status=status, date="2026-11-20"),
        lab("final", "718-7", 13.0, "g/dL", date="2026-11-01"),
        lab("other-prelim", "1975-2", 1.0, "mg/dL", status=status),
    )
    assert [x.source for x in prof.labs] == ["Observation/other-prelim", "Observation/final"]


def test_labs_are_newest_first_within_each_kind() -> None:
    prof = profile(
        lab("old", "718-7", 10.0, "g/dL", date="2026-01-01"),
        lab("new", "718-7", 12.0, "g/dL", date="2026-11-01"),
        lab("mid", "718-7", 11.0, "g/dL", date="2026-06-01"),
    )
    assert [x.source for x in prof.labs] == ["Observation/new", "Observation/mid", "Observation/old"]
    latest = prof.latest_lab(LabKind.HAEMOGLOBIN)
    assert latest is not None and latest.source == "Observation/new"


# --- Ki-67 -----------------------------------------------------------------------------------

KI67_SPECIMEN_TABLE = [
    ("10200004", SpecimenSite.LIVER),  # liver
    ("15776009", SpecimenSite.PRIMARY),  # pancreas
    ("34516001", SpecimenSite.PRIMARY),  # ileum
    ("272673000", SpecimenSite.OTHER),  # bone
]


@pytest.mark.parametrize(("site", "expected"), KI67_SPECIMEN_TABLE)
def test_ki67_specimen_site_from_the_specimen_resource(site: str, expected: SpecimenSite) -> None:
    prof = profile(ki67("k", 4.0, specimen="Specimen/s"), specimen("s", site))
    [result] = prof.ki67
    assert (result.value, result.specimen, result.source, result.date) == (
        4.0,
        expected,
        "Observation/k",
        dt.date(2026, 10, 1),
    )


def test_ki67_specimen_site_from_body_site_body_structure_or_unknown() -> None:
    body_site = ki67("bs", 5.0, bodySite=cc(SNOMED, "10200004"))
    structure = {
        "resourceType": "BodyStructure",
        "id": "lesion1",
        "location": cc(SNOMED, "15776009"),
        "patient": {"reference": "Patient/p1"},
    }
    via_structure = ki67("st", 6.0, specimen="BodyStructure/lesion1")
    plain = ki67("plain", 7.0)
    prof = profile(body_site, structure, via_structure, plain)
    sites = {r.source: r.specimen for r in prof.ki67}
    assert sites == {
        "Observation/bs": SpecimenSite.LIVER,
        "Observation/st": SpecimenSite.PRIMARY,
        "Observation/plain": SpecimenSite.UNKNOWN,
    }


def test_contained_specimen_is_followed() -> None:
    obs = ki67("k", 3.0, specimen="#spec")
    obs["contained"] = [{"resourceType": "Specimen", "id": "spec", "collection": {"bodySite": cc(SNOMED, "10200004")}}]
    [result] = profile(obs).ki67
    assert result.specimen is SpecimenSite.LIVER


def test_ki67_breast_code_is_accepted_with_a_warning() -> None:
    obs = observation("k", cc(LOINC, "85330-9"), valueQuantity=quantity(12, "%"))
    prof = profile(obs)
    assert [r.value for r in prof.ki67] == [12.0]
    [warning] = prof.problems
    assert warning.severity == "warning" and "85330-9" in warning.message


def test_ki67_bounds_are_read_as_b27_says() -> None:
    # B27: "< 2 %" is G1 (the worse end is just under 2); "> 20 %" is above 20, G3; "> 15 %" may be G2 or G3:
    # the grade cannot be told, so it is unreadable (B28), never read as 15.
    below = ki67("below", 2.0)
    below["valueQuantity"]["comparator"] = "<"
    above = ki67("above", 20.0)
    above["valueQuantity"]["comparator"] = ">"
    vague = ki67("vague", 15.0)
    vague["valueQuantity"]["comparator"] = ">"
    prof = profile(below, above, vague)
    assert {r.source: r.comparator for r in prof.ki67} == {"Observation/below": "<", "Observation/above": ">"}
    assert prof.grade is not None and prof.grade.grade.value == "G3"
    by_path = {p.path: p.severity for p in prof.problems}
    assert by_path == {
        "Observation/below.valueQuantity.value": "warning",
        "Observation/above.valueQuantity.value": "warning",
        "Observation/vague.valueQuantity.value": "error",
    }
    assert [(u.kind, u.source) for u in prof.unreadable] == [("ki67", "Observation/vague")]


@pytest.mark.parametrize("value", [-1, 100.5])
def test_ki67_outside_0_to_100_is_a_problem(value: float) -> None:
    prof = profile(ki67("k", value))
    assert prof.ki67 == () and problems_at(prof, "Observation/k.valueQuantity.value")


def test_every_ki67_is_kept_newest_first_and_graded_by_the_highest() -> None:
    prof = profile(
        ki67("primary", 4.0, date="2024-06-01", bodySite=cc(SNOMED, "34516001")),
        ki67("liver", 25.0, date="2026-10-01", bodySite=cc(SNOMED, "10200004")),
    )
    assert [r.source for r in prof.ki67] == ["Observation/liver", "Observation/primary"]
    assert prof.grade is not None and prof.grade.grade.value == "G3" and prof.grade.discordant


# --- performance status --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"valueInteger": 0}, 0),
        ({"valueInteger": 3}, 3),
        ({"valueQuantity": {"value": 2}}, 2),
        ({"valueCodeableConcept": cc(SNOMED, "423237006")}, 4),
        ({"valueCodeableConcept": cc(LOINC, "LA9623-5")}, 1),
    ],
)
def test_ecog_value_shapes(value: dict[str, object], expected: int) -> None:
    prof = profile(observation("e", cc(LOINC, "89247-1"), category="survey", **value))
    assert prof.ecog is not None and (prof.ecog.value, prof.ecog.source) == (expected, "Observation/e")


@pytest.mark.parametrize(
    "value", [{"valueInteger": 6}, {"valueQuantity": {"value": 1.5}}, {"valueString": "6"}, {"valueString": "one"}]
)
def test_ecog_out_of_range_or_wrong_type_is_a_problem(value: dict[str, object]) -> None:
    prof = profile(observation("e", cc(LOINC, "89247-1"), category="survey", **value))
    assert prof.ecog is None and problems_at(prof, "Observation/e")


def test_ecog_written_as_text_is_read_b27() -> None:
    prof = profile(observation("e", cc(LOINC, "89247-1"), category="survey", valueString=" 1 "))
    assert prof.ecog is not None and prof.ecog.value == 1


def test_newest_ecog_and_karnofsky_win() -> None:
    prof = profile(
        observation("e-old", cc(LOINC, "89247-1"), date="2025-01-01", valueInteger=3),
        observation("e-new", cc(LOINC, "89247-1"), date="2026-11-01", valueInteger=1),
        observation("k", cc(LOINC, "89243-0"), valueInteger=80),
    )
    assert prof.ecog is not None and prof.ecog.value == 1
    assert prof.karnofsky is not None and prof.karnofsky.value == 80


# --- TumorSize ----------------------------------------------------------------------------------

SIZE_TABLE = [(49, "mm", 4.9), (5.0, "cm", 5.0), (51, "mm", 5.1), (9, "cm", 9.0)]


@pytest.mark.parametrize(("value", "unit", "cm"), SIZE_TABLE)
def test_tumour_size_in_mm_or_cm(value: float, unit: str, cm: float) -> None:
    prof = profile(tumour_size("ts", value, unit, focus="BodyStructure/l1"), _liver_lesion("l1"))
    [lesion] = prof.lesions
    assert lesion.size_cm == pytest.approx(cm) and lesion.source == "Observation/ts" and lesion.label == "lesion-l1"
    assert prof.problems == ()


def _liver_lesion(bid: str, location: str = "10200004") -> dict[str, object]:
    return {
        "resourceType": "BodyStructure",
        "id": bid,
        "identifier": [{"value": f"lesion-{bid}"}],
        "location": cc(SNOMED, location),
        "patient": {"reference": "Patient/p1"},
    }


def test_tumour_size_flags_from_components() -> None:
    prof = profile(tumour_size("ts", 2.0, near_hilum=True, subcapsular=False))
    [lesion] = prof.lesions
    assert (lesion.size_cm, lesion.near_hilum, lesion.subcapsular) == (2.0, True, False)


def test_a_plain_longest_dimension_observation_is_a_lesion() -> None:
    obs = observation("plain", cc(LOINC, "33728-7"), bodySite=cc(SNOMED, "10200004"), valueQuantity=quantity(25, "mm"))
    [lesion] = profile(obs).lesions
    assert lesion.size_cm == 2.5


def test_the_size_of_a_non_liver_tumour_is_not_a_liver_lesion() -> None:
    prof = profile(tumour_size("primary-size", 3.0, focus="BodyStructure/p"), _liver_lesion("p", location="15776009"))
    assert prof.lesions == ()


def test_tumour_size_in_an_unknown_unit_is_a_problem() -> None:
    prof = profile(tumour_size("ts", 2.0, "in"))
    assert prof.lesions == ()
    assert problems_at(prof, "Observation/ts.component[0].valueQuantity")


def test_the_newest_measurement_of_each_lesion_and_standalone_flags() -> None:
    old = tumour_size("old", 3.0, focus="BodyStructure/l1")
    old["effectiveDateTime"] = "2025-01-01"
    new = tumour_size("new", 4.0, focus="BodyStructure/l1")
    other = tumour_size("other", 1.0, focus="BodyStructure/l2")
    hilum = finding("hilum", "lesion-near-hilum", valueBoolean=True, focus=[{"reference": "BodyStructure/l2"}])
    prof = profile(old, new, other, hilum, _liver_lesion("l1"), _liver_lesion("l2"))
    sizes = {lesion.source: (lesion.size_cm, lesion.near_hilum) for lesion in prof.lesions}
    assert sizes == {"Observation/new": (4.0, None), "Observation/other": (1.0, True)}


# --- disease status ---------------------------------------------------------------------------


def test_disease_status_history_newest_first() -> None:
    trends = [("s1", "2026-05-01", "359746009"), ("s2", "2026-11-01", "268910001"), ("s0", "2025-11-01", "271299001")]
    prof = profile(
        *(
            observation(oid, cc(LOINC, "97509-4"), date=date, valueCodeableConcept=cc(SNOMED, code))
            for oid, date, code in trends
        )
    )
    assert [(d.source, d.trend) for d in prof.disease_status] == [
        ("Observation/s2", DiseaseTrend.IMPROVED),
        ("Observation/s1", DiseaseTrend.STABLE),
        ("Observation/s0", DiseaseTrend.WORSENED),
    ]


def test_disease_status_with_an_unknown_value_is_a_problem() -> None:
    prof = profile(observation("s", cc(LOINC, "97509-4"), valueCodeableConcept=cc(SNOMED, "12345")))
    assert prof.disease_status == ()
    [problem] = prof.problems
    assert problem.path == "Observation/s.valueCodeableConcept"


# --- local findings (CONTRACT.md section 3) ------------------------------------------------------

FINDING_TABLE = [
    ("flr-percent", {"valueQuantity": quantity(30, "%")}, "flr_percent", 30.0),
    ("liver-involvement-percent", {"valueQuantity": quantity(45, "%")}, "liver_involvement_percent", 45.0),
    ("achievable-debulking-percent", {"valueQuantity": quantity(75, "%")}, "achievable_debulking_percent", 75.0),
    ("frilling-type", {"valueCodeableConcept": cc(FINDING, "type-III")}, "frilling_type", FrillingType.III),
    ("resectable-r0", {"valueBoolean": True}, "resectable_r0", True),
    ("fit-for-major-surgery", {"valueBoolean": False}, "fit_for_major_surgery", False),
    ("krenning-score", {"valueInteger": 3}, "krenning_score", 3),
    ("fdg-pet-positive", {"valueBoolean": True}, "fdg_pet_positive", True),
    ("mitotic-count", {"valueQuantity": quantity(3, "/2.mm2")}, "mitotic_count", 3.0),
    ("differentiation", {"valueCodeableConcept": cc(FINDING, "poor")}, "differentiation", Differentiation.POOR),
    ("syndrome-refractory-to-ssa", {"valueBoolean": True}, "syndrome_refractory_to_ssa", True),
    ("tumour-burden-symptoms", {"valueBoolean": False}, "tumour_burden_symptoms", False),
    ("lesion-count", {"valueInteger": 4}, "lesion_count", 4),
]


@pytest.mark.parametrize(("code", "value", "attribute", "expected"), FINDING_TABLE)
def test_local_findings(code: str, value: dict[str, object], attribute: str, expected: object) -> None:
    prof = profile(finding("f", code, **value))
    fact = getattr(prof, attribute)
    assert fact is not None and fact.value == expected and fact.source == "Observation/f"
    assert prof.problems == ()


@pytest.mark.parametrize(
    ("code", "value"),
    [
        ("flr-percent", {"valueQuantity": quantity(130, "%")}),
        ("flr-percent", {"valueQuantity": quantity(0.3, "1")}),
        ("krenning-score", {"valueInteger": 5}),
        ("frilling-type", {"valueCodeableConcept": cc(FINDING, "type-IV")}),
        ("resectable-r0", {"valueString": "yes"}),
        ("mitotic-count", {"valueQuantity": quantity(3, "/10.[HPF]")}),
    ],
)
def test_unusable_findings_are_problems(code: str, value: dict[str, object]) -> None:
    prof = profile(finding("f", code, **value))
    assert problems_at(prof, "Observation/f")
    assert all(p.severity == "error" for p in prof.problems)


def test_primary_status_finding_sets_the_primary_status() -> None:
    from tests.ingest.builders import primary

    prof = profile(primary(), finding("ps", "primary-status", valueCodeableConcept=cc(FINDING, "in-situ")))
    assert prof.primary is not None
    assert (prof.primary.status, prof.primary.status_source) == (PrimaryStatus.IN_SITU, "Observation/ps")


def test_the_newest_finding_wins() -> None:
    prof = profile(
        finding("flr-old", "flr-percent", date="2026-01-01", valueQuantity=quantity(25, "%")),
        finding("flr-new", "flr-percent", date="2026-10-01", valueQuantity=quantity(35, "%")),
    )
    assert prof.flr_percent is not None and (prof.flr_percent.value, prof.flr_percent.source) == (
        35.0,
        "Observation/flr-new",
    )
    assert prof.flr_percent.unit == "%" and prof.flr_percent.date == dt.date(2026, 10, 1)


def test_an_observation_with_a_modifier_extension_is_not_used() -> None:
    obs = lab("m", "718-7", 13.0, "g/dL")
    obs["modifierExtension"] = [{"url": "http://example.org/negated", "valueBoolean": True}]
    prof = profile(obs)
    assert prof.labs == () and problems_at(prof, "Observation/m.modifierExtension")


def test_irrelevant_observations_are_ignored_without_problems() -> None:
    vitals = observation("bp", cc(LOINC, "85354-9"), valueQuantity=quantity(120, "mm[Hg]"))
    alt = lab("alt", "1742-6", 30, "U/L")
    broken_irrelevant = observation("weird", cc(LOINC, "8302-2"), valueQuantity={"value": "tall"})
    prof = profile(vitals, alt, broken_irrelevant)
    assert prof.labs == () and prof.problems == ()


def test_mcode_tumor_body_structure_related_to_the_nelm_condition_is_a_liver_lesion() -> None:
    from tests.ingest.builders import nelm

    structure = {
        "resourceType": "BodyStructure",
        "id": "tumor-1",
        "identifier": [{"use": "usual", "system": "http://radiology.hospital.example.org", "value": "Tumor 1234"}],
        "extension": [
            {
                "url": "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-related-condition",
                "valueReference": {"reference": "Condition/nelm"},
            }
        ],
        "location": cc(SNOMED, "1234567000", "Structure of segment VI of liver (hypothetical code)"),
        "patient": {"reference": "Patient/p1"},
    }
    prof = profile(nelm(), structure, tumour_size("ts", 2.2, focus="BodyStructure/tumor-1"))
    [lesion] = prof.lesions
    assert (lesion.size_cm, lesion.label) == (2.2, "Tumor 1234") and prof.problems == ()


def test_an_unrecognised_tumour_location_is_not_read_as_liver() -> None:
    breast = _liver_lesion("b1", location="80248007")
    prof = profile(breast, tumour_size("ts", 1.2, focus="BodyStructure/b1"))
    assert prof.lesions == ()
    [warning] = prof.problems
    assert warning.severity == "warning" and "80248007" in warning.message
