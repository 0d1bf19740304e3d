"""id_tokens signed the way common SMART servers sign them: with or without ``kid``, RS256 or ES384, one key or several.

smart-on-fhir's launcher signs its id_token with RS256 and names no ``kid`` (its JWK Set holds one
key). OpenID Connect Core 10.1 asks for ``kid`` only when the set holds several keys, so the app
verifies a token without ``kid`` against the published keys whose type fits its algorithm. Every
variant is run end to end, EHR launch and standalone launch, with the default ``openid fhirUser``
scopes, through the test authorization server in front of SEKMET.
"""

from __future__ import annotations

import itertools
import time
from urllib.parse import urlsplit

import jwt
import pytest
import requests
from flask.testing import FlaskClient

from cds_hooks.security.jwks import JwksCache
from cds_hooks.smart.identity import IdTokenError, new_jwks_cache, verify_id_token
from tests.smart.conftest import CLIENT_ID, SCOPES, complete_launch
from tests.smart.test_launch import PATIENT, assert_clear_page
from tests.support.sekmet import FhirServer, free_port
from tests.support.smart_auth_server import JWKS_LAYOUTS, SmartAuthServer

VARIANTS = [
    pytest.param(alg, kid, layout, members,
                 id=f"{alg}-{'kid' if kid else 'nokid'}-{layout}-{'members' if members else 'bare'}")
    for alg, kid, layout, members in itertools.product(("RS256", "ES384"), (True, False), JWKS_LAYOUTS, (True, False))
    if not (kid and not members)  # a token naming a kid needs a set that names its keys
]


def _standalone(client: FlaskClient, auth: SmartAuthServer) -> object:
    auth.standalone_patient = "smart-p1"
    response = client.get("/smart/launch", query_string={"iss": auth.iss})
    assert response.status_code == 302, response.get_data(as_text=True)
    back = requests.get(response.headers["Location"], allow_redirects=False, timeout=10)
    target = urlsplit(back.headers["Location"])
    return client.get(f"{target.path}?{target.query}")


def _configure(auth: SmartAuthServer, alg: str, kid: bool, layout: str, members: bool) -> None:
    auth.id_token_alg, auth.id_token_kid, auth.jwks_layout, auth.jwks_kid_members = alg, kid, layout, members


@pytest.mark.parametrize("launch", ["ehr", "standalone"])
@pytest.mark.parametrize(("alg", "kid", "layout", "members"), VARIANTS)
def test_every_common_signing_style_completes_the_launch(
    client: FlaskClient, auth_server: SmartAuthServer, fhir_server: FhirServer,
    alg: str, kid: bool, layout: str, members: bool, launch: str,
) -> None:
    assert {"openid", "fhirUser"} <= set(SCOPES.split())
    _configure(auth_server, alg, kid, layout, members)
    fhir_server.put(PATIENT)
    if launch == "ehr":
        response = complete_launch(client, auth_server, auth_server.new_launch(patient="smart-p1"))
    else:
        response = _standalone(client, auth_server)
    assert response.status_code == 303, response.get_data(as_text=True)[-800:]  # type: ignore[attr-defined]
    assert {"openid", "fhirUser"} <= set(auth_server.authorize_requests[-1]["scope"].split())
    html = client.get("/smart/app").get_data(as_text=True)
    assert "Lovelace" in html
    assert "findings are recorded without a performer" not in html  # the fhirUser was trusted
    assert auth_server.jwks_requests == 1


@pytest.mark.parametrize("alg", ["RS256", "ES384"])
@pytest.mark.parametrize("layout", JWKS_LAYOUTS)
def test_without_kid_a_signature_that_no_published_key_verifies_is_refused(
    client: FlaskClient, auth_server: SmartAuthServer, fhir_server: FhirServer, alg: str, layout: str
) -> None:
    _configure(auth_server, alg, False, layout, True)
    auth_server.id_token_fault = "wrong-key"
    fhir_server.put(PATIENT)
    response = complete_launch(client, auth_server, auth_server.new_launch(patient="smart-p1"))
    text = assert_clear_page(response, 403, "Sign-in could not be verified", "names no signing key (kid)",
                             f"published {alg} key")
    assert "eyJ" not in text
    assert client.get("/smart/app").status_code == 401  # no session
    assert not any(rest.startswith("Patient") for _, rest, _ in auth_server.fhir_requests)


@pytest.mark.parametrize("fault", ["wrong-aud", "expired", "wrong-nonce", "wrong-iss"])
def test_without_kid_the_claim_checks_still_apply(
    client: FlaskClient, auth_server: SmartAuthServer, fhir_server: FhirServer, fault: str
) -> None:
    _configure(auth_server, "RS256", False, "single", False)
    auth_server.id_token_fault = fault
    fhir_server.put(PATIENT)
    response = complete_launch(client, auth_server, auth_server.new_launch(patient="smart-p1"))
    assert_clear_page(response, 403, "Sign-in could not be verified")
    assert client.get("/smart/app").status_code == 401


def _verify(auth: SmartAuthServer, token: str, keys: JwksCache | None = None) -> str | None:
    return verify_id_token(token, issuer=auth.iss, jwks_uri=f"{auth.base_url}/auth/jwks", client_id=CLIENT_ID,
                           nonce=None, keys=keys or new_jwks_cache(5), leeway_seconds=60).fhir_user


def _claims(auth: SmartAuthServer) -> dict[str, object]:
    now = int(time.time())
    return {"iss": auth.iss, "sub": "dr-1", "aud": CLIENT_ID, "iat": now, "exp": now + 300,
            "fhirUser": "Practitioner/dr-1"}


def test_without_kid_a_key_of_another_type_is_never_tried(auth_server: SmartAuthServer) -> None:
    # ES384 token, but the set holds only the RSA key: refused without trying the RSA key.
    auth_server.jwks_layout = "single"
    token = jwt.encode(_claims(auth_server), auth_server._ec_key, algorithm="ES384")
    with pytest.raises(IdTokenError, match="publishes no ES384 key"):
        _verify(auth_server, token)
    auth_server.id_token_alg = "ES384"  # now the single published key is the EC key
    assert _verify(auth_server, token) == "Practitioner/dr-1"


def test_without_kid_a_key_rotated_in_is_found_by_one_reread(auth_server: SmartAuthServer) -> None:
    keys = JwksCache(timeout_seconds=5, cache_seconds=3600, min_refetch_seconds=0)
    auth_server.id_token_alg = "ES384"
    auth_server.jwks_layout = "single"
    assert _verify(auth_server, jwt.encode(_claims(auth_server), auth_server._ec_key, algorithm="ES384"), keys)
    auth_server.jwks_layout = "two-same-type"  # the spare key is published after the first read
    token = jwt.encode(_claims(auth_server), auth_server._spare_ec, algorithm="ES384")
    assert _verify(auth_server, token, keys) == "Practitioner/dr-1"
    assert auth_server.jwks_requests == 2


def test_a_malformed_kid_is_refused(auth_server: SmartAuthServer) -> None:
    token = jwt.encode(_claims(auth_server), auth_server._signing_key, algorithm="RS256", headers={"kid": ""})
    with pytest.raises(IdTokenError, match="malformed"):
        _verify(auth_server, token)


def test_without_kid_unreadable_keys_stop_the_launch_with_a_clear_page(
    client: FlaskClient, auth_server: SmartAuthServer, fhir_server: FhirServer
) -> None:
    _configure(auth_server, "RS256", False, "single", False)
    auth_server.jwks_uri_override = f"http://127.0.0.1:{free_port()}/jwks"  # nothing listens there
    fhir_server.put(PATIENT)
    response = complete_launch(client, auth_server, auth_server.new_launch(patient="smart-p1"))
    assert_clear_page(response, 403, "Sign-in could not be verified", "could not be read")
    assert client.get("/smart/app").status_code == 401
