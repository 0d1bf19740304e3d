"""Feedback round trip over HTTP: validation, idempotent storage, on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask import Flask

from cds_hooks.store import store_of


def _item(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"card": str(uuid.uuid4()), "outcome": "accepted",
                            "acceptedSuggestions": [{"id": str(uuid.uuid4())}],
                            "outcomeTimestamp": "2026-11-26T10:15:00Z"}
    item.update(changes)
    return {k: v for k, v in item.items() if v is not None}


@pytest.fixture(params=["sqlite", "postgresql"])
def any_app(request: pytest.FixtureRequest, app: Flask) -> Flask:
    return app if request.param == "sqlite" else request.getfixturevalue("postgres_app")  # type: ignore[no-any-return]


def test_feedback_round_trip_is_idempotent(any_app: Flask) -> None:
    client = any_app.test_client()
    accepted = _item()
    overridden = _item(outcome="overridden", acceptedSuggestions=None, outcomeTimestamp="2026-11-26T11:15:00+01:00",
                       overrideReason={"reason": {"system": "https://nelm-cds.org/fhir/CodeSystem/override-reason",
                                                  "code": "mdt-decision", "display": "Decided by the tumour board"},
                                       "userComment": "MDT 2026-11-20"})
    response = client.post("/cds-services/nelm-order-sign/feedback", json={"feedback": [accepted, overridden]})
    assert response.status_code == 200
    assert response.get_json() == {"received": 2, "stored": 2, "duplicates": 0}
    again = client.post("/cds-services/nelm-order-sign/feedback", json={"feedback": [accepted]})
    assert again.get_json() == {"received": 1, "stored": 0, "duplicates": 1}
    store = store_of(any_app)
    rows = store.feedback_for(overridden["card"])
    assert len(rows) == 1
    assert rows[0]["override_reason_code"] == "mdt-decision"
    assert rows[0]["user_comment"] == "MDT 2026-11-20"
    assert rows[0]["outcome_timestamp"].isoformat() == "2026-11-26T10:15:00"  # stored in UTC
    assert store.feedback_for(accepted["card"])[0]["accepted_suggestions"] == [accepted["acceptedSuggestions"][0]["id"]]
    assert store.backend == ("sqlite" if "sqlite" in store.url else "postgresql")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, "feedback must be a non-empty array"),
        ({"feedback": []}, "feedback must be a non-empty array"),
        ({"feedback": [_item(outcome="ignored")]}, "outcome must be accepted or overridden"),
        ({"feedback": [_item(acceptedSuggestions=None)]}, "acceptedSuggestions is required"),
        ({"feedback": [_item(acceptedSuggestions=[])]}, "acceptedSuggestions is required"),
        ({"feedback": [_item(outcome="overridden")]}, "only allowed when the outcome is accepted"),
        ({"feedback": [_item(outcomeTimestamp="2026-11-26 10:00")]}, "RFC 3339"),
        ({"feedback": [_item(outcomeTimestamp="2026-11-26T10:00:00")]}, "RFC 3339"),
        ({"feedback": [_item(outcomeTimestamp="2026-13-45T10:00:00Z")]}, "not a valid date-time"),
        ({"feedback": [_item(card="")]}, "card must be a non-empty string"),
        ({"feedback": [_item(card=None)]}, "card must be a non-empty string"),
        ({"feedback": [_item(colour="red")]}, "colour is not a feedback field"),
        ({"feedback": [_item(overrideReason={"userComment": "x"})]}, "only allowed when the outcome is overridden"),
        ({"feedback": [_item(outcome="overridden", acceptedSuggestions=None, overrideReason={"reason": "x"})]},
         "must be a Coding"),
        ({"feedback": ["x"]}, "feedback[0] must be an object"),
    ],
)
def test_bad_feedback_is_400(app: Flask, body: dict[str, Any], expected: str) -> None:
    response = app.test_client().post("/cds-services/nelm-pathway/feedback", json=body)
    assert response.status_code == 400
    assert expected in response.get_json()["issue"][0]["diagnostics"]


def _issued_card(app: Flask) -> str:
    from tests.service.requests_ import patient_view
    from tests.service.vignettes import bundle

    response = app.test_client().post("/cds-services/nelm-pathway", json=patient_view("v14", bundle("V14")))
    assert response.status_code == 200
    return str(response.get_json()["cards"][0]["uuid"])


def test_feedback_on_a_card_never_issued_is_kept_and_marked(any_app: Flask,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    client = any_app.test_client()
    issued = _issued_card(any_app)
    stranger = str(uuid.uuid4())
    audit = store_of(any_app).recent_audit(1)[0]
    assert issued in audit["card_uuids"] and audit["card_count"] == len(audit["card_uuids"])
    body = {"feedback": [_item(card=issued), _item(card=stranger)]}
    with caplog.at_level("WARNING", logger="nelm.cds.services"):
        response = client.post("/cds-services/nelm-pathway/feedback", json=body)
    assert response.get_json() == {"received": 2, "stored": 2, "duplicates": 0}  # nothing is lost
    store = store_of(any_app)
    assert store.feedback_for(issued)[0]["unknown_card"] is False
    assert store.feedback_for(stranger)[0]["unknown_card"] is True
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("never issued" in w for w in warnings)
    assert not any(stranger in w or issued in w for w in warnings)  # hashed ids only
    # A card of nelm-pathway reported to another service was not issued by that service.
    other = client.post("/cds-services/nelm-order-sign/feedback", json={"feedback": [_item(card=issued)]})
    assert other.get_json()["stored"] == 1
    marks = {row["service_id"]: row["unknown_card"] for row in store.feedback_for(issued)}
    assert marks == {"nelm-pathway": False, "nelm-order-sign": True}
