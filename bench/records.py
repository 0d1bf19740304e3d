"""Deterministic synthetic patient records shaped like real US Core / mCODE FHIR R4 JSON.

A record is one patient with well-differentiated ileal NET and liver metastases (the vignettes'
baseline patient "B") plus what a real chart holds around it: years of monthly labs (CBC, liver
panel, renal panel, chromogranin A), vital signs and unrelated labs at every visit, encounters,
unrelated conditions, procedures and medications. ``make_record(n)`` returns a Bundle of exactly
``n`` resources; the same ``seed`` always gives the same Bundle.

``mix="realistic"`` fills the record month by month backwards from ``as_of`` (relevant and
irrelevant data interleaved, as in a chart); ``mix="irrelevant"`` keeps the same clinical core
but fills the rest with data the pathway does not read (vitals, unrelated labs), to show that cost
grows with relevant data, not with record size.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["BASE_URL", "MIXES", "count_by_type", "make_record"]

Resource = dict[str, Any]

BASE_URL = "https://ehr.example.org/fhir"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
NELM = "https://nelm-cds.org/fhir/CodeSystem/nelm-finding"
OBS_CAT = "http://terminology.hl7.org/CodeSystem/observation-category"
COND_CLIN = "http://terminology.hl7.org/CodeSystem/condition-clinical"
COND_VER = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
COND_CAT = "http://terminology.hl7.org/CodeSystem/condition-category"
MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition"
MIXES = ("realistic", "irrelevant")

# (LOINC, display, unit, UCUM code, mean, sd, decimals)
LabDef = tuple[str, str, str, str, float, float, int]
CBC: tuple[LabDef, ...] = (
    ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", "g/dL", 13.4, 0.6, 1),
    ("777-3", "Platelets [#/volume] in Blood by Automated count", "10*3/uL", "10*3/uL", 245, 30, 0),
    ("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*3/uL", "10*3/uL", 6.4, 0.9, 1),
    ("751-8", "Neutrophils [#/volume] in Blood by Automated count", "10*3/uL", "10*3/uL", 3.9, 0.6, 1),
)
LIVER: tuple[LabDef, ...] = (
    ("1975-2", "Bilirubin.total [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL", 0.6, 0.1, 1),
    ("1751-7", "Albumin [Mass/volume] in Serum or Plasma", "g/dL", "g/dL", 4.1, 0.2, 1),
    ("1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "U/L", "U/L", 28, 6, 0),
    ("1920-8", "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "U/L", "U/L", 26, 5, 0),
    ("6301-6", "INR in Platelet poor plasma by Coagulation assay", "{INR}", "{INR}", 1.0, 0.05, 2),
)
RENAL: tuple[LabDef, ...] = (
    ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL", 0.9, 0.08, 2),
    ("98979-8", "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood "
     "by Creatinine-based formula (CKD-EPI 2021)", "mL/min/1.73m2", "mL/min/{1.73_m2}", 85, 5, 0),
)
MARKERS: tuple[LabDef, ...] = (
    ("9811-1", "Chromogranin A [Mass/volume] in Serum or Plasma", "ng/mL", "ng/mL", 180, 25, 0),
)
OTHER_LABS: tuple[LabDef, ...] = (
    ("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL", 98, 9, 0),
    ("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", "mmol/L", 140, 2, 0),
    ("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", "mmol/L", 4.2, 0.3, 1),
    ("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL", 190, 20, 0),
    ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", "%", 5.8, 0.3, 1),
    ("3016-3", "Thyrotropin [Units/volume] in Serum or Plasma", "m[IU]/L", "m[IU]/L", 1.8, 0.5, 2),
)
VITALS: tuple[LabDef, ...] = (
    ("8867-4", "Heart rate", "/min", "/min", 72, 6, 0),
    ("9279-1", "Respiratory rate", "/min", "/min", 15, 1.5, 0),
    ("8310-5", "Body temperature", "Cel", "Cel", 36.8, 0.2, 1),
    ("29463-7", "Body weight", "kg", "kg", 74, 1.5, 1),
    ("39156-5", "Body mass index (BMI) [Ratio]", "kg/m2", "kg/m2", 24.2, 0.5, 1),
    ("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", "%", "%", 97, 1, 0),
)


def _cc(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _ts(day: dt.date, hour: int = 9) -> str:
    return f"{day.isoformat()}T{hour:02d}:00:00Z"


class _Builder:
    """Accumulates resources with stable ids; every builder method returns the new resource."""

    def __init__(self, patient_id: str, rng: random.Random) -> None:
        self.patient_id = patient_id
        self.rng = rng
        self.resources: list[Resource] = []
        self._n = 0

    def _id(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}-{self._n:05d}"

    def add(self, resource: Resource) -> Resource:
        self.resources.append(resource)
        return resource

    @property
    def subject(self) -> dict[str, str]:
        return {"reference": f"Patient/{self.patient_id}"}

    def observation(self, code: dict[str, Any], category: str, day: dt.date, *, value: dict[str, Any],
                    profile: str, prefix: str = "obs", encounter: str | None = None,
                    extra: dict[str, Any] | None = None) -> Resource:
        res: Resource = {
            "resourceType": "Observation",
            "id": self._id(prefix),
            "meta": {"profile": [profile]},
            "status": "final",
            "category": [{"coding": [{"system": OBS_CAT, "code": category}]}],
            "code": code,
            "subject": self.subject,
            "effectiveDateTime": _ts(day),
            "issued": _ts(day, 14),
            **value,
        }
        if encounter:
            res["encounter"] = {"reference": f"Encounter/{encounter}"}
        if extra:
            res.update(extra)
        return self.add(res)

    def lab(self, lab: LabDef, day: dt.date, category: str, encounter: str | None) -> Resource:
        code, display, unit, ucum, mean, sd, decimals = lab
        value = round(max(self.rng.gauss(mean, sd), 0.0), decimals)
        profile = ("http://hl7.org/fhir/us/core/StructureDefinition/us-core-observation-lab" if category == "laboratory"
                   else "http://hl7.org/fhir/StructureDefinition/vitalsigns")
        quantity = {"value": value, "unit": unit, "system": UCUM, "code": ucum}
        return self.observation(_cc(LOINC, code, display), category, day, value={"valueQuantity": quantity},
                                profile=profile, encounter=encounter)

    def encounter(self, day: dt.date, reason: str) -> Resource:
        return self.add({
            "resourceType": "Encounter",
            "id": self._id("enc"),
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB",
                      "display": "ambulatory"},
            "type": [_cc(SNOMED, "185349003", "Encounter for check up")],
            "subject": self.subject,
            "period": {"start": _ts(day, 8), "end": _ts(day, 9)},
            "reasonCode": [{"text": reason}],
        })

    def condition(self, codings: list[tuple[str, str, str]], onset: dt.date, *, category: str = "problem-list-item",
                  profile: str = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-condition",
                  extra: dict[str, Any] | None = None, prefix: str = "cond") -> Resource:
        res: Resource = {
            "resourceType": "Condition",
            "id": self._id(prefix),
            "meta": {"profile": [profile]},
            "clinicalStatus": {"coding": [{"system": COND_CLIN, "code": "active"}]},
            "verificationStatus": {"coding": [{"system": COND_VER, "code": "confirmed"}]},
            "category": [{"coding": [{"system": COND_CAT, "code": category}]}],
            "code": {"coding": [{"system": s, "code": c, "display": d} for s, c, d in codings],
                     "text": codings[0][2]},
            "subject": self.subject,
            "onsetDateTime": _ts(onset),
            "recordedDate": _ts(onset, 15),
        }
        if extra:
            res.update(extra)
        return self.add(res)

    def medication(self, rxcui: str, display: str, start: dt.date, *, reason: str | None = None) -> Resource:
        res: Resource = {
            "resourceType": "MedicationRequest",
            "id": self._id("medrx"),
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": _cc(RXNORM, rxcui, display),
            "subject": self.subject,
            "authoredOn": _ts(start),
            "requester": {"reference": "Practitioner/onc-1", "display": "Dr. A. Oncologist"},
            "dosageInstruction": [{"text": "as directed"}],
        }
        if reason:
            res["reasonReference"] = [{"reference": f"Condition/{reason}"}]
        return self.add(res)

    def procedure(self, codings: list[tuple[str, str, str]], day: dt.date, *, reason: str | None = None,
                  extra: dict[str, Any] | None = None) -> Resource:
        res: Resource = {
            "resourceType": "Procedure",
            "id": self._id("proc"),
            "status": "completed",
            "code": {"coding": [{"system": s, "code": c, "display": d} for s, c, d in codings],
                     "text": codings[0][2]},
            "subject": self.subject,
            "performedDateTime": _ts(day, 10),
        }
        if reason:
            res["reasonReference"] = [{"reference": f"Condition/{reason}"}]
        if extra:
            res.update(extra)
        return self.add(res)


def _months_back(as_of: dt.date, months: int) -> dt.date:
    year, month = divmod(as_of.year * 12 + as_of.month - 1 - months, 12)
    return dt.date(year, month + 1, min(as_of.day, 28))


def _clinical_core(b: _Builder, as_of: dt.date) -> None:
    """The NELM facts of baseline patient "B" (VIGNETTES.md), as an EHR would hold them."""
    rng = b.rng
    birth = dt.date(as_of.year - 55, 3, 14)
    b.add({
        "resourceType": "Patient",
        "id": b.patient_id,
        "meta": {"profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"]},
        "identifier": [{"system": "https://ehr.example.org/mrn", "value": f"MRN{rng.randrange(10**6, 10**7)}"}],
        "name": [{"family": "Synthetic", "given": ["Bench"]}],
        "gender": "female",
        "birthDate": birth.isoformat(),
    })
    diagnosis = _months_back(as_of, 30)
    primary = b.condition(
        [(ICD10, "C7A.012", "Malignant carcinoid tumor of the ileum"),
         (SNOMED, "737313007", "Primary malignant neuroendocrine neoplasm of ileum")],
        diagnosis, category="problem-list-item", profile=f"{MCODE}/mcode-primary-cancer-condition", prefix="primary",
        extra={"extension": [{"url": f"{MCODE}/mcode-histology-morphology-behavior",
                              "valueCodeableConcept": _cc(SNOMED, "1286768001",
                                                          "Well-differentiated neuroendocrine tumour")}],
               "bodySite": [_cc(SNOMED, "34516001", "Ileal structure")]})
    nelm = b.condition(
        [(ICD10, "C7B.02", "Secondary carcinoid tumors of liver"),
         (SNOMED, "94381002", "Secondary malignant neoplasm of liver")],
        diagnosis, profile=f"{MCODE}/mcode-secondary-cancer-condition", prefix="nelm",
        extra={"bodySite": [_cc(SNOMED, "10200004", "Liver structure")],
               "extension": [{"url": f"{MCODE}/mcode-related-primary-cancer-condition",
                              "valueReference": {"reference": f"Condition/{primary['id']}"}}]})
    resection = _months_back(as_of, 24)
    b.procedure([(SNOMED, "387713003", "Surgical procedure"), ("http://www.cms.gov/Medicare/Coding/ICD10",
                 "0DTB0ZZ", "Resection of Ileum, Open Approach")], resection, reason=primary["id"],
                extra={"extension": [{"url": f"{MCODE}/mcode-procedure-intent",
                                      "valueCodeableConcept": _cc(SNOMED, "373808002", "Curative intent")}]})
    biopsy = _months_back(as_of, 3)
    b.observation(_cc(LOINC, "29593-1", "Cells.Ki-67 nuclear Ag/cells in Tissue by Immune stain"), "laboratory",
                  biopsy, value={"valueQuantity": {"value": 4, "unit": "%", "system": UCUM, "code": "%"}},
                  profile=f"{MCODE}/mcode-tumor-marker-test", prefix="ki67",
                  extra={"bodySite": _cc(SNOMED, "10200004", "Liver structure"),
                         "extension": [{"url": f"{MCODE}/mcode-related-condition",
                                        "valueReference": {"reference": f"Condition/{nelm['id']}"}}]})
    imaging = _months_back(as_of, 1)
    b.observation(_cc(LOINC, "21889-1", "Size Tumor"), "imaging", imaging, value={}, prefix="tumorsize",
                  profile=f"{MCODE}/mcode-tumor-size",
                  extra={"method": _cc(SNOMED, "77477000", "Computerized axial tomography"),
                         "bodySite": _cc(SNOMED, "10200004", "Liver structure"),
                         "component": [{"code": _cc(LOINC, "33728-7", "Size.maximum dimension in Tumor"),
                                        "valueQuantity": {"value": 4.0, "unit": "cm", "system": UCUM,
                                                          "code": "cm"}}]})
    for code, value in (("flr-percent", {"valueQuantity": {"value": 70, "unit": "%", "system": UCUM, "code": "%"}}),
                        ("frilling-type", {"valueCodeableConcept": _cc(NELM, "type-I", "Frilling type I")}),
                        ("resectable-r0", {"valueBoolean": True}),
                        ("fit-for-major-surgery", {"valueBoolean": True}),
                        ("krenning-score", {"valueInteger": 3})):
        b.observation(_cc(NELM, code, code), "imaging" if code != "resectable-r0" else "exam", imaging,
                      value=value, prefix="finding",
                      profile="http://hl7.org/fhir/us/core/StructureDefinition/us-core-observation-clinical-result")
    for months in (1, 7, 13):
        b.observation(_cc(LOINC, "97509-4", "Cancer disease progression"), "exam", _months_back(as_of, months),
                      value={"valueCodeableConcept": _cc(SNOMED, "359746009", "Patient's condition stable")},
                      profile=f"{MCODE}/mcode-cancer-disease-status", prefix="status",
                      extra={"focus": [{"reference": f"Condition/{primary['id']}"}]})
    b.observation(_cc(LOINC, "89247-1", "ECOG Performance Status score"), "survey", imaging,
                  value={"valueInteger": 0}, profile=f"{MCODE}/mcode-ecog-performance-status", prefix="ecog")
    b.medication("312068", "octreotide acetate 0.1 MG/ML Injectable Solution", _months_back(as_of, 22),
                 reason=primary["id"])
    # Unrelated chart content that a real record always carries.
    for codings, onset in (([(ICD10, "I10", "Essential (primary) hypertension"),
                             (SNOMED, "38341003", "Hypertensive disorder")], 120),
                           ([(ICD10, "E78.5", "Hyperlipidemia, unspecified"),
                             (SNOMED, "55822004", "Hyperlipidemia")], 96),
                           ([(ICD10, "K21.9", "Gastro-esophageal reflux disease without esophagitis"),
                             (SNOMED, "235595009", "Gastroesophageal reflux disease")], 60)):
        b.condition(codings, _months_back(as_of, onset))
    b.medication("29046", "lisinopril", _months_back(as_of, 118))
    b.medication("83367", "atorvastatin", _months_back(as_of, 95))
    b.procedure([(SNOMED, "73761001", "Colonoscopy")], _months_back(as_of, 40))


def _month_items(b: _Builder, day: dt.date, month_index: int, mix: str) -> Iterator[Callable[[], Resource]]:
    """Yield makers of one month's resources, in chart order (the caller stops at the size asked)."""
    enc: list[str] = []

    def encounter() -> Resource:
        res = b.encounter(day, "oncology follow-up")
        enc.append(res["id"])
        return res

    def enc_id() -> str | None:
        return enc[0] if enc else None

    yield encounter
    for vital in VITALS:
        yield lambda vital=vital: b.lab(vital, day, "vital-signs", enc_id())
    relevant = CBC + LIVER + RENAL + (MARKERS if month_index % 3 == 0 else ())
    if mix == "irrelevant":
        relevant = ()
    for lab in OTHER_LABS[: 2 + month_index % 3] if mix == "realistic" else OTHER_LABS:
        yield lambda lab=lab: b.lab(lab, day, "laboratory", enc_id())
    for lab in relevant:
        yield lambda lab=lab: b.lab(lab, day, "laboratory", enc_id())


def make_record(size: int, *, seed: int = 1, as_of: dt.date = dt.date(2026, 11, 26), mix: str = "realistic",
                patient_id: str = "bench-p1") -> dict[str, Any]:
    """Return a collection Bundle of exactly ``size`` resources; raises ValueError below the core size."""
    if mix not in MIXES:
        raise ValueError(f"unknown mix {mix!r}; choose one of {', '.join(MIXES)}")
    b = _Builder(patient_id, random.Random(seed))
    _clinical_core(b, as_of)
    if size < len(b.resources):
        raise ValueError(f"a record needs at least {len(b.resources)} resources (the clinical core)")
    month = 0
    while len(b.resources) < size:
        for make in _month_items(b, _months_back(as_of, month), month, mix):
            if len(b.resources) >= size:
                break
            make()
        month += 1
    return {
        "resourceType": "Bundle",
        "id": f"bench-{size}-{mix}-{seed}",
        "type": "collection",
        "timestamp": f"{as_of.isoformat()}T00:00:00Z",
        "entry": [{"fullUrl": f"{BASE_URL}/{r['resourceType']}/{r['id']}", "resource": r} for r in b.resources],
    }


def count_by_type(bundle: dict[str, Any]) -> dict[str, int]:
    """Return how many resources of each type ``bundle`` holds."""
    counts: dict[str, int] = {}
    for entry in bundle.get("entry", []):
        kind = entry["resource"]["resourceType"]
        counts[kind] = counts.get(kind, 0) + 1
    return dict(sorted(counts.items()))
