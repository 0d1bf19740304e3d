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
