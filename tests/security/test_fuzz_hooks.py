"""Fuzzing hook bodies, draftOrders and selections included: no 5xx, and every 4xx is an OperationOutcome.

Hypothesis builds draft orders whose every element the service reads (id, code, coding, system, code,
text, medicationCodeableConcept, medicationReference, contained, subject) takes a well-formed or a
hostile value, selections of any shape, and raw bodies of arbitrary bytes and numbers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cds_hooks.app import create_app
from cds_hooks.validate import validate_cds_response
from tests.security.conftest import make_settings
from tests.security.records import MODALITY, PATIENT_ID, hook_body

SCALAR = (st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30)
          | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12))
ANY = st.recursive(SCALAR, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
                   max_leaves=8)
BIDI = st.sampled_from(["\u202e", "\u2066", "\u200f", "\u061c", ""])


def _maybe(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """An element the service reads: as often well-formed as anything at all."""
    return st.one_of(good, ANY)


CODING = st.fixed_dictionaries(
    {"system": _maybe(st.sampled_from([MODALITY, "http://snomed.info/sct", "http://www.nlm.nih.gov/research/umls/rxnorm"])),
     "code": _maybe(st.sampled_from(["tace", "alpps", "liver-transplantation", "prrt", "everolimus", "x"]))},
    optional={"display": _maybe(st.builds(lambda b, t: b + t, BIDI, st.text(max_size=10)))},
)
CONCEPT = st.fixed_dictionaries({"coding": _maybe(st.lists(_maybe(CODING), min_size=1, max_size=3))},
                                optional={"text": _maybe(st.text(max_size=20))})
REFERENCES = st.sampled_from([f"Patient/{PATIENT_ID}", "#med", "Medication/1"])
REFERENCE = st.fixed_dictionaries({"reference": _maybe(REFERENCES)})
SERVICE_REQUEST = st.fixed_dictionaries(
    {"resourceType": st.just("ServiceRequest"), "status": st.just("draft"), "intent": st.just("proposal")},
    optional={"id": _maybe(st.sampled_from(["draft-1", "d2"])), "code": _maybe(CONCEPT),
              "subject": _maybe(REFERENCE)},
)
MEDICATION_REQUEST = st.fixed_dictionaries(
    {"resourceType": st.just("MedicationRequest"), "status": st.just("draft"), "intent": st.just("order")},
    optional={"id": _maybe(st.sampled_from(["draft-1", "m1"])), "medicationCodeableConcept": _maybe(CONCEPT),
              "medicationReference": _maybe(REFERENCE), "subject": _maybe(REFERENCE),
              "contained": _maybe(st.lists(st.fixed_dictionaries(
                  {"resourceType": _maybe(st.just("Medication")), "id": _maybe(st.just("med"))},
                  optional={"code": _maybe(CONCEPT)}), max_size=2))},
)
# The Bundle and its entries stay well-formed (garbage there is refused before any order is read, and
# tests/service/test_hostile.py puts any value in any top-level field): the orders' elements are fuzzed.
ENTRY = st.fixed_dictionaries({"resource": SERVICE_REQUEST | MEDICATION_REQUEST})
DRAFT_ORDERS = st.fixed_dictionaries({"resourceType": st.just("Bundle"), "type": st.just("collection"),
                                      "entry": st.lists(ENTRY, min_size=1, max_size=4)})
SELECTIONS = st.one_of(st.lists(_maybe(st.sampled_from(["ServiceRequest/draft-1", "MedicationRequest/m1",
                                                     "ServiceRequest/d2", "nope"])), max_size=3), ANY)


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """One open app (authentication disabled, development) for every example: the JWT has its own tests."""
    folder: Path = tmp_path_factory.mktemp("fuzz")
    app = create_app(make_settings(folder, None, auth_disabled=True))
    app.config["TESTING"] = True
    return app


def _check(response: Any) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if response.status_code == 200:
        assert validate_cds_response(response.get_json()) == []
    else:
        assert response.status_code in {400, 404, 412, 413, 415, 422}, response.status_code
        body = response.get_json()
        assert body["resourceType"] == "OperationOutcome" and body["issue"], body


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(hook=st.sampled_from(["order-select", "order-sign"]), draft_orders=DRAFT_ORDERS, selections=SELECTIONS)
def test_fuzzed_draft_orders_and_selections_never_5xx(fuzz_app: Flask, hook: str, draft_orders: Any,
                                                      selections: Any) -> None:
    body = hook_body(hook)
    body["context"]["draftOrders"] = draft_orders
    if hook == "order-select":
        body["context"]["selections"] = selections
    service = "nelm-order-select" if hook == "order-select" else "nelm-order-sign"
    _check(fuzz_app.test_client().post(f"/cds-services/{service}", json=body))


NUMBER = st.one_of(st.integers().map(str), st.sampled_from(["1e999", "-1e999", "1e-999", "9" * 4400, "0" * 200,
                                                            "-0", "1E400", "NaN", "Infinity", "1.5e308"]))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(service=st.sampled_from(["nelm-pathway", "nelm-order-select", "nelm-order-sign", "nelm-pathway/feedback"]),
       where=st.sampled_from(["context", "prefetch", "top"]), number=NUMBER,
       tail=st.binary(max_size=40))
def test_fuzzed_raw_bodies_never_5xx(fuzz_app: Flask, service: str, where: str, number: str, tail: bytes) -> None:
    hook = {"nelm-pathway": "patient-view", "nelm-order-select": "order-select"}.get(service, "order-sign")
    raw = json.dumps(hook_body(hook)).encode()
    probe = b'"x-probe": ' + number.encode() + b", "
    raw = raw.replace({"context": b'"context": {', "prefetch": b'"prefetch": {', "top": b"{"}[where],
                      {"context": b'"context": {', "prefetch": b'"prefetch": {', "top": b"{"}[where] + probe, 1)
    for body in (raw, raw + tail, raw[: len(raw) // 2] + tail):
        _check(fuzz_app.test_client().post(f"/cds-services/{service}", data=body,
                                           headers={"Content-Type": "application/json"}))
