"""Data capture: the findings a chart usually lacks, validated, and built as FHIR Observations.

Each field is one code of CONTRACT.md section 3 (system ``FINDING_SYSTEM``). Nothing is written
unless every filled field is valid; an empty field is simply not recorded (missing is not a value).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nelm_fhir.pathways.result import FINDING_SYSTEM

__all__ = ["FIELDS", "CaptureField", "CaptureResult", "build_observation", "validate_form"]

UCUM = "http://unitsofmeasure.org"
CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"


@dataclass(frozen=True, slots=True, kw_only=True)
class CaptureField:
    """One finding of the form: its code, how it is entered and its valid range."""

    code: str
    label: str
    kind: str  # "percent", "integer", "quantity", "boolean", "choice"
    help: str
    category: str  # observation-category code
    minimum: float | None = None
    maximum: float | None = None
    unit: str | None = None  # UCUM code of a quantity
    choices: tuple[tuple[str, str], ...] = ()  # (code, label) for "choice"; (value, label) for boolean

    @property
    def fhir_system(self) -> str:
        """Return the code system of this field's Observation.code."""
        return FINDING_SYSTEM


_YES_NO = (("true", "Yes"), ("false", "No"))

FIELDS: tuple[CaptureField, ...] = (
    CaptureField(code="flr-percent", label="Future liver remnant (FLR)", kind="percent", minimum=0, maximum=100,
                 unit="%", category="imaging", help="CT volumetry after the planned resection, 0–100 %"),
    CaptureField(code="liver-involvement-percent", label="Liver involvement", kind="percent", minimum=0,
                 maximum=100, unit="%", category="imaging", help="Share of liver replaced by tumour, 0–100 %"),
    CaptureField(code="frilling-type", label="Frilling type", kind="choice", category="imaging",
                 choices=(("type-I", "Type I: single metastasis"), ("type-II", "Type II: bulk with smaller deposits"),
                          ("type-III", "Type III: diffuse")), help="NELM distribution [13]"),
    CaptureField(code="resectable-r0", label="R0 resection feasible", kind="boolean", choices=_YES_NO,
                 category="exam", help="MDT or surgeon judgement"),
    CaptureField(code="fit-for-major-surgery", label="Fit for major surgery", kind="boolean", choices=_YES_NO,
                 category="exam", help="No = comorbidity or frailty makes surgery unsafe"),
    CaptureField(code="krenning-score", label="Krenning score", kind="integer", minimum=0, maximum=4,
                 category="imaging", help="SSTR imaging uptake, whole number 0–4 (≥ 2 = at least normal liver)"),
    CaptureField(code="achievable-debulking-percent", label="Achievable debulking", kind="percent", minimum=0,
                 maximum=100, unit="%", category="exam", help="Surgeon's estimate of removable NELM load, 0–100 %"),
    CaptureField(code="syndrome-refractory-to-ssa", label="Syndrome refractory to SSA", kind="boolean",
                 choices=_YES_NO, category="exam", help="Hormonal syndrome not controlled by somatostatin analogue"),
    CaptureField(code="tumour-burden-symptoms", label="Tumour-burden symptoms", kind="boolean", choices=_YES_NO,
                 category="exam", help="Symptoms attributable to liver tumour burden"),
    CaptureField(code="fdg-pet-positive", label="FDG-PET positive", kind="boolean", choices=_YES_NO,
                 category="imaging", help="FDG-avid disease"),
    CaptureField(code="differentiation", label="Differentiation", kind="choice", category="laboratory",
                 choices=(("well", "Well differentiated (NET)"), ("poor", "Poorly differentiated (NEC)")),
                 help="Pathology"),
    CaptureField(code="mitotic-count", label="Mitotic count", kind="quantity", minimum=0, maximum=1000,
                 unit="/2.mm2", category="laboratory", help="Mitoses per 2 mm², 0–1000"),
    CaptureField(code="primary-status", label="Primary tumour", kind="choice", category="exam",
                 choices=(("in-situ", "In situ"), ("resected", "Resected"), ("unknown-primary", "Unknown primary")),
                 help="State of the primary tumour"),
    CaptureField(code="lesion-near-hilum", label="Lesion near the hilum", kind="boolean", choices=_YES_NO,
                 category="imaging", help="A target lesion abuts hilar structures"),
    CaptureField(code="lesion-subcapsular", label="Subcapsular lesion", kind="boolean", choices=_YES_NO,
                 category="imaging", help="A target lesion is superficial"),
)
FIELD_BY_CODE = {f.code: f for f in FIELDS}
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)$")


@dataclass(frozen=True, slots=True, kw_only=True)
class CaptureResult:
    """The validated values (code → typed value), the errors (code → message), and the date."""

    values: Mapping[str, Any]
    errors: Mapping[str, str]
    effective: dt.date | None
    note: str

    @property
    def ok(self) -> bool:
        """Return True when there is something to write and nothing is invalid."""
        return not self.errors and bool(self.values)


def _number(f: CaptureField, raw: str) -> tuple[float | int | None, str | None]:
    text = raw.strip()
    if f.kind == "percent" and text.endswith("%"):
        text = text[:-1].strip()
    if not _NUMBER.match(text):
        unit = " (in %)" if f.kind == "percent" else ""
        return None, f"{f.label}: enter a number{unit}, not “{raw.strip()[:40]}”"
    value = float(text.replace(",", "."))
    if not math.isfinite(value):
        return None, f"{f.label}: enter a finite number"
    if f.kind == "integer":
        if value != int(value):
            return None, f"{f.label}: enter a whole number"
        value = int(value)
    if (f.minimum is not None and value < f.minimum) or (f.maximum is not None and value > f.maximum):
        return None, f"{f.label}: must be between {f.minimum:g} and {f.maximum:g}"
    return value, None


def validate_form(form: Mapping[str, str], *, today: dt.date) -> CaptureResult:
    """Return the typed values and per-field errors of a submitted capture form."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in FIELDS:
        raw = (form.get(f.code) or "").strip()
        if not raw:
            continue
        if f.kind in {"percent", "integer", "quantity"}:
            value, error = _number(f, raw)
            if error:
                errors[f.code] = error
            else:
                values[f.code] = value
        elif f.kind == "boolean":
            if raw not in {"true", "false"}:
                errors[f.code] = f"{f.label}: choose Yes or No"
            else:
                values[f.code] = raw == "true"
        elif raw in {c for c, _ in f.choices}:
            values[f.code] = raw
        else:
            errors[f.code] = f"{f.label}: choose one of the listed values"
    effective: dt.date | None = today
    raw_date = (form.get("effective") or "").strip()
    if raw_date:
        try:
            effective = dt.date.fromisoformat(raw_date)
        except ValueError:
            errors["effective"] = "Date of the finding: use YYYY-MM-DD"
            effective = None
        else:
            if effective > today:
                errors["effective"] = "Date of the finding: cannot be in the future"
    note = (form.get("note") or "").strip()
    if len(note) > 1000:
        errors["note"] = "Comment: at most 1000 characters"
    if not values and not errors:
        errors["form"] = "Nothing to record: fill in at least one finding."
    return CaptureResult(values=values, errors=errors, effective=effective, note=note)


def build_observation(
    code: str,
    value: Any,
    *,
    patient_id: str,
    effective: dt.date,
    issued: dt.datetime,
    performer: str | None = None,
    encounter: str | None = None,
    note: str = "",
) -> dict[str, Any]:
    """Return a final FHIR R4 Observation for one captured finding (CONTRACT.md section 3)."""
    f = FIELD_BY_CODE[code]
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": f.category}]}],
        "code": {"coding": [{"system": FINDING_SYSTEM, "code": f.code, "display": f.label}], "text": f.label},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": effective.isoformat(),
        "issued": issued.replace(microsecond=0).isoformat().replace("+00:00", "Z"),
    }
    if encounter:
        obs["encounter"] = {"reference": encounter if "/" in encounter else f"Encounter/{encounter}"}
    if performer:
        obs["performer"] = [{"reference": performer}]
    if f.kind in {"percent", "quantity"}:
        unit = f.unit or "%"
        obs["valueQuantity"] = {"value": value, "unit": unit, "system": UCUM, "code": unit}
    elif f.kind == "integer":
        obs["valueInteger"] = int(value)
    elif f.kind == "boolean":
        obs["valueBoolean"] = bool(value)
    else:
        display = dict(f.choices)[value]
        obs["valueCodeableConcept"] = {
            "coding": [{"system": FINDING_SYSTEM, "code": value, "display": display}],
            "text": display,
        }
    if note:
        obs["note"] = [{"text": note}]
    return obs
