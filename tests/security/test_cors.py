"""CORS as a browser-based CDS client (the public sandbox) sees it: preflight without a JWT, headers on answers."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskClient

from cds_hooks.app import create_app
from cds_hooks.config import Settings
from cds_hooks.security.cors import CorsPolicy
from tests.security.conftest import make_settings

PREFLIGHT = {
    "Origin": "https://sandbox.cds-hooks.org",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


def test_development_preflight_is_permissive_and_needs_no_jwt(client: FlaskClient) -> None:
    for path in ("/cds-services", "/cds-services/nelm-pathway", "/cds-services/nelm-order-sign/feedback"):
        response = client.options(path, headers=PREFLIGHT)
        assert response.status_code in (200, 204)
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert {m.strip() for m in response.headers["Access-Control-Allow-Methods"].split(",")} >= {
            "GET",
            "POST",
            "OPTIONS",
        }
        allowed = {h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
        assert allowed >= {"authorization", "content-type"}


def test_refusals_carry_cors_headers_so_the_browser_can_read_them(client: FlaskClient) -> None:
    response = client.get("/cds-services", headers={"Origin": "https://sandbox.cds-hooks.org"})
    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def _allow_list_client(tmp_path: Path, trust_file: Path, origins: tuple[str, ...]) -> FlaskClient:
    return create_app(make_settings(tmp_path, trust_file, cors_origins=origins)).test_client()


def test_origin_allow_list(tmp_path: Path, trust_file: Path) -> None:
    client = _allow_list_client(tmp_path, trust_file, ("https://ehr.example-hospital.org",))
    ok = client.options("/cds-services", headers={**PREFLIGHT, "Origin": "https://ehr.example-hospital.org"})
    assert ok.headers["Access-Control-Allow-Origin"] == "https://ehr.example-hospital.org"
    assert "Origin" in ok.headers["Vary"]
    other = client.options("/cds-services", headers={**PREFLIGHT, "Origin": "https://evil.example"})
    assert other.status_code in (200, 204)
    assert "Access-Control-Allow-Origin" not in other.headers
    answer = client.get("/cds-services", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_production_ignores_a_wildcard() -> None:
    policy = CorsPolicy(Settings(environment="production", cors_origins=("*", "https://ehr.example.org")))
    assert policy.allow_origin("https://evil.example") is None
    assert policy.allow_origin("https://ehr.example.org") == "https://ehr.example.org"
    assert CorsPolicy(Settings(cors_origins=("*",))).allow_origin("https://any.example") == "*"
