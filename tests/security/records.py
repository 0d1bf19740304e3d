"""Hook request bodies for the security tests: one NELM patient, shaped like the CDS Hooks sandbox sends them."""

from __future__ import annotations

import uuid
from typing import Any

PATIENT_ID = "pt-7f3c91e2"  # distinctive, so that a raw id in a log line cannot be a coincidence
OTHER_PATIENT = "pt-0b55aa17"
USER_ID = "Practitioner/onc-42"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
MODALITY = "https://nelm-cds.org/fhir/CodeSystem/modality"


def _searchset(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": r} for r in resources],
    }


def patient(pid: str = PATIENT_ID) -> dict[str, Any]:
    """Return the Patient resource."""
    return {"resourceType": "Patient", "id": pid, "gender": "female", "birthDate": "1968-04-02"}


def nelm_condition(pid: str = PATIENT_ID) -> dict[str, Any]:
    """Return an active NELM Condition (ICD-10-CM C7B.02, secondary carcinoid tumour of liver)."""
    return {
        "resourceType": "Condition",
        "id": f"nelm-{pid}",
        "clinicalStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]
        },
        "code": {"coding": [{"system": ICD10, "code": "C7B.02", "display": "Secondary carcinoid tumors of liver"}]},
        "subject": {"reference": f"Patient/{pid}"},
        "recordedDate": "2026-09-01",
    }


def ki67(pid: str = PATIENT_ID, value: float = 4.0) -> dict[str, Any]:
    """Return a final Ki-67 Observation (LOINC 29593-1)."""
    return {
        "resourceType": "Observation",
        "id": f"ki67-{pid}",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "29593-1"}]},
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": "2026-10-01",
        "valueQuantity": {"value": value, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"},
    }


def prefetch(pid: str = PATIENT_ID) -> dict[str, Any]:
    """Return a full prefetch for the service's templates (empty searchsets where the record has nothing)."""
    empty = _searchset()
    return {
        "patient": patient(pid),
        "conditions": _searchset(nelm_condition(pid)),
        "ki67": _searchset(ki67(pid)),
        "labs": empty,
        "findings": empty,
        "panels": empty,
        "reports": empty,
        "procedures": empty,
        "medicationRequests": empty,
        "medicationStatements": empty,
    }


def draft_orders(pid: str = PATIENT_ID, code: str = "tace", system: str = MODALITY) -> dict[str, Any]:
    """Return a draftOrders Bundle with one draft ServiceRequest."""
    order = {
        "resourceType": "ServiceRequest",
        "id": "draft-1",
        "status": "draft",
        "intent": "proposal",
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": {"reference": f"Patient/{pid}"},
    }
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": order}]}


def hook_body(hook: str = "patient-view", pid: str = PATIENT_ID, **extra: Any) -> dict[str, Any]:
    """Return a complete hook request for ``hook`` with a full prefetch; ``extra`` overrides top-level fields."""
    context: dict[str, Any] = {"userId": USER_ID, "patientId": pid}
    if hook == "order-select":
        context.update(selections=["ServiceRequest/draft-1"], draftOrders=draft_orders(pid))
    elif hook == "order-sign":
        context.update(draftOrders=draft_orders(pid))
    body: dict[str, Any] = {
        "hook": hook,
        "hookInstance": str(uuid.uuid4()),
        "context": context,
        "prefetch": prefetch(pid),
    }
    body.update(extra)
    return body


SERVICE_OF_HOOK = {"patient-view": "nelm-pathway", "order-select": "nelm-order-select", "order-sign": "nelm-order-sign"}
