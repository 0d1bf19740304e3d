"""Keys published at an allow-listed jku: fetched once, cached, re-fetched when a new kid appears, rate-limited."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests
import responses
from cryptography.hazmat.primitives.asymmetric import rsa
from flask.testing import FlaskClient

from cds_hooks.app import create_app
from tests.security.conftest import BASE, RS_ISSUER, RS_JKU, Signer, bearer, make_settings, write_trust

DISCOVERY = f"{BASE}/cds-services"


def _jwks(*signers: Signer) -> dict[str, object]:
    return {"keys": [s.public_jwk() for s in signers]}


def _calls(url: str) -> int:
    return sum(1 for c in responses.calls if c.request.url == url)


@responses.activate
def test_rs384_token_verified_with_keys_from_the_jku(client: FlaskClient, rs_signer: Signer) -> None:
    responses.get(RS_JKU, json=_jwks(rs_signer))
    for _ in range(3):
        assert (
            client.get("/cds-services", headers=bearer(rs_signer.token(DISCOVERY, headers={"jku": RS_JKU}))).status_code
            == 200
        )
    assert _calls(RS_JKU) == 1  # cached


@responses.activate
def test_key_rotation_by_kid_refetches_the_jku(client: FlaskClient, rs_signer: Signer) -> None:
    rotated = Signer(RS_ISSUER, "rs-key-2", "RS384", rsa.generate_private_key(public_exponent=65537, key_size=2048))
    responses.get(RS_JKU, json=_jwks(rs_signer))
    responses.get(RS_JKU, json=_jwks(rs_signer, rotated))
    assert client.get("/cds-services", headers=bearer(rs_signer.token(DISCOVERY))).status_code == 200
    assert client.get("/cds-services", headers=bearer(rotated.token(DISCOVERY))).status_code == 200
    assert _calls(RS_JKU) == 2
    # The old key is still in the set: no further fetch for either.
    assert client.get("/cds-services", headers=bearer(rs_signer.token(DISCOVERY))).status_code == 200
    assert _calls(RS_JKU) == 2


@responses.activate
def test_unknown_kid_refetches_are_rate_limited(tmp_path: Path, rs_signer: Signer) -> None:
    trust = write_trust(
        tmp_path, [{"issuer": RS_ISSUER, "algorithms": ["RS384"], "jku": [RS_JKU]}], jwks_min_refetch_seconds=300
    )
    client = create_app(make_settings(tmp_path, trust)).test_client()
    responses.get(RS_JKU, json=_jwks(rs_signer))
    stranger = Signer(RS_ISSUER, "rs-key-unknown", "RS384", rs_signer.private_key)
    for _ in range(5):
        assert client.get("/cds-services", headers=bearer(stranger.token(DISCOVERY))).status_code == 401
    assert _calls(RS_JKU) == 1
    # Known keys keep working from the cache.
    assert client.get("/cds-services", headers=bearer(rs_signer.token(DISCOVERY))).status_code == 200


@responses.activate
def test_jku_not_allow_listed_is_never_fetched(client: FlaskClient, rs_signer: Signer) -> None:
    evil = "https://attacker.example.test/jwks.json"
    responses.get(evil, json=_jwks(rs_signer))
    response = client.get("/cds-services", headers=bearer(rs_signer.token(DISCOVERY, headers={"jku": evil})))
    assert response.status_code == 401
    assert _calls(evil) == 0


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500, "body": "oops"},
        {"status": 200, "body": "<html>not json</html>"},
        {"status": 200, "body": json.dumps({"keys": "nope"})},
        {"status": 302, "headers": {"Location": "https://attacker.example.test/jwks.json"}},
        {"body": requests.Timeout("slow")},
        {"status": 200, "body": json.dumps({"keys": [{"kty": "oct", "kid": "rs-key-1", "k": "c2VjcmV0"}]})},
    ],
)
@responses.activate
def test_jku_faults_give_401_not_500(client: FlaskClient, rs_signer: Signer, fault: dict[str, object]) -> None:
    responses.add(responses.GET, RS_JKU, **fault)  # type: ignore[arg-type]
    responses.get("https://attacker.example.test/jwks.json", json=_jwks(rs_signer))
    assert client.get("/cds-services", headers=bearer(rs_signer.token(DISCOVERY))).status_code == 401
    assert _calls("https://attacker.example.test/jwks.json") == 0


@responses.activate
def test_oversized_jwks_is_not_read(client: FlaskClient, rs_signer: Signer) -> None:
    keys = _jwks(rs_signer)
    keys["padding"] = "x" * 400_000
    responses.get(RS_JKU, json=keys)
    assert client.get("/cds-services", headers=bearer(rs_signer.token(DISCOVERY))).status_code == 401


@responses.activate
def test_cached_jwks_expires_and_survives_a_failed_refresh(tmp_path: Path, rs_signer: Signer) -> None:
    trust = write_trust(
        tmp_path,
        [{"issuer": RS_ISSUER, "algorithms": ["RS384"], "jku": [RS_JKU]}],
        jwks_cache_seconds=0.2,
        jwks_min_refetch_seconds=0.01,
    )
    client = create_app(make_settings(tmp_path, trust)).test_client()
    responses.get(RS_JKU, json=_jwks(rs_signer))
    responses.get(RS_JKU, status=503)
    assert client.get("/cds-services", headers=bearer(rs_signer.token(DISCOVERY))).status_code == 200
    time.sleep(0.3)
    # Expired: re-fetched; the refresh fails, the key already known stays usable.
    assert client.get("/cds-services", headers=bearer(rs_signer.token(DISCOVERY))).status_code == 200
    assert _calls(RS_JKU) == 2


@responses.activate
@pytest.mark.parametrize("jku", ["https://evil.example.test/jwks.json", RS_JKU, 42])
def test_jku_off_the_issuers_list_is_refused_even_with_a_known_static_kid(
    client: FlaskClient, es_signer: Signer, jku: object
) -> None:
    """The static-key issuer allow-lists no jku: a token naming one (even another issuer's) is refused."""
    assert client.get("/cds-services", headers=bearer(es_signer.token(DISCOVERY))).status_code == 200
    response = client.get("/cds-services", headers=bearer(es_signer.token(DISCOVERY, headers={"jku": jku})))
    assert response.status_code == 401
    assert "not trusted" in response.get_json()["issue"][0]["diagnostics"]
    assert len(responses.calls) == 0  # the refused URL was never fetched
