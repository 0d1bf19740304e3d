"""Request parsing keeps every hook-specific field and never shows the access token."""

from __future__ import annotations

import pytest

from cds_hooks.errors import RequestError
from cds_hooks.wire import parse_hook_request
from tests.service.requests_ import draft_service_request, order_hook


def test_order_select_keeps_every_context_field() -> None:
    order = draft_service_request("example-request-id", "p1", "http://www.ama-assn.org/go/cpt", "70450", "CT head")
    body = order_hook("order-select", "p1", [order], selections=["ServiceRequest/example-request-id"])
    body["context"]["appointments"] = {"resourceType": "Bundle", "type": "collection"}  # a field we do not use
    req = parse_hook_request(body, expected_hook="order-select")
    assert req.selections == ("ServiceRequest/example-request-id",)
    assert req.encounter_id == "enc-89284"
    assert req.user_id == "Practitioner/COREPRACTITIONER1"
    assert req.draft_order_resources() == [order]
    assert req.context["appointments"] == {"resourceType": "Bundle", "type": "collection"}


def test_token_is_kept_but_never_shown() -> None:
    body = {"hook": "patient-view", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
            "fhirServer": "https://ehr.example.org/fhir/",
            "fhirAuthorization": {"access_token": "eyJ-secret", "token_type": "bearer", "expires_in": 300,
                                  "scope": "patient/Patient.rs patient/Observation.rs", "subject": "nelm",
                                  "patient": "p1"},
            "context": {"userId": "PractitionerRole/r1", "patientId": "p1"}}
    req = parse_hook_request(body, expected_hook="patient-view")
    assert req.fhir_server == "https://ehr.example.org/fhir"
    assert req.fhir_authorization is not None and req.fhir_authorization.access_token == "eyJ-secret"
    assert req.fhir_authorization.patient == "p1"
    assert "eyJ-secret" not in repr(req)


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        ({"token_type": "Bearer"}, "access_token is required"),
        ({"access_token": "t", "token_type": "MAC"}, "token_type must be Bearer"),
        ({"access_token": "t", "token_type": "Bearer", "expires_in": -1}, "expires_in must be a non-negative"),
        ("token", "fhirAuthorization must be an object"),
    ],
)
def test_bad_fhir_authorization_is_refused(auth: object, expected: str) -> None:
    body = {"hook": "patient-view", "hookInstance": "h", "fhirServer": "https://ehr.example.org/fhir",
            "fhirAuthorization": auth, "context": {"userId": "Practitioner/1", "patientId": "p1"}}
    with pytest.raises(RequestError, match=expected):
        parse_hook_request(body, expected_hook="patient-view")


def test_services_are_dispatched_by_id_not_by_hook() -> None:
    body = order_hook("order-sign", "p1", [])
    with pytest.raises(RequestError, match="this service answers the order-select hook, not order-sign"):
        parse_hook_request(body, expected_hook="order-select")
