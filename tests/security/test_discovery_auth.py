"""Discovery is open by default (CDS Hooks 2.0: it holds no patient data; clients send a JWT where the
service requires one); ``NELM_DISCOVERY_REQUIRE_JWT`` requires one. Services always require one."""

from __future__ import annotations

from pathlib import Path

from cds_hooks.app import create_app
from cds_hooks.config import Settings
from cds_hooks.security.verify import MISSING, NOT_TRUSTED
from tests.security.conftest import BASE, Signer, bearer, make_settings

DISCOVERY = f"{BASE}/cds-services"


def test_the_setting_is_read_from_the_environment() -> None:
    assert Settings.from_env({}).discovery_require_jwt is False
    assert Settings.from_env({"NELM_DISCOVERY_REQUIRE_JWT": "true"}).discovery_require_jwt is True
    assert Settings.from_env({"NELM_DISCOVERY_REQUIRE_JWT": "0"}).discovery_require_jwt is False


def test_open_discovery_answers_without_a_token_but_services_do_not(tmp_path: Path, trust_file: Path) -> None:
    client = create_app(make_settings(tmp_path, trust_file, discovery_require_jwt=False)).test_client()
    response = client.get("/cds-services")
    assert response.status_code == 200
    assert {s["hook"] for s in response.get_json()["services"]} >= {"patient-view", "order-select", "order-sign"}
    for path in ("/cds-services/nelm-pathway", "/cds-services/nelm-pathway/feedback"):
        refused = client.post(path, json={})
        assert refused.status_code == 401
        assert refused.get_json()["issue"][0]["diagnostics"] == MISSING
        assert refused.headers["WWW-Authenticate"] == 'Bearer realm="cds-services"'


def test_open_discovery_ignores_a_token_and_does_not_spend_its_jti(
    tmp_path: Path, trust_file: Path, es_signer: Signer
) -> None:
    """An EHR that always sends its JWT still gets discovery, even with a token we would refuse."""
    client = create_app(make_settings(tmp_path, trust_file, discovery_require_jwt=False)).test_client()
    token = es_signer.token(DISCOVERY)
    assert client.get("/cds-services", headers=bearer(token)).status_code == 200
    assert client.get("/cds-services", headers=bearer(token)).status_code == 200  # not a replay: never checked
    assert client.get("/cds-services", headers={"Authorization": "Bearer garbage"}).status_code == 200


def test_required_discovery_explains_each_refusal(tmp_path: Path, trust_file: Path, es_signer: Signer) -> None:
    client = create_app(make_settings(tmp_path, trust_file, discovery_require_jwt=True)).test_client()
    missing = client.get("/cds-services")
    assert missing.status_code == 401 and missing.get_json()["issue"][0]["diagnostics"] == MISSING
    stranger = Signer("https://attacker.example.test", es_signer.kid, "ES384", es_signer.private_key)
    refused = client.get("/cds-services", headers=bearer(stranger.token(DISCOVERY)))
    assert refused.get_json()["issue"][0]["diagnostics"] == NOT_TRUSTED
    assert f'error_description="{NOT_TRUSTED}"' in refused.headers["WWW-Authenticate"]
    assert client.get("/cds-services", headers=bearer(es_signer.token(DISCOVERY))).status_code == 200


def test_a_refusal_never_echoes_the_token_issuer_or_key_id(tmp_path: Path, trust_file: Path, es_signer: Signer) -> None:
    client = create_app(make_settings(tmp_path, trust_file)).test_client()
    stranger = Signer("https://who-is-trusted.example.test", "probe-kid-123", "ES384", es_signer.private_key)
    token = stranger.token(DISCOVERY)
    response = client.post("/cds-services/nelm-pathway", json={}, headers=bearer(token))
    text = response.get_data(as_text=True) + str(response.headers)
    assert response.status_code == 401
    for secret in ("who-is-trusted", "probe-kid-123", token.split(".")[2], "es-key-1", "ehr-es.example.test"):
        assert secret not in text, secret
