"""A failing EHR FHIR server: every fault ends within the deadline with cards plus an info card, or a 412.

The faults are injected with ``responses`` into the service's fallback fetch (the client prefetched
only the required keys and sent ``fhirServer`` with ``fhirAuthorization``). Elapsed time is a
behavioural bound (deadline + margin), not a benchmark.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from flask.testing import FlaskClient

from cds_hooks.app import create_app
from cds_hooks.validate import validate_cds_response
from tests.security.conftest import BASE, FHIR_BASE, Signer, bearer, make_settings
from tests.security.records import PATIENT_ID, hook_body, ki67

DEADLINE = 1.0
MARGIN = 4.0  # evaluation and card rendering on a loaded 2-core machine
PATHWAY = "/cds-services/nelm-pathway"
ACCESS_TOKEN = "ehr-token-for-faults-1b9e"
FALLBACK_KEYS = ("ki67", "labs", "findings", "procedures", "medicationRequests", "medicationStatements")
ANY_FHIR = re.compile(re.escape(FHIR_BASE) + r"/.*")


@pytest.fixture
def fault_client(tmp_path: Path, trust_file: Path) -> FlaskClient:
    """The app with a short FHIR deadline, trusting the test issuers."""
    settings = make_settings(tmp_path, trust_file, fhir_deadline_seconds=DEADLINE, fhir_request_timeout_seconds=0.8)
    return create_app(settings).test_client()


def _body(*, drop: tuple[str, ...] = FALLBACK_KEYS, fhir_server: str = FHIR_BASE) -> dict[str, Any]:
    body = hook_body(
        fhirServer=fhir_server,
        fhirAuthorization={
            "access_token": ACCESS_TOKEN,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "nelm-cds",
            "patient": PATIENT_ID,
        },
    )
    for key in drop:
        del body["prefetch"][key]
    return body


def _call(client: FlaskClient, signer: Signer, body: dict[str, Any]) -> tuple[Any, float]:
    started = time.monotonic()
    response = client.post(PATHWAY, json=body, headers=bearer(signer.token(f"{BASE}{PATHWAY}")))
    return response, time.monotonic() - started


def _unreadable_card(cards: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((c for c in cards if "could not be read" in c["summary"]), None)


def assert_degraded(response: Any, elapsed: float) -> dict[str, Any]:
    """200 within the deadline, valid cards, one of which says what could not be read."""
    assert elapsed < DEADLINE + MARGIN, f"took {elapsed:.1f} s"
    assert response.status_code == 200, response.get_data(as_text=True)[:400]
    body = response.get_json()
    assert validate_cds_response(body) == []
    card = _unreadable_card(body["cards"])
    assert card is not None, [c["summary"] for c in body["cards"]]
    assert card["indicator"] == "info"
    assert len(body["cards"]) > 1  # the cards the available data supports are still there
    assert ACCESS_TOKEN not in json.dumps(body)
    return card


def _slow(seconds: float) -> Callable[[Any], tuple[int, dict[str, str], str]]:
    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        time.sleep(seconds)
        return 200, {}, json.dumps({"resourceType": "Bundle", "type": "searchset", "entry": []})

    return answer


def _endless(request: Any) -> tuple[int, dict[str, str], str]:
    page = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": ki67()}],
        "link": [{"relation": "next", "url": f"{FHIR_BASE}/Observation?page={time.monotonic_ns()}"}],
    }
    return 200, {}, json.dumps(page)


FAULTS: dict[str, dict[str, Any]] = {
    "connect-timeout": {"body": requests.ConnectTimeout("no route")},
    "read-timeout": {"body": requests.ReadTimeout("read timed out")},
    "connection-refused": {"body": requests.ConnectionError("refused")},
    "401": {"status": 401, "json": {"resourceType": "OperationOutcome", "issue": []}},
    "403": {"status": 403, "body": "forbidden"},
    "404": {"status": 404, "body": "not found"},
    "500": {"status": 500, "body": "<html>Internal Server Error</html>"},
    "503": {"status": 503, "body": ""},
    "garbage-bytes": {"status": 200, "body": b"\x00\xff\xfe garbage"},
    "html": {"status": 200, "body": "<html><body>Login</body></html>", "content_type": "text/html"},
    "json-not-fhir": {"status": 200, "json": {"hello": "world"}},
    "json-array": {"status": 200, "json": [1, 2, 3]},
    "truncated-json": {"status": 200, "body": '{"resourceType": "Bundle", "entry": ['},
    "deeply-nested-json": {
        "status": 200,
        "body": '{"resourceType": "Bundle", "entry": ' + "[" * 100_000 + "]" * 100_000 + "}",
    },
    "operation-outcome": {
        "status": 200,
        "json": {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "exception"}]},
    },
    "redirect-elsewhere": {"status": 302, "headers": {"Location": "https://attacker.example.test/steal"}},
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
@responses.activate
def test_each_fault_degrades_to_cards_plus_an_info_card(
    fault_client: FlaskClient, es_signer: Signer, fault: str
) -> None:
    responses.add(responses.GET, ANY_FHIR, **FAULTS[fault])
    response, elapsed = _call(fault_client, es_signer, _body())
    assert_degraded(response, elapsed)
    assert all(c.request.url.startswith(FHIR_BASE + "/") for c in responses.calls)  # nothing sent elsewhere


@responses.activate
def test_slow_fhir_server_is_cut_at_the_deadline(fault_client: FlaskClient, es_signer: Signer) -> None:
    responses.add_callback(responses.GET, ANY_FHIR, callback=_slow(DEADLINE + 1))
    response, elapsed = _call(fault_client, es_signer, _body())
    assert_degraded(response, elapsed)
    # Let the abandoned fetches finish inside this test: the mock is shared with the next one.
    for _ in range(50):
        if not any(t.name.startswith("nelm-prefetch") for t in threading.enumerate()):
            break
        time.sleep(0.1)


@responses.activate
def test_endless_next_links_stop(fault_client: FlaskClient, es_signer: Signer) -> None:
    responses.add_callback(responses.GET, ANY_FHIR, callback=_endless)
    response, elapsed = _call(fault_client, es_signer, _body(drop=("ki67",)))
    assert_degraded(response, elapsed)
    assert len(responses.calls) <= 50


@responses.activate
def test_next_link_to_another_server_is_not_followed(fault_client: FlaskClient, es_signer: Signer) -> None:
    page = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [],
        "link": [{"relation": "next", "url": "https://attacker.example.test/fhir/Observation?page=2"}],
    }
    responses.add(responses.GET, ANY_FHIR, json=page)
    responses.add(responses.GET, re.compile(r"https://attacker\.example\.test/.*"), json=page)
    response, elapsed = _call(fault_client, es_signer, _body(drop=("ki67",)))
    assert_degraded(response, elapsed)
    assert all(not c.request.url.startswith("https://attacker.") for c in responses.calls)


@responses.activate
def test_huge_bundle_is_not_read_past_its_size_limit(fault_client: FlaskClient, es_signer: Signer) -> None:
    noise = [{"resource": {**ki67(), "id": f"k{i}", "note": [{"text": "x" * 200}]}} for i in range(20_000)]
    huge = json.dumps({"resourceType": "Bundle", "type": "searchset", "entry": noise})
    assert len(huge) > 8_000_000
    responses.add(responses.GET, ANY_FHIR, body=huge, content_type="application/fhir+json")
    response, elapsed = _call(fault_client, es_signer, _body(drop=("labs",)))
    card = assert_degraded(response, elapsed)
    assert "larger than" in card["detail"]


@responses.activate
def test_required_data_unobtainable_is_412(fault_client: FlaskClient, es_signer: Signer) -> None:
    responses.add(responses.GET, ANY_FHIR, status=500)
    response, elapsed = _call(fault_client, es_signer, _body(drop=("patient", "conditions", *FALLBACK_KEYS)))
    assert elapsed < DEADLINE + MARGIN
    assert response.status_code == 412
    assert response.get_json()["resourceType"] == "OperationOutcome"


@responses.activate
def test_fhir_server_not_allow_listed_is_never_contacted(fault_client: FlaskClient, es_signer: Signer) -> None:
    evil = "http://169.254.169.254/latest"
    responses.add(responses.GET, re.compile(r"http://169\.254\.169\.254/.*"), json={"resourceType": "Bundle"})
    response, _ = _call(fault_client, es_signer, _body(drop=("patient", "conditions"), fhir_server=evil))
    assert response.status_code == 412
    assert len(responses.calls) == 0
    # With the required keys prefetched, the answer degrades instead, still without a request.
    response, elapsed = _call(fault_client, es_signer, _body(fhir_server=evil))
    assert_degraded(response, elapsed)
    assert len(responses.calls) == 0


@responses.activate
def test_the_access_token_goes_only_to_the_fhir_server_as_a_bearer(
    fault_client: FlaskClient, es_signer: Signer
) -> None:
    responses.add(responses.GET, ANY_FHIR, json={"resourceType": "Bundle", "type": "searchset", "entry": []})
    response, _ = _call(fault_client, es_signer, _body())
    assert response.status_code == 200
    assert responses.calls
    for call in responses.calls:
        assert call.request.url.startswith(FHIR_BASE + "/")
        assert call.request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
        assert ACCESS_TOKEN not in call.request.url
