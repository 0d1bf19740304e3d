"""CDS Hooks 2.0 request bodies for the benchmark, with prefetch filled from a synthetic record.

The prefetch templates come from the service's own discovery document, so the benchmark sends
what a conforming EHR would send. Each template is answered from the record by a small
in-memory FHIR search (patient, code, category, status, clinical-status); other parameters
(``_sort``, ``_count``, ``date``...) are ignored, so a prefetch never holds fewer resources than
a real EHR would return — the benchmark errs on the heavy side.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

__all__ = [
    "DEFAULT_TEMPLATES",
    "MODALITY_SYSTEM",
    "expand",
    "hook_request",
    "prefetch_from_record",
    "prefetch_size",
    "search_record",
    "templates_from_discovery",
]

MODALITY_SYSTEM = "https://nelm-cds.org/fhir/CodeSystem/modality"
USER_ID = "Practitioner/onc-1"
# Used only when the service's discovery document cannot be read (e.g. the service is not built yet).
DEFAULT_TEMPLATES: dict[str, str] = {
    "patient": "Patient/{{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}",
    "observations": "Observation?patient={{context.patientId}}",
    "procedures": "Procedure?patient={{context.patientId}}",
    "medicationRequests": "MedicationRequest?patient={{context.patientId}}",
}
_TOKEN = re.compile(r"\{\{\s*([A-Za-z0-9_.]+)\s*\}\}")
_CODE_ELEMENTS = ("code", "medicationCodeableConcept", "vaccineCode")
_IGNORED = {"_sort", "_count", "_include", "_revinclude", "_elements", "_summary", "date", "_lastUpdated"}


def templates_from_discovery(discovery: Mapping[str, Any], service_id: str) -> dict[str, str]:
    """Return the prefetch templates of ``service_id``; raises KeyError when discovery lacks it."""
    for service in discovery.get("services", []):
        if service.get("id") == service_id:
            return dict(service.get("prefetch") or {})
    raise KeyError(f"service {service_id!r} is not in the discovery document")


def expand(template: str, context: Mapping[str, str]) -> str:
    """Return ``template`` with ``{{context.x}}`` and ``{{userPractitionerId}}`` tokens filled in."""
    values = {f"context.{k}": v for k, v in context.items()}
    user = context.get("userId", "")
    if "/" in user:
        kind, _, ident = user.partition("/")
        values[f"user{kind}Id"] = ident
    return _TOKEN.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def _token_match(concepts: Iterable[Any], tokens: list[str]) -> bool:
    for concept in concepts:
        if not isinstance(concept, dict):
            continue
        for coding in concept.get("coding", []):
            for token in tokens:
                system, bar, code = token.rpartition("|")
                if not bar:
                    if coding.get("code") == token:
                        return True
                elif coding.get("code") == code and (not system or coding.get("system") == system):
                    return True
    return False


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _matches(resource: Mapping[str, Any], params: list[tuple[str, str]], patient_ref: str) -> bool:
    for name, value in params:
        base = name.split(":", 1)[0]
        tokens = [t for t in value.split(",") if t]
        if base in ("patient", "subject"):
            wanted = value if "/" in value else f"Patient/{value}"
            ref = (resource.get("subject") or resource.get("patient") or {}).get("reference")
            if ref != wanted and not (wanted == patient_ref and ref is None):
                return False
        elif base == "code":
            concepts = [c for e in _CODE_ELEMENTS for c in _as_list(resource.get(e))]
            if not _token_match(concepts, tokens):
                return False
        elif base == "component-code":
            concepts = [c.get("code") for c in _as_list(resource.get("component")) if isinstance(c, dict)]
            if not _token_match(concepts, tokens):
                return False
        elif base == "category":
            if not _token_match(_as_list(resource.get("category")), tokens):
                return False
        elif base == "clinical-status":
            if not _token_match([resource.get("clinicalStatus")], tokens):
                return False
        elif base == "status" and resource.get("status") not in tokens:
            return False
    return True


def search_record(record: Mapping[str, Any], query: str, patient_id: str) -> dict[str, Any] | None:
    """Return what ``query`` (an expanded template) finds in ``record``: a resource or a searchset."""
    resources = [e["resource"] for e in record.get("entry", [])]
    path, _, qs = query.partition("?")
    kind, _, ident = path.partition("/")
    if ident:
        return next((r for r in resources if r["resourceType"] == kind and r.get("id") == ident), None)
    params = [(k, v) for k, v in parse_qsl(qs, keep_blank_values=True) if k not in _IGNORED]
    found = [r for r in resources if r["resourceType"] == kind and _matches(r, params, f"Patient/{patient_id}")]
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(found),
        "entry": [{"fullUrl": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, r['resourceType'] + r['id'])}",
                   "resource": r, "search": {"mode": "match"}} for r in found],
    }


def prefetch_from_record(record: Mapping[str, Any], templates: Mapping[str, str],
                         context: Mapping[str, str]) -> dict[str, Any]:
    """Return the prefetch object an EHR holding ``record`` would send for ``templates``."""
    patient_id = context["patientId"]
    return {key: search_record(record, expand(t, context), patient_id) for key, t in templates.items()}


def prefetch_size(prefetch: Mapping[str, Any]) -> int:
    """Return how many resources a prefetch object carries (entries plus single resources)."""
    total = 0
    for value in prefetch.values():
        if not isinstance(value, dict):
            continue
        total += len(value.get("entry", [])) if value.get("resourceType") == "Bundle" else 1
    return total


def draft_order(patient_id: str, modality: str = "tace") -> dict[str, Any]:
    """Return a draft ServiceRequest coded with the product's modality code system."""
    return {
        "resourceType": "ServiceRequest",
        "id": f"draft-{modality}",
        "status": "draft",
        "intent": "proposal",
        "code": {"coding": [{"system": MODALITY_SYSTEM, "code": modality}], "text": modality},
        "subject": {"reference": f"Patient/{patient_id}"},
        "requester": {"reference": USER_ID},
    }


def hook_request(hook: str, patient_id: str, *, prefetch: Mapping[str, Any] | None = None,
                 fhir_server: str | None = None, modality: str = "tace") -> dict[str, Any]:
    """Return a CDS Hooks 2.0 request for ``hook`` (patient-view or order-sign)."""
    context: dict[str, Any] = {"userId": USER_ID, "patientId": patient_id}
    if hook == "order-sign":
        context["draftOrders"] = {"resourceType": "Bundle", "type": "collection",
                                  "entry": [{"resource": draft_order(patient_id, modality)}]}
    elif hook != "patient-view":
        raise ValueError(f"the benchmark drives patient-view and order-sign, not {hook!r}")
    body: dict[str, Any] = {"hookInstance": str(uuid.uuid4()), "hook": hook, "context": context}
    if prefetch is not None:
        body["prefetch"] = dict(prefetch)
    if fhir_server is not None:
        body["fhirServer"] = fhir_server
        body["fhirAuthorization"] = {"access_token": "bench-opaque-token", "token_type": "Bearer",
                                     "expires_in": 300, "scope": "patient/*.read", "subject": "nelm-cds"}
    return body
