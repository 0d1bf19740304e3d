"""The patient's NELM profile: everything the pathway reads, each fact with its source.

Built by ``nelm_fhir.ingest`` from FHIR R4 data, read by ``nelm_fhir.pathways``. Immutable.
Missing is not a value: an element the record does not hold is ``None`` (or an empty tuple
for lists), never 0 or "".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from nelm_fhir.model.facts import (
    ConditionRecord,
    ConditionState,
    Differentiation,
    DiseaseStatus,
    DrugClass,
    DrugExposure,
    ExposureState,
    ExtrahepaticFinding,
    Fact,
    FrillingType,
    Grade,
    IngestProblem,
    Ki67Result,
    LabKind,
    LabResult,
    LiverLesion,
    PregnancyRecord,
    PrimarySite,
    PrimaryStatus,
    ProcedureKind,
    ProcedureRecord,
    SyndromeKind,
    UnconfirmedRecord,
    UnreadableResult,
)

__all__ = ["GradeAssessment", "NelmProfile", "PrimaryTumour", "SyndromeFinding"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PrimaryTumour:
    """The primary NEN (mCODE PrimaryCancerCondition) and what is known of its state."""

    site: PrimarySite
    status: PrimaryStatus | None  # None: the record does not say whether it was resected
    source: str  # Condition reference
    code: str  # "system|code"
    portal_drained: bool | None  # pancreas and GI tract stomach..sigmoid colon; None if unknown site
    synchronous: bool | None = None  # NELM found within the primary's work-up
    onset: dt.date | None = None
    status_source: str | None = None  # Procedure or Observation that gave the status
    resection_date: dt.date | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GradeAssessment:
    """Derived WHO 2019 grade with the inputs and notes it came from (B1, B2)."""

    grade: Grade
    ki67_percent: float | None  # the value used (highest for liver-directed decisions)
    mitoses_per_2mm2: float | None
    sources: tuple[str, ...]
    notes: tuple[str, ...] = ()  # e.g. 2<Ki-67<3 note, primary/liver discordance
    discordant: bool = False  # primary and liver Ki-67 fall in different grades
    liver_specimen: bool = False  # the value used was measured on a liver specimen


@dataclass(frozen=True, slots=True, kw_only=True)
class SyndromeFinding:
    """A functional syndrome (carcinoid syndrome E34.0x / 35868009, insulinoma, ...)."""

    kind: SyndromeKind
    state: ConditionState
    source: str
    code: str
    from_morphology: bool = False  # B40: read from the ICD-O-3 morphology of a hormone-named tumour


@dataclass(frozen=True, slots=True, kw_only=True)
class NelmProfile:
    """One patient's NELM-relevant record at an evaluation date. Immutable."""

    patient: str  # "Patient/p1"
    as_of: dt.date  # the evaluation date the age and staleness refer to

    # Demographics
    birth_date: Fact[dt.date] | None = None
    age_years: Fact[int] | None = None  # at ``as_of``
    sex: str | None = None

    # Tumour
    primary: PrimaryTumour | None = None
    differentiation: Fact[Differentiation] | None = None  # None: unknown
    morphology_codes: tuple[Fact[str], ...] = ()  # ICD-O-3 / SNOMED morphology as sent
    ki67: tuple[Ki67Result, ...] = ()  # every result, newest first
    mitotic_count: Fact[float] | None = None  # per 2 mm2
    grade: GradeAssessment | None = None  # None: no Ki-67 and no mitotic count (B4)
    stated_grade: Fact[Grade] | None = None  # B37: WHO grade stated without a number (newest)
    syndromes: tuple[SyndromeFinding, ...] = ()
    syndrome_refractory_to_ssa: Fact[bool] | None = None
    tumour_burden_symptoms: Fact[bool] | None = None
    carcinoid_heart_disease: tuple[ConditionRecord, ...] = ()

    # Liver
    nelm: tuple[ConditionRecord, ...] = ()  # SecondaryCancerCondition in the liver
    recurrent_nelm: Fact[bool] | None = None  # B21; None when no NELM condition
    lesions: tuple[LiverLesion, ...] = ()
    lesion_count: Fact[int] | None = None
    liver_involvement_percent: Fact[float] | None = None
    flr_percent: Fact[float] | None = None
    resection_extent: Fact[str] | None = None  # B38: "minor" or "major" planned liver resection
    frilling_type: Fact[FrillingType] | None = None
    resectable_r0: Fact[bool] | None = None
    achievable_debulking_percent: Fact[float] | None = None
    hepatomegaly: tuple[ConditionRecord, ...] = ()
    portal_vein_thrombosis: tuple[ConditionRecord, ...] = ()
    hepatic_failure: tuple[ConditionRecord, ...] = ()

    # Fitness
    ecog: Fact[int] | None = None
    karnofsky: Fact[int] | None = None
    fit_for_major_surgery: Fact[bool] | None = None

    # Spread and course
    extrahepatic: tuple[ExtrahepaticFinding, ...] = ()
    disease_status: tuple[DiseaseStatus, ...] = ()  # newest first

    # Imaging
    krenning_score: Fact[int] | None = None
    fdg_pet_positive: Fact[bool] | None = None

    # Labs, drugs, procedures
    labs: tuple[LabResult, ...] = ()  # newest first within each kind
    drugs: tuple[DrugExposure, ...] = ()
    procedures: tuple[ProcedureRecord, ...] = ()

    # B32 pregnancy; B28/B31 records that need confirmation before they can decide anything
    pregnancy: tuple[PregnancyRecord, ...] = ()
    unconfirmed: tuple[UnconfirmedRecord, ...] = ()

    # Relevant resources that could not be used
    problems: tuple[IngestProblem, ...] = field(default=())
    unreadable: tuple[UnreadableResult, ...] = ()  # relevant results whose value/unit/date could not be read (B28)

    def latest_lab(self, kind: LabKind) -> LabResult | None:
        """Return the newest result of ``kind``, or None when the record holds none."""
        dated = [lab for lab in self.labs if lab.kind is kind]
        if not dated:
            return None
        return max(dated, key=lambda lab: lab.date or dt.date.min)

    def active(self, records: tuple[ConditionRecord, ...]) -> tuple[ConditionRecord, ...]:
        """Return the records of ``records`` whose clinical state is active."""
        return tuple(r for r in records if r.state is ConditionState.ACTIVE)

    def procedures_of(self, *kinds: ProcedureKind) -> tuple[ProcedureRecord, ...]:
        """Return the procedures of any of ``kinds``, in record order."""
        return tuple(p for p in self.procedures if p.kind in kinds)

    def drugs_of(self, drug_class: DrugClass, *, current_only: bool = False) -> tuple[DrugExposure, ...]:
        """Return the exposures of ``drug_class`` (only current ones if asked)."""
        return tuple(
            d
            for d in self.drugs
            if d.drug_class is drug_class and (not current_only or d.state is ExposureState.CURRENT)
        )
