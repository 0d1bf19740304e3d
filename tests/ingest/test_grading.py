"""WHO 2019 grade (B1), Ki-67 source and discordance (B2), no grade without data (B4)."""

from __future__ import annotations

import pytest

from nelm_fhir.model import Fact, Grade, Ki67Result, SpecimenSite
from nelm_fhir.model.grading import assess_grade, grade_from_ki67, grade_from_mitoses


def _ki(value: float, site: SpecimenSite = SpecimenSite.LIVER, source: str = "Observation/k") -> Ki67Result:
    return Ki67Result(value=value, specimen=site, source=source)


@pytest.mark.parametrize(
    ("ki67", "grade", "noted"),
    [
        (0.5, Grade.G1, False),
        (2.0, Grade.G1, False),
        (2.5, Grade.G1, True),
        (2.99, Grade.G1, True),
        (3.0, Grade.G2, False),
        (9.9, Grade.G2, False),
        (20.0, Grade.G2, False),
        (20.5, Grade.G3, False),
        (21.0, Grade.G3, False),
        (70.0, Grade.G3, False),
    ],
)
def test_ki67_boundaries(ki67: float, grade: Grade, noted: bool) -> None:
    assessment = assess_grade([_ki(ki67)], None)
    assert assessment is not None
    assert (assessment.grade, assessment.ki67_percent, assessment.sources) == (grade, ki67, ("Observation/k",))
    assert bool(assessment.notes) is noted
    assert grade_from_ki67(ki67) is grade


@pytest.mark.parametrize(
    ("mitoses", "grade"), [(0, Grade.G1), (1.9, Grade.G1), (2, Grade.G2), (20, Grade.G2), (21, Grade.G3)]
)
def test_mitotic_count_boundaries(mitoses: float, grade: Grade) -> None:
    assessment = assess_grade([], Fact(value=mitoses, source="Observation/m"))
    assert assessment is not None and assessment.grade is grade and assessment.ki67_percent is None
    assert grade_from_mitoses(mitoses) is grade


def test_the_higher_of_ki67_and_mitotic_grade_wins() -> None:
    assessment = assess_grade([_ki(1.0)], Fact(value=25.0, source="Observation/m"))
    assert assessment is not None and assessment.grade is Grade.G3
    assert assessment.sources == ("Observation/k", "Observation/m") and assessment.notes
    lower = assess_grade([_ki(15.0)], Fact(value=1.0, source="Observation/m"))
    assert lower is not None and lower.grade is Grade.G2 and lower.notes == ()


def test_no_ki67_and_no_mitoses_is_no_grade() -> None:
    assert assess_grade([], None) is None


def test_highest_value_is_used_and_discordance_flagged() -> None:
    primary = _ki(4.0, SpecimenSite.PRIMARY, "Observation/p")
    liver = _ki(25.0, SpecimenSite.LIVER, "Observation/l")
    assessment = assess_grade([primary, liver], None)
    assert assessment is not None
    assert (assessment.grade, assessment.ki67_percent, assessment.discordant, assessment.liver_specimen) == (
        Grade.G3,
        25.0,
        True,
        True,
    )
    assert set(assessment.sources) == {"Observation/p", "Observation/l"}
    assert "discordance" in assessment.notes[0]


def test_same_grade_on_primary_and_liver_is_not_discordant() -> None:
    assessment = assess_grade([_ki(4.0, SpecimenSite.PRIMARY), _ki(12.0, SpecimenSite.LIVER)], None)
    assert assessment is not None and not assessment.discordant and assessment.grade is Grade.G2


def test_primary_only_ki67_is_not_a_liver_specimen() -> None:
    assessment = assess_grade([_ki(25.0, SpecimenSite.PRIMARY)], None)
    assert assessment is not None and assessment.liver_specimen is False and assessment.grade is Grade.G3
