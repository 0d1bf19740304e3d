"""Validation of the capture form and the Observations it builds (CONTRACT.md section 3)."""

from __future__ import annotations

import datetime as dt

import pytest

from cds_hooks.smart.capture import FIELDS, build_observation, validate_form

TODAY = dt.date(2026, 11, 26)
FINDING = "https://nelm-cds.org/fhir/CodeSystem/nelm-finding"


@pytest.mark.parametrize(
    ("field", "raw", "value"),
    [
        ("flr-percent", "30", 30.0), ("flr-percent", "29,5", 29.5), ("flr-percent", "0", 0.0),
        ("flr-percent", "100", 100.0), ("flr-percent", " 45 % ", 45.0),
        ("krenning-score", "0", 0), ("krenning-score", "4", 4), ("krenning-score", "2.0", 2),
        ("achievable-debulking-percent", "70", 70.0), ("mitotic-count", "3", 3.0),
        ("resectable-r0", "true", True), ("fit-for-major-surgery", "false", False),
        ("frilling-type", "type-III", "type-III"), ("primary-status", "unknown-primary", "unknown-primary"),
        ("differentiation", "poor", "poor"),
    ],
)
def test_valid_values_are_typed(field: str, raw: str, value: object) -> None:
    result = validate_form({field: raw}, today=TODAY)
    assert result.ok and dict(result.values) == {field: value}
    assert type(result.values[field]) is type(value)


@pytest.mark.parametrize(
    ("field", "raw", "message"),
    [
        ("flr-percent", "100.1", "between 0 and 100"), ("flr-percent", "-1", "between 0 and 100"),
        ("flr-percent", "30 cm", "enter a number (in %)"), ("flr-percent", "nan", "enter a number"),
        ("flr-percent", "1e3", "enter a number"), ("liver-involvement-percent", "abc", "enter a number"),
        ("krenning-score", "5", "between 0 and 4"), ("krenning-score", "2.5", "whole number"),
        ("krenning-score", "-1", "between 0 and 4"), ("mitotic-count", "1001", "between 0 and 1000"),
        ("resectable-r0", "maybe", "choose Yes or No"), ("frilling-type", "type-IV", "listed values"),
    ],
)
def test_invalid_values_are_refused_with_the_field_named(field: str, raw: str, message: str) -> None:
    result = validate_form({field: raw, "fdg-pet-positive": "true"}, today=TODAY)
    assert not result.ok
    assert message in result.errors[field]
    assert field not in result.values


def test_empty_form_and_dates() -> None:
    assert "Nothing to record" in validate_form({}, today=TODAY).errors["form"]
    assert "Nothing to record" in validate_form({"flr-percent": "  "}, today=TODAY).errors["form"]
    future = validate_form({"flr-percent": "40", "effective": "2026-11-27"}, today=TODAY)
    assert "future" in future.errors["effective"]
    assert "YYYY-MM-DD" in validate_form({"flr-percent": "40", "effective": "26/11/2026"}, today=TODAY).errors[
        "effective"]
    past = validate_form({"flr-percent": "40", "effective": "2026-10-01"}, today=TODAY)
    assert past.ok and past.effective == dt.date(2026, 10, 1)


def test_every_contract_code_has_a_field() -> None:
    codes = {f.code for f in FIELDS}
    assert codes == {
        "flr-percent", "liver-involvement-percent", "frilling-type", "resectable-r0", "fit-for-major-surgery",
        "krenning-score", "fdg-pet-positive", "mitotic-count", "differentiation", "syndrome-refractory-to-ssa",
        "tumour-burden-symptoms", "achievable-debulking-percent", "primary-status", "lesion-near-hilum",
        "lesion-subcapsular",
    }


@pytest.mark.parametrize(
    ("code", "value", "key", "expected"),
    [
        ("flr-percent", 35.0, "valueQuantity",
         {"value": 35.0, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}),
        ("mitotic-count", 3.0, "valueQuantity",
         {"value": 3.0, "unit": "/2.mm2", "system": "http://unitsofmeasure.org", "code": "/2.mm2"}),
        ("krenning-score", 3, "valueInteger", 3),
        ("resectable-r0", False, "valueBoolean", False),
    ],
)
def test_observation_shape(code: str, value: object, key: str, expected: object) -> None:
    obs = build_observation(code, value, patient_id="p1", effective=TODAY,
                            issued=dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC), performer="Practitioner/dr",
                            encounter="e1")
    assert obs["resourceType"] == "Observation" and obs["status"] == "final"
    assert obs["code"]["coding"][0] == {"system": FINDING, "code": code, "display": obs["code"]["text"]}
    assert obs["subject"] == {"reference": "Patient/p1"} and obs["encounter"] == {"reference": "Encounter/e1"}
    assert obs["effectiveDateTime"] == "2026-11-26" and obs["issued"] == "2026-11-26T10:00:00Z"
    assert obs["performer"] == [{"reference": "Practitioner/dr"}]
    assert obs[key] == expected


def test_coded_values_use_the_finding_system() -> None:
    obs = build_observation("frilling-type", "type-II", patient_id="p1", effective=TODAY,
                            issued=dt.datetime.now(dt.UTC))
    assert obs["valueCodeableConcept"]["coding"][0]["system"] == FINDING
    assert obs["valueCodeableConcept"]["coding"][0]["code"] == "type-II"
    assert "performer" not in obs and "encounter" not in obs
