"""The attack findings of issue 12, each replayed as a hostile client would send it.

1. huge and infinite JSON numbers; 3. malformed draft orders; 8. bidi controls, 12,000 draft orders.
(2, the chunked body, is in test_chunked.py against a real gunicorn; 4, 6 and 7 next to their modules.)
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from cds_hooks.cardlimit import MAX_ORDER_CARDS
from cds_hooks.validate import validate_cds_response
from tests.security.conftest import BASE, Signer, bearer
from tests.security.records import MODALITY, PATIENT_ID, draft_orders, hook_body

SERVICES = {"patient-view": "nelm-pathway", "order-select": "nelm-order-select", "order-sign": "nelm-order-sign"}
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


def _post(client: FlaskClient, signer: Signer, path: str, raw: bytes) -> Any:
    return client.post(path, data=raw, headers={"Content-Type": "application/json",
                                                **bearer(signer.token(f"{BASE}{path}"))})


def _outcome(response: Any, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome"
    return " ".join(i.get("diagnostics", "") + " " + " ".join(i.get("expression", [])) for i in body["issue"])


def _with_number(hook: str, number: bytes) -> bytes:
    """A valid hook body with ``number`` as the value of an extension field of the context."""
    raw = json.dumps(hook_body(hook)).encode()
    return raw.replace(b'"context": {', b'"context": {"x-probe": ' + number + b", ", 1)


NUMBERS = {
    "4301 digits": b"9" * 4301,
    "5000 digits negative": b"-" + b"1" * 5000,
    "101 digits": b"1" * 101,
    "1e999": b"1e999",
    "-1e999": b"-1e999",
    "huge mantissa": b"1" * 400 + b".5",
}


@pytest.mark.parametrize("number", NUMBERS.values(), ids=NUMBERS.keys())
@pytest.mark.parametrize("hook", sorted(SERVICES))
def test_huge_or_infinite_numbers_are_400_on_every_hook(client: FlaskClient, es_signer: Signer, hook: str,
                                                       number: bytes) -> None:
    text = _outcome(_post(client, es_signer, f"/cds-services/{SERVICES[hook]}", _with_number(hook, number)), 400)
    assert "number" in text


@pytest.mark.parametrize("number", [b"9" * 4301, b"1e999"])
def test_huge_numbers_are_400_on_feedback_and_the_demo_api(client: FlaskClient, es_signer: Signer,
                                                          number: bytes) -> None:
    path = "/cds-services/nelm-pathway/feedback"
    raw = b'{"feedback": [{"card": "c", "outcome": "accepted", "n": ' + number + b"}]}"
    assert "number" in _outcome(_post(client, es_signer, path, raw), 400)
    demo = client.post("/demo/api/token", data=b'{"path": "/cds-services", "n": ' + number + b"}",
                       headers={"Content-Type": "application/json"})
    assert demo.status_code == 400 and "number" in demo.get_json()["error"]


def test_a_number_of_a_hundred_digits_is_still_accepted(client: FlaskClient, es_signer: Signer) -> None:
    response = _post(client, es_signer, "/cds-services/nelm-pathway", _with_number("patient-view", b"1" * 100))
    assert response.status_code == 200


def _order(**elements: Any) -> dict[str, Any]:
    order = draft_orders()["entry"][0]["resource"]
    order.update(elements)
    return {k: v for k, v in order.items() if v is not None}


MALFORMED_ORDERS = {
    "coding a number": (_order(code={"coding": 42}), "resource.code.coding"),
    "coding item a string": (_order(code={"coding": ["tace"]}), "resource.code.coding[0]"),
    "coding code a number": (_order(code={"coding": [{"system": MODALITY, "code": 7}]}),
                             "resource.code.coding[0].code"),
    "code a string": (_order(code="tace"), "resource.code"),
    "text a list": (_order(code={"text": ["x"]}), "resource.code.text"),
    "medicationReference a string": (
        {"resourceType": "MedicationRequest", "id": "m1", "status": "draft", "intent": "order",
         "subject": {"reference": f"Patient/{PATIENT_ID}"}, "medicationReference": "#med"},
        "resource.medicationReference"),
    "medicationReference.reference a number": (
        {"resourceType": "MedicationRequest", "id": "m1", "status": "draft", "intent": "order",
         "medicationReference": {"reference": 5}}, "resource.medicationReference.reference"),
    "contained not a list": (
        {"resourceType": "MedicationRequest", "id": "m1", "status": "draft", "intent": "order",
         "medicationReference": {"reference": "#med"}, "contained": {"id": "med"}}, "resource.contained"),
    "contained item without resourceType": (
        {"resourceType": "MedicationRequest", "id": "m1", "status": "draft", "intent": "order",
         "medicationReference": {"reference": "#med"}, "contained": [{"id": "med"}]}, "resource.contained[0]"),
    "contained code a number": (
        {"resourceType": "MedicationRequest", "id": "m1", "status": "draft", "intent": "order",
         "medicationReference": {"reference": "#med"},
         "contained": [{"resourceType": "Medication", "id": "med", "code": 3}]}, "resource.contained[0].code"),
    "medicationCodeableConcept a list": (
        {"resourceType": "MedicationRequest", "id": "m1", "status": "draft", "intent": "order",
         "medicationCodeableConcept": [{"text": "x"}]}, "resource.medicationCodeableConcept"),
    "id a number": (_order(id=17), "resource.id"),
    "subject a string": (_order(subject=f"Patient/{PATIENT_ID}"), "resource.subject"),
}


@pytest.mark.parametrize("case", MALFORMED_ORDERS.values(), ids=MALFORMED_ORDERS.keys())
@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_malformed_draft_orders_are_400_with_the_fhir_path(client: FlaskClient, es_signer: Signer, hook: str,
                                                          case: tuple[dict[str, Any], str]) -> None:
    order, path = case
    body = hook_body(hook)
    body["context"]["draftOrders"]["entry"] = [{"resource": order}]
    if hook == "order-select":
        body["context"]["selections"] = [f"{order['resourceType']}/m1" if order.get("id") == "m1" else
                                         "ServiceRequest/draft-1"]
    text = _outcome(_post(client, es_signer, f"/cds-services/{SERVICES[hook]}", json.dumps(body).encode()), 400)
    assert f"context.draftOrders.entry[0].{path}" in text, text


def test_bidi_controls_never_reach_a_card(client: FlaskClient, es_signer: Signer) -> None:
    body = hook_body("order-sign")
    order = body["context"]["draftOrders"]["entry"][0]["resource"]
    order["code"]["text"] = f"TACE {BIDI} \u202eNGIS OT EFAS"
    response = _post(client, es_signer, "/cds-services/nelm-order-sign", json.dumps(body).encode())
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    cards = response.get_json()["cards"]
    assert any("TACE" in c["detail"] and "\ufffd" in c["detail"] for c in cards)  # the order's name is shown ...
    shown = json.dumps(cards, ensure_ascii=False)
    assert not any(ch in shown for ch in BIDI)  # ... but none of its direction controls
    assert not any(f"\\u{ord(ch):04x}" in text.lower() for ch in BIDI)


def test_bidi_controls_never_reach_a_page_or_an_error(client: FlaskClient, es_signer: Signer) -> None:
    path = "/cds-services/nelm-\u202eteg"
    error = client.post(path, json={}, headers=bearer(es_signer.token(f"{BASE}{path}")))
    assert error.status_code in (401, 404)
    assert not any(ch in error.get_data(as_text=True) for ch in BIDI)
    page = client.get("/smart/dev-launch", query_string={"patient": "v\u202e01"})
    assert page.status_code == 404
    assert not any(ch in page.get_data(as_text=True) for ch in BIDI)


def test_twelve_thousand_draft_orders_get_a_bounded_answer_that_says_so(client: FlaskClient,
                                                                       es_signer: Signer) -> None:
    body = hook_body("order-sign")
    template = body["context"]["draftOrders"]["entry"][0]["resource"]
    body["context"]["draftOrders"]["entry"] = [{"resource": dict(template, id=f"d{i}")} for i in range(12_000)]
    response = _post(client, es_signer, "/cds-services/nelm-order-sign", json.dumps(body).encode())
    assert response.status_code == 200
    answer = response.get_json()
    assert validate_cds_response(answer) == []
    cards = answer["cards"]
    assert len(cards) == MAX_ORDER_CARDS
    assert len(response.get_data()) < 200_000
    last = cards[-1]
    shown = len(cards) - 1
    assert f"{12_000 - shown} more draft orders need review" in last["summary"]
    assert f"TACE: {12_000 - shown} orders" in last["detail"]
    assert last["indicator"] == max((c["indicator"] for c in cards[:-1]),
                                    key=["info", "warning", "critical"].index)  # never milder than what it hides
    assert last["links"][0]["type"] == "smart"
