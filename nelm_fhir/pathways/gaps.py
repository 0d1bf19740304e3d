"""The inputs a decision may need: what each is called, the codes that fill it, what to order.

A rule that lacks an input records its element name; the engine turns the names into
``DataGap``s (one per element, listing every modality it blocked) so that a card can offer
to order the test or to record the finding.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from nelm_fhir.model import UnreadableResult
from nelm_fhir.pathways.result import FINDING_SYSTEM, DataGap, Modality

__all__ = ["INPUTS", "InputSpec", "Staleness", "build_gaps"]

LOINC = "http://loinc.org"
PROGRESSION_RULE = "B36 (progression)"  # Staleness.rule of a grade measured before the latest progression


@dataclass(frozen=True, slots=True, kw_only=True)
class InputSpec:
    """One input element: its label, the codes that would fill it and an orderable label."""

    element: str
    label: str
    codes: tuple[str, ...]
    order_label: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Staleness:
    """Why an element that the record holds was not used: too old at the evaluation date."""

    last_seen: dt.date | None
    last_source: str | None
    max_age_days: int
    window: str = ""  # the limit as shown, e.g. "12 months"; empty means "<max_age_days> days"
    rule: str = "B24"  # the PATHWAY.md rule that set the limit
    engineering_default: bool = True  # every staleness window is an engineering default (B24, A.6)


def _spec(element: str, label: str, *codes: str, order: str | None = None) -> InputSpec:
    return InputSpec(element=element, label=label, codes=codes, order_label=order)


def _finding(code: str) -> str:
    return f"{FINDING_SYSTEM}|{code}"


INPUTS: Mapping[str, InputSpec] = {
    s.element: s
    for s in (
        _spec(
            "ki67Percent",
            "Ki-67 index (or mitotic count)",
            f"{LOINC}|29593-1",
            _finding("mitotic-count"),
            order="Ki-67 index on a liver metastasis biopsy",
        ),
        _spec(
            "ki67LiverSpecimen",
            "Ki-67 on a liver metastasis specimen",
            f"{LOINC}|29593-1",
            order="Pre-operative liver biopsy: Ki-67 index",
        ),
        _spec(
            "differentiation",
            "tumour differentiation (well vs poorly differentiated)",
            _finding("differentiation"),
            order="Pathology review: differentiation (NET G3 vs NEC)",
        ),
        _spec(
            "primarySite",
            "primary tumour (site, or unknown primary)",
            _finding("primary-status"),
            order="Record the primary tumour condition",
        ),
        _spec(
            "primaryTumour",
            "primary tumour and whether it was resected",
            _finding("primary-status"),
            order="Record the primary tumour condition and its resection",
        ),
        _spec(
            "ki67AfterProgression",
            "Ki-67 on a specimen taken after the latest progression",
            f"{LOINC}|29593-1",
            order="Re-biopsy after progression: Ki-67 index",
        ),
        _spec(
            "primaryStatus",
            "state of the primary (in situ, resected, unknown)",
            _finding("primary-status"),
            order="Record primary tumour status",
        ),
        _spec("ageYears", "age (Patient.birthDate)", "http://hl7.org/fhir/StructureDefinition/Patient|birthDate"),
        _spec(
            "fitness",
            "performance status or MDT fitness judgement",
            f"{LOINC}|89247-1",
            f"{LOINC}|89243-0",
            _finding("fit-for-major-surgery"),
            order="ECOG performance status",
        ),
        _spec(
            "resectableR0",
            "MDT/surgeon judgement that R0 resection is feasible",
            _finding("resectable-r0"),
            order="MDT resectability assessment",
        ),
        _spec(
            "flrPercent",
            "future liver remnant % (CT volumetry)",
            _finding("flr-percent"),
            order="CT volumetry: future liver remnant",
        ),
        _spec(
            "frillingType",
            "Frilling NELM distribution type",
            _finding("frilling-type"),
            order="Radiology/MDT: Frilling type",
        ),
        _spec(
            "liverInvolvementPercent",
            "share of liver replaced by tumour",
            _finding("liver-involvement-percent"),
            order="Cross-sectional imaging: liver involvement %",
        ),
        _spec(
            "lesionSize",
            "largest diameter of each liver lesion",
            f"{LOINC}|33728-7",
            f"{LOINC}|21889-1",
            order="Liver MRI/CT: lesion sizes",
        ),
        _spec(
            "monthsStable",
            "disease status history (mCODE CancerDiseaseStatus)",
            f"{LOINC}|97509-4",
            order="Restaging: disease status assessment",
        ),
        _spec(
            "achievableDebulkingPercent",
            "surgeon's estimate of removable NELM load",
            _finding("achievable-debulking-percent"),
            order="Surgical review: achievable debulking %",
        ),
        _spec(
            "krenningScore",
            "SSTR imaging uptake (Krenning score)",
            _finding("krenning-score"),
            order="SSTR PET/CT (68Ga-DOTATATE)",
        ),
        _spec(
            "fdgPetPositive",
            "FDG-PET (dual-tracer selection for G3)",
            _finding("fdg-pet-positive"),
            order="18F-FDG PET/CT",
        ),
        _spec(
            "renalFunction",
            "eGFR or creatinine clearance",
            f"{LOINC}|98979-8",
            f"{LOINC}|62238-1",
            f"{LOINC}|2164-2",
            order="Creatinine and eGFR",
        ),
        _spec("platelets", "platelet count", f"{LOINC}|777-3", order="Full blood count"),
        _spec("haemoglobin", "haemoglobin", f"{LOINC}|718-7", order="Full blood count"),
        _spec("leukocytes", "leukocyte count", f"{LOINC}|6690-2", order="Full blood count"),
        _spec("bilirubin", "total bilirubin", f"{LOINC}|1975-2", order="Liver function tests"),
        _spec("albumin", "albumin", f"{LOINC}|1751-7", order="Liver function tests"),
        _spec("inr", "INR", f"{LOINC}|6301-6", f"{LOINC}|34714-6", order="Coagulation: INR"),
    )
}


def build_gaps(
    blocked: Mapping[str, Iterable[Modality]],
    stale: Mapping[str, Staleness],
    extra: Iterable[DataGap] = (),
    unreadable: Mapping[str, UnreadableResult] | None = None,
) -> tuple[DataGap, ...]:
    """Return one DataGap per element, in a stable order, with the modalities it blocked."""
    gaps: list[DataGap] = []
    for element in sorted(blocked):
        spec = INPUTS[element]
        modalities = tuple(m for m in Modality if m in set(blocked[element]))
        old = stale.get(element)
        bad = (unreadable or {}).get(element)
        if bad is not None:
            old = Staleness(last_seen=bad.date, last_source=bad.source, max_age_days=0, rule="B28")
            why = (
                f"{spec.label}: the newest result could not be read (see the problems listed); "
                "an older or weaker result is not used in its place (B28)"
            )
        elif old is not None and old.last_seen is None:
            why = (
                f"{spec.label}: the last result has no date; its age is unknown and it counts as missing "
                f"(stale, B29)"
            )
        elif old is not None:
            window = old.window or f"{old.max_age_days} days"
            seen = f" of {old.last_seen.isoformat()}" if old.last_seen else ""
            default = "; configurable engineering default" if old.engineering_default else "; configurable"
            why = (
                f"{spec.label}: last result{seen} is older than {window} at the evaluation date"
                f" and counts as missing (stale, {old.rule}{default})"
            )
        else:
            why = f"{spec.label}: not recorded; required by {len(modalities)} option(s) (B26)"
        gaps.append(
            DataGap(
                element=element,
                why=why,
                codes=spec.codes,
                blocks=modalities,
                stale=old is not None,
                last_seen=old.last_seen if old else None,
                last_source=old.last_source if old else None,
                order_label=spec.order_label,
            )
        )
    gaps.extend(extra)
    return tuple(gaps)
