"""Trust files: the shipped ones load, and a broken one stops the start with a message naming file and entry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jwt
import pytest
import responses
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cds_hooks.app import create_app
from cds_hooks.security import DEV_TRUST_FILE
from cds_hooks.security.dev_signer import DevSignerUnavailable, demo_token
from cds_hooks.security.trust import TrustConfigError, load_trust
from tests.security.conftest import BASE, Signer, bearer, make_settings, write_trust

REPO = Path(__file__).resolve().parents[2]
SANDBOX = "https://sandbox.cds-hooks.org"
SANDBOX_KID = "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"
SANDBOX_JKU = "https://sandbox.cds-hooks.org/.well-known/jwks.json"


def test_dev_trust_holds_the_public_sandbox_key() -> None:
    trust = load_trust(DEV_TRUST_FILE, production=False)
    sandbox = trust.issuer(SANDBOX)
    assert sandbox is not None
    assert sandbox.algorithms == {"ES384"}
    assert SANDBOX_KID in sandbox.keys
    shipped = json.loads((REPO / "config" / "cds-hooks-sandbox-jwks.json").read_text())
    assert shipped["keys"][0]["kid"] == SANDBOX_KID


@responses.activate
def test_a_sandbox_shaped_token_with_a_wrong_signature_is_refused(tmp_path: Path) -> None:
    """We cannot sign as the sandbox; a token of its exact shape signed by another key must fail, offline."""
    app = create_app(make_settings(tmp_path, None))
    impostor = Signer(SANDBOX, SANDBOX_KID, "ES384", ec.generate_private_key(ec.SECP384R1()))
    token = impostor.token(f"{BASE}/cds-services", headers={"jku": SANDBOX_JKU})
    assert jwt.get_unverified_header(token)["kid"] == SANDBOX_KID
    assert app.test_client().get("/cds-services", headers=bearer(token)).status_code == 401
    assert len(responses.calls) == 0  # the kid is known out of band: no fetch


def test_demo_ehr_token_opens_the_real_endpoints_in_development(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, None))
    token = demo_token(app, f"{BASE}/cds-services")
    assert app.test_client().get("/cds-services", headers=bearer(token)).status_code == 200


def test_demo_ehr_does_not_exist_in_production(tmp_path: Path) -> None:
    example = REPO / "config" / "production-trust.example.json"
    settings = make_settings(tmp_path, example, environment="production", secret_key="s" * 48, id_hash_key="h" * 48,
                             external_base_url="https://nelm.example.org")
    demo_only = write_trust(tmp_path, [{"issuer": "https://demo-ehr.nelm.invalid", "ephemeral_demo_key": True}])
    with pytest.raises(TrustConfigError, match="ephemeral_demo_key"):
        load_trust(demo_only, production=True)
    with pytest.raises(TrustConfigError):
        load_trust(DEV_TRUST_FILE, production=True)
    try:
        app = create_app(settings)
    except RuntimeError as exc:  # the store may refuse first on a machine without one
        pytest.skip(f"production app needs the store: {exc}")
    with pytest.raises(DevSignerUnavailable):
        demo_token(app, f"{BASE}/cds-services")


def test_production_example_loads_under_production_rules() -> None:
    trust = load_trust(REPO / "config" / "production-trust.example.json", production=True)
    assert len(trust.issuers) == 2
    assert all(i.fhir_servers and all(u.startswith("https://") for u in i.fhir_servers) for i in trust.issuers.values())


def _ec_jwk(kid: str = "k1") -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(
        jwt.algorithms.ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP384R1()).public_key())
    )
    return {**jwk, "kid": kid}


def _private_ec_jwk() -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP384R1())))
    return {**jwk, "kid": "k1"}


def _short_rsa_jwk() -> dict[str, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key))
    return {**jwk, "kid": "k1"}


@pytest.mark.parametrize(
    "entry,message",
    [
        ({"issuer": "https://a.test", "algorithms": ["HS256"], "jwks": {"keys": []}}, "algorithms"),
        ({"issuer": "https://a.test", "algorithms": ["none"], "jku": ["https://a.test/k"]}, "algorithms"),
        ({"issuer": "https://a.test", "algorithms": ["ES384"]}, "give keys"),
        ({"issuer": "https://a.test", "jwks": {"keys": [{"kty": "oct", "kid": "k", "k": "c2VjcmV0"}]}}, "kty"),
        ({"issuer": "https://a.test", "jwks": {"keys": "x"}}, "keys"),
        ({"issuer": "https://a.test", "jwks": {"keys": [{"kty": "EC", "crv": "P-384"}]}}, "kid"),
        ({"issuer": "https://a.test", "jku": ["https://a.test/k?x=1"]}, "query"),
        ({"issuer": "https://a.test", "jku": ["ftp://a.test/k"]}, "http"),
        (
            {"issuer": "https://a.test", "jku": ["https://a.test/k"], "fhir_servers": ["http://ehr.test:*/fhir"]},
            "loopback",
        ),
        ({"issuer": "https://a.test", "jku": ["https://a.test/k"], "max_token_lifetime_seconds": 86400}, "lifetime"),
        ({"issuer": "https://a.test", "jku": ["https://a.test/k"], "alogrithms": ["ES384"]}, "unknown field"),
        ({"jku": ["https://a.test/k"]}, "issuer"),
    ],
)
def test_broken_trust_entries_name_the_entry(tmp_path: Path, entry: dict[str, Any], message: str) -> None:
    path = write_trust(tmp_path, [entry])
    with pytest.raises(TrustConfigError, match=message) as info:
        load_trust(path, production=False)
    assert str(path) in str(info.value) and "issuers[0]" in str(info.value)


@pytest.mark.parametrize(
    "key,message",
    [(_private_ec_jwk, "private key"), (_short_rsa_jwk, "too short")],
)
def test_keys_that_must_not_be_trusted(tmp_path: Path, key: Any, message: str) -> None:
    algorithms = ["RS384"] if message == "too short" else ["ES384"]
    path = write_trust(tmp_path, [{"issuer": "https://a.test", "algorithms": algorithms, "jwks": {"keys": [key()]}}])
    with pytest.raises(TrustConfigError, match=message):
        load_trust(path, production=False)


def test_key_that_cannot_verify_the_pinned_algorithm_is_refused(tmp_path: Path) -> None:
    path = write_trust(tmp_path, [{"issuer": "https://a.test", "algorithms": ["RS384"], "jwks": {"keys": [_ec_jwk()]}}])
    with pytest.raises(TrustConfigError, match="cannot verify"):
        load_trust(path, production=False)


def test_production_refuses_plain_http(tmp_path: Path) -> None:
    path = write_trust(tmp_path, [{"issuer": "https://a.test", "jku": ["http://a.test/jwks"]}])
    with pytest.raises(TrustConfigError, match="https"):
        load_trust(path, production=True)
    load_trust(path, production=False)


def test_duplicate_issuer_and_kid_are_refused(tmp_path: Path) -> None:
    entry = {"issuer": "https://a.test", "jwks": {"keys": [_ec_jwk()]}}
    with pytest.raises(TrustConfigError, match="twice"):
        load_trust(write_trust(tmp_path, [entry, entry]), production=False)
    with pytest.raises(TrustConfigError, match="duplicate kid"):
        load_trust(
            write_trust(tmp_path, [{"issuer": "https://a.test", "jwks": {"keys": [_ec_jwk(), _ec_jwk()]}}]),
            production=False,
        )


def test_unreadable_trust_file_stops_the_start(tmp_path: Path) -> None:
    bad = tmp_path / "trust.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(TrustConfigError, match="not valid JSON"):
        create_app(make_settings(tmp_path, bad))
    with pytest.raises(TrustConfigError, match="cannot read"):
        create_app(make_settings(tmp_path, tmp_path / "missing.json"))
