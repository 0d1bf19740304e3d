"""Hook bodies of the benchmark: prefetch answered from the record like a conforming EHR would."""

from __future__ import annotations

import pytest

from bench.hookbody import (
    expand,
    hook_request,
    prefetch_from_record,
    prefetch_size,
    search_record,
    templates_from_discovery,
)
from bench.records import make_record

CTX = {"userId": "Practitioner/onc-1", "patientId": "bench-p1"}


def test_expand_fills_context_and_user_tokens() -> None:
    assert expand("Patient/{{context.patientId}}", CTX) == "Patient/bench-p1"
    assert expand("Practitioner/{{userPractitionerId}}", CTX) == "Practitioner/onc-1"
    assert expand("X?a={{context.unknown}}", CTX) == "X?a={{context.unknown}}"


def test_search_honours_code_tokens_with_and_without_system() -> None:
    record = make_record(200)
    with_system = search_record(record, "Observation?patient=bench-p1&code=http://loinc.org|718-7", "bench-p1")
    bare = search_record(record, "Observation?patient=bench-p1&code=718-7,777-3", "bench-p1")
    assert with_system is not None and bare is not None
    assert with_system["total"] > 3
    assert bare["total"] == 2 * with_system["total"]
    assert all(e["resource"]["code"]["coding"][0]["code"] == "718-7" for e in with_system["entry"])
    other_patient = search_record(record, "Observation?patient=someone-else", "bench-p1")
    assert other_patient is not None and other_patient["total"] == 0


def test_search_by_category_and_percent_encoded_token() -> None:
    record = make_record(200)
    vitals = search_record(record, "Observation?patient=bench-p1&category=vital-signs", "bench-p1")
    encoded = search_record(record, "Observation?patient=bench-p1&code=http%3A%2F%2Floinc.org%7C8867-4", "bench-p1")
    assert vitals is not None and encoded is not None
    assert vitals["total"] > encoded["total"] > 0


def test_read_returns_the_resource_itself() -> None:
    patient = search_record(make_record(50), "Patient/bench-p1", "bench-p1")
    assert patient is not None and patient["resourceType"] == "Patient"


def test_prefetch_size_counts_entries_and_single_resources() -> None:
    templates = {"patient": "Patient/{{context.patientId}}", "obs": "Observation?patient={{context.patientId}}"}
    record = make_record(200)
    prefetch = prefetch_from_record(record, templates, CTX)
    observations = sum(1 for e in record["entry"] if e["resource"]["resourceType"] == "Observation")
    assert prefetch_size(prefetch) == observations + 1


def test_order_sign_request_carries_a_draft_order_with_the_modality_code() -> None:
    body = hook_request("order-sign", "bench-p1", prefetch={})
    draft = body["context"]["draftOrders"]["entry"][0]["resource"]
    assert draft["status"] == "draft"
    assert draft["code"]["coding"][0] == {"system": "https://nelm-cds.org/fhir/CodeSystem/modality", "code": "tace"}
    fallback = hook_request("patient-view", "bench-p1", fhir_server="http://127.0.0.1:1/fhir")
    assert "prefetch" not in fallback
    assert fallback["fhirAuthorization"]["token_type"] == "Bearer"
    with pytest.raises(ValueError):
        hook_request("order-select", "bench-p1")


def test_templates_come_from_the_named_service() -> None:
    discovery = {"services": [{"id": "a", "prefetch": {"p": "Patient/{{context.patientId}}"}}, {"id": "b"}]}
    assert templates_from_discovery(discovery, "a") == {"p": "Patient/{{context.patientId}}"}
    assert templates_from_discovery(discovery, "b") == {}
    with pytest.raises(KeyError):
        templates_from_discovery(discovery, "c")
