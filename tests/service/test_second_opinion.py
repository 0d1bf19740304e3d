"""A second opinion from another CDS Hooks implementation: HealthChain's models parse our JSON.

HealthChain (PyPI ``healthchain``, in its own venv ``.venv-healthchain`` because it pins an older
``fhir.resources``) is a CDS Hooks client/sandbox with pydantic models of requests, responses,
discovery and feedback. Every vignette's patient-view answer, an order-sign answer for every
modality, our discovery document, the sandbox-shaped requests of our golden tests and feedback on
our cards must parse with them, except for two documented HealthChain deviations from CDS Hooks 2.0, where its models
make OPTIONAL fields required:

- ``Link.autoLaunchable`` (spec 2.0.1: ``autolaunchable``, optional boolean);
- ``Suggestion.isRecommended`` (spec 2.0: optional boolean).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from cds_hooks.demo.patients import draft_order
from nelm_fhir.pathways.result import Modality
from tests.service.requests_ import order_hook, patient_view
from tests.service.vignettes import EXPECTED, bundle, patient_id

REPO = Path(__file__).resolve().parents[2]
PYTHON = REPO / ".venv-healthchain" / "bin" / "python"
CHECKER = REPO / "tests" / "support" / "healthchain_check.py"
KNOWN_DEVIATIONS = {
    ("missing", "cards.links.autoLaunchable"),
    ("missing", "cards.suggestions.isRecommended"),
}


@pytest.fixture
def app(module_app: Flask) -> Flask:
    """This module's tests only read: they share one app."""
    return module_app


def _post(app: Flask, service: str, body: dict[str, Any]) -> dict[str, Any]:
    response = app.test_client().post(f"/cds-services/{service}", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    answer: dict[str, Any] = response.get_json()
    return answer


def _check(folder: Path) -> dict[str, list[list[str]]]:
    if not PYTHON.exists():
        pytest.skip(f"{PYTHON} is missing: `make healthchain` (a dependency of `make test`) installs it")
    run = subprocess.run([str(PYTHON), str(CHECKER), str(folder)], capture_output=True, text=True,
                         timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    report: dict[str, list[list[str]]] = json.loads(run.stdout)
    return report


def test_healthchain_parses_our_discovery_requests_responses_and_feedback(app: Flask, tmp_path: Path) -> None:
    client = app.test_client()
    (tmp_path / "discovery-services.json").write_text(json.dumps(client.get("/cds-services").get_json()))
    for vid in sorted(EXPECTED):
        body = patient_view(patient_id(vid), bundle(vid))
        (tmp_path / f"request-{vid}-patient-view.json").write_text(json.dumps(body))
        (tmp_path / f"response-{vid}-patient-view.json").write_text(json.dumps(_post(app, "nelm-pathway", body)))
    for modality in Modality:
        order = draft_order(modality.value, patient_id("V08"))
        body = order_hook("order-sign", patient_id("V08"), [order], bundle("V08"))
        (tmp_path / f"request-V08-sign-{modality.value}.json").write_text(json.dumps(body))
        answer = _post(app, "nelm-order-sign", body)
        (tmp_path / f"response-V08-sign-{modality.value}.json").write_text(json.dumps(answer))
        for card in answer["cards"]:
            feedback = {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-11-26T10:00:00Z"}
            if card.get("overrideReasons"):
                feedback["overrideReason"] = {"reason": card["overrideReasons"][0], "userComment": "MDT decision"}
            (tmp_path / f"feedback-{modality.value}-{card['uuid']}.json").write_text(json.dumps(feedback))
            if card["indicator"] == "critical":
                # signed again after the override: the info card that replaces the alert must parse too
                assert client.post("/cds-services/nelm-order-sign/feedback",
                                   json={"feedback": [feedback]}).status_code == 200
                again = _post(app, "nelm-order-sign", body)
                assert [c["indicator"] for c in again["cards"]] == ["info"]
                (tmp_path / f"response-V08-sign-{modality.value}-overridden.json").write_text(json.dumps(again))
    report = _check(tmp_path)
    assert len(report) == len(list(tmp_path.glob("*.json")))
    unexpected = {name: [e for e in errors if tuple(e) not in KNOWN_DEVIATIONS] for name, errors in report.items()}
    assert {name: errors for name, errors in unexpected.items() if errors} == {}
    # the check is not vacuous: some answers carry links and suggestions HealthChain inspected
    assert any(errors for errors in report.values())
    assert any(name.startswith("feedback-") for name in report)


def test_healthchain_rejects_a_broken_card(tmp_path: Path) -> None:
    """The second opinion can fail: a card without indicator and with a long summary is refused."""
    bad = {"cards": [{"summary": "x" * 141, "source": {"label": "NELM Pathways"}}]}
    (tmp_path / "response-broken.json").write_text(json.dumps(bad))
    report = _check(tmp_path)
    assert ["missing", "cards.indicator"] in report["response-broken.json"]
    assert ["string_too_long", "cards.summary"] in report["response-broken.json"]
