"""Order-select → feedback (overridden) → order-sign: the same alert is not raised twice for the same draft order.

Two app instances share one database, as two replicas behind a load balancer do: the order-select card
comes from one, the feedback and the signing from whichever the balancer picks.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from cds_hooks.store import store_of
from cds_hooks.validate import validate_cds_response
from tests.service.conftest import make_app
from tests.service.requests_ import USER, order_hook
from tests.service.vignettes import bundle, draft_order

REASON = {"system": "https://nelm-cds.org/fhir/CodeSystem/override-reason", "code": "mdt-decision",
          "display": "Decided by the multidisciplinary tumour board"}


@pytest.fixture(params=["sqlite", "postgresql"])
def replicas(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Flask, Flask]]:
    """Two apps on one shared store (a SQLite file, or the session's PostgreSQL database)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_url")
    first = make_app(tmp_path / "a", database_url=url)
    second = make_app(tmp_path / "b", database_url=url)
    yield first, second
    store_of(first).dispose()
    store_of(second).dispose()


def _draft(modality: str = "alpps") -> dict[str, Any]:
    order = draft_order("V08", modality)
    order["id"] = f"v08-{uuid.uuid4().hex[:12]}"  # a draft of this test only (the PostgreSQL store is shared)
    return order


def _cards(app: Flask, hook: str, orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    response = app.test_client().post(f"/cds-services/nelm-{hook}", json=order_hook(hook, "v08", orders, bundle("V08")))
    assert response.status_code == 200, response.get_data(as_text=True)
    answer: dict[str, Any] = response.get_json()
    assert validate_cds_response(answer) == []
    cards: list[dict[str, Any]] = answer["cards"]
    return cards


def _override(app: Flask, service: str, card: dict[str, Any], comment: str | None = "MDT of 2026-11-20") -> None:
    reason: dict[str, Any] = {"reason": REASON}
    if comment:
        reason["userComment"] = comment
    item = {"card": card["uuid"], "outcome": "overridden", "overrideReason": reason,
            "outcomeTimestamp": "2026-11-26T10:15:00Z"}
    response = app.test_client().post(f"/cds-services/{service}/feedback", json={"feedback": [item]})
    assert response.status_code == 200, response.get_data(as_text=True)


def test_an_override_at_order_select_silences_the_same_alert_at_order_sign_on_another_replica(
        replicas: tuple[Flask, Flask]) -> None:
    first, second = replicas
    order = _draft()
    (selected,) = _cards(first, "order-select", [order])
    assert selected["indicator"] == "critical" and "overrideReasons" in selected
    # before any feedback the alert stands at signing, on either replica
    (unanswered,) = _cards(second, "order-sign", [order])
    assert unanswered["indicator"] == "critical"
    _override(second, "nelm-order-select", selected)
    (signed,) = _cards(first, "order-sign", [order])
    assert signed["indicator"] == "info"
    assert "overrideReasons" not in signed and "suggestions" not in signed
    assert signed["summary"].startswith("ALPPS: contraindication overridden at order selection")
    detail = signed["detail"]
    assert f"Overridden by: {USER}" in detail  # the user the overridden card was shown to (hook userId)
    assert "Reason: Decided by the multidisciplinary tumour board" in detail
    assert "Comment: MDT of 2026-11-20" in detail
    assert signed["source"]["topic"]["code"] == "alpps"  # still about one option (CONTRACT section 5)
    overridden = signed["extension"]["org.nelm-cds.order"]["overridden"]
    assert overridden["card"] == selected["uuid"] and overridden["reason"]["code"] == "mdt-decision"


def test_other_drafts_and_accepted_feedback_do_not_silence_an_alert(replicas: tuple[Flask, Flask]) -> None:
    first, second = replicas
    order, other = _draft(), _draft()
    (selected,) = _cards(first, "order-select", [order])
    _override(second, "nelm-order-select", selected, comment=None)
    # another draft order of the same option for the same patient: a new order, alerted again
    (fresh,) = _cards(second, "order-sign", [other])
    assert fresh["indicator"] == "critical"
    # the overridden one is silenced, the other one in the same signing is not
    both = _cards(second, "order-sign", [order, other])
    assert sorted(c["indicator"] for c in both) == ["critical", "info"]
    # feedback that accepted a suggestion is not an override
    third = _draft()
    (card,) = _cards(first, "order-select", [third])
    accepted = {"card": card["uuid"], "outcome": "accepted", "acceptedSuggestions": [{"id": str(uuid.uuid4())}],
                "outcomeTimestamp": "2026-11-26T10:15:00Z"}
    assert first.test_client().post("/cds-services/nelm-order-select/feedback",
                                    json={"feedback": [accepted]}).status_code == 200
    (still,) = _cards(second, "order-sign", [third])
    assert still["indicator"] == "critical"


def test_a_draft_without_an_id_is_never_silenced(replicas: tuple[Flask, Flask]) -> None:
    first, second = replicas
    order = _draft()
    del order["id"]
    (signed,) = _cards(first, "order-sign", [order])
    assert signed["indicator"] == "critical"
    _override(second, "nelm-order-sign", signed)
    (again,) = _cards(second, "order-sign", [order])
    assert again["indicator"] == "critical"  # nothing identifies this draft: the alert is repeated, never guessed
