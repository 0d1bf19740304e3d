"""Real-shaped FHIR R4 resources for the ingest tests (mCODE STU3/4 and US Core shapes).

Each builder returns plain JSON (dicts) exactly as an EHR would send them.
"""

from __future__ import annotations

from typing import Any

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICD10PCS = "http://www.cms.gov/Medicare/Coding/ICD10"
ICDO3 = "http://terminology.hl7.org/CodeSystem/icd-o-3"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
FINDING = "https://nelm-cds.org/fhir/CodeSystem/nelm-finding"
MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition"
PATIENT = "Patient/p1"

Json = dict[str, Any]


def cc(system: str, code: str, display: str | None = None) -> Json:
    """Return a CodeableConcept with one coding."""
    coding: Json = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def patient(pid: str = "p1", birth: str = "1971-05-20", gender: str = "female") -> Json:
    """Return a US Core Patient."""
    return {
        "resourceType": "Patient",
        "id": pid,
        "meta": {"profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"]},
        "identifier": [{"system": "urn:oid:1.2.36.146.595.217.0.1", "value": f"MRN-{pid}"}],
        "name": [{"family": "Example", "given": ["Pat"]}],
        "gender": gender,
        "birthDate": birth,
    }


def quantity(value: float, unit: str, *, code: str | None = None, system: str | None = UCUM) -> Json:
    """Return a valueQuantity."""
    q: Json = {"value": value, "unit": unit}
    if system is not None:
        q["system"] = system
        q["code"] = code if code is not None else unit
    return q


def observation(
    oid: str,
    code: Json,
    *,
    date: str = "2026-11-01",
    status: str = "final",
    subject: str = PATIENT,
    category: str = "laboratory",
    **value: Any,
) -> Json:
    """Return an Observation; pass the value as valueQuantity=..., valueBoolean=..., etc."""
    obs: Json = {
        "resourceType": "Observation",
        "id": oid,
        "status": status,
        "category": [cc("http://terminology.hl7.org/CodeSystem/observation-category", category)],
        "code": code,
        "subject": {"reference": subject},
        "effectiveDateTime": date,
    }
    obs.update(value)
    return obs


def lab(oid: str, loinc: str, value: float, unit: str, *, date: str = "2026-11-01", **extra: Any) -> Json:
    """Return a US Core laboratory result Observation."""
    return observation(oid, cc(LOINC, loinc), date=date, valueQuantity=quantity(value, unit), **extra)


def finding(oid: str, code: str, *, date: str = "2026-11-01", **value: Any) -> Json:
    """Return an Observation coded with a local NELM finding (CONTRACT.md section 3)."""
    return observation(oid, cc(FINDING, code), date=date, category="exam", **value)


def ki67(oid: str, percent: float, *, specimen: str | None = None, date: str = "2026-10-01", **extra: Any) -> Json:
    """Return an mCODE TumorMarkerTest for Ki-67 (29593-1), optionally pointing at a Specimen."""
    obs = observation(oid, cc(LOINC, "29593-1"), date=date, valueQuantity=quantity(percent, "%"), **extra)
    obs["meta"] = {"profile": [f"{MCODE}/mcode-tumor-marker-test"]}
    if specimen:
        obs["specimen"] = {"reference": specimen}
    return obs


def specimen(sid: str, body_site: str, *, subject: str = PATIENT) -> Json:
    """Return a Specimen collected from a SNOMED body site."""
    return {
        "resourceType": "Specimen",
        "id": sid,
        "subject": {"reference": subject},
        "type": cc(SNOMED, "122737002", "Specimen from liver"),
        "collection": {"bodySite": cc(SNOMED, body_site)},
    }


def condition(
    cid: str,
    code: Json,
    *,
    clinical: str = "active",
    verification: str = "confirmed",
    onset: str | None = "2024-06-01",
    body_site: str | None = None,
    subject: str = PATIENT,
    profile: str | None = None,
    **extra: Any,
) -> Json:
    """Return a US Core / mCODE Condition."""
    cond: Json = {
        "resourceType": "Condition",
        "id": cid,
        "clinicalStatus": cc("http://terminology.hl7.org/CodeSystem/condition-clinical", clinical),
        "verificationStatus": cc("http://terminology.hl7.org/CodeSystem/condition-ver-status", verification),
        "category": [cc("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item")],
        "code": code,
        "subject": {"reference": subject},
    }
    if profile:
        cond["meta"] = {"profile": [f"{MCODE}/{profile}"]}
    if onset:
        cond["onsetDateTime"] = onset
    if body_site:
        cond["bodySite"] = [cc(SNOMED, body_site)]
    cond.update(extra)
    return cond


def primary(cid: str = "primary", code: Json | None = None, **kw: Any) -> Json:
    """Return an mCODE PrimaryCancerCondition (default: ileal NET C7A.012 + SNOMED 737313007)."""
    code = code or {
        "coding": [
            {"system": ICD10CM, "code": "C7A.012", "display": "Malignant carcinoid tumor of the ileum"},
            {"system": SNOMED, "code": "737313007"},
        ]
    }
    kw.setdefault("onset", "2024-06-01")
    return condition(cid, code, profile="mcode-primary-cancer-condition", **kw)


def nelm(cid: str = "nelm", code: Json | None = None, **kw: Any) -> Json:
    """Return an mCODE SecondaryCancerCondition of the liver (C7B.02 + 94381002, bodySite 10200004)."""
    code = code or {"coding": [{"system": ICD10CM, "code": "C7B.02"}, {"system": SNOMED, "code": "94381002"}]}
    kw.setdefault("body_site", "10200004")
    return condition(cid, code, profile="mcode-secondary-cancer-condition", **kw)


def procedure(pid: str, code: Json, *, date: str = "2024-07-01", status: str = "completed", **extra: Any) -> Json:
    """Return a US Core / mCODE CancerRelatedSurgicalProcedure."""
    proc: Json = {
        "resourceType": "Procedure",
        "id": pid,
        "status": status,
        "code": code,
        "subject": {"reference": PATIENT},
        "performedDateTime": date,
    }
    proc.update(extra)
    return proc


def med_request(mid: str, code: Json, *, status: str = "active", intent: str = "order", **extra: Any) -> Json:
    """Return a US Core MedicationRequest."""
    req: Json = {
        "resourceType": "MedicationRequest",
        "id": mid,
        "status": status,
        "intent": intent,
        "medicationCodeableConcept": code,
        "subject": {"reference": PATIENT},
        "authoredOn": "2026-01-10",
    }
    req.update(extra)
    return req


def tumour_size(oid: str, size: float, unit: str = "cm", *, focus: str | None = None, **flags: bool) -> Json:
    """Return an mCODE TumorSize (21889-1) with the longest dimension and optional location flags."""
    components: list[Json] = [{"code": cc(LOINC, "33728-7"), "valueQuantity": quantity(size, unit)}]
    for name, value in flags.items():
        components.append({"code": cc(FINDING, "lesion-" + name.replace("_", "-")), "valueBoolean": value})
    obs = observation(oid, cc(LOINC, "21889-1"), category="imaging", component=components)
    obs["meta"] = {"profile": [f"{MCODE}/mcode-tumor-size"]}
    obs["method"] = cc(SNOMED, "77477000")
    if focus:
        obs["focus"] = [{"reference": focus}]
    return obs


def bundle(*resources: Json, kind: str = "collection") -> Json:
    """Return a Bundle of ``resources`` with fullUrls."""
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {"fullUrl": f"http://ehr.example.org/fhir/{r['resourceType']}/{r['id']}", "resource": r} for r in resources
        ],
    }


def baseline() -> list[Json]:
    """Return VIGNETTES.md baseline patient B (age 55 on 2026-11-26) as resources."""
    return [
        patient(birth="1971-05-20"),
        primary(),
        procedure(
            "primary-resection",
            cc(ICD10PCS, "0DTB0ZZ"),
            date="2024-11-20",
            reasonReference=[{"reference": "Condition/primary"}],
        ),
        nelm(),
        observation("ecog", cc(LOINC, "89247-1"), category="survey", valueInteger=0),
        lab("bili", "1975-2", 0.6, "mg/dL"),
        lab("alb", "1751-7", 4.1, "g/dL"),
        lab("inr", "6301-6", 1.0, "{INR}"),
        lab("egfr", "98979-8", 85, "mL/min/{1.73_m2}"),
        lab("plt", "777-3", 250, "10*9/L"),
        lab("hb", "718-7", 13.5, "g/dL"),
        lab("wbc", "6690-2", 6.5, "10*9/L"),
        finding("krenning", "krenning-score", valueInteger=3),
        observation("status", cc(LOINC, "97509-4"), category="exam", valueCodeableConcept=cc(SNOMED, "359746009")),
    ]


AS_OF = "2026-11-26"


def profile(*resources: Json, as_of: str = AS_OF, **kwargs: Any) -> Any:
    """Return the NelmProfile of ``resources`` (a collection Bundle) at ``as_of``."""
    import datetime as dt

    from nelm_fhir.ingest import ingest

    return ingest(bundle(*resources), as_of=dt.date.fromisoformat(as_of), **kwargs)


def problems_at(prof: Any, path_prefix: str) -> list[Any]:
    """Return the problems whose FHIR path starts with ``path_prefix``."""
    return [p for p in prof.problems if p.path.startswith(path_prefix)]
