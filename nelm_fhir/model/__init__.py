"""The NELM domain model: frozen dataclasses, standard library only.

``NelmProfile`` is what ingestion produces and the pathway engine reads. Every fact keeps the
FHIR reference it came from, its date and its canonical unit.
"""

from nelm_fhir.model.facts import (
    ConditionRecord,
    ConditionState,
    Differentiation,
    DiseaseStatus,
    DiseaseTrend,
    DrugClass,
    DrugExposure,
    ExposureState,
    ExtrahepaticFinding,
    ExtrahepaticSite,
    Fact,
    FrillingType,
    Grade,
    IngestProblem,
    Ki67Result,
    LabKind,
    LabResult,
    LiverLesion,
    PrimarySite,
    PrimaryStatus,
    ProcedureKind,
    ProcedureRecord,
    SpecimenSite,
    SyndromeKind,
)
from nelm_fhir.model.profile import GradeAssessment, NelmProfile, PrimaryTumour, SyndromeFinding

__all__ = [
    "ConditionRecord",
    "ConditionState",
    "Differentiation",
    "DiseaseStatus",
    "DiseaseTrend",
    "DrugClass",
    "DrugExposure",
    "ExposureState",
    "ExtrahepaticFinding",
    "ExtrahepaticSite",
    "Fact",
    "FrillingType",
    "Grade",
    "GradeAssessment",
    "IngestProblem",
    "Ki67Result",
    "LabKind",
    "LabResult",
    "LiverLesion",
    "NelmProfile",
    "PrimarySite",
    "PrimaryStatus",
    "PrimaryTumour",
    "ProcedureKind",
    "ProcedureRecord",
    "SpecimenSite",
    "SyndromeFinding",
    "SyndromeKind",
]
