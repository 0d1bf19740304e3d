"""What the pathway engine returns: per-modality status with criteria, sources and evidence.

These types are the engine's public output (CONTRACT.md sections 1, 2 and 4). ``to_json``
gives the shape printed by ``nelm-cds evaluate``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = [
    "MODALITY_SYSTEM",
    "Criterion",
    "DataGap",
    "Evaluation",
    "Modality",
    "ModalityResult",
    "Status",
]

MODALITY_SYSTEM = "https://nelm-cds.org/fhir/CodeSystem/modality"
FINDING_SYSTEM = "https://nelm-cds.org/fhir/CodeSystem/nelm-finding"


class Modality(StrEnum):
    """The 21 treatment options rated for every patient (CONTRACT.md section 1)."""

    CURATIVE_RESECTION = "curative-resection"
    SIMULTANEOUS_RESECTION = "simultaneous-resection"
    PORTAL_VEIN_EMBOLIZATION = "portal-vein-embolization"
    TWO_STAGE_HEPATECTOMY = "two-stage-hepatectomy"
    ALPPS = "alpps"
    CYTOREDUCTIVE_SURGERY = "cytoreductive-surgery"
    LIVER_TRANSPLANTATION = "liver-transplantation"
    REPEAT_RESECTION = "repeat-resection"
    RFA = "rfa"
    STEREOTACTIC_RFA = "stereotactic-rfa"
    MWA = "mwa"
    TAE = "tae"
    TACE = "tace"
    RADIOEMBOLIZATION = "radioembolization"
    PRRT = "prrt"
    PRRT_PLUS_RADIOEMBOLIZATION = "prrt-plus-radioembolization"
    SOMATOSTATIN_ANALOGUE = "somatostatin-analogue"
    EVEROLIMUS = "everolimus"
    SUNITINIB = "sunitinib"
    CHEMOTHERAPY = "chemotherapy"
    INTERFERON_ALPHA = "interferon-alpha"


class Status(StrEnum):
    """One status per modality per evaluation (CONTRACT.md section 2)."""

    RECOMMENDED = "recommended"
    CONSIDER = "consider"
    NOT_RECOMMENDED = "not-recommended"
    CONTRAINDICATED = "contraindicated"
    INSUFFICIENT_DATA = "insufficient-data"


@dataclass(frozen=True, slots=True, kw_only=True)
class Criterion:
    """One named criterion of a modality: met (True), unmet (False) or unknown (None)."""

    id: str  # stable, e.g. "flr-at-least-30"
    label: str  # reads like the guideline: "FLR at least 30 %"
    met: bool | None
    note: str = ""
    sources: tuple[str, ...] = ()  # FHIR references of the facts used
    evidence: tuple[str, ...] = ()  # seed-review reference numbers, e.g. ("[10]",)
    engineering_default: bool = False  # threshold beyond the review, configurable
    beyond_source_review: bool = False  # rule from ENETS/memory, not from the review

    def to_json(self) -> dict[str, Any]:
        """Return the CONTRACT.md section 4 JSON of this criterion."""
        out: dict[str, Any] = {"id": self.id, "label": self.label, "met": self.met}
        if self.note:
            out["note"] = self.note
        out["sources"] = list(self.sources)
        if self.evidence:
            out["evidence"] = list(self.evidence)
        if self.engineering_default:
            out["engineeringDefault"] = True
        if self.beyond_source_review:
            out["beyondSourceReview"] = True
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class ModalityResult:
    """The rating of one modality, with everything needed to explain it."""

    modality: Modality
    status: Status
    summary: str  # one sentence, < 140 characters
    criteria: tuple[Criterion, ...]
    evidence: tuple[str, ...] = ()  # e.g. ("[10]", "[26]")
    outcomes: tuple[str, ...] = ()  # e.g. ("5-year OS 70 % after resection [26]",)
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    beyond_source_review: bool = False

    @property
    def sources(self) -> tuple[str, ...]:
        """Return every FHIR reference used by this result's criteria, once each, in order."""
        seen: dict[str, None] = {}
        for criterion in self.criteria:
            for source in criterion.sources:
                seen.setdefault(source, None)
        return tuple(seen)

    def to_json(self) -> dict[str, Any]:
        """Return the CONTRACT.md section 4 JSON of this result."""
        out: dict[str, Any] = {
            "modality": self.modality.value,
            "status": self.status.value,
            "summary": self.summary,
            "criteria": [c.to_json() for c in self.criteria],
            "evidence": list(self.evidence),
        }
        if self.outcomes:
            out["outcomes"] = list(self.outcomes)
        if self.warnings:
            out["warnings"] = list(self.warnings)
        if self.notes:
            out["notes"] = list(self.notes)
        if self.beyond_source_review:
            out["beyondSourceReview"] = True
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class DataGap:
    """A missing or stale input: what it blocks and the codes that would fill it."""

    element: str  # profile element, e.g. "ki67Percent", "flrPercent", "platelets"
    why: str
    codes: tuple[str, ...]  # "system|code", e.g. ("http://loinc.org|29593-1",)
    blocks: tuple[Modality, ...] = ()
    stale: bool = False
    last_seen: dt.date | None = None
    last_source: str | None = None
    order_label: str | None = None  # short orderable label, e.g. "Liver biopsy: Ki-67 index"

    def to_json(self) -> dict[str, Any]:
        """Return the CONTRACT.md section 4 JSON of this gap."""
        out: dict[str, Any] = {
            "element": self.element,
            "why": self.why,
            "codes": list(self.codes),
            "blocks": [m.value for m in self.blocks],
        }
        if self.stale:
            out["stale"] = True
        if self.last_seen is not None:
            out["lastSeen"] = self.last_seen.isoformat()
        if self.last_source is not None:
            out["lastSource"] = self.last_source
        if self.order_label is not None:
            out["orderLabel"] = self.order_label
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Evaluation:
    """The whole evaluation of one patient: every modality exactly once, plus data gaps."""

    patient: str
    evaluated_at: dt.date
    rules_version: str
    config_name: str  # which configuration (defaults or a site override) was used
    config_overrides: tuple[tuple[str, str], ...]  # (threshold key, value) a site changed
    profile_summary: dict[str, Any]  # the "profile" object of CONTRACT.md section 4
    results: tuple[ModalityResult, ...]
    data_gaps: tuple[DataGap, ...]
    problems: tuple[str, ...] = ()  # unusable FHIR data, "path: message"
    notes: tuple[str, ...] = ()  # patient-level notes (tumour board, follow-up imaging)

    def result(self, modality: Modality) -> ModalityResult:
        """Return the result for ``modality``; raises KeyError if absent (never for a valid one)."""
        for r in self.results:
            if r.modality is modality:
                return r
        raise KeyError(modality)

    def to_json(self) -> dict[str, Any]:
        """Return the JSON printed by ``nelm-cds evaluate`` (CONTRACT.md section 4)."""
        out: dict[str, Any] = {
            "patient": self.patient,
            "evaluatedAt": self.evaluated_at.isoformat(),
            "rulesVersion": self.rules_version,
            "configuration": {
                "name": self.config_name,
                "overrides": {k: v for k, v in self.config_overrides},
            },
            "profile": self.profile_summary,
            "recommendations": [r.to_json() for r in self.results],
            "dataGaps": [g.to_json() for g in self.data_gaps],
        }
        if self.problems:
            out["problems"] = list(self.problems)
        if self.notes:
            out["notes"] = list(self.notes)
        return out
