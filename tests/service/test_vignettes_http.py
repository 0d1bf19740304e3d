"""Golden tests: every public vignette through the hooks, with full prefetch shaped as the sandbox sends it.

For each vignette: patient-view answers 200 with valid cards whose statuses match
``tests/vignettes/expected.json``; the prefetch templates fetch everything the pathway needs
(same statuses as evaluating the whole Bundle); the answer equals the stored golden answer
(``NELM_UPDATE_GOLDEN=1`` rewrites them); order-sign answers each draft order by its status.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from cds_hooks.clinical_text import element_label
from cds_hooks.evaluation import evaluate_record
from cds_hooks.validate import validate_cds_response
from tests.service.conftest import NOW
from tests.service.requests_ import order_hook, patient_view
from tests.service.vignettes import EXPECTED, bundle, draft_order, normal_form, patient_id, statuses_of

GOLDEN = Path(__file__).resolve().parent / "golden"
VIDS = sorted(EXPECTED)

@pytest.fixture
def app(module_app: Flask) -> Flask:
    """This module's tests only read: they share one app."""
    return module_app



def _post(app: Flask, service: str, body: dict[str, Any]) -> dict[str, Any]:
    response = app.test_client().post(f"/cds-services/{service}", json=body,
                                      headers={"Origin": "https://sandbox.cds-hooks.org", "Accept": "application/json"})
    assert response.status_code == 200, response.get_data(as_text=True)
    answer: dict[str, Any] = response.get_json()
    assert validate_cds_response(answer) == []
    return answer


@pytest.mark.parametrize("vid", VIDS)
def test_patient_view_statuses_match_the_vignette(app: Flask, vid: str) -> None:
    answer = _post(app, "nelm-pathway", patient_view(patient_id(vid), bundle(vid)))
    statuses = statuses_of(answer)
    for modality, allowed in EXPECTED[vid]["statuses"].items():
        assert statuses[modality] in allowed, (vid, modality, statuses[modality], allowed)
    # the templates fetch everything: same statuses as the engine on the whole record
    whole = evaluate_record(app, bundle(vid), patient_id=patient_id(vid), now=NOW)
    assert statuses == {r.modality.value: r.status.value for r in whole.results}
    cards = answer["cards"]
    # the headline card (info) advises tumour-board review (B25); few cards besides it
    assert cards[0]["indicator"] == "info" and "NEN multidisciplinary tumour board is advised" in cards[0]["detail"]
    assert len(cards) <= 4
    gaps = EXPECTED[vid].get("dataGaps")
    if gaps:
        # The data-gap card (a gap to confirm, B28/B31, has nothing to order and so no suggestion).
        gap_card = next(c for c in cards if c["source"].get("label") == "NELM Pathways: data gaps")
        for element in gaps:
            assert element in gap_card["extension"]["org.nelm-cds.dataGaps"]
            assert element_label(element).lower() in gap_card["detail"].lower()


@pytest.mark.parametrize("vid", VIDS)
def test_patient_view_equals_golden_answer(app: Flask, vid: str) -> None:
    answer = normal_form(_post(app, "nelm-pathway", patient_view(patient_id(vid), bundle(vid))))
    path = GOLDEN / f"{vid}.patient-view.json"
    if os.environ.get("NELM_UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(json.dumps(answer, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    assert path.exists(), f"no golden answer {path.name}: run with NELM_UPDATE_GOLDEN=1 and review the diff"
    assert answer == json.loads(path.read_text(encoding="utf-8"))


_EXPECTED_INDICATOR = {"contraindicated": "critical", "not-recommended": "warning", "insufficient-data": "warning",
                       "consider": "info", "recommended": None}


@pytest.mark.parametrize("vid", VIDS)
def test_order_sign_answers_each_draft_order_by_its_status(app: Flask, vid: str) -> None:
    pid = patient_id(vid)
    single = {m: allowed[0] for m, allowed in EXPECTED[vid]["statuses"].items() if len(allowed) == 1}
    orders = [draft_order(vid, m) for m in single]
    orders += [e["resource"] for e in EXPECTED[vid].get("draftOrders", {}).get("entry", [])]
    answer = _post(app, "nelm-order-sign", order_hook("order-sign", pid, orders, bundle(vid)))
    by_modality: dict[str, list[dict[str, Any]]] = {}
    for card in answer["cards"]:
        by_modality.setdefault(card["source"]["topic"]["code"], []).append(card)
    for modality, status in single.items():
        indicator = _EXPECTED_INDICATOR[status]
        got = [c["indicator"] for c in by_modality.get(modality, [])]
        expected_count = 1 + sum(1 for o in orders[len(single):] if o["code"]["coding"][0]["code"] == modality)
        assert got == ([indicator] * expected_count if indicator else []), (vid, modality, status, got)
        for card in by_modality.get(modality, []):
            if status == "contraindicated":
                assert card["overrideReasons"] and card["suggestions"][0]["actions"][0]["type"] == "delete"
                assert card["suggestions"][0]["actions"][0]["resourceId"].endswith(f"-draft-{modality}") or \
                    card["suggestions"][0]["actions"][0]["resourceId"].startswith("ServiceRequest/")
    indicators = [c["indicator"] for c in answer["cards"]]
    assert indicators == sorted(indicators, key=["critical", "warning", "info"].index)


def test_v08_alpps_order_is_critical_with_alternative(app: Flask) -> None:
    orders = [e["resource"] for e in EXPECTED["V08"]["draftOrders"]["entry"]]
    for hook, service in (("order-sign", "nelm-order-sign"), ("order-select", "nelm-order-select")):
        answer = _post(app, service, order_hook(hook, "v08", orders, bundle("V08")))
        assert len(answer["cards"]) == 1
        card = answer["cards"][0]
        assert card["indicator"] == "critical"
        assert card["summary"].startswith("Contraindicated: ALPPS (grade G3")
        assert "[[41]](http://localhost/evidence/alpps#ref-41)" in card["detail"]
        assert any("Observation/v08-ki67" in f["references"] for f in card["extension"]["org.nelm-cds.basedOn"])
        assert card["suggestions"][0]["actions"] == [
            {"type": "delete", "description": "Remove the draft order ALPPS stage 1",
             "resourceId": "ServiceRequest/v08-alpps-stage-1"}]
        replacement = card["suggestions"][1]["actions"]
        assert [a["type"] for a in replacement] == ["delete", "create"]
        assert replacement[1]["resource"]["code"]["coding"][0]["code"] in {
            "portal-vein-embolization", "two-stage-hepatectomy"}
        assert replacement[1]["resource"]["encounter"] == {"reference": "Encounter/enc-89284"}


def test_order_select_only_answers_the_selected_order(app: Flask) -> None:
    orders = [draft_order("V14", "tace"), draft_order("V14", "tae")]
    body = order_hook("order-select", "v14", orders, bundle("V14"), selections=["ServiceRequest/v14-draft-tae"])
    answer = _post(app, "nelm-order-select", body)
    assert [c["source"]["topic"]["code"] for c in answer["cards"]] == ["tae"]
    assert answer["cards"][0]["indicator"] == "critical"
