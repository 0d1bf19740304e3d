"""Integration with a real FHIR server (SEKMET): the vignette patients loaded, hooks sent without prefetch.

The service reads every prefetch key from ``fhirServer`` itself (with the bearer token) and must
answer exactly the cards it answers when the client prefetches everything.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from cds_hooks.validate import validate_cds_response
from tests.service.requests_ import order_hook, patient_view
from tests.service.vignettes import EXPECTED, bundle, draft_order, normal_form, patient_id
from tests.support.sekmet import FhirServer

pytestmark = pytest.mark.fhirserver
VIDS = sorted(EXPECTED)

@pytest.fixture
def app(module_app: Flask) -> Flask:
    """This module's tests only read: they share one app."""
    return module_app



@pytest.fixture(scope="module")
def loaded(fhir_server: FhirServer) -> FhirServer:
    """The session's SEKMET server holding every vignette patient."""
    for vid in VIDS:
        fhir_server.load_bundle(bundle(vid))
    return fhir_server


def _post(app: Flask, service: str, body: dict[str, Any]) -> dict[str, Any]:
    response = app.test_client().post(f"/cds-services/{service}", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    answer: dict[str, Any] = response.get_json()
    assert validate_cds_response(answer) == []
    return answer


def _with_token(body: dict[str, Any]) -> dict[str, Any]:
    body["fhirAuthorization"] = {"access_token": "opaque-test-token", "token_type": "Bearer", "expires_in": 300,
                                 "scope": "user/Patient.read user/Condition.read user/Observation.read",
                                 "subject": "nelm-pathways"}
    return body


@pytest.mark.parametrize("vid", VIDS)
def test_patient_view_without_prefetch_equals_full_prefetch(app: Flask, loaded: FhirServer, vid: str) -> None:
    pid = patient_id(vid)
    fetched = _post(app, "nelm-pathway", _with_token(patient_view(pid, fhir_server=loaded.base_url)))
    prefetched = _post(app, "nelm-pathway", patient_view(pid, bundle(vid)))
    assert normal_form(fetched) == normal_form(prefetched)
    assert not any("could not be read" in c["summary"] for c in fetched["cards"])


@pytest.mark.parametrize("vid", ["V08", "V14", "V16b"])
def test_order_sign_without_prefetch_equals_full_prefetch(app: Flask, loaded: FhirServer, vid: str) -> None:
    pid = patient_id(vid)
    orders = [draft_order(vid, m) for m in ("tace", "rfa", "alpps", "prrt")]
    fetched = _post(app, "nelm-order-sign", _with_token(order_hook("order-sign", pid, orders,
                                                                   fhir_server=loaded.base_url)))
    prefetched = _post(app, "nelm-order-sign", order_hook("order-sign", pid, orders, bundle(vid)))
    assert normal_form(fetched) == normal_form(prefetched)
    assert fetched["cards"], "each vignette has at least one order that is not recommended"


def test_partial_prefetch_is_completed_from_the_server(app: Flask, loaded: FhirServer) -> None:
    full = patient_view("v14", bundle("V14"))
    partial = patient_view("v14", fhir_server=loaded.base_url)
    partial["prefetch"] = {k: v for k, v in full["prefetch"].items() if k in {"patient", "conditions"}}
    partial["prefetch"]["labs"] = {"resourceType": "OperationOutcome",
                                   "issue": [{"severity": "error", "code": "timeout", "diagnostics": "EHR timeout"}]}
    assert normal_form(_post(app, "nelm-pathway", partial)) == normal_form(_post(app, "nelm-pathway", full))


def test_unknown_patient_on_the_server_is_412(app: Flask, loaded: FhirServer) -> None:
    response = app.test_client().post("/cds-services/nelm-pathway",
                                      json=patient_view("no-such-patient", fhir_server=loaded.base_url))
    assert response.status_code == 412
    assert response.get_json()["resourceType"] == "OperationOutcome"
