"""Real parts end to end: a client that sends what the CDS Hooks sandbox sends, an OAuth-protected FHIR server.

The EHR side is SEKMET (a real FHIR R4 server) behind the test authorization server's FHIR gateway,
which checks the bearer token the client passes as ``fhirAuthorization``. The client signs every
call ES384 with ``kid`` and ``jku`` like the sandbox, sends no prefetch, and orders drugs as RxNorm
clinical drugs in ``draftOrders`` (a Bundle without ``type``) with ``selections``. Authentication is
on, with a trust file that registers the test key as config/dev-trust.json registers the sandbox.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from cds_hooks.app import create_app
from cds_hooks.config import Settings
from cds_hooks.store import store_of
from cds_hooks.validate import validate_cds_response
from tests.service.conftest import NOW
from tests.service.requests_ import patient_view
from tests.service.vignettes import bundle, normal_form, patient_id
from tests.support.cds_client import SandboxClient
from tests.support.sekmet import FhirServer
from tests.support.smart_auth_server import SmartAuthServer, run_smart_auth_server

pytestmark = pytest.mark.fhirserver
BASE = "http://localhost"
VIDS = ("V08", "V14", "V23")
HARMLESS = {"resourceType": "OperationOutcome", "issue": [
    {"severity": "warning", "code": "not-supported", "diagnostics": "Unknown _include parameter ignored"},
    {"severity": "information", "code": "informational", "diagnostics": "Search took 12 ms"}]}
ERROR = {"resourceType": "OperationOutcome", "issue": [
    {"severity": "error", "code": "exception", "diagnostics": "Observation index unavailable"}]}


@pytest.fixture(scope="module")
def ehr(fhir_server: FhirServer) -> Iterator[SmartAuthServer]:
    """SEKMET holding the vignettes, behind the authorization server's token-checking FHIR gateway."""
    for vid in VIDS:
        fhir_server.load_bundle(bundle(vid))
    with run_smart_auth_server(fhir_server.base_url) as server:
        yield server


@pytest.fixture(scope="module")
def sandbox() -> SandboxClient:
    return SandboxClient()


@pytest.fixture
def app(tmp_path: Path, ehr: SmartAuthServer, sandbox: SandboxClient) -> Iterator[Flask]:
    ehr.searchset_outcome = None
    trust = sandbox.write_trust(tmp_path, [ehr.iss])
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'nelm.sqlite3'}", trust_file=trust,
                        external_base_url=BASE, fhir_deadline_seconds=20.0, fhir_request_timeout_seconds=10.0)
    application = create_app(settings)
    application.extensions["nelm_clock"] = lambda: NOW
    yield application
    store_of(application).dispose()


def _call(app: Flask, sandbox: SandboxClient, service: str, body: dict[str, Any]) -> dict[str, Any]:
    url = f"{BASE}/cds-services/{service}"
    response = app.test_client().post(url, json=body, headers={"Authorization": f"Bearer {sandbox.jwt(url)}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    answer: dict[str, Any] = response.get_json()
    assert validate_cds_response(answer) == []
    return answer


def _reference(app: Flask, sandbox: SandboxClient, vid: str) -> list[dict[str, Any]]:
    """The cards of the same patient with every prefetch key filled from the vignette Bundle."""
    return normal_form(_call(app, sandbox, "nelm-pathway", patient_view(patient_id(vid), bundle(vid))))


@pytest.mark.parametrize("vid", VIDS)
def test_patient_view_from_the_protected_fhir_server_equals_full_prefetch(
    app: Flask, ehr: SmartAuthServer, sandbox: SandboxClient, vid: str
) -> None:
    pid = patient_id(vid)
    seen = len(ehr.fhir_requests)
    body = sandbox.body("patient-view", pid, ehr.iss, ehr.issue_token(patient=pid))
    answer = _call(app, sandbox, "nelm-pathway", body)
    assert normal_form(answer) == _reference(app, sandbox, vid)
    calls = ehr.fhir_requests[seen:]
    assert calls and all(status == 200 for _, _, status in calls), calls  # every query carried the valid token


@pytest.mark.parametrize("vid", VIDS)
def test_harmless_outcome_entries_from_the_server_change_nothing(
    app: Flask, ehr: SmartAuthServer, sandbox: SandboxClient, vid: str
) -> None:
    pid = patient_id(vid)
    ehr.searchset_outcome = HARMLESS
    answer = _call(app, sandbox, "nelm-pathway", sandbox.body("patient-view", pid, ehr.iss,
                                                              ehr.issue_token(patient=pid)))
    assert normal_form(answer) == _reference(app, sandbox, vid)
    assert "OperationOutcome" not in str(answer)


def test_an_error_outcome_from_the_server_is_still_reported(
    app: Flask, ehr: SmartAuthServer, sandbox: SandboxClient
) -> None:
    pid = patient_id("V14")
    ehr.searchset_outcome = ERROR
    answer = _call(app, sandbox, "nelm-pathway", sandbox.body("patient-view", pid, ehr.iss,
                                                              ehr.issue_token(patient=pid)))
    # Clinicians read the problem in words on the card; the raw reason (with the server's diagnostics) is in
    # the card's JSON for integration engineers.
    cards = [json.dumps(c) for c in answer["cards"]]
    assert any("Observation index unavailable" in c and "OperationOutcome instead of data" in c for c in cards)


@pytest.mark.parametrize("vid", VIDS)
def test_a_prefetch_bundle_with_harmless_outcome_entries_equals_one_without(
    app: Flask, sandbox: SandboxClient, vid: str
) -> None:
    body = patient_view(patient_id(vid), bundle(vid))
    searchsets = [v for v in body["prefetch"].values() if isinstance(v, dict) and v.get("type") == "searchset"]
    assert searchsets
    for value in searchsets:
        value.setdefault("entry", []).append({"resource": HARMLESS, "search": {"mode": "outcome"}})
    answer = _call(app, sandbox, "nelm-pathway", body)
    assert normal_form(answer) == _reference(app, sandbox, vid)
    assert "OperationOutcome" not in str(answer)


@pytest.mark.parametrize(
    ("hook", "service", "rxcui", "name", "ingredient"),
    [
        ("order-select", "nelm-order-select", "845507", "everolimus 10 MG Oral Tablet", "141704"),
        ("order-sign", "nelm-order-sign", "616285", "sunitinib 25 MG Oral Capsule", "357977"),
        ("order-select", "nelm-order-select", "616292", "sunitinib 50 MG Oral Capsule [Sutent]", "357977"),
    ],
)
@pytest.mark.parametrize("vid", ["V08", "V14"])
def test_the_sandbox_s_clinical_drug_orders_get_the_ingredient_s_card(
    app: Flask, ehr: SmartAuthServer, sandbox: SandboxClient, vid: str,
    hook: str, service: str, rxcui: str, name: str, ingredient: str,
) -> None:
    pid = patient_id(vid)

    def ask(code: str) -> dict[str, Any]:
        order = sandbox.draft_medication_request(pid, code, name)
        body = sandbox.body(hook, pid, ehr.iss, ehr.issue_token(patient=pid),
                            sandbox.order_context(order, select=hook == "order-select"))
        return _call(app, sandbox, service, body)

    answer = ask(rxcui)
    assert answer["cards"], "the sandbox's order gets a card"
    assert any(c["source"].get("topic", {}).get("code") in {"everolimus", "sunitinib"} for c in answer["cards"])
    assert normal_form(answer) == normal_form(ask(ingredient))


def test_an_unsigned_or_foreign_signed_call_is_refused(app: Flask, ehr: SmartAuthServer) -> None:
    url = f"{BASE}/cds-services/nelm-pathway"
    body = SandboxClient().body("patient-view", "v14", ehr.iss, None)
    client = app.test_client()
    assert client.post(url, json=body).status_code == 401
    stranger = SandboxClient()  # same kid scheme, a key nobody registered
    assert client.post(url, json=body, headers={"Authorization": f"Bearer {stranger.jwt(url)}"}).status_code == 401
