"""WHO 2019 grade from Ki-67 and mitotic count (PATHWAY.md B1, B2). Pure; standard library only.

Differentiation is a separate input (B3): nothing here infers NEC from Ki-67, and a morphology
code such as ICD-O-3 8249/3 never sets a grade.
"""

from __future__ import annotations

from collections.abc import Sequence

from nelm_fhir.model.facts import Fact, Grade, Ki67Result, SpecimenSite
from nelm_fhir.model.profile import GradeAssessment

__all__ = ["assess_grade", "grade_from_ki67", "grade_from_mitoses"]

_ORDER = {Grade.G1: 1, Grade.G2: 2, Grade.G3: 3}

NOTE_KI67_GAP = (
    "Ki-67 {value:g} % is graded G1 by WHO 2019 (< 3 %); the review's own scheme (G1 <= 2 %, G2 3-20 %) "
    "leaves values between 2 and 3 % unclassified"
)
NOTE_DISCORDANT = (
    "Ki-67 discordance: primary {primary:g} % ({primary_grade}) vs liver {liver:g} % ({liver_grade}); "
    "the highest value is used for liver-directed decisions [41]"
)
NOTE_MITOSES_HIGHER = (
    "mitotic count {mitoses:g}/2 mm2 gives {grade}, higher than the Ki-67 grade: the higher grade is used"
)


def grade_from_ki67(percent: float) -> Grade:
    """Return the WHO 2019 grade of a Ki-67 index: < 3 % G1, 3-20 % (inclusive) G2, > 20 % G3."""
    if percent < 3:
        return Grade.G1
    if percent <= 20:
        return Grade.G2
    return Grade.G3


def grade_from_mitoses(per_2mm2: float) -> Grade:
    """Return the WHO 2019 grade of a mitotic count per 2 mm²: < 2 G1, 2-20 G2, > 20 G3."""
    if per_2mm2 < 2:
        return Grade.G1
    if per_2mm2 <= 20:
        return Grade.G2
    return Grade.G3


def _highest(results: Sequence[Ki67Result]) -> Ki67Result:
    # Highest value; on a tie prefer the liver specimen, then the newest result.
    def key(r: Ki67Result) -> tuple[float, int, int]:
        return (r.value, 1 if r.specimen is SpecimenSite.LIVER else 0, r.date.toordinal() if r.date else 0)

    return max(results, key=key)


def assess_grade(ki67: Sequence[Ki67Result], mitoses: Fact[float] | None) -> GradeAssessment | None:
    """Return the grade from every Ki-67 result and the mitotic count, or None when neither exists (B4)."""
    if not ki67 and mitoses is None:
        return None
    notes: list[str] = []
    sources: list[str] = []
    grade: Grade | None = None
    used: Ki67Result | None = None
    discordant = False
    if ki67:
        used = _highest(ki67)
        grade = grade_from_ki67(used.value)
        sources.append(used.source)
        if 2 < used.value < 3:
            notes.append(NOTE_KI67_GAP.format(value=used.value))
        primary = [r for r in ki67 if r.specimen is SpecimenSite.PRIMARY]
        liver = [r for r in ki67 if r.specimen is SpecimenSite.LIVER]
        if primary and liver:
            p, lv = _highest(primary), _highest(liver)
            pg, lg = grade_from_ki67(p.value), grade_from_ki67(lv.value)
            if pg is not lg:
                discordant = True
                notes.append(NOTE_DISCORDANT.format(primary=p.value, primary_grade=pg, liver=lv.value, liver_grade=lg))
                for source in (p.source, lv.source):
                    if source not in sources:
                        sources.append(source)
    if mitoses is not None:
        mitotic_grade = grade_from_mitoses(mitoses.value)
        sources.append(mitoses.source)
        if grade is None or _ORDER[mitotic_grade] > _ORDER[grade]:
            if grade is not None:
                notes.append(NOTE_MITOSES_HIGHER.format(mitoses=mitoses.value, grade=mitotic_grade))
            grade = mitotic_grade
    if grade is None:  # unreachable: either Ki-67 or mitoses is present
        return None
    return GradeAssessment(
        grade=grade,
        ki67_percent=used.value if used is not None else None,
        mitoses_per_2mm2=mitoses.value if mitoses is not None else None,
        sources=tuple(sources),
        notes=tuple(notes),
        discordant=discordant,
        liver_specimen=used is not None and used.specimen is SpecimenSite.LIVER,
    )
