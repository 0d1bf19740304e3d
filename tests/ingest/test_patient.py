"""Patient: age at the evaluation date."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.ingest.builders import patient, profile


@pytest.mark.parametrize(
    ("birth", "as_of", "age"),
    [
        ("1966-11-26", "2026-11-26", 60),  # birthday today
        ("1966-11-27", "2026-11-26", 59),  # birthday tomorrow
        ("1966-02-28", "2026-11-26", 60),
        ("2000-02-29", "2025-02-28", 24),  # leap-day birthday
        ("1966", "2026-11-26", 60),  # year only
    ],
)
def test_age_at_the_evaluation_date(birth: str, as_of: str, age: int) -> None:
    prof = profile(patient(birth=birth), as_of=as_of)
    assert prof.age_years is not None and (prof.age_years.value, prof.age_years.source) == (age, "Patient/p1")
    assert prof.sex == "female" and prof.patient == "Patient/p1"


def test_no_birth_date_means_no_age() -> None:
    resource = patient()
    del resource["birthDate"]
    prof = profile(resource)
    assert prof.age_years is None and prof.birth_date is None and prof.problems == ()


def test_birth_after_the_evaluation_date_is_a_problem() -> None:
    prof = profile(patient(birth="2030-01-01"))
    assert prof.age_years is None
    assert [p.path for p in prof.problems] == ["Patient/p1.birthDate"]


def test_age_uses_the_given_evaluation_date() -> None:
    young = profile(patient(birth="1971-05-20"), as_of="2026-05-19")
    assert young.age_years is not None and young.age_years.value == 54
    assert young.as_of == dt.date(2026, 5, 19)
