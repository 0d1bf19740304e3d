"""CONTRACT.md section 5: every card about exactly one modality carries it in ``source.topic``.

Checked over every vignette's patient-view and an order-sign of every modality. A card's modalities are
read from what it shows the EHR: the grouped-card extension, else the modality its SMART link opens.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask

from cds_hooks.clinical_text import modality_label
from cds_hooks.validate import validate_cds_response
from nelm_fhir.pathways.result import MODALITY_SYSTEM, Modality
from tests.service.requests_ import order_hook, patient_view
from tests.service.vignettes import EXPECTED, bundle, draft_order, patient_id, statuses_of

VIDS = sorted(EXPECTED)


@pytest.fixture
def app(module_app: Flask) -> Flask:
    """This module's tests only read: they share one app."""
    return module_app


def _post(app: Flask, service: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = app.test_client().post(f"/cds-services/{service}", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    answer: dict[str, Any] = response.get_json()
    assert validate_cds_response(answer) == []
    cards: list[dict[str, Any]] = answer["cards"]
    return cards


def _modalities(card: dict[str, Any]) -> list[str]:
    grouped = card.get("extension", {}).get("org.nelm-cds.modalities")
    if grouped:
        return list(grouped)
    opened = [json.loads(link["appContext"]).get("modality") for link in card.get("links", [])
              if link.get("appContext")]
    return [m for m in opened if m]


def _check_source(card: dict[str, Any]) -> list[str]:
    modalities = _modalities(card)
    source = card["source"]
    assert source["url"], card["summary"]
    if len(modalities) == 1:
        (only,) = modalities
        assert source.get("topic", {}).get("system") == MODALITY_SYSTEM, card["summary"]
        assert source["topic"]["code"] == only, card["summary"]
        assert source["url"].endswith(f"/evidence/{only}"), card["summary"]
    else:
        assert "topic" not in source, card["summary"]  # several (or no) modalities: no single topic
        if modalities:
            assert source["url"].endswith(f"/evidence/{modalities[0]}") or source["url"].endswith("/evidence")
    return modalities


@pytest.mark.parametrize("vid", VIDS)
def test_patient_view_cards_name_their_modality_in_the_topic(app: Flask, vid: str) -> None:
    cards = _post(app, "nelm-pathway", patient_view(patient_id(vid), bundle(vid)))
    statuses = statuses_of({"cards": cards})
    for card in cards:
        modalities = _check_source(card)
        if card["summary"].startswith("Contraindicated:"):
            assert modalities and all(statuses[m] == "contraindicated" for m in modalities), card["summary"]
    # Every contraindicated option is on a warning card (a current treatment) or named in the headline card.
    shown = {m for c in cards if c["indicator"] == "warning" for m in _modalities(c)}
    folded = next((x for x in cards[0]["detail"].splitlines() if x.startswith("**Contraindicated:**")), "")
    hidden = [m for m, s in statuses.items() if s == "contraindicated" and m not in shown]
    named = [m for m in hidden if modality_label(m) in folded]
    counted = sum(int(n) for n in re.findall(r"and (\d+) more", folded))  # at most four names per cause
    assert len(named) + counted == len(hidden), (vid, folded)


@pytest.mark.parametrize("vid", VIDS)
def test_order_sign_cards_carry_the_ordered_modality(app: Flask, vid: str) -> None:
    orders = [draft_order(vid, m.value) for m in Modality]
    cards = _post(app, "nelm-order-sign", order_hook("order-sign", patient_id(vid), orders, bundle(vid)))
    topics = []
    for card in cards:
        if card["summary"].startswith("Some records could not be read"):
            continue
        modalities = _check_source(card)
        assert len(modalities) == 1, card["summary"]
        topics.append(modalities[0])
    assert len(topics) == len(set(topics))  # one card per ordered modality at most
