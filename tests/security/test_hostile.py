"""Hostile hook requests: every one gets a clear 4xx OperationOutcome (or a valid answer), never a 500."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cds_hooks.app import create_app
from cds_hooks.validate import validate_cds_response
from tests.security.conftest import BASE, Signer, bearer, make_settings
from tests.security.records import OTHER_PATIENT, PATIENT_ID, hook_body, ki67, nelm_condition, patient

PATHWAY = "/cds-services/nelm-pathway"
ORDER_SIGN = "/cds-services/nelm-order-sign"


def _post(client: FlaskClient, signer: Signer, path: str, data: bytes | dict[str, Any], **headers: str) -> Any:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return client.post(
        path,
        data=raw,
        headers={"Content-Type": "application/json", **bearer(signer.token(f"{BASE}{path}")), **headers},
    )


def assert_outcome(response: Any, status: int, *words: str) -> None:
    """A refusal the EHR's engineer can act on: the status, an OperationOutcome, and a message naming the problem."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome"
    text = " ".join(i.get("diagnostics", "") for i in body["issue"]).lower()
    for word in words:
        assert word.lower() in text, text


def test_a_well_formed_call_is_answered(client: FlaskClient, es_signer: Signer) -> None:
    response = _post(client, es_signer, PATHWAY, hook_body())
    assert response.status_code == 200
    assert validate_cds_response(response.get_json()) == []


def test_deep_nesting_is_refused(client: FlaskClient, es_signer: Signer) -> None:
    body = hook_body()
    raw = json.dumps(body).encode().replace(b'"extension"', b"")
    deep = b'{"hook":"patient-view","hookInstance":"x","context":' + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"}"
    assert_outcome(_post(client, es_signer, PATHWAY, deep), 400, "nested")
    deep_list = (
        b'{"hook":"patient-view","context":{"userId":"u","patientId":"p"},"prefetch":'
        + b"[" * 100_000
        + b"]" * 100_000
        + b"}"
    )
    assert_outcome(_post(client, es_signer, PATHWAY, deep_list), 400)
    assert raw  # the well-formed body stays usable after the refusals
    assert _post(client, es_signer, PATHWAY, body).status_code == 200


def test_oversized_body_is_413(tmp_path: Path, trust_file: Path, es_signer: Signer) -> None:
    client = create_app(make_settings(tmp_path, trust_file, max_request_bytes=200_000)).test_client()
    body = hook_body(extension={"org.example.padding": "x" * 300_000})
    assert_outcome(_post(client, es_signer, PATHWAY, body), 413)


def test_huge_strings_are_refused_or_answered_quickly(client: FlaskClient, es_signer: Signer) -> None:
    started = time.monotonic()
    body = hook_body()
    body["context"]["patientId"] = "p" * 1_000_000
    assert_outcome(_post(client, es_signer, PATHWAY, body), 400, "patientId")
    body = hook_body()
    body["context"]["userId"] = "Practitioner/" + "u" * 1_000_000
    assert _post(client, es_signer, PATHWAY, body).status_code in (200, 400)
    assert time.monotonic() - started < 20


@pytest.mark.parametrize(
    "change,field",
    [
        (lambda b: b.update(hook=42), "hook"),
        (lambda b: b.update(hook="order-sign"), "hook"),
        (lambda b: b.update(hookInstance=["x"]), "hookInstance"),
        (lambda b: b.update(context=[1, 2]), "context"),
        (lambda b: b.pop("context"), "context"),
        (lambda b: b["context"].update(patientId=12345), "patientId"),
        (lambda b: b["context"].update(patientId="../Patient/x"), "patientId"),
        (lambda b: b["context"].pop("userId"), "userId"),
        (lambda b: b.update(prefetch="everything"), "prefetch"),
        (lambda b: b["prefetch"].update(patient="Patient/1"), "prefetch"),
        (lambda b: b.update(fhirServer=["https://x"]), "fhirServer"),
        (lambda b: b.update(fhirAuthorization={"access_token": "t"}), "fhirAuthorization"),
        (lambda b: b.update(fhirAuthorization="Bearer t"), "fhirAuthorization"),
        (lambda b: b.update(extension=[1]), "extension"),
    ],
)
def test_wrong_json_types_and_missing_fields_name_the_field(
    client: FlaskClient, es_signer: Signer, change: Any, field: str
) -> None:
    body = hook_body()
    change(body)
    assert_outcome(_post(client, es_signer, PATHWAY, body), 400, field)


@pytest.mark.parametrize(
    "raw,words",
    [
        (b'{"hook": "patient-view", "hook": "order-sign"}', ("duplicate",)),
        (b'{"hook": "patient-view", "x": NaN}', ("NaN",)),
        (b'{"hook": "patient-\xff\xfeview"}', ("UTF-8",)),
        (b'{"hook": "\\ud800"}', ()),
        (b"[1, 2, 3]", ("object",)),
        (b'"just a string"', ("object",)),
        (b"", ("empty",)),
        (b"{", ("malformed",)),
        (b"\xef\xbb\xbf{}", ()),
    ],
)
def test_malformed_json_is_refused(client: FlaskClient, es_signer: Signer, raw: bytes, words: tuple[str, ...]) -> None:
    assert_outcome(_post(client, es_signer, PATHWAY, raw), 400, *words)


def test_duplicate_keys_cannot_smuggle_a_second_patient(client: FlaskClient, es_signer: Signer) -> None:
    body = json.dumps(hook_body())
    smuggled = body.replace(
        f'"patientId": "{PATIENT_ID}"', f'"patientId": "{PATIENT_ID}", "patientId": "{OTHER_PATIENT}"', 1
    )
    assert smuggled != body
    assert_outcome(_post(client, es_signer, PATHWAY, smuggled.encode()), 400, "duplicate")


@pytest.mark.parametrize(
    "key,value",
    [
        ("patient", patient(OTHER_PATIENT)),
        (
            "conditions",
            {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": nelm_condition(OTHER_PATIENT)}]},
        ),
        ("ki67", {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": ki67(OTHER_PATIENT)}]}),
    ],
)
def test_prefetch_of_another_patient_is_refused(client: FlaskClient, es_signer: Signer, key: str, value: Any) -> None:
    body = hook_body()
    body["prefetch"][key] = value
    assert_outcome(_post(client, es_signer, PATHWAY, body), 400, "patient")


@pytest.mark.parametrize(
    "order",
    [
        {
            "resourceType": "ServiceRequest",
            "id": "o1",
            "status": "draft",
            "intent": "proposal",
            "code": {"coding": [{"system": "http://example.org/unknown", "code": "zzz"}]},
            "subject": {"reference": f"Patient/{PATIENT_ID}"},
        },
        {
            "resourceType": "NutritionOrder",
            "id": "o2",
            "status": "draft",
            "intent": "proposal",
            "patient": {"reference": f"Patient/{PATIENT_ID}"},
            "dateTime": "2026-11-26",
        },
        {"resourceType": "VisionPrescription", "id": "o3", "status": "draft"},
        {"resourceType": "NotAResource", "id": "o4"},
        {
            "resourceType": "ServiceRequest",
            "id": "o5",
            "status": "draft",
            "intent": "proposal",
            "subject": {"reference": f"Patient/{PATIENT_ID}"},
        },
    ],
)
def test_draft_orders_of_unknown_types_do_not_crash(
    client: FlaskClient, es_signer: Signer, order: dict[str, Any]
) -> None:
    body = hook_body("order-sign")
    body["context"]["draftOrders"] = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": order}]}
    response = _post(client, es_signer, ORDER_SIGN, body)
    assert response.status_code in (200, 400), response.get_data(as_text=True)[:300]
    if response.status_code == 200:
        assert validate_cds_response(response.get_json()) == []
    else:
        assert_outcome(response, 400, "draftOrders")


def test_draft_order_for_another_patient_is_refused(client: FlaskClient, es_signer: Signer) -> None:
    body = hook_body("order-sign")
    body["context"]["draftOrders"]["entry"][0]["resource"]["subject"] = {"reference": f"Patient/{OTHER_PATIENT}"}
    assert_outcome(_post(client, es_signer, ORDER_SIGN, body), 400, "patient")


def test_hostile_feedback_loses_nothing_stored(app: Flask, client: FlaskClient, es_signer: Signer) -> None:
    card = "6f1c3b0e-2d4a-4e8b-9c7d-1a2b3c4d5e6f"
    good = {"feedback": [{"card": card, "outcome": "overridden", "outcomeTimestamp": "2026-11-26T10:00:00Z"}]}
    path = f"{PATHWAY}/feedback"
    assert _post(client, es_signer, path, good).status_code == 200
    hostile: list[bytes | dict[str, Any]] = [
        {"feedback": "all of it"},
        {"feedback": [{"card": card, "outcome": "deleted", "outcomeTimestamp": "2026-11-26T10:00:00Z"}]},
        {"feedback": [{"card": card, "outcome": "accepted", "outcomeTimestamp": "yesterday"}]},
        {"feedback": [{"card": {"$ne": None}, "outcome": "accepted", "outcomeTimestamp": "2026-11-26T10:00:00Z"}]},
        {
            "feedback": [
                {
                    "card": "'; DROP TABLE feedback; --",
                    "outcome": "overridden",
                    "outcomeTimestamp": "2026-11-26T10:00:00Z",
                }
            ]
        },
        b'{"feedback": [], "feedback": [{"card": "x"}]}',
        b"\xff",
    ]
    for body in hostile:
        response = _post(client, es_signer, path, body)
        assert response.status_code in (200, 400), response.get_data(as_text=True)[:300]
    stored = app.extensions["nelm_store"].feedback_for(card)
    assert len(stored) >= 1
    assert stored[0]["outcome"] == "overridden"
    # The same card reported again is idempotent, and the service still answers hooks.
    assert _post(client, es_signer, path, good).status_code == 200
    assert _post(client, es_signer, PATHWAY, hook_body()).status_code == 200


@pytest.mark.parametrize(
    "path,old,new",
    [
        (PATHWAY, '"Practitioner/onc-42"', '"Practitioner/\\ud800"'),
        (PATHWAY, '"hookInstance": "', '"hookInstance": "\\udfff'),
        (PATHWAY, '"hookInstance": "', '"hookInstance": "\\u0000'),
        (PATHWAY, '"userId"', '"user\\ud83dId"'),
    ],
)
def test_text_that_is_not_unicode_is_refused_before_it_reaches_the_store(
    client: FlaskClient, es_signer: Signer, path: str, old: str, new: str
) -> None:
    raw = json.dumps(hook_body())
    assert old in raw
    assert_outcome(_post(client, es_signer, path, raw.replace(old, new, 1).encode()), 400, "unicode")


@pytest.mark.parametrize("comment", ["x\\ud800", "x\\u0000y"])
def test_feedback_text_that_is_not_unicode_is_refused(client: FlaskClient, es_signer: Signer, comment: str) -> None:
    raw = (
        '{"feedback": [{"card": "c1", "outcome": "overridden", "outcomeTimestamp": "2026-11-26T10:00:00Z",'
        f' "overrideReason": {{"userComment": "{comment}"}}}}]}}'
    )
    assert_outcome(_post(client, es_signer, f"{PATHWAY}/feedback", raw.encode()), 400, "unicode")


def test_paired_surrogates_are_ordinary_text(client: FlaskClient, es_signer: Signer) -> None:
    raw = json.dumps(hook_body()).replace('"Practitioner/onc-42"', '"Practitioner/onc-\\ud83d\\ude00"')
    response = _post(client, es_signer, PATHWAY, raw.encode())
    assert response.status_code == 200


def test_access_token_scoped_to_another_patient_is_refused(client: FlaskClient, es_signer: Signer) -> None:
    body = hook_body(
        fhirServer="https://fhir.ehr-es.example.test/r4",
        fhirAuthorization={
            "access_token": "t",
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "nelm-cds",
            "patient": OTHER_PATIENT,
        },
    )
    assert_outcome(_post(client, es_signer, PATHWAY, body), 400, "fhirAuthorization.patient")
