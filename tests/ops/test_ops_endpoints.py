"""/healthz, /readyz and /metrics as a load balancer and Prometheus see them."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from cds_hooks.app import create_app
from cds_hooks.config import Settings
from cds_hooks.observe import HookOutcome, notify
from cds_hooks.security.dev_signer import demo_token
from cds_hooks.validate import validate_cds_response
from tests.ops.hookclient import hook_body, vignette_paths

BASE = "http://localhost"


def _sample(text: str, name: str, **labels: str) -> float | None:
    """Return the value of one sample of the Prometheus text exposition, or None when absent."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        m = re.fullmatch(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)", line)
        if not m or m.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if have == labels:
            return float(m.group(3))
    return None


def test_healthz_answers_while_the_process_lives(client: FlaskClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.get_json()["status"] == "ok"
    assert r.headers["Cache-Control"] == "no-store"


def test_readyz_is_ready_with_database_mappings_and_rules(client: FlaskClient) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["status"] == "ready"
    assert body["checks"] == {"database": "ok", "terminology": "ok", "pathwayConfig": "ok"}


def test_readyz_is_503_with_the_reason_when_the_database_goes_away(tmp_path: Path) -> None:
    data = tmp_path / "volume"
    app = create_app(Settings().with_(database_url=f"sqlite:///{data / 'nelm.sqlite3'}"))
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    app.extensions["nelm_store"].engine.dispose()
    shutil.rmtree(data)  # the volume disappears: SQLite cannot open the file any more
    r = client.get("/readyz")
    assert r.status_code == 503
    body = r.get_json()
    assert body["status"] == "not-ready"
    assert body["checks"]["database"] != "ok"
    assert body["checks"]["terminology"] == "ok"
    assert client.get("/healthz").status_code == 200  # alive, just not ready


def test_readyz_names_every_missing_part_of_a_bare_app() -> None:
    from cds_hooks.ops import readiness

    ready, checks = readiness(Flask("bare"))
    assert not ready
    assert checks == {"database": "store not configured", "terminology": "mappings not loaded",
                      "pathwayConfig": "pathway configuration not loaded"}


def test_metrics_count_hook_outcomes_reported_by_the_service(app: Flask, client: FlaskClient) -> None:
    for seconds in (0.04, 0.3):
        notify(app, HookOutcome(service_id="nelm-pathway", hook="patient-view", status_code=200, seconds=seconds,
                                cards_by_indicator={"info": 3, "warning": 1}, statuses={"tace": "consider"},
                                fhir_queries=2, fhir_failures=1))
    notify(app, HookOutcome(service_id="nelm-order-sign", hook="order-sign", status_code=412, seconds=0.01))
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.mimetype == "text/plain"
    text = r.get_data(as_text=True)
    hist = "nelm_hook_duration_seconds_bucket"
    assert _sample(text, hist, hook="patient-view", le="0.05", service="nelm-pathway") == 1.0
    assert _sample(text, hist, hook="patient-view", le="0.5", service="nelm-pathway") == 2.0
    assert _sample(text, "nelm_hook_duration_seconds_count", hook="order-sign", service="nelm-order-sign") == 1.0
    assert _sample(text, "nelm_hook_requests_total", code="412", hook="order-sign", service="nelm-order-sign") == 1.0
    assert _sample(text, "nelm_cards_total", indicator="info", service="nelm-pathway") == 6.0
    assert _sample(text, "nelm_cards_total", indicator="warning", service="nelm-pathway") == 2.0
    assert _sample(text, "nelm_modality_status_total", modality="tace", status="consider") == 2.0
    assert _sample(text, "nelm_fhir_fallback_queries_total", service="nelm-pathway") == 4.0
    assert _sample(text, "nelm_fhir_fallback_failures_total", service="nelm-pathway") == 2.0


def test_metrics_follow_real_hook_calls(app: Flask, client: FlaskClient) -> None:
    disc = client.get("/cds-services", headers={"Authorization": f"Bearer {demo_token(app, BASE + '/cds-services')}"})
    assert disc.status_code == 200
    service_id, body = hook_body(disc.get_json(), "patient-view", vignette_paths()[0])
    url = f"{BASE}/cds-services/{service_id}"
    r = client.post(f"/cds-services/{service_id}", json=body,
                    headers={"Authorization": f"Bearer {demo_token(app, url)}"})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert validate_cds_response(r.get_json()) == []
    cards = r.get_json()["cards"]
    text = client.get("/metrics").get_data(as_text=True)
    assert _sample(text, "nelm_hook_duration_seconds_count", hook="patient-view", service=service_id) == 1.0
    assert _sample(text, "nelm_hook_requests_total", code="200", hook="patient-view", service=service_id) == 1.0
    for indicator in ("info", "warning", "critical"):
        expected = sum(1 for c in cards if c["indicator"] == indicator)
        assert (_sample(text, "nelm_cards_total", indicator=indicator, service=service_id) or 0.0) == expected
    statuses = [line for line in text.splitlines() if line.startswith("nelm_modality_status_total{")]
    assert len(statuses) == 21  # every modality rated once, one status each
    # A bad request is counted too, with its status code.
    bad = client.post(f"/cds-services/{service_id}", data=b"{", content_type="application/json",
                      headers={"Authorization": f"Bearer {demo_token(app, url)}"})
    assert bad.status_code == 400
    text = client.get("/metrics").get_data(as_text=True)
    assert _sample(text, "nelm_http_requests_total", code="400", method="POST",
                   route="/cds-services/<service_id>") == 1.0


def test_two_apps_in_one_process_keep_separate_metrics(tmp_path: Path) -> None:
    a = create_app(Settings().with_(database_url=f"sqlite:///{tmp_path / 'a.sqlite3'}"))
    b = create_app(Settings().with_(database_url=f"sqlite:///{tmp_path / 'b.sqlite3'}"))
    notify(a, HookOutcome(service_id="nelm-pathway", hook="patient-view", status_code=200, seconds=0.1))
    text_a = a.test_client().get("/metrics").get_data(as_text=True)
    text_b = b.test_client().get("/metrics").get_data(as_text=True)
    assert _sample(text_a, "nelm_hook_requests_total", code="200", hook="patient-view", service="nelm-pathway") == 1.0
    assert _sample(text_b, "nelm_hook_requests_total", code="200", hook="patient-view", service="nelm-pathway") is None


def test_readyz_is_503_when_the_schema_is_gone(tmp_path: Path) -> None:
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'nelm.sqlite3'}"
    app = create_app(Settings().with_(database_url=url))
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE alembic_version"))  # e.g. restored from a bad backup
    engine.dispose()
    r = app.test_client().get("/readyz")
    assert r.status_code == 503
    assert "nelm-cds db upgrade" in r.get_json()["checks"]["database"]
