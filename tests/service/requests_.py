"""Request bodies shaped like those the official CDS Hooks sandbox sends (STANDARDS.md, last section)."""

from __future__ import annotations

import uuid
from typing import Any

from cds_hooks.prefetch import PREFETCH_TEMPLATES
from tests.service.fhirquery import prefetch_for

USER = "Practitioner/COREPRACTITIONER1"


def patient_view(patient_id: str, bundle: dict[str, Any] | None = None, *,
                 fhir_server: str | None = None) -> dict[str, Any]:
    """Return a patient-view request; with ``bundle`` every prefetch key is filled from it."""
    context = {"userId": USER, "patientId": patient_id}
    body: dict[str, Any] = {"hookInstance": str(uuid.uuid4()), "hook": "patient-view", "context": context}
    if fhir_server:
        body["fhirServer"] = fhir_server
    if bundle is not None:
        body["prefetch"] = prefetch_for(bundle, PREFETCH_TEMPLATES, context)
    return body


def order_hook(hook: str, patient_id: str, orders: list[dict[str, Any]], bundle: dict[str, Any] | None = None, *,
               selections: list[str] | None = None, fhir_server: str | None = None) -> dict[str, Any]:
    """Return an order-select / order-sign request carrying ``orders`` as draftOrders."""
    context: dict[str, Any] = {"userId": USER, "patientId": patient_id, "encounterId": "enc-89284",
                               "draftOrders": {"resourceType": "Bundle", "type": "collection",
                                               "entry": [{"resource": o} for o in orders]}}
    if hook == "order-select":
        context["selections"] = selections if selections is not None else [
            f"{o['resourceType']}/{o['id']}" for o in orders]
    body: dict[str, Any] = {"hookInstance": str(uuid.uuid4()), "hook": hook, "context": context}
    if fhir_server:
        body["fhirServer"] = fhir_server
    if bundle is not None:
        body["prefetch"] = prefetch_for(bundle, PREFETCH_TEMPLATES, context)
    return body


def draft_service_request(rid: str, patient_id: str, system: str, code: str, display: str) -> dict[str, Any]:
    """Return a draft ServiceRequest as the sandbox's PAMA screen builds them."""
    return {"resourceType": "ServiceRequest", "id": rid, "status": "draft", "intent": "plan",
            "code": {"coding": [{"system": system, "code": code, "display": display}], "text": display},
            "subject": {"reference": f"Patient/{patient_id}"},
            "reasonCode": [{"coding": [{"system": "http://snomed.info/sct", "code": "94381002"}]}]}


def draft_medication_request(rid: str, patient_id: str, system: str, code: str, display: str) -> dict[str, Any]:
    """Return a draft MedicationRequest as the sandbox's Rx screen builds them."""
    return {"resourceType": "MedicationRequest", "id": rid, "status": "draft", "intent": "order",
            "medicationCodeableConcept": {"coding": [{"system": system, "code": code, "display": display}],
                                          "text": display},
            "subject": {"reference": f"Patient/{patient_id}"}}
