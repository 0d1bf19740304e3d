"""The HTTP surface: discovery, dispatch by id, error answers as OperationOutcomes, audit, observers."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cds_hooks.observe import HookOutcome, add_observer
from cds_hooks.prefetch import PREFETCH_TEMPLATES
from cds_hooks.store import store_of
from tests.service.conftest import make_app
from tests.service.requests_ import USER, draft_service_request, order_hook, patient_view

MODALITY = "https://nelm-cds.org/fhir/CodeSystem/modality"


def _outcome(response: Any, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome"
    issue = body["issue"][0]
    assert issue["severity"] == "error" and issue["code"] and issue["diagnostics"]
    return str(issue["diagnostics"])


def test_discovery_lists_the_three_services(client: FlaskClient) -> None:
    response = client.get("/cds-services")
    assert response.status_code == 200
    services = {s["id"]: s for s in response.get_json()["services"]}
    assert {k: v["hook"] for k, v in services.items()} == {
        "nelm-pathway": "patient-view", "nelm-order-select": "order-select", "nelm-order-sign": "order-sign"}
    for service in services.values():
        assert service["title"] and service["description"]
        assert service["prefetch"] == PREFETCH_TEMPLATES
        for template in service["prefetch"].values():
            assert "{{context.draftOrders" not in template and "{{context.selections" not in template


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", "request body is empty"),
        (b"{", "malformed JSON"),
        (b"[]", "must be an object"),
        (b'{"hook": "patient-view", "hook": "order-sign"}', "duplicate key"),
        (b'{"hook": NaN}', "not valid JSON"),
        (b"\xff\xfe", "not valid UTF-8"),
        (json.dumps({"hookInstance": "x", "context": {}}).encode(), "hook is required"),
        (json.dumps({"hook": "patient-view", "context": {"patientId": "p"}}).encode(), "hookInstance is required"),
        (json.dumps({"hook": "patient-view", "hookInstance": "x"}).encode(), "context is required"),
        (json.dumps({"hook": "patient-view", "hookInstance": "x", "context": []}).encode(),
         "context must be an object"),
        (json.dumps({"hook": "patient-view", "hookInstance": "x", "context": {"userId": USER}}).encode(),
         "context.patientId is required"),
        (json.dumps({"hook": "patient-view", "hookInstance": "x",
                     "context": {"userId": USER, "patientId": "../Patient?x=1"}}).encode(), "FHIR id"),
        (json.dumps({"hook": "patient-view", "hookInstance": "x",
                     "context": {"userId": USER, "patientId": 7}}).encode(), "FHIR id"),
        (json.dumps({"hook": "order-sign", "hookInstance": "x",
                     "context": {"userId": USER, "patientId": "p"}}).encode(),
         "this service answers the patient-view hook, not order-sign"),
        (json.dumps({"hook": "patient-view", "hookInstance": "x", "context": {"userId": USER, "patientId": "p"},
                     "fhirAuthorization": {"access_token": "t", "token_type": "Bearer"}}).encode(),
         "fhirServer is required when fhirAuthorization is sent"),
        (json.dumps({"hook": "patient-view", "hookInstance": "x", "context": {"userId": USER, "patientId": "p"},
                     "fhirServer": "file:///etc/passwd"}).encode(), "absolute http(s) URL"),
        (json.dumps({"hook": "patient-view", "hookInstance": "x", "context": {"userId": USER, "patientId": "p"},
                     "prefetch": {"patient": "Patient/p"}}).encode(), "prefetch.patient must be a FHIR resource"),
    ],
)
def test_malformed_requests_are_400_operation_outcomes(client: FlaskClient, raw: bytes, expected: str) -> None:
    response = client.post("/cds-services/nelm-pathway", data=raw, content_type="application/json")
    assert expected in _outcome(response, 400)


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({"userId": USER, "patientId": "p", "selections": ["ServiceRequest/1"]}, "context.draftOrders is required"),
        ({"userId": USER, "patientId": "p", "draftOrders": {"resourceType": "Bundle"}},
         "context.selections is required"),
        ({"userId": USER, "patientId": "p", "draftOrders": {"resourceType": "Bundle"}, "selections": "x"},
         "context.selections must be an array"),
        ({"userId": USER, "patientId": "p", "draftOrders": [], "selections": []}, "must be a FHIR Bundle"),
        ({"userId": USER, "patientId": "p", "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": 1}]},
          "selections": []}, "entry[0].resource must be a FHIR resource"),
    ],
)
def test_order_select_context_is_checked(client: FlaskClient, context: dict[str, Any], expected: str) -> None:
    body = {"hook": "order-select", "hookInstance": str(uuid.uuid4()), "context": context}
    assert expected in _outcome(client.post("/cds-services/nelm-order-select", json=body), 400)


def test_unknown_service_is_404(client: FlaskClient) -> None:
    assert "no CDS service with id 'nope'" in _outcome(client.post("/cds-services/nope", json={}), 404)
    assert "no CDS service" in _outcome(client.post("/cds-services/nope/feedback", json={}), 404)
    assert "no CDS Hooks endpoint" in _outcome(client.get("/cds-services/nelm-pathway/x/y"), 404)


def test_wrong_method_is_405_operation_outcome(client: FlaskClient) -> None:
    assert "not allowed" in _outcome(client.get("/cds-services/nelm-pathway"), 405)


def test_body_over_the_limit_is_413(tmp_path: Path) -> None:
    app = make_app(tmp_path, max_request_bytes=2048)
    client = app.test_client()
    body = patient_view("p1")
    body["context"]["padding"] = "x" * 4096
    assert "larger than the limit of 2048 bytes" in _outcome(client.post("/cds-services/nelm-pathway", json=body), 413)
    store_of(app).dispose()


def test_no_prefetch_and_no_fhir_server_is_412(client: FlaskClient) -> None:
    diagnostics = _outcome(client.post("/cds-services/nelm-pathway", json=patient_view("p1")), 412)
    assert "conditions" in diagnostics and "patient" in diagnostics


def test_unmapped_orders_get_no_card_and_need_no_data(client: FlaskClient) -> None:
    order = draft_service_request("sr-1", "p1", "http://www.ama-assn.org/go/cpt", "70450", "CT head w/o contrast")
    for hook, service in (("order-select", "nelm-order-select"), ("order-sign", "nelm-order-sign")):
        response = client.post(f"/cds-services/{service}", json=order_hook(hook, "p1", [order]))
        assert response.status_code == 200
        assert response.get_json() == {"cards": []}


def test_mapped_order_without_data_is_412(client: FlaskClient) -> None:
    order = draft_service_request("sr-1", "p1", MODALITY, "tace", "TACE")
    _outcome(client.post("/cds-services/nelm-order-sign", json=order_hook("order-sign", "p1", [order])), 412)


def test_every_call_is_audited_and_observed_without_phi(app: Flask, client: FlaskClient) -> None:
    seen: list[HookOutcome] = []
    add_observer(app, seen.append)
    client.post("/cds-services/nelm-pathway", json=patient_view("secret-patient-77"))
    client.post("/cds-services/nelm-pathway", data=b"{", content_type="application/json")
    client.post("/cds-services/unknown-svc", json={})
    assert [o.status_code for o in seen] == [412, 400, 404]
    assert seen[0].service_id == "nelm-pathway" and seen[0].hook == "patient-view"
    assert seen[2].service_id == "unknown"
    rows = store_of(app).recent_audit(10)
    assert [r["status_code"] for r in rows] == [404, 400, 412]
    assert rows[2]["patient_hash"].startswith("pt_")
    assert "secret-patient-77" not in json.dumps(rows, default=str)


def test_a_failing_observer_does_not_fail_the_hook(app: Flask, client: FlaskClient) -> None:
    def broken(outcome: HookOutcome) -> None:
        raise RuntimeError("metrics backend down")

    add_observer(app, broken)
    assert client.get("/cds-services").status_code == 200
    assert client.post("/cds-services/nelm-pathway", json=patient_view("p1")).status_code == 412


def test_outcome_of_a_successful_call_counts_cards_and_statuses(app: Flask, client: FlaskClient) -> None:
    from tests.service.vignettes import bundle

    seen: list[HookOutcome] = []
    add_observer(app, seen.append)
    response = client.post("/cds-services/nelm-pathway", json=patient_view("v14", bundle("V14")))
    cards = response.get_json()["cards"]
    (outcome,) = seen
    assert outcome.status_code == 200 and outcome.fhir_queries == 0 and outcome.fhir_failures == 0
    assert sum(outcome.cards_by_indicator.values()) == len(cards)
    assert outcome.cards_by_indicator["info"] == sum(c["indicator"] == "info" for c in cards)
    assert len(outcome.statuses) == 21 and outcome.statuses["tace"] == "contraindicated"
    row = store_of(app).recent_audit(1)[0]
    assert row["card_count"] == len(cards) and row["statuses"] == dict(outcome.statuses)
    assert response.headers["Cache-Control"] == "no-store"


def _hcc_prefetch() -> dict[str, Any]:
    prefetch: dict[str, Any] = {key: None for key in PREFETCH_TEMPLATES}
    prefetch["patient"] = {"resourceType": "Patient", "id": "hcc1", "birthDate": "1958-04-01"}
    prefetch["conditions"] = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": {
        "resourceType": "Condition", "id": "hcc", "subject": {"reference": "Patient/hcc1"},
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                       "code": "active"}]},
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C22.0",
                             "display": "Liver cell carcinoma"}]}}}]}
    return prefetch


def test_a_chart_without_nelm_gets_no_cards(client: FlaskClient) -> None:
    body = patient_view("hcc1")
    body["prefetch"] = _hcc_prefetch()
    response = client.post("/cds-services/nelm-pathway", json=body)
    assert response.status_code == 200 and response.get_json() == {"cards": []}


def test_tace_for_hepatocellular_carcinoma_is_not_flagged(client: FlaskClient) -> None:
    order = draft_service_request("sr-tace", "hcc1", MODALITY, "tace", "TACE")
    body = order_hook("order-sign", "hcc1", [order])
    body["prefetch"] = _hcc_prefetch()
    response = client.post("/cds-services/nelm-order-sign", json=body)
    assert response.status_code == 200 and response.get_json() == {"cards": []}
