"""The /demo page and its development-only back end, seen over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import jwt
from flask import Flask

from cds_hooks.app import create_app
from cds_hooks.config import REPO_ROOT, Settings
from tests.ops.hookclient import vignette_paths


def _app(tmp_path: Path, **changes: object) -> Flask:
    return create_app(Settings().with_(database_url=f"sqlite:///{tmp_path / 'nelm.sqlite3'}", **changes))


def test_page_lists_every_demo_patient(tmp_path: Path) -> None:
    client = _app(tmp_path).test_client()
    r = client.get("/demo/")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    for path in vignette_paths():
        pid = next(e["resource"]["id"] for e in json.loads(path.read_text())["entry"]
                   if e["resource"]["resourceType"] == "Patient")
        assert f'data-testid="patient-{pid}"' in html
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    patients = client.get("/demo/api/patients").get_json()["patients"]
    assert len(patients) == len(vignette_paths())
    assert all(p["description"] for p in patients)


def test_record_of_a_demo_patient_and_404_for_others(tmp_path: Path) -> None:
    client = _app(tmp_path).test_client()
    first = client.get("/demo/api/patients").get_json()["patients"][0]["id"]
    r = client.get(f"/demo/api/patients/{first}/record")
    assert r.status_code == 200 and r.get_json()["resourceType"] == "Bundle"
    assert client.get("/demo/api/patients/not-a-patient/record").status_code == 404


def test_token_is_a_real_client_jwt_for_the_exact_endpoint(tmp_path: Path) -> None:
    client = _app(tmp_path).test_client()
    r = client.post("/demo/api/token", json={"path": "/cds-services/nelm-pathway/feedback"})
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store"
    token = r.get_json()["token"]
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == "ES384" and header["typ"] == "JWT" and header["kid"]
    assert claims["aud"] == "http://localhost/cds-services/nelm-pathway/feedback"
    assert {"iss", "iat", "exp", "jti"} <= set(claims)


def test_token_is_refused_for_anything_but_this_services_endpoints(tmp_path: Path) -> None:
    client = _app(tmp_path).test_client()
    for path in ("/smart/launch", "https://evil.example/cds-services", "/cds-services/../admin", ""):
        r = client.post("/demo/api/token", json={"path": path})
        assert r.status_code == 400, path
    assert client.post("/demo/api/token", data=b'{"path": "/cds-services", "path": "/x"}',
                       content_type="application/json").status_code == 400  # strict JSON


def test_prefetch_and_draft_order_endpoints(tmp_path: Path) -> None:
    client = _app(tmp_path).test_client()
    pid = client.get("/demo/api/patients").get_json()["patients"][0]["id"]
    context = {"patientId": pid, "userId": "Practitioner/x"}
    r = client.post("/demo/api/prefetch", json={"patient": pid, "context": context,
                                                "templates": {"patient": "Patient/{{context.patientId}}"}})
    assert r.status_code == 200 and r.get_json()["patient"]["id"] == pid
    bad = client.post("/demo/api/prefetch",
                      json={"patient": pid, "context": {}, "templates": {"e": "Encounter/{{context.encounterId}}"}})
    assert bad.status_code == 400 and "encounterId" in bad.get_json()["error"]
    order = client.post("/demo/api/draft-order", json={"patient": pid, "modality": "alpps"})
    assert order.status_code == 200 and order.get_json()["code"]["coding"][0]["code"] == "alpps"
    assert client.post("/demo/api/draft-order", json={"patient": pid, "modality": "nope"}).status_code == 400


def test_no_demo_in_production(tmp_path: Path) -> None:
    app = _app(tmp_path, environment="production", trust_file=REPO_ROOT / "config" / "production-trust.example.json",
               secret_key="s" * 48, id_hash_key="h" * 48, cors_origins=("https://ehr.example.org",),
               external_base_url="https://nelm.example.org")
    client = app.test_client()
    assert client.get("/demo/").status_code == 404
    assert client.post("/demo/api/token", json={"path": "/cds-services"}).status_code == 404
    assert client.get("/healthz").status_code == 200
