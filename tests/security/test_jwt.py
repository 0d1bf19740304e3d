"""The CDS client's JWT, as the EHR sees it: 200 for a valid token, an explained 401 for everything else.

The 401 says what is wrong only as far as verify.py allows: format problems and, once the signature is
verified, the failing claim; every trust failure is the same NOT_TRUSTED answer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import jwt
import pytest
import responses
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from flask.testing import FlaskClient

from cds_hooks.app import create_app
from cds_hooks.security import SecurityConfigError
from cds_hooks.security.verify import MALFORMED, MISSING, NOT_TRUSTED
from tests.security.conftest import BASE, ES_ISSUER, RS_JKU, Signer, bearer, make_settings

DISCOVERY = f"{BASE}/cds-services"
PATHWAY = f"{BASE}/cds-services/nelm-pathway"
EARLY = "token not yet valid (iat or nbf in the future)"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def assert_401(response: object, says: str) -> None:
    """A refusal: 401, ``WWW-Authenticate: Bearer`` and a short OperationOutcome saying ``says``, nothing more."""
    assert response.status_code == 401  # type: ignore[attr-defined]
    challenge = response.headers["WWW-Authenticate"]  # type: ignore[attr-defined]
    assert challenge.startswith("Bearer realm=")
    assert ('error="invalid_token"' in challenge) is (says != MISSING)  # RFC 6750: no error without a token
    body = response.get_json()  # type: ignore[attr-defined]
    assert body == {"resourceType": "OperationOutcome",
                    "issue": [{"severity": "error", "code": "login", "diagnostics": says}]}
    assert response.headers["Cache-Control"] == "no-store"  # type: ignore[attr-defined]


def test_valid_es384_token_opens_discovery(client: FlaskClient, es_signer: Signer) -> None:
    response = client.get("/cds-services", headers=bearer(es_signer.token(DISCOVERY)))
    assert response.status_code == 200
    assert {s["id"] for s in response.get_json()["services"]} >= {
        "nelm-pathway",
        "nelm-order-select",
        "nelm-order-sign",
    }


def test_aud_may_be_an_array_holding_the_exact_url(client: FlaskClient, es_signer: Signer) -> None:
    token = es_signer.token([f"{BASE}/elsewhere", DISCOVERY])
    assert client.get("/cds-services", headers=bearer(token)).status_code == 200


def test_no_token_is_refused_on_every_cds_endpoint(client: FlaskClient) -> None:
    assert_401(client.get("/cds-services"), MISSING)
    assert_401(client.post("/cds-services/nelm-pathway", json={}), MISSING)
    assert_401(client.post("/cds-services/nelm-order-sign/feedback", json={"feedback": []}), MISSING)
    assert_401(client.post("/cds-services/no-such-service", json={}), MISSING)


@pytest.mark.parametrize(
    ("header", "says"),
    [("Basic dXNlcjpwYXNz", MISSING), ("Bearer", MISSING), ("Bearer not-a-jwt", MALFORMED), ("Bearer a.b", MALFORMED),
     ("eyJ.eyJ.sig", MISSING)],
)
def test_malformed_authorization_is_refused(client: FlaskClient, header: str, says: str) -> None:
    assert_401(client.get("/cds-services", headers={"Authorization": header}), says)


def test_expired_token_is_refused(client: FlaskClient, es_signer: Signer) -> None:
    now = int(time.time())
    token = es_signer.token(DISCOVERY, iat=now - 600, exp=now - 120)
    assert_401(client.get("/cds-services", headers=bearer(token)), "token expired")


def test_clock_skew_of_sixty_seconds_is_tolerated(client: FlaskClient, es_signer: Signer) -> None:
    now = int(time.time())
    assert client.get("/cds-services", headers=bearer(es_signer.token(DISCOVERY, exp=now - 30))).status_code == 200
    assert client.get("/cds-services", headers=bearer(es_signer.token(DISCOVERY, iat=now + 30))).status_code == 200


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"iat": int(time.time()) + 600, "exp": int(time.time()) + 900}, EARLY),
        ({"nbf": int(time.time()) + 600}, EARLY),
        # lifetime over one hour: the replay cache could not cover it
        ({"exp": int(time.time()) + 7200}, "token lifetime (exp - iat) exceeds the maximum this service accepts"),
        ({"iat": "yesterday"}, "token iat must be a number (seconds since the epoch)"),
    ],
)
def test_time_claims_out_of_bounds_are_refused(
    client: FlaskClient, es_signer: Signer, changes: dict[str, object], says: str
) -> None:
    assert_401(client.get("/cds-services", headers=bearer(es_signer.token(DISCOVERY, **changes))), says)


@pytest.mark.parametrize("claim", ["iss", "aud", "exp", "iat", "jti"])
def test_missing_required_claim_is_refused(client: FlaskClient, es_signer: Signer, claim: str) -> None:
    token = es_signer.token(None) if claim == "aud" else es_signer.token(DISCOVERY, **{claim: None})
    # without iss nothing says whose key to check: a token we cannot verify
    says = MALFORMED if claim == "iss" else "token lacks a required claim (iss, aud, exp, iat, jti)"
    assert_401(client.get("/cds-services", headers=bearer(token)), says)


@pytest.mark.parametrize(
    "aud",
    [PATHWAY, f"{BASE}/cds-services/", "https://localhost/cds-services", f"{BASE}/cds-services?x=1", "", []],
)
def test_wrong_audience_is_refused(client: FlaskClient, es_signer: Signer, aud: object) -> None:
    response = client.get("/cds-services", headers=bearer(es_signer.token(aud)))  # type: ignore[arg-type]
    empty = aud in ("", [])  # an empty aud is no aud at all
    assert_401(response, "token lacks a required claim (iss, aud, exp, iat, jti)" if empty
               else "token audience (aud) is not the URL called")


def test_token_for_discovery_does_not_open_a_service(client: FlaskClient, es_signer: Signer) -> None:
    response = client.post("/cds-services/nelm-pathway", json={}, headers=bearer(es_signer.token(DISCOVERY)))
    assert_401(response, "token audience (aud) is not the URL called")


def test_token_for_the_service_opens_it(client: FlaskClient, es_signer: Signer) -> None:
    # Authenticated, the malformed body reaches the service and is answered 400 (not 401).
    response = client.post("/cds-services/nelm-pathway", json={}, headers=bearer(es_signer.token(PATHWAY)))
    assert response.status_code == 400
    assert response.get_json()["resourceType"] == "OperationOutcome"


def test_unknown_issuer_is_refused(client: FlaskClient) -> None:
    stranger = Signer("https://attacker.example.test", "es-key-1", "ES384", ec.generate_private_key(ec.SECP384R1()))
    assert_401(client.get("/cds-services", headers=bearer(stranger.token(DISCOVERY))), NOT_TRUSTED)


def test_trusted_issuer_signed_by_another_key_is_refused(client: FlaskClient, es_signer: Signer) -> None:
    forger = Signer(es_signer.issuer, es_signer.kid, "ES384", ec.generate_private_key(ec.SECP384R1()))
    assert_401(client.get("/cds-services", headers=bearer(forger.token(DISCOVERY))), NOT_TRUSTED)


def test_unknown_kid_is_refused(client: FlaskClient, es_signer: Signer) -> None:
    other = Signer(es_signer.issuer, "es-key-unknown", "ES384", es_signer.private_key)
    assert_401(client.get("/cds-services", headers=bearer(other.token(DISCOVERY))), NOT_TRUSTED)


def test_alg_none_is_refused(client: FlaskClient, es_signer: Signer) -> None:
    token = jwt.encode(es_signer.claims(DISCOVERY), None, algorithm="none", headers={"kid": es_signer.kid})
    assert_401(client.get("/cds-services", headers=bearer(token)), MALFORMED)
    assert_401(client.get("/cds-services", headers=bearer(token + "c2ln")), MALFORMED)


@pytest.mark.parametrize("alg,digest", [("HS256", hashlib.sha256), ("HS384", hashlib.sha384)])
def test_hmac_signed_with_the_public_key_is_refused(
    client: FlaskClient, es_signer: Signer, alg: str, digest: object
) -> None:
    """The classic key-confusion attack: HMAC keyed with the issuer's public key bytes."""
    public_pem = es_signer.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    head = _b64(json.dumps({"alg": alg, "typ": "JWT", "kid": es_signer.kid}).encode())
    body = _b64(json.dumps(es_signer.claims(DISCOVERY)).encode())
    sig = _b64(hmac.new(public_pem, f"{head}.{body}".encode(), digest).digest())  # type: ignore[arg-type]
    assert_401(client.get("/cds-services", headers=bearer(f"{head}.{body}.{sig}")), MALFORMED)


def test_algorithm_not_pinned_for_the_issuer_is_refused(client: FlaskClient, es_signer: Signer) -> None:
    p256 = Signer(es_signer.issuer, es_signer.kid, "ES256", ec.generate_private_key(ec.SECP256R1()))
    assert_401(client.get("/cds-services", headers=bearer(p256.token(DISCOVERY))), NOT_TRUSTED)


def test_replayed_jti_is_refused(client: FlaskClient, es_signer: Signer) -> None:
    token = es_signer.token(DISCOVERY)
    assert client.get("/cds-services", headers=bearer(token)).status_code == 200
    assert_401(client.get("/cds-services", headers=bearer(token)), "token already used (jti replayed)")
    # The same jti in a freshly signed token is a replay too.
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    assert_401(client.get("/cds-services", headers=bearer(es_signer.token(DISCOVERY, jti=jti))),
               "token already used (jti replayed)")


def test_tampered_payload_is_refused(client: FlaskClient, es_signer: Signer) -> None:
    head, _, sig = es_signer.token(PATHWAY).split(".")
    forged = _b64(json.dumps(es_signer.claims(DISCOVERY)).encode())
    assert_401(client.get("/cds-services", headers=bearer(f"{head}.{forged}.{sig}")), NOT_TRUSTED)


def test_tampered_header_is_refused(client: FlaskClient, es_signer: Signer) -> None:
    _, body, sig = es_signer.token(DISCOVERY).split(".")
    head = _b64(json.dumps({"alg": "ES384", "typ": "JWT", "kid": es_signer.kid, "x": 1}).encode())
    assert_401(client.get("/cds-services", headers=bearer(f"{head}.{body}.{sig}")), NOT_TRUSTED)


def test_tenant_allow_list(client: FlaskClient, tenant_signer: Signer) -> None:
    assert (
        client.get("/cds-services", headers=bearer(tenant_signer.token(DISCOVERY, tenant="hospital-a"))).status_code
        == 200
    )
    refused = "token tenant not allowed for this issuer"
    other_tenant = tenant_signer.token(DISCOVERY, tenant="hospital-b")
    assert_401(client.get("/cds-services", headers=bearer(other_tenant)), refused)
    assert_401(client.get("/cds-services", headers=bearer(tenant_signer.token(DISCOVERY))), refused)


def test_audience_behind_a_proxy_is_the_external_url(tmp_path: Path, trust_file: Path, es_signer: Signer) -> None:
    app = create_app(make_settings(tmp_path, trust_file, external_base_url="https://cds.example.org/nelm"))
    client = app.test_client()
    outside = "https://cds.example.org/nelm/cds-services"
    assert client.get("/cds-services", headers=bearer(es_signer.token(outside))).status_code == 200
    assert_401(client.get("/cds-services", headers=bearer(es_signer.token(DISCOVERY))),
               "token audience (aud) is not the URL called")
    # Forwarded headers are not trusted to build the audience.
    spoofed = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}
    token = es_signer.token("https://evil.example/cds-services")
    assert_401(client.get("/cds-services", headers={**bearer(token), **spoofed}),
               "token audience (aud) is not the URL called")


def test_refusal_is_logged_with_reason_issuer_and_jti_but_not_the_token(
    client: FlaskClient, es_signer: Signer, caplog: pytest.LogCaptureFixture
) -> None:
    token = es_signer.token(PATHWAY, jti="jti-for-the-log")
    with caplog.at_level(logging.INFO):
        client.get("/cds-services", headers=bearer(token))
    refusals = [r for r in caplog.records if r.getMessage() == "CDS client JWT refused"]
    assert len(refusals) == 1
    fields = refusals[0].fields  # type: ignore[attr-defined]
    assert fields["issuer"] == ES_ISSUER and fields["jti"] == "jti-for-the-log"
    assert "audience" in fields["reason"].lower()
    assert token not in caplog.text and token.split(".")[2] not in caplog.text


def test_auth_disabled_is_refused_in_production(tmp_path: Path, trust_file: Path) -> None:
    settings = make_settings(tmp_path, trust_file, environment="production", auth_disabled=True)
    with pytest.raises(SecurityConfigError, match="AUTH_DISABLED"):
        create_app(settings)


def test_production_requires_a_trust_file(tmp_path: Path) -> None:
    with pytest.raises(SecurityConfigError, match="TRUST_FILE"):
        create_app(make_settings(tmp_path, None, environment="production"))


def test_auth_disabled_in_development_is_open_and_says_so_loudly(
    tmp_path: Path, trust_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        app = create_app(make_settings(tmp_path, trust_file, auth_disabled=True))
    assert any(r.levelno == logging.WARNING and "AUTHENTICATION IS DISABLED" in r.getMessage() for r in caplog.records)
    assert app.test_client().get("/cds-services").status_code == 200


def test_clock_skew_above_sixty_seconds_is_refused_at_start(tmp_path: Path, trust_file: Path) -> None:
    with pytest.raises(SecurityConfigError, match="CLOCK_SKEW"):
        create_app(make_settings(tmp_path, trust_file, clock_skew_seconds=600))


def test_replay_table_unreachable_is_503_not_a_pass(app: Flask, client: FlaskClient, es_signer: Signer) -> None:
    with app.extensions["nelm_store"].engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE jwt_replay"))
    response = client.get("/cds-services", headers=bearer(es_signer.token(DISCOVERY)))
    assert response.status_code == 503
    assert response.get_json()["resourceType"] == "OperationOutcome"
    assert response.headers["Retry-After"]


def _hs256_with_public_key(signer: Signer, claims: dict[str, object]) -> str:
    public_pem = signer.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": signer.kid}).encode())
    body = _b64(json.dumps(claims).encode())
    return f"{head}.{body}.{_b64(hmac.new(public_pem, f'{head}.{body}'.encode(), hashlib.sha256).digest())}"


def _tampered(signer: Signer) -> str:
    head, _, sig = signer.token(PATHWAY).split(".")
    return f"{head}.{_b64(json.dumps(signer.claims(DISCOVERY)).encode())}.{sig}"


ATTACKS: dict[str, tuple[Callable[[Signer], str], str]] = {
    "expired": (lambda s: s.token(DISCOVERY, iat=int(time.time()) - 900, exp=int(time.time()) - 300), "token expired"),
    "wrong-aud": (lambda s: s.token(PATHWAY), "token audience (aud) is not the URL called"),
    "wrong-issuer": (lambda s: s.token(DISCOVERY, iss="https://impostor.example.test"), NOT_TRUSTED),
    "unknown-kid": (lambda s: Signer(s.issuer, "kid-nobody-knows", s.alg, s.private_key).token(DISCOVERY), NOT_TRUSTED),
    "alg-none": (lambda s: jwt.encode(s.claims(DISCOVERY), None, algorithm="none", headers={"kid": s.kid}), MALFORMED),
    "hs256-public-key": (lambda s: _hs256_with_public_key(s, s.claims(DISCOVERY)), MALFORMED),
    "tampered-payload": (_tampered, NOT_TRUSTED),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
@pytest.mark.parametrize("alg", ["ES384", "RS384"])
@responses.activate
def test_attack_matrix_for_both_recommended_algorithms(
    client: FlaskClient, es_signer: Signer, rs_signer: Signer, alg: str, attack: str
) -> None:
    signer = es_signer if alg == "ES384" else rs_signer
    responses.get(RS_JKU, json={"keys": [rs_signer.public_jwk()]})
    valid = signer.token(DISCOVERY)
    assert client.get("/cds-services", headers=bearer(valid)).status_code == 200
    assert_401(client.get("/cds-services", headers=bearer(valid)), "token already used (jti replayed)")
    forge, says = ATTACKS[attack]
    assert_401(client.get("/cds-services", headers=bearer(forge(signer))), says)
