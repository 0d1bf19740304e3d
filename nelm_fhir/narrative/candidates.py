"""Candidate findings proposed from report text: what was found, its value, where, and how it was said."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

NELM_FINDING = "https://nelm-cds.org/fhir/CodeSystem/nelm-finding"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"


class Finding(StrEnum):
    """What a candidate is about: the contract's local finding codes plus the extra facts of issue 15."""

    FLR_PERCENT = "flr-percent"
    LIVER_INVOLVEMENT_PERCENT = "liver-involvement-percent"
    FRILLING_TYPE = "frilling-type"
    RESECTABLE_R0 = "resectable-r0"
    FIT_FOR_MAJOR_SURGERY = "fit-for-major-surgery"
    KRENNING_SCORE = "krenning-score"
    FDG_PET_POSITIVE = "fdg-pet-positive"
    MITOTIC_COUNT = "mitotic-count"
    DIFFERENTIATION = "differentiation"
    SYNDROME_REFRACTORY_TO_SSA = "syndrome-refractory-to-ssa"
    TUMOUR_BURDEN_SYMPTOMS = "tumour-burden-symptoms"
    ACHIEVABLE_DEBULKING_PERCENT = "achievable-debulking-percent"
    PRIMARY_STATUS = "primary-status"
    LESION_NEAR_HILUM = "lesion-near-hilum"
    LESION_SUBCAPSULAR = "lesion-subcapsular"
    LESION_COUNT = "lesion-count"
    RESECTION_EXTENT = "resection-extent"
    WHO_GRADE = "who-grade"
    # not in the contract's local table: standard codes where they exist (see ``coding``)
    KI67_PERCENT = "ki67-percent"
    LESION_SIZE = "lesion-size"
    LIVER_DISTRIBUTION = "liver-distribution"
    EXTRAHEPATIC_SITE = "extrahepatic-site"
    PORTAL_VEIN_THROMBOSIS = "portal-vein-thrombosis"
    SSTR_UPTAKE = "sstr-uptake"


_CONTRACT = frozenset(f for f in Finding if f.value in {
    "flr-percent", "liver-involvement-percent", "frilling-type", "resectable-r0", "fit-for-major-surgery",
    "krenning-score", "fdg-pet-positive", "mitotic-count", "differentiation", "syndrome-refractory-to-ssa",
    "tumour-burden-symptoms", "achievable-debulking-percent", "primary-status", "lesion-near-hilum",
    "lesion-subcapsular", "lesion-count", "resection-extent", "who-grade"})

# The codes the ingest already reads for these facts (mappings/loinc.json, mappings/snomed.json).
_STANDARD: dict[Finding, tuple[str, str]] = {
    Finding.KI67_PERCENT: (LOINC, "29593-1"),  # Cells.Ki-67 nuclear Ag/cells in Tissue by Immune stain
    Finding.LESION_SIZE: (LOINC, "33728-7"),  # Size.maximum dimension in Tumor
    Finding.PORTAL_VEIN_THROMBOSIS: (SNOMED, "17920008"),  # Portal vein thrombosis (disorder)
}

# Secondary malignant neoplasm of bone / lung / lymph node (mappings/snomed.json, VERIFIED).
_SITE_CONDITION: dict[str, tuple[str, str]] = {
    "bone": (SNOMED, "94222008"),
    "lung": (SNOMED, "94391008"),
    "distant-nodes": (SNOMED, "94392001"),
}


class Assertion(StrEnum):
    """How the text states a finding (ConText). Only ``affirmed`` candidates are ever proposed."""

    AFFIRMED = "affirmed"
    NEGATED = "negated"
    UNCERTAIN = "uncertain"
    HISTORICAL = "historical"
    HYPOTHETICAL = "hypothetical"
    FAMILY = "family"


@dataclass(frozen=True, slots=True)
class Quantity:
    """A number with its UCUM unit and an optional comparator (``<``, ``>``, ``<=``, ``>=``)."""

    value: float
    unit: str
    comparator: str | None = None


@dataclass(frozen=True, slots=True)
class CodeValue:
    """A coded value; ``system`` is the contract's local system or ``None`` for a product-internal code."""

    code: str
    system: str | None = NELM_FINDING


CandidateValue = Quantity | bool | CodeValue


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    """One finding read from one report text. It never decides a status; a clinician confirms it."""

    finding: Finding
    value: CandidateValue
    assertion: Assertion
    sentence: str
    start: int  # character span of the matched words in the source text
    end: int
    document: str  # "DiagnosticReport/ct-1" — the resource the text came from
    date: dt.date | None
    section: str = ""  # which part of the resource: conclusion, presentedForm[0], content[1] …

    @property
    def proposed(self) -> bool:
        """True only for affirmed, current statements: the ones offered for confirmation."""
        return self.assertion is Assertion.AFFIRMED

    @property
    def coding(self) -> tuple[str, str] | None:
        """(system, code) of the finding: the contract's local code, or the standard code the ingest reads."""
        if self.finding in _CONTRACT:
            return (NELM_FINDING, self.finding.value)
        if self.finding is Finding.EXTRAHEPATIC_SITE and isinstance(self.value, CodeValue):
            return _SITE_CONDITION.get(self.value.code)
        return _STANDARD.get(self.finding)
