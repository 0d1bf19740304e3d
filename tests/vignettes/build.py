"""Build the public vignettes of VIGNETTES.md as FHIR R4 Bundles (``python -m tests.vignettes.build``).

One ``Spec`` per vignette: baseline patient "B" plus the vignette's overrides, written as
mCODE / US Core shaped resources with the codes of TERMINOLOGY.md and CONTRACT.md section 3.
Dates are relative to the fixed evaluation date ``NOW`` (``--now 2026-11-26``). Resource ids
are prefixed with the lowercase vignette id so that every vignette can share one FHIR server.
The JSON files are committed; ``test_vignettes.py`` checks they equal what this module builds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NOW = dt.date(2026, 11, 26)
HERE = Path(__file__).resolve().parent
BASE_URL = "https://demo.nelm-cds.org/fhir"

LOINC = "http://loinc.org"
SCT = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
PCS = "http://www.cms.gov/Medicare/Coding/ICD10"
ICDO3 = "http://terminology.hl7.org/CodeSystem/icd-o-3"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
FINDING = "https://nelm-cds.org/fhir/CodeSystem/nelm-finding"
MODALITY = "https://nelm-cds.org/fhir/CodeSystem/modality"
MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition"

# Primary sites: (ICD-10-CM, SNOMED disorder, display, body site SNOMED, body site display)
PRIMARIES = {
    "ileum": ("C7A.012", "737313007", "Primary malignant neuroendocrine neoplasm of ileum", "34516001", "Ileum"),
    "pancreas-body": ("C25.4", "735735001", "Primary malignant neuroendocrine neoplasm of pancreas", "15776009",
                      "Pancreas"),
    "pancreas-nec": ("C7A.1", "1186869002", "Neuroendocrine carcinoma of pancreas", "15776009", "Pancreas"),
    "unknown": ("C80.1", None, "Malignant (primary) neoplasm, unspecified", None, None),
}


@dataclass(frozen=True)
class Spec:
    """One vignette's inputs: baseline patient B unless overridden (None = not recorded)."""

    vid: str
    title: str
    age: int = 55
    ecog: int | None = 0
    fit: bool | None = None
    primary: str = "ileum"
    primary_status: str = "resected"  # in-situ | resected | unknown-primary
    primary_resected_months_ago: int = 24
    differentiation: str | None = "well"
    morphology: str | None = None  # ICD-O-3 code for the mCODE histology-morphology extension
    ki67: float | None = 1.0
    ki67_site: str = "liver"  # liver | primary
    lesions: tuple[tuple[float, str], ...] = ((4.0, "segment VI"),)
    near_hilum: bool = False
    subcapsular: bool = False
    involvement: float | None = None
    flr: float | None = None
    frilling: str | None = None  # type-I | type-II | type-III
    r0: bool | None = None
    debulk: float | None = None
    krenning: int | None = 3
    fdg: bool | None = None
    stable_months: int = 12
    progressive: bool = False
    extrahepatic: tuple[str, ...] = ()  # bone | regional-nodes
    pvt: bool = False
    syndrome: bool = False
    refractory: bool | None = None
    drugs: tuple[str, ...] = ()  # octreotide | lanreotide
    liver_resection_months_ago: int | None = None
    recurrence: bool = False
    labs: dict[str, float] = field(default_factory=dict)
    comorbidity: str | None = None  # SNOMED code of a condition that makes surgery unsafe
    # Issue 11 vignettes: further resources as an EHR writes them (ids prefixed, subject added) and resource ids
    # of the baseline to leave out (e.g. "primary-status" for a record that never states it).
    extra: tuple[dict[str, Any], ...] = ()
    omit: tuple[str, ...] = ()


BASE_LABS = {  # LOINC code: (value, UCUM unit, display)
    "1975-2": (0.6, "mg/dL", "Bilirubin.total [Mass/volume] in Serum or Plasma"),
    "1751-7": (4.1, "g/dL", "Albumin [Mass/volume] in Serum or Plasma"),
    "6301-6": (1.0, "{INR}", "INR in Platelet poor plasma by Coagulation assay"),
    "98979-8": (85.0, "mL/min/{1.73_m2}",
                "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] by CKD-EPI 2021"),
    "777-3": (250.0, "10*3/uL", "Platelets [#/volume] in Blood by Automated count"),
    "718-7": (13.5, "g/dL", "Hemoglobin [Mass/volume] in Blood"),
    "6690-2": (6.5, "10*3/uL", "Leukocytes [#/volume] in Blood by Automated count"),
}
EXTRA_LABS = {
    "35591-7": ("mL/min", "Creatinine renal clearance predicted by Cockcroft-Gault formula"),
    "1695-6": ("mg/(24.h)", "5-Hydroxyindoleacetate [Mass/time] in 24 hour Urine"),
}


def date_ago(days_ago: int = 0, months_ago: int = 0) -> str:
    """Return the ISO date ``days_ago`` days and ``months_ago`` months before NOW (as every vignette date)."""
    return _date(days_ago, months_ago)


def _date(days_ago: int = 0, months_ago: int = 0) -> str:
    total = NOW.year * 12 + NOW.month - 1 - months_ago
    day = min(NOW.day, 28)
    return (dt.date(total // 12, total % 12 + 1, day) - dt.timedelta(days=days_ago)).isoformat()


def _cc(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _finding(code: str, display: str) -> dict[str, Any]:
    return _cc(FINDING, code, display)


class _Bundle:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.pid = spec.vid.lower()
        self.entries: list[dict[str, Any]] = []

    @property
    def subject(self) -> dict[str, str]:
        return {"reference": f"Patient/{self.pid}"}

    def add(self, resource: dict[str, Any]) -> str:
        resource["id"] = f"{self.pid}-{resource['id']}" if resource["resourceType"] != "Patient" else self.pid
        self.entries.append({"fullUrl": f"{BASE_URL}/{resource['resourceType']}/{resource['id']}",
                             "resource": resource})
        return f"{resource['resourceType']}/{resource['id']}"

    def observation(self, rid: str, code: dict[str, Any], value: dict[str, Any], date: str,
                    category: str = "exam", **extra: Any) -> str:
        obs: dict[str, Any] = {
            "resourceType": "Observation", "id": rid, "status": "final",
            "category": [_cc("http://terminology.hl7.org/CodeSystem/observation-category", category, category)],
            "code": code, "subject": self.subject, "effectiveDateTime": date, **value, **extra,
        }
        return self.add(obs)

    def finding(self, rid: str, code: str, display: str, value: dict[str, Any], date: str) -> str:
        return self.observation(rid, _finding(code, display), value, date, category="survey")

    def condition(self, rid: str, codes: list[tuple[str, str, str]], onset: str, *, status: str = "active",
                  body: tuple[str, str] | None = None, **extra: Any) -> str:
        cond: dict[str, Any] = {
            "resourceType": "Condition", "id": rid,
            "clinicalStatus": _cc("http://terminology.hl7.org/CodeSystem/condition-clinical", status, status),
            "verificationStatus": _cc("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed",
                                      "confirmed"),
            "category": [_cc("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item",
                             "Problem List Item")],
            "code": {"coding": [{"system": s, "code": c, "display": d} for s, c, d in codes], "text": codes[0][2]},
            "subject": self.subject, "onsetDateTime": onset, "recordedDate": onset, **extra,
        }
        if body is not None:
            cond["bodySite"] = [_cc(SCT, body[0], body[1])]
        return self.add(cond)


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}}


def build(spec: Spec) -> dict[str, Any]:
    """Return the FHIR R4 collection Bundle of one vignette."""
    b = _Bundle(spec)
    birth = dt.date(NOW.year - spec.age - 1, 12, 15)  # age ``spec.age`` on NOW
    b.add({"resourceType": "Patient", "id": b.pid, "active": True,
           "identifier": [{"system": "https://demo.nelm-cds.org/mrn", "value": spec.vid}],
           "name": [{"use": "official", "family": f"Vignette {spec.vid}", "given": ["Demo"]}],
           "gender": "female" if sum(map(ord, spec.vid)) % 2 else "male", "birthDate": birth.isoformat()})
    _tumour(b, spec)
    _liver(b, spec)
    _course_and_fitness(b, spec)
    _labs(b, spec)
    if spec.omit:
        b.entries = [e for e in b.entries if e["resource"]["id"].removeprefix(f"{b.pid}-") not in spec.omit]
    for resource in spec.extra:
        b.add({"subject": b.subject, **json.loads(json.dumps(resource))})
    return {"resourceType": "Bundle", "id": f"vignette-{b.pid}", "type": "collection",
            "timestamp": f"{NOW.isoformat()}T08:00:00Z", "entry": b.entries}


def _tumour(b: _Bundle, spec: Spec) -> None:
    icd, sct, display, body, body_display = PRIMARIES[spec.primary]
    codes = [(ICD10, icd, display)] + ([(SCT, sct, display)] if sct else [])
    extra: dict[str, Any] = {}
    if spec.morphology:
        extra["extension"] = [{"url": f"{MCODE}/mcode-histology-morphology-behavior",
                               "valueCodeableConcept": _cc(ICDO3, spec.morphology, f"ICD-O-3 {spec.morphology}")}]
    onset_months = max(spec.primary_resected_months_ago + 1, 3) if spec.primary_status == "resected" else 2
    primary = b.condition("primary", codes, _date(months_ago=onset_months),
                          body=(body, body_display) if body else None, **extra)
    b.finding("primary-status", "primary-status", "state of the primary tumour",
              {"valueCodeableConcept": _finding(spec.primary_status, spec.primary_status)}, _date(days_ago=20))
    if spec.primary_status == "resected":
        pcs = ("0FBG0ZZ", "Excision of Pancreas, Open Approach") if "pancreas" in spec.primary else (
            "0DTB0ZZ", "Resection of Ileum, Open Approach")
        b.add({"resourceType": "Procedure", "id": "primary-resection", "status": "completed",
               "code": _cc(PCS, *pcs), "subject": b.subject,
               "performedDateTime": _date(months_ago=spec.primary_resected_months_ago),
               "reasonReference": [{"reference": primary}]})
    if spec.differentiation:
        b.finding("differentiation", "differentiation", "tumour differentiation",
                  {"valueCodeableConcept": _finding(spec.differentiation, spec.differentiation)}, _date(months_ago=3))
    if spec.ki67 is not None:
        site = ("10200004", "Liver") if spec.ki67_site == "liver" else (body or "34516001", body_display or "Ileum")
        specimen = b.add({"resourceType": "Specimen", "id": "ki67-specimen", "subject": b.subject,
                          "type": _cc(SCT, "119376003", "Tissue specimen"),
                          "collection": {"collectedDateTime": _date(months_ago=3), "bodySite": _cc(SCT, *site)}})
        b.observation("ki67", _cc(LOINC, "29593-1", "Ki-67 [Interpretation] in Tissue"),
                      _quantity(spec.ki67, "%"), _date(months_ago=3), category="laboratory",
                      specimen={"reference": specimen}, bodySite=_cc(SCT, *site))
    if spec.syndrome:
        b.condition("carcinoid-syndrome", [(ICD10, "E34.00", "Carcinoid syndrome, unspecified"),
                                           (SCT, "35868009", "Carcinoid syndrome")], _date(months_ago=18))
    if spec.refractory is not None:
        b.finding("refractory", "syndrome-refractory-to-ssa", "hormonal syndrome not controlled by SSA",
                  {"valueBoolean": spec.refractory}, _date(days_ago=20))
    for drug in spec.drugs:
        rxcui, name = {"octreotide": ("7617", "octreotide"), "lanreotide": ("60215", "lanreotide")}[drug]
        b.add({"resourceType": "MedicationStatement", "id": f"med-{drug}", "status": "active",
               "medicationCodeableConcept": _cc(RXNORM, rxcui, name), "subject": b.subject,
               "effectivePeriod": {"start": _date(months_ago=14)}})


def _liver(b: _Bundle, spec: Spec) -> None:
    nelm_onset = _date(months_ago=2) if spec.recurrence else _date(months_ago=max(spec.stable_months, 3) + 1)
    b.condition("nelm", [(ICD10, "C7B.02", "Secondary carcinoid tumors of liver"),
                         (SCT, "94381002", "Metastatic malignant neoplasm to liver")], nelm_onset,
                status="recurrence" if spec.recurrence else "active", body=("10200004", "Liver"),
                extension=[{"url": f"{MCODE}/mcode-related-primary-cancer-condition",
                            "valueReference": {"reference": f"Condition/{b.pid}-primary"}}])
    if spec.liver_resection_months_ago is not None:
        b.add({"resourceType": "Procedure", "id": "liver-resection", "status": "completed",
               "code": _cc(SCT, "85946004", "Lobectomy of liver"), "subject": b.subject,
               "performedDateTime": _date(months_ago=spec.liver_resection_months_ago)})
    imaging = _date(days_ago=30)
    for i, (size, where) in enumerate(spec.lesions, start=1):
        components = [{"code": _cc(LOINC, "33728-7", "Size.maximum dimension in Tumor"),
                       **_quantity(size, "cm")}]
        if spec.near_hilum:
            components.append({"code": _finding("lesion-near-hilum", "lesion abuts hilar structures"),
                               "valueBoolean": True})
        if spec.subcapsular:
            components.append({"code": _finding("lesion-subcapsular", "superficial lesion"), "valueBoolean": True})
        b.observation(f"lesion-{i}", _cc(LOINC, "21889-1", "Size Tumor"), {}, imaging, category="imaging",
                      bodySite={**_cc(SCT, "10200004", "Liver"), "text": f"Liver, {where}"},
                      method=_cc(SCT, "113091000", "Magnetic resonance imaging"), component=components)
    for rid, code, display, value, unit in (
        ("involvement", "liver-involvement-percent", "share of liver parenchyma replaced by tumour",
         spec.involvement, "%"),
        ("flr", "flr-percent", "future liver remnant after the planned resection", spec.flr, "%"),
        ("debulking", "achievable-debulking-percent", "surgeon's estimate of removable NELM load", spec.debulk, "%"),
    ):
        if value is not None:
            b.finding(rid, code, display, _quantity(value, unit), imaging)
    if spec.frilling:
        b.finding("frilling", "frilling-type", "NELM distribution type (Frilling)",
                  {"valueCodeableConcept": _finding(spec.frilling, spec.frilling)}, imaging)
    if spec.r0 is not None:
        b.finding("resectable-r0", "resectable-r0", "MDT judgement that an R0 resection is feasible",
                  {"valueBoolean": spec.r0}, _date(days_ago=14))
    if spec.krenning is not None:
        b.finding("krenning", "krenning-score", "SSTR imaging uptake (Krenning score)",
                  {"valueInteger": spec.krenning}, imaging)
    if spec.fdg is not None:
        b.finding("fdg-pet", "fdg-pet-positive", "FDG-PET avid disease", {"valueBoolean": spec.fdg}, imaging)
    if spec.pvt:
        b.condition("pvt", [(ICD10, "I81", "Portal vein thrombosis"), (SCT, "17920008", "Portal vein thrombosis")],
                    _date(days_ago=30))
    for site in spec.extrahepatic:
        if site == "bone":
            b.condition("bone-metastasis", [(ICD10, "C7B.03", "Secondary carcinoid tumors of bone"),
                                            (SCT, "94222008", "Secondary malignant neoplasm of bone")],
                        _date(months_ago=4), body=("272673000", "Bone structure"))
        else:
            b.condition("regional-nodes", [(ICD10, "C77.2", "Secondary malignant neoplasm of intra-abdominal lymph "
                                            "nodes")], _date(months_ago=1))


def _course_and_fitness(b: _Bundle, spec: Spec) -> None:
    def status(rid: str, code: str, display: str, date: str) -> None:
        b.observation(rid, _cc(LOINC, "97509-4", "Cancer disease progression"),
                      {"valueCodeableConcept": _cc(SCT, code, display)}, date, category="imaging",
                      focus=[{"reference": f"Condition/{b.pid}-nelm"}])

    status("status-1", "359746009", "Patient's condition stable", _date(months_ago=spec.stable_months))
    if spec.progressive:
        status("status-2", "271299001", "Patient's condition worsened", _date(days_ago=25))
    else:
        status("status-2", "359746009", "Patient's condition stable", _date(days_ago=25))
    if spec.ecog is not None:
        b.observation("ecog", _cc(LOINC, "89247-1", "ECOG Performance Status score"), {"valueInteger": spec.ecog},
                      _date(days_ago=10), category="survey")
    if spec.fit is not None:
        b.finding("fit-for-surgery", "fit-for-major-surgery", "MDT judgement of fitness for major surgery",
                  {"valueBoolean": spec.fit}, _date(days_ago=14))
    if spec.comorbidity:
        b.condition("comorbidity", [(SCT, spec.comorbidity, "Severe chronic obstructive pulmonary disease")],
                    _date(months_ago=60))


def _labs(b: _Bundle, spec: Spec) -> None:
    date = _date(days_ago=10)
    values = {code: v for code, (v, _, _) in BASE_LABS.items()}
    values.update(spec.labs)
    for code, value in values.items():
        unit, display = (BASE_LABS[code][1], BASE_LABS[code][2]) if code in BASE_LABS else EXTRA_LABS[code]
        b.observation(f"lab-{code}", _cc(LOINC, code, display), _quantity(value, unit), date, category="laboratory")


def variant(spec: Spec, vid: str, title: str, **changes: Any) -> Spec:
    """Return ``spec`` with a new id, title and the given changes."""
    return dataclasses.replace(spec, vid=vid, title=title, **changes)


def write_all() -> list[Path]:
    """Write every vignette Bundle next to this module; return the paths."""
    from tests.vignettes.specs import SPECS, expected_json

    paths = []
    for spec in SPECS:
        path = HERE / f"{spec.vid}.json"
        path.write_text(dump(build(spec)), encoding="utf-8")
        paths.append(path)
    expected = HERE / "expected.json"
    expected.write_text(dump(expected_json()), encoding="utf-8")
    return [*paths, expected]


def dump(data: dict[str, Any]) -> str:
    """Return the committed text form of a JSON document (stable, UTF-8, one trailing newline)."""
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    for written in write_all():
        print(written.name)
