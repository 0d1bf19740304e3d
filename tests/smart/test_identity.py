"""The id_token is verified (OpenID Connect) before its fhirUser becomes the performer of written findings."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from flask.testing import FlaskClient

from cds_hooks.app import create_app
from cds_hooks.smart.identity import IdTokenError, new_jwks_cache, verify_id_token
from tests.smart.conftest import CLIENT_ID, SCOPES, complete_launch, make_settings, write_registration
from tests.smart.test_launch import PATIENT, assert_clear_page
from tests.support.sekmet import FhirServer, free_port
from tests.support.smart_auth_server import SmartAuthServer


def _launch(client: FlaskClient, auth: SmartAuthServer, fhir: FhirServer) -> object:
    fhir.put(PATIENT)
    return complete_launch(client, auth, auth.new_launch(patient="smart-p1"))


@pytest.mark.parametrize("alg", ["RS256", "RS384", "ES384"])
def test_a_valid_id_token_is_accepted_and_its_fhir_user_trusted(
    client: FlaskClient, auth_server: SmartAuthServer, fhir_server: FhirServer, alg: str
) -> None:
    auth_server.id_token_alg = alg
    response = _launch(client, auth_server, fhir_server)
    assert response.status_code == 303, response.get_data(as_text=True)[-600:]  # type: ignore[attr-defined]
    html = client.get("/smart/app").get_data(as_text=True)
    assert "Demo" in html or "Lovelace" in html
    assert "findings are recorded without a performer" not in html
    assert auth_server.jwks_requests == 1


def test_the_authorize_request_carries_a_fresh_nonce_per_launch(
    client: FlaskClient, auth_server: SmartAuthServer
) -> None:
    nonces = []
    for _ in range(2):
        response = client.get("/smart/launch", query_string={"iss": auth_server.iss, "launch": auth_server.new_launch(
            patient="smart-p1")})
        nonces.append(parse_qs(urlsplit(response.headers["Location"]).query)["nonce"][0])
    assert len(nonces[0]) >= 43 and len(nonces[1]) >= 43 and nonces[0] != nonces[1]


def test_keys_are_cached_by_kid_across_launches(
    client: FlaskClient, auth_server: SmartAuthServer, fhir_server: FhirServer
) -> None:
    for _ in range(3):
        assert _launch(client, auth_server, fhir_server).status_code == 303  # type: ignore[attr-defined]
    assert auth_server.jwks_requests == 1


@pytest.mark.parametrize(
    ("fault", "phrase"),
    [
        ("wrong-key", "signature is not valid"),
        ("wrong-aud", "another application (aud)"),
        ("expired", "has expired"),
        ("wrong-nonce", "nonce mismatch"),
        ("wrong-iss", "another server"),
        ("alg-none", "is not accepted"),
        ("future-iat", "in the future"),
    ],
)
def test_a_bad_id_token_stops_the_launch_with_a_clear_page(
    client: FlaskClient, auth_server: SmartAuthServer, fhir_server: FhirServer, fault: str, phrase: str
) -> None:
    auth_server.id_token_fault = fault
    response = _launch(client, auth_server, fhir_server)
    text = assert_clear_page(response, 403, "Sign-in could not be verified", phrase)
    assert "eyJ" not in text  # the token itself is never shown
    assert client.get("/smart/app").status_code == 401  # no session was created
    assert not any(rest.startswith("Patient") for _, rest, _ in auth_server.fhir_requests)


def test_an_id_token_without_published_keys_is_refused(
    client: FlaskClient, auth_server: SmartAuthServer, fhir_server: FhirServer
) -> None:
    auth_server.publish_jwks_uri = False
    assert_clear_page(_launch(client, auth_server, fhir_server), 403, "no issuer and jwks_uri")


def test_without_openid_there_is_no_performer_and_the_page_says_so(
    tmp_path: Path, auth_server: SmartAuthServer, fhir_server: FhirServer
) -> None:
    reg, jwks = write_registration(tmp_path, auth_server.iss)
    scopes = " ".join(s for s in SCOPES.split() if s not in {"openid", "fhirUser"})
    data = json.loads(reg.read_text())
    data["registrations"][0]["scopes"] = scopes
    reg.write_text(json.dumps(data))
    auth_server.register_client(CLIENT_ID, redirect_uri="http://localhost/smart/callback", scope=SCOPES,
                                public_jwks=jwks)
    client = create_app(make_settings(tmp_path, reg)).test_client()
    response = _launch(client, auth_server, fhir_server)
    assert response.status_code == 303  # type: ignore[attr-defined]
    assert "nonce" not in auth_server.authorize_requests[-1]
    html = client.get("/smart/app").get_data(as_text=True)
    assert "findings are recorded without a performer" in html
    assert auth_server.jwks_requests == 0


def test_unreachable_keys_stop_the_launch_with_a_clear_page(
    client: FlaskClient, auth_server: SmartAuthServer, fhir_server: FhirServer
) -> None:
    auth_server.jwks_uri_override = f"http://127.0.0.1:{free_port()}/jwks"  # nothing listens there
    assert_clear_page(_launch(client, auth_server, fhir_server), 403, "could not be read")


def _signed(auth: SmartAuthServer, claims: dict[str, object]) -> str:
    return jwt.encode(claims, auth._signing_key, algorithm="RS256", headers={"kid": "ehr-rsa-1"})


def test_several_audiences_need_azp_naming_us(auth_server: SmartAuthServer) -> None:
    now = int(time.time())
    base = {"iss": auth_server.iss, "sub": "dr-1", "iat": now, "exp": now + 300, "nonce": "n-1",
            "fhirUser": "Practitioner/dr-1", "aud": [CLIENT_ID, "another-app"]}
    keys = new_jwks_cache(5)

    def check(claims: dict[str, object]) -> str | None:
        return verify_id_token(_signed(auth_server, claims), issuer=auth_server.iss,
                               jwks_uri=f"{auth_server.base_url}/auth/jwks", client_id=CLIENT_ID, nonce="n-1",
                               keys=keys, leeway_seconds=60).fhir_user

    assert check(base | {"azp": CLIENT_ID}) == "Practitioner/dr-1"
    with pytest.raises(IdTokenError, match="azp"):
        check(base | {"azp": "another-app"})
    with pytest.raises(IdTokenError, match="required claim 'sub'"):
        check({k: v for k, v in base.items() if k != "sub"})
