"""Logs: one JSON object per line, request context attached, and never a token or a raw patient id."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses
from flask import Flask
from flask.testing import FlaskClient

from cds_hooks.app import create_app
from cds_hooks.config import Settings
from cds_hooks.logging_setup import configure_logging, redact
from cds_hooks.privacy import hash_patient_id
from tests.security.conftest import BASE, FHIR_BASE, Signer, bearer, make_settings
from tests.security.records import PATIENT_ID, SERVICE_OF_HOOK, hook_body

ACCESS_TOKEN = "ehr-access-token-5d1f0c9a77e24b1c"


@pytest.fixture
def log_stream(tmp_path: Path) -> Iterator[io.StringIO]:
    """The JSON log output of the app while the test runs."""
    stream = io.StringIO()
    handler = configure_logging(Settings(), stream=stream, level=logging.DEBUG)
    yield stream
    logging.getLogger().removeHandler(handler)


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


@responses.activate
def test_a_full_run_of_hooks_leaves_no_token_and_no_raw_patient_id_in_the_logs(
    log_stream: io.StringIO, app: Flask, es_signer: Signer, caplog: pytest.LogCaptureFixture
) -> None:
    # The EHR's FHIR server, for the keys the client did not prefetch.
    responses.get(f"{FHIR_BASE}/Observation", json={"resourceType": "Bundle", "type": "searchset", "entry": []})
    responses.get(f"{FHIR_BASE}/Procedure", status=503, body="down")
    client = app.test_client()
    tokens: list[str] = []

    def call(method: str, path: str, body: dict[str, object] | None = None) -> int:
        token = es_signer.token(f"{BASE}{path}")
        tokens.append(token)
        response = client.open(path, method=method, json=body, headers=bearer(token))
        return response.status_code

    with caplog.at_level(logging.DEBUG):
        assert call("GET", "/cds-services") == 200
        for hook, service in SERVICE_OF_HOOK.items():
            assert call("POST", f"/cds-services/{service}", hook_body(hook)) == 200
        partial = hook_body(
            "patient-view",
            fhirServer=FHIR_BASE,
            fhirAuthorization={
                "access_token": ACCESS_TOKEN,
                "token_type": "Bearer",
                "expires_in": 300,
                "scope": "patient/*.read",
                "subject": "nelm-cds",
                "patient": PATIENT_ID,
            },
        )
        for key in ("labs", "findings", "procedures"):
            del partial["prefetch"][key]  # type: ignore[attr-defined]
        assert call("POST", "/cds-services/nelm-pathway", partial) == 200
        assert call("POST", "/cds-services/nelm-pathway", {"hook": "patient-view"}) == 400
        # A refused token (wrong audience) and a replayed one are logged too.
        bad = es_signer.token(f"{BASE}/cds-services/nelm-order-sign")
        tokens.append(bad)
        assert client.get("/cds-services", headers=bearer(bad)).status_code == 401
        assert client.get("/cds-services", headers=bearer(tokens[0])).status_code == 401
        feedback = {
            "feedback": [
                {
                    "card": "00000000-0000-4000-8000-000000000000",
                    "outcome": "accepted",
                    "acceptedSuggestions": [],
                    "outcomeTimestamp": "2026-11-26T10:00:00Z",
                }
            ]
        }
        call("POST", "/cds-services/nelm-pathway/feedback", feedback)

    # The EHR's token went to its FHIR server only, as a bearer header.
    assert responses.calls, "the fallback fetch did not happen"
    assert all(c.request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}" for c in responses.calls)

    captured = log_stream.getvalue() + "\n" + caplog.text
    assert captured.strip(), "nothing was logged"
    for token in tokens:
        for part in token.split("."):
            assert part not in captured
    assert ACCESS_TOKEN not in captured
    assert PATIENT_ID not in captured
    lines = _lines(log_stream)
    assert all(
        {"time", "level", "logger", "message", "request_id"} <= set(line) for line in lines if "request_id" in line
    )
    assert any(line.get("patient") == hash_patient_id(PATIENT_ID, Settings().id_hash_key) for line in lines), (
        "hook log lines should carry the hashed patient id"
    )


def test_every_line_is_json_with_the_required_fields(log_stream: io.StringIO) -> None:
    logging.getLogger("nelm.test").warning("plain %s", "message", extra={"fields": {"jti": "j-1"}})
    (line,) = _lines(log_stream)
    assert line["level"] == "WARNING" and line["logger"] == "nelm.test" and line["message"] == "plain message"
    assert line["jti"] == "j-1" and line["time"].endswith("+00:00")  # type: ignore[union-attr]


def test_redaction_is_the_last_line_of_defence(log_stream: io.StringIO, es_signer: Signer) -> None:
    jwt_text = es_signer.token("https://x.example")
    log = logging.getLogger("nelm.test")
    log.error("header was Authorization: Bearer %s", jwt_text)
    log.error("body had %s", json.dumps({"access_token": ACCESS_TOKEN, "token_type": "Bearer"}))
    log.error("oops", extra={"fields": {"token": jwt_text}})
    try:
        raise ValueError(f"bad token {jwt_text}")
    except ValueError:
        log.exception("failed")
    text = log_stream.getvalue()
    assert jwt_text.split(".")[2] not in text and jwt_text.split(".")[1] not in text
    assert ACCESS_TOKEN not in text
    assert "[redacted]" in text


def test_redact_keeps_ordinary_text() -> None:
    text = "Ki-67 is 4 % for Patient/abc; bearer of good news"
    assert redact(text) == text


def test_start_up_with_auth_disabled_warns_loudly(tmp_path: Path, trust_file: Path) -> None:
    stream = io.StringIO()
    handler = configure_logging(make_settings(tmp_path, trust_file, auth_disabled=True), stream=stream)
    try:
        create_app(make_settings(tmp_path, trust_file, auth_disabled=True))
    finally:
        logging.getLogger().removeHandler(handler)
    warnings = [
        line
        for line in _lines(stream)
        if line["level"] == "WARNING" and "AUTHENTICATION IS DISABLED" in str(line["message"])
    ]
    assert warnings


def test_request_id_is_echoed_and_logged(log_stream: io.StringIO, client: FlaskClient) -> None:
    response = client.get("/cds-services", headers={"X-Request-ID": "req-4711"})
    assert response.status_code == 401
    assert response.headers["X-Request-ID"] == "req-4711"
    refusal = next(line for line in _lines(log_stream) if line["message"] == "CDS client JWT refused")
    assert refusal["request_id"] == "req-4711"
    hostile = client.get("/cds-services", headers={"X-Request-ID": "x\\n{evil}" * 20})
    assert hostile.headers["X-Request-ID"] != "x\\n{evil}" * 20  # not echoed: a fresh id instead


def test_patient_ids_in_urls_are_hashed_in_every_record_even_outside_a_request(log_stream: io.StringIO) -> None:
    access = logging.getLogger("werkzeug")
    access.info('127.0.0.1 - - "%s %s HTTP/1.1" 303 -', "GET", "/smart/dev-launch?patient=v01&now=2026-11-26")
    access.info('127.0.0.1 - - "GET /demo/api/patients/v02/record HTTP/1.1" 200 -')
    logging.getLogger("nelm.test").info("read %s", "https://ehr.example.org/fhir/Patient/abc-123?_format=json")
    logging.getLogger("nelm.test").info("searched Observation?subject=Patient%2Fabc-124&code=x")
    text = log_stream.getvalue()
    for raw in ("v01", "v02", "abc-123", "abc-124"):
        assert raw not in text
    assert hash_patient_id("v01", Settings().id_hash_key) in text
    assert hash_patient_id("abc-124", Settings().id_hash_key) in text  # "Patient/" prefix dropped before hashing
    assert "now=2026-11-26" in text and "_format=json" in text  # other parameters stay readable


def test_gunicorn_access_lines_carry_no_query_string_and_mask_path_ids() -> None:
    import ast

    conf = ast.parse((Path(__file__).resolve().parents[2] / "gunicorn.conf.py").read_text())
    formats = [node.value.value for node in ast.walk(conf) if isinstance(node, ast.Assign)
               and any(isinstance(t, ast.Name) and t.id == "access_log_format" for t in node.targets)
               and isinstance(node.value, ast.Constant)]
    assert len(formats) == 1
    fmt = formats[0]
    assert "%(U)s" in fmt  # the path without the query string
    for atom in ("%(r)s", "%(q)s", "%(f)s", "%({"):  # request line, query, referer, raw headers
        assert atom not in fmt
    line = fmt % {"h": "10.0.0.1", "m": "GET", "U": "/demo/api/patients/v01/record", "H": "HTTP/1.1",
                  "s": 200, "B": 120, "M": 4}
    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, line, None, None)
    from cds_hooks.logging_setup import JsonFormatter

    out = json.loads(JsonFormatter().format(record))  # as gunicorn's logconfig_dict builds it: no key
    assert "v01" not in out["message"] and "/patients/[patient]/record" in out["message"]
