"""Facts gathered by the per-resource readers before the profile is assembled."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from nelm_fhir.model import (
    ConditionRecord,
    DiseaseStatus,
    DrugExposure,
    ExtrahepaticFinding,
    Fact,
    Ki67Result,
    LabResult,
    LiverLesion,
    PregnancyRecord,
    ProcedureRecord,
    SyndromeFinding,
    UnconfirmedRecord,
    UnreadableResult,
)

__all__ = ["Collected", "LesionFlag", "PrimaryCandidate", "ProcedureNote"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PrimaryCandidate:
    """A primary-cancer Condition and what it says about site and differentiation."""

    record: ConditionRecord
    site: str  # PrimarySite value, "unspecified" or "unknown"
    portal_drained: bool | None  # from the mapping entry when the site alone does not tell
    body_site: str | None  # site:* concept of Condition.bodySite


@dataclass(frozen=True, slots=True, kw_only=True)
class LesionFlag:
    """A stand-alone ``lesion-near-hilum`` / ``lesion-subcapsular`` finding."""

    which: str  # "near_hilum" or "subcapsular"
    value: bool
    source: str
    focus: str | None
    date: dt.date | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcedureNote:
    """Why a procedure was done and on what, to decide whether it removed the primary."""

    source: str
    concept: str
    code: str  # "system|code" as sent
    reasons: tuple[str, ...]  # referenced Condition keys (Type/id) and reason concept keys
    date: dt.date | None


@dataclass
class Collected:
    """Everything read from the record, not yet reduced to one profile."""

    birth_date: Fact[dt.date] | None = None
    sex: str | None = None
    patient_ref: str | None = None
    findings: dict[str, list[Fact[object]]] = field(default_factory=dict)  # finding code -> facts
    ki67: list[Ki67Result] = field(default_factory=list)
    ecog: list[Fact[int]] = field(default_factory=list)
    karnofsky: list[Fact[int]] = field(default_factory=list)
    lesions: list[tuple[LiverLesion, str | None]] = field(default_factory=list)  # lesion, focus reference
    lesion_flags: list[LesionFlag] = field(default_factory=list)
    disease_status: list[DiseaseStatus] = field(default_factory=list)
    labs: list[LabResult] = field(default_factory=list)
    morphology: list[tuple[Fact[str], str | None]] = field(default_factory=list)  # code fact, differentiation
    primaries: list[PrimaryCandidate] = field(default_factory=list)
    nelm: list[ConditionRecord] = field(default_factory=list)
    extrahepatic: list[ExtrahepaticFinding] = field(default_factory=list)
    conditions: dict[str, list[ConditionRecord]] = field(default_factory=dict)  # condition concept -> records
    syndromes: list[SyndromeFinding] = field(default_factory=list)
    procedures: list[ProcedureRecord] = field(default_factory=list)
    procedure_notes: list[ProcedureNote] = field(default_factory=list)
    drugs: list[DrugExposure] = field(default_factory=list)
    pregnancy: list[PregnancyRecord] = field(default_factory=list)  # B32
    unconfirmed: list[UnconfirmedRecord] = field(default_factory=list)  # B28 text only, B31 status codes
    unreadable: list[UnreadableResult] = field(default_factory=list)  # B28

    def add_finding(self, code: str, fact: Fact[object]) -> None:
        """Keep one local finding (CONTRACT.md section 3) under its code."""
        self.findings.setdefault(code, []).append(fact)

    def add_condition(self, concept: str, record: ConditionRecord) -> None:
        """Keep one liver/heart condition under its concept name."""
        self.conditions.setdefault(concept, []).append(record)
