"""Vocabulary of the NELM profile: enumerations and the sourced-fact building blocks.

Every value that came from the record is wrapped so that it keeps where it came from
(``source="Observation/ki67-1"``), when it was observed and in which canonical unit.
Standard library only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

T = TypeVar("T")

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
    "IngestProblem",
    "Ki67Result",
    "LabKind",
    "LabResult",
    "LiverLesion",
    "PregnancyRecord",
    "PrimarySite",
    "PrimaryStatus",
    "ProcedureKind",
    "ProcedureRecord",
    "SpecimenSite",
    "SyndromeKind",
    "UnreadableResult",
]


class Grade(StrEnum):
    """WHO 2019 grade of a well-differentiated NET (PATHWAY.md B1)."""

    G1 = "G1"
    G2 = "G2"
    G3 = "G3"


class Differentiation(StrEnum):
    """Tumour differentiation; ``poor`` means neuroendocrine carcinoma (NEC), B3."""

    WELL = "well"
    POOR = "poor"
    UNKNOWN = "unknown"


class PrimarySite(StrEnum):
    """Site of the primary tumour, grouped as the pathway needs it."""

    SMALL_INTESTINE = "small-intestine"  # duodenum, jejunum, ileum
    PANCREAS = "pancreas"
    STOMACH = "stomach"
    APPENDIX = "appendix"
    COLON = "colon"  # caecum to sigmoid
    RECTUM = "rectum"
    LUNG = "lung"
    THYMUS = "thymus"
    OTHER = "other"
    UNKNOWN = "unknown"  # unknown primary (C80.1, C7A.00 with primary-status unknown-primary)


class PrimaryStatus(StrEnum):
    """State of the primary tumour (CONTRACT.md section 3, ``primary-status``)."""

    IN_SITU = "in-situ"
    RESECTED = "resected"
    UNKNOWN_PRIMARY = "unknown-primary"


class SpecimenSite(StrEnum):
    """Where a Ki-67 specimen was taken (B2)."""

    LIVER = "liver"
    PRIMARY = "primary"
    OTHER = "other"
    UNKNOWN = "unknown"


class FrillingType(StrEnum):
    """Frilling NELM distribution type [13]."""

    I = "type-I"  # noqa: E741 - the clinical name
    II = "type-II"
    III = "type-III"


class DiseaseTrend(StrEnum):
    """mCODE ConditionStatusTrendVS value of a CancerDiseaseStatus (LOINC 97509-4)."""

    IMPROVED = "improved"  # SNOMED 268910001
    STABLE = "stable"  # SNOMED 359746009
    WORSENED = "worsened"  # SNOMED 271299001
    UNDETERMINED = "undetermined"  # SNOMED 709137006


class ExtrahepaticSite(StrEnum):
    """Site of extrahepatic disease; only ``regional-nodes`` is not distant (B9)."""

    REGIONAL_NODES = "regional-nodes"
    DISTANT_NODES = "distant-nodes"
    BONE = "bone"
    LUNG = "lung"
    PERITONEUM = "peritoneum"
    PLEURA = "pleura"
    OTHER = "other"


class SyndromeKind(StrEnum):
    """Functional (hormonal) syndrome."""

    CARCINOID = "carcinoid"
    INSULINOMA = "insulinoma"
    GASTRINOMA = "gastrinoma"
    VIPOMA = "vipoma"
    GLUCAGONOMA = "glucagonoma"
    SOMATOSTATINOMA = "somatostatinoma"
    ECTOPIC_ACTH = "ectopic-acth"  # ectopic ACTH / Cushing syndrome
    OTHER = "other"


class ConditionState(StrEnum):
    """Condition.clinicalStatus folded to what the pathway needs."""

    ACTIVE = "active"  # active, recurrence, relapse
    HISTORY = "history"  # inactive, remission, resolved


class ExposureState(StrEnum):
    """Medication status folded: currently taken, or taken in the past."""

    CURRENT = "current"
    PAST = "past"


class DrugClass(StrEnum):
    """Drug groups the pathway reasons about."""

    SSA = "ssa"  # octreotide, lanreotide
    EVEROLIMUS = "everolimus"
    SUNITINIB = "sunitinib"
    CHEMOTHERAPY = "chemotherapy"  # any cytotoxic (platinum, etoposide, CAPTEM, STZ, 5-FU, doxorubicin)
    LU177 = "lu177"  # PRRT radiopharmaceutical
    INTERFERON = "interferon"


class LabKind(StrEnum):
    """Laboratory results, each held in one canonical unit (see LabResult)."""

    EGFR = "egfr"  # mL/min/{1.73_m2}
    CRCL = "crcl"  # mL/min
    CREATININE = "creatinine"  # mg/dL
    PLATELETS = "platelets"  # 10*9/L
    HAEMOGLOBIN = "haemoglobin"  # g/dL
    LEUKOCYTES = "leukocytes"  # 10*9/L
    NEUTROPHILS = "neutrophils"  # 10*9/L
    BILIRUBIN = "bilirubin"  # mg/dL
    ALBUMIN = "albumin"  # g/dL
    INR = "inr"  # {INR}
    CHROMOGRANIN_A = "chromogranin-a"  # ng/mL (or as sent for molar/unit assays)
    HIAA_5 = "5-hiaa"  # mg/(24.h) for 24 h urine


class ProcedureKind(StrEnum):
    """Procedures the pathway reasons about (history, not orders)."""

    LIVER_RESECTION = "liver-resection"
    WHIPPLE = "whipple"  # pancreaticoduodenectomy: implies bilio-enteric anastomosis
    BILIO_ENTERIC_ANASTOMOSIS = "bilio-enteric-anastomosis"  # hepatico/choledocho-jejunostomy, bile duct bypass
    PRIMARY_RESECTION = "primary-resection"
    LIVER_TRANSPLANT = "liver-transplant"
    ABLATION = "ablation"
    EMBOLIZATION = "embolization"  # TAE/TACE
    RADIOEMBOLIZATION = "radioembolization"
    PORTAL_VEIN_EMBOLIZATION = "portal-vein-embolization"
    PRRT = "prrt"


@dataclass(frozen=True, slots=True, kw_only=True)
class Fact(Generic[T]):
    """One value from the record with its FHIR source reference, date and canonical unit."""

    value: T
    source: str
    date: dt.date | None = None
    unit: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Ki67Result:
    """One Ki-67 labelling index (LOINC 29593-1), in percent."""

    value: float
    specimen: SpecimenSite
    source: str
    date: dt.date | None = None
    comparator: str | None = None  # "<", "<=", ">=", ">" when reported as a bound (B27); value is then the bound


@dataclass(frozen=True, slots=True, kw_only=True)
class LabResult:
    """One laboratory value converted to the canonical unit of its kind."""

    kind: LabKind
    value: float
    unit: str
    source: str
    date: dt.date | None = None
    loinc: str | None = None
    comparator: str | None = None  # "<", "<=", ">=", ">" when reported as a bound (B27); value is then the bound
    derivation: str | None = None  # how a derived value was computed, e.g. "computed from creatinine ..." (B33)


@dataclass(frozen=True, slots=True, kw_only=True)
class LiverLesion:
    """A liver metastasis: longest diameter (cm) and location flags, each possibly unknown."""

    source: str
    size_cm: float | None = None
    near_hilum: bool | None = None
    subcapsular: bool | None = None
    date: dt.date | None = None
    label: str | None = None  # segment or lesion identifier as sent


@dataclass(frozen=True, slots=True, kw_only=True)
class ConditionRecord:
    """A recorded Condition, reduced to its concept, state and dates."""

    concept: str  # our concept key from mappings/, e.g. "portal-vein-thrombosis"
    code: str  # "system|code" as it came
    state: ConditionState
    source: str
    onset: dt.date | None = None
    recorded: dt.date | None = None
    recurrence: bool = False  # clinicalStatus recurrence/relapse


@dataclass(frozen=True, slots=True, kw_only=True)
class ExtrahepaticFinding:
    """Extrahepatic disease at one site; ``distant`` is False only for regional nodes."""

    site: ExtrahepaticSite
    distant: bool
    state: ConditionState
    source: str
    code: str
    date: dt.date | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DiseaseStatus:
    """One CancerDiseaseStatus assessment (LOINC 97509-4)."""

    trend: DiseaseTrend
    source: str
    date: dt.date | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DrugExposure:
    """A current or past drug of the pathway (from MedicationRequest/Statement/Administration)."""

    drug_class: DrugClass
    ingredient: str  # e.g. "octreotide"
    state: ExposureState
    source: str
    code: str  # "system|code" as it came
    start: dt.date | None = None
    end: dt.date | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcedureRecord:
    """A completed (or in-progress) procedure of the pathway."""

    kind: ProcedureKind
    code: str  # "system|code"
    source: str
    date: dt.date | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestProblem:
    """A relevant resource that could not be used, with the FHIR path of the fault."""

    path: str  # e.g. "Observation/o1.valueQuantity.unit"
    message: str
    severity: str = "error"  # "error" (fact dropped) or "warning" (fact kept, with a caveat)


@dataclass(frozen=True, slots=True, kw_only=True)
class UnreadableResult:
    """A relevant result whose value, unit or date could not be read (B28): never silently absent.

    ``kind`` names what it would have been: a ``LabKind`` value ("bilirubin"), "ki67",
    "mitotic-count", "ecog", "karnofsky", "tumour-size" or a local finding code ("flr-percent").
    """

    kind: str
    source: str
    reason: str
    date: dt.date | None = None  # None: no readable date either


@dataclass(frozen=True, slots=True, kw_only=True)
class PregnancyRecord:
    """A pregnancy on record (PATHWAY.md B32): a Condition, or a pregnancy-status Observation."""

    source: str
    code: str  # "system|code" as sent
    kind: str  # "condition" or "observation"
    pregnant: bool  # False only for an observation answering "not pregnant"
    state: ConditionState = ConditionState.ACTIVE
    date: dt.date | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UnconfirmedRecord:
    """A relevant-looking record that cannot be read as a fact (B28 text only, B31 weak status codes).

    ``topic`` names what it could mean: ``bilio-enteric``, ``portal-vein-thrombosis``,
    ``hepatic-failure``, ``pregnancy`` or ``extrahepatic``.
    """

    topic: str
    text: str  # what the record says, shown as "confirm: <text>"
    source: str
    date: dt.date | None = None
