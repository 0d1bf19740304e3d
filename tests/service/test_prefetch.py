"""Prefetch resolution against a real FHIR server (SEKMET): fallback, null, OperationOutcome, paging, faults."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import requests
import responses

from cds_hooks.errors import PreconditionError
from cds_hooks.prefetch import PREFETCH_TEMPLATES, REPORT_KEYS, render_template, resolve_prefetch
from cds_hooks.wire import HookRequest, parse_hook_request
from tests.support.sekmet import FhirServer

LOINC = "http://loinc.org"
PID = "pf-" + uuid.uuid4().hex[:8]


def _obs(oid: str, code: str, value: float, date: str) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": oid, "status": "final", "subject": {"reference": f"Patient/{PID}"},
            "code": {"coding": [{"system": LOINC, "code": code}]}, "effectiveDateTime": date,
            "valueQuantity": {"value": value, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}}


@pytest.fixture(scope="module")
def server(fhir_server: FhirServer) -> FhirServer:
    fhir_server.put({"resourceType": "Patient", "id": PID, "birthDate": "1971-03-02"})
    fhir_server.put({"resourceType": "Condition", "id": f"{PID}-nelm", "subject": {"reference": f"Patient/{PID}"},
                     "code": {"coding": [{"system": "http://snomed.info/sct", "code": "94381002"}]}})
    for i in range(5):
        fhir_server.put(_obs(f"{PID}-ki67-{i}", "29593-1", 1 + i, f"2026-0{i + 1}-01"))
    fhir_server.put(_obs(f"{PID}-plt", "777-3", 250, "2026-11-01"))
    return fhir_server


def _request(prefetch: dict[str, Any] | None = None, *, fhir_server: str | None = None,
             token: str | None = "secret-token-123") -> HookRequest:
    body: dict[str, Any] = {"hook": "patient-view", "hookInstance": str(uuid.uuid4()),
                            "context": {"userId": "Practitioner/COREPRACTITIONER1", "patientId": PID}}
    if fhir_server:
        body["fhirServer"] = fhir_server
        if token:
            body["fhirAuthorization"] = {"access_token": token, "token_type": "Bearer", "expires_in": 300,
                                         "scope": "user/Patient.read user/Observation.read", "subject": "nelm"}
    if prefetch is not None:
        body["prefetch"] = prefetch
    return parse_hook_request(body, expected_hook="patient-view")


def _resolve(req: HookRequest, templates: dict[str, str] | None = None, **kw: Any) -> Any:
    options: dict[str, Any] = {"session": requests.Session(), "timeout": 2.0, "deadline_seconds": 2.5,
                               "allow": lambda issuer, url: True}
    options.update(kw)
    return resolve_prefetch(req, templates or PREFETCH_TEMPLATES, **options)


def _ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


def test_templates_render_under_2000_characters_and_only_use_context_tokens() -> None:
    context = {"patientId": "a" * 64, "userId": "Practitioner/1"}
    for key, template in PREFETCH_TEMPLATES.items():
        rendered = render_template(template, context)
        assert rendered is not None, key
        assert len(rendered) < 2000, (key, len(rendered))
        # the URL as a client sends it, percent-encoded, also stays short
        assert len(quote(rendered, safe="/?&=,")) < 2000, key
        assert "{{" not in rendered


def test_render_refuses_non_primitive_tokens() -> None:
    assert render_template("Observation?x={{context.draftOrders}}", {"draftOrders": {"a": 1}}) is None
    assert render_template("Practitioner/{{userPractitionerId}}", {"userId": "Practitioner/p9"}) == "Practitioner/p9"
    assert render_template("Practitioner/{{userPractitionerId}}", {"userId": "Patient/p9"}) is None


def test_missing_keys_are_fetched_from_fhir_server(server: FhirServer) -> None:
    resolved = _resolve(_request(fhir_server=server.base_url))
    assert resolved.failures == ()
    assert set(resolved.fetched) == set(PREFETCH_TEMPLATES)
    assert resolved.data["patient"]["id"] == PID
    assert _ids(resolved.data["ki67"]) == [f"{PID}-ki67-{i}" for i in (4, 3, 2, 1, 0)]  # newest first
    assert _ids(resolved.data["labs"]) == [f"{PID}-plt"]
    assert _ids(resolved.data["conditions"]) == [f"{PID}-nelm"]


def test_null_is_known_empty_and_never_fetched(server: FhirServer) -> None:
    prefetch = {key: None for key in PREFETCH_TEMPLATES if key != "patient"}
    prefetch["patient"] = {"resourceType": "Patient", "id": PID}
    prefetch["conditions"] = {"resourceType": "Bundle", "type": "searchset", "entry": []}
    resolved = _resolve(_request(prefetch, fhir_server=server.base_url))
    assert resolved.queries == 0
    assert resolved.data["ki67"] is None


def test_operation_outcome_in_a_key_is_fetched_again(server: FhirServer) -> None:
    prefetch: dict[str, Any] = {key: None for key in PREFETCH_TEMPLATES}
    prefetch["patient"] = {"resourceType": "Patient", "id": PID}
    prefetch["conditions"] = {"resourceType": "Bundle", "type": "searchset", "entry": []}
    prefetch["ki67"] = {"resourceType": "OperationOutcome",
                        "issue": [{"severity": "error", "code": "timeout", "diagnostics": "EHR timed out"}]}
    resolved = _resolve(_request(prefetch, fhir_server=server.base_url))
    assert resolved.fetched == ("ki67",)
    assert len(_ids(resolved.data["ki67"])) == 5
    assert resolved.notes == ("the EHR could not prefetch ki67",)


def test_next_links_are_followed_for_fetched_and_prefetched_bundles(server: FhirServer) -> None:
    templates = {"patient": "Patient/{{context.patientId}}",
                 "conditions": "Condition?patient={{context.patientId}}",
                 "ki67": f"Observation?patient={{{{context.patientId}}}}&code={LOINC}|29593-1&_sort=-date&_count=2"}
    resolved = _resolve(_request(fhir_server=server.base_url), templates)
    assert len(_ids(resolved.data["ki67"])) == 5
    assert resolved.queries == 2 + 3  # patient, conditions, three pages
    first_page = server.search(f"Observation?patient={PID}&code={quote(LOINC + '|29593-1', safe='')}&_count=2")
    prefetch = {"patient": {"resourceType": "Patient", "id": PID}, "conditions": None, "ki67": first_page}
    resolved = _resolve(_request(prefetch, fhir_server=server.base_url), templates)
    assert sorted(_ids(resolved.data["ki67"])) == sorted(f"{PID}-ki67-{i}" for i in range(5))


def test_without_fhir_server_missing_required_data_is_412() -> None:
    with pytest.raises(PreconditionError, match="patient") as caught:
        _resolve(_request({"conditions": None}))
    assert caught.value.status == 412


def test_without_fhir_server_a_missing_optional_key_is_412_too() -> None:
    prefetch = {key: None for key in PREFETCH_TEMPLATES if key != "labs"}
    prefetch["patient"] = {"resourceType": "Patient", "id": PID}
    with pytest.raises(PreconditionError, match="labs"):
        _resolve(_request(prefetch))


def test_operation_outcome_without_fhir_server_degrades_with_a_named_failure() -> None:
    prefetch: dict[str, Any] = {key: None for key in PREFETCH_TEMPLATES}
    prefetch["patient"] = {"resourceType": "Patient", "id": PID}
    prefetch["labs"] = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "exception"}]}
    resolved = _resolve(_request(prefetch))
    assert [f.key for f in resolved.failures] == ["labs"]
    assert "labs" not in resolved.data


def test_disallowed_fhir_server_is_never_contacted(server: FhirServer) -> None:
    with pytest.raises(PreconditionError, match="not allowed"):
        _resolve(_request(fhir_server=server.base_url), allow=lambda issuer, url: False)


ESCAPES = [
    "https://evil.example.net/fhir/Condition?page=2",  # another host
    "https://ehr.example.org/fhir/ok/../../escape/Condition?page=2",  # dot segments climbing out of the base
    "https://ehr.example.org/fhir/%2e%2e/escape/Condition?page=2",  # the same, percent-encoded
    "https://ehr.example.org/fhir/ok/%2E%2E/%2e%2E/escape/Condition",
    "https://ehr.example.org/fhir%2f..%2fescape/Condition",  # an encoded separator: refused outright
    "http://ehr.example.org/fhir/Condition?page=2",  # same host, but not TLS: another origin
]


@pytest.mark.parametrize("escape", ESCAPES)
@responses.activate
def test_next_links_off_the_server_keep_the_pages_read_and_report_the_gap(escape: str) -> None:
    base = "https://ehr.example.org/fhir"
    condition = {"resourceType": "Condition", "id": "c1", "subject": {"reference": f"Patient/{PID}"}}
    responses.get(f"{base}/Patient/{PID}", json={"resourceType": "Patient", "id": PID})
    responses.get(f"{base}/Condition", json={
        "resourceType": "Bundle", "type": "searchset", "entry": [{"resource": condition}],
        "link": [{"relation": "next", "url": escape}]})
    templates = {"patient": "Patient/{{context.patientId}}", "conditions": "Condition?patient={{context.patientId}}"}
    resolved = _resolve(_request(fhir_server=base), templates)
    assert [e["resource"]["id"] for e in resolved.data["conditions"]["entry"]] == ["c1"]  # the page read is kept
    gap = [f.reason for f in resolved.failures if f.key == "conditions"]
    assert gap and "outside fhirServer" in gap[0] and "first 1 results" in gap[0]
    assert all(call.request.headers["Authorization"] == "Bearer secret-token-123" for call in responses.calls)
    assert len(responses.calls) == 2  # the escape was never requested, so the token never left
    assert all("escape" not in call.request.url and "evil" not in call.request.url for call in responses.calls)


@responses.activate
def test_harmless_dot_segments_in_a_next_link_stay_on_the_server_and_are_followed() -> None:
    base = "https://ehr.example.org/fhir"
    responses.get(f"{base}/Patient/{PID}", json={"resourceType": "Patient", "id": PID})
    first = {"resourceType": "Condition", "id": "c1", "subject": {"reference": f"Patient/{PID}"}}
    second = {"resourceType": "Condition", "id": "c2", "subject": {"reference": f"Patient/{PID}"}}
    responses.get(f"{base}/Condition", match=[responses.matchers.query_param_matcher({"patient": PID})], json={
        "resourceType": "Bundle", "type": "searchset", "entry": [{"resource": first}],
        "link": [{"relation": "next", "url": f"{base}/x/./../Condition?page=2"}]})
    responses.get(f"{base}/Condition", match=[responses.matchers.query_param_matcher({"page": "2"})],
                  json={"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": second}]})
    templates = {"patient": "Patient/{{context.patientId}}", "conditions": "Condition?patient={{context.patientId}}"}
    resolved = _resolve(_request(fhir_server=base), templates)
    assert [e["resource"]["id"] for e in resolved.data["conditions"]["entry"]] == ["c1", "c2"]
    assert resolved.failures == ()


@responses.activate
def test_server_errors_on_optional_keys_degrade_and_are_named() -> None:
    base = "https://ehr.example.org/fhir"
    responses.get(f"{base}/Patient/{PID}", json={"resourceType": "Patient", "id": PID})
    responses.get(f"{base}/Condition", json={"resourceType": "Bundle", "type": "searchset"})
    responses.get(f"{base}/Observation", status=503, body="busy")
    templates = {"patient": "Patient/{{context.patientId}}", "conditions": "Condition?patient={{context.patientId}}",
                 "labs": "Observation?patient={{context.patientId}}&code=http://loinc.org|777-3"}
    resolved = _resolve(_request(fhir_server=base), templates)
    assert [(f.key, f.reason) for f in resolved.failures] == [("labs", "Observation: fhirServer answered HTTP 503")]
    assert "secret-token-123" not in repr(resolved)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP server that accepts connections and never answers: a hung FHIR server."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    stop = threading.Event()
    held: list[socket.socket] = []

    def accept() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/fhir"
    stop.set()
    thread.join(timeout=2)
    for conn in held:
        conn.close()
    sock.close()


def test_a_hung_server_is_cut_by_the_deadline(silent_server: str) -> None:
    prefetch = {"patient": {"resourceType": "Patient", "id": PID}, "conditions": None}
    started = time.monotonic()
    resolved = _resolve(_request(prefetch, fhir_server=silent_server), timeout=5.0, deadline_seconds=0.5)
    elapsed = time.monotonic() - started
    assert elapsed < 2.0
    # Report keys are optional: their failures are kept apart (said on the data-gap card, never a 412).
    assert {f.key for f in resolved.failures} == set(PREFETCH_TEMPLATES) - {"patient", "conditions"} - REPORT_KEYS
    assert {f.key for f in resolved.optional_failures} == REPORT_KEYS
    assert all(("timed out" in f.reason) or ("deadline" in f.reason)
               for f in (*resolved.failures, *resolved.optional_failures))


def test_page_cap_keeps_the_newest_results_and_says_so(server: FhirServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("cds_hooks.prefetch.MAX_PAGES", 2)
    templates = {"patient": "Patient/{{context.patientId}}",
                 "conditions": "Condition?patient={{context.patientId}}",
                 "ki67": f"Observation?patient={{{{context.patientId}}}}&code={LOINC}|29593-1&_sort=-date&_count=2"}
    resolved = _resolve(_request(fhir_server=server.base_url), templates)
    assert _ids(resolved.data["ki67"]) == [f"{PID}-ki67-{i}" for i in (4, 3, 2, 1)]
    assert [(f.key, f.reason) for f in resolved.failures] == [
        ("ki67", "ki67: only the first 4 results (2 pages) were read")]
