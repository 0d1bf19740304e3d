"""Hostile and broken input never produces a 500 or an empty answer that hides a failure."""

from __future__ import annotations

import copy
import logging
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cds_hooks.validate import validate_cds_response
from tests.service.requests_ import order_hook, patient_view
from tests.service.vignettes import bundle, draft_order

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
PATHS = [("hook",), ("hookInstance",), ("context",), ("context", "patientId"), ("context", "userId"),
         ("context", "draftOrders"), ("context", "selections"), ("context", "encounterId"), ("prefetch",),
         ("prefetch", "patient"), ("prefetch", "conditions"), ("prefetch", "ki67"), ("fhirServer",),
         ("fhirAuthorization",), ("extension",)]


def _base() -> dict[str, Any]:
    return order_hook("order-select", "v14", [draft_order("V14", "tace")], bundle("V14"))


BASE = _base()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(PATHS), value=JSON)
def test_any_value_in_any_field_is_answered_without_500(app: Flask, path: tuple[str, ...], value: Any) -> None:
    body = copy.deepcopy(BASE)
    target = body
    for step in path[:-1]:
        target = target.setdefault(step, {}) if isinstance(target.get(step), dict) else target
    target[path[-1]] = value
    response = app.test_client().post("/cds-services/nelm-order-select", json=body)
    assert response.status_code in {200, 400, 412}, response.get_data(as_text=True)
    answer = response.get_json()
    if response.status_code == 200:
        assert validate_cds_response(answer) == []
    else:
        assert answer["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b["prefetch"]["conditions"]["entry"].append({"resource": {"resourceType": "Condition"}}),
        lambda b: b["prefetch"]["conditions"]["entry"].append({"resource": {"resourceType": "Condition", "id": "c9",
                                                                            "subject": {"reference": "Patient/v14"},
                                                                            "code": {"coding": "C7B.02"}}}),
        lambda b: b["prefetch"]["labs"]["entry"].append({"resource": {"resourceType": "Observation", "id": "x",
                                                                      "valueQuantity": {"value": "abc"}}}),
        lambda b: b["prefetch"].__setitem__("patient", {"resourceType": "Patient", "id": "v14", "birthDate": "never"}),
        lambda b: b["prefetch"]["ki67"].__setitem__("entry", "not a list"),
        lambda b: b["prefetch"].__setitem__("unknown-key", {"resourceType": "Bundle", "type": "searchset"}),
    ],
)
def test_broken_fhir_data_is_not_a_500(app: Flask, mutate: Any) -> None:
    body = patient_view("v14", bundle("V14"))
    mutate(body)
    response = app.test_client().post("/cds-services/nelm-pathway", json=body)
    assert response.status_code in {200, 400}, response.get_data(as_text=True)
    if response.status_code == 200:
        assert response.get_json()["cards"], "a failure must not become an empty card list"
        assert validate_cds_response(response.get_json()) == []


def test_another_patients_data_in_prefetch_is_400(app: Flask) -> None:
    body = patient_view("v14", bundle("V14"))
    body["prefetch"]["conditions"] = patient_view("v07", bundle("V07"))["prefetch"]["conditions"]
    response = app.test_client().post("/cds-services/nelm-pathway", json=body)
    assert response.status_code == 400
    assert "another patient" in response.get_json()["issue"][0]["diagnostics"]


def test_an_unexpected_failure_is_a_logged_500_operation_outcome_without_phi(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "-".join(["secret", "patient", "v14"])  # not in any source line a traceback could show

    class Broken:
        def __getattr__(self, name: str) -> Any:
            raise RuntimeError(f"{secret} leaked into an exception message")

    app.extensions["nelm_pathway_config"] = Broken()  # a fault the real engine cannot produce on demand
    with caplog.at_level(logging.ERROR):
        response = app.test_client().post("/cds-services/nelm-pathway", json=patient_view("v14", bundle("V14")))
    assert response.status_code == 500
    assert response.get_json()["issue"][0]["code"] == "exception"
    assert "unexpected RuntimeError" in caplog.text
    assert secret not in caplog.text
