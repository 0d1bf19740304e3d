"""The SMART launch: discovery, authorize parameters, token exchange, and every failure path as a clear page."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from cds_hooks import smart
from cds_hooks.app import create_app
from tests.smart.conftest import (
    CLIENT_ID,
    SCOPES,
    complete_launch,
    make_settings,
    start_launch,
    write_registration,
)
from tests.support.sekmet import FhirServer, free_port
from tests.support.smart_auth_server import SmartAuthServer

PATIENT = {"resourceType": "Patient", "id": "smart-p1", "name": [{"given": ["Ada"], "family": "Lovelace"}],
           "gender": "female", "birthDate": "1971-03-02"}


def assert_clear_page(response: object, status: int, *phrases: str) -> str:
    """Assert an HTML error page with ``status`` naming the problem, and no stack trace."""
    text = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert response.status_code == status, text  # type: ignore[attr-defined]
    assert response.mimetype == "text/html"  # type: ignore[attr-defined]
    assert f"Error {status}" in text
    for phrase in phrases:
        assert phrase in text
    assert "Traceback" not in text and "File \"" not in text
    return text


def test_ehr_launch_sends_pkce_s256_state_aud_and_launch(client: FlaskClient, auth_server: SmartAuthServer) -> None:
    launch = auth_server.new_launch(patient="smart-p1")
    response = client.get("/smart/launch", query_string={"iss": auth_server.iss, "launch": launch})
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert response.headers["Location"].startswith(f"{auth_server.base_url}/auth/authorize?")
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert query["aud"] == [auth_server.iss]
    assert query["launch"] == [launch]
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == ["http://localhost/smart/callback"]
    assert len(query["state"][0]) >= 43  # ≥ 256 bits
    assert "patient/Observation.cu" in query["scope"][0].split()
    page = client.get("/smart/launch", query_string={"iss": "https://unknown.example.org/fhir"})
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and f"frame-ancestors 'self' {auth_server.base_url}" in csp
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/smart" in cookie
    # Two launches never share a state.
    again = client.get("/smart/launch", query_string={"iss": auth_server.iss, "launch": launch})
    assert parse_qs(urlsplit(again.headers["Location"]).query)["state"] != query["state"]


def test_full_launch_keeps_tokens_server_side(
    client: FlaskClient, auth_server: SmartAuthServer, fhir_server: FhirServer, smart_app: object
) -> None:
    fhir_server.put(PATIENT)
    launch = auth_server.new_launch(patient="smart-p1", app_context='{"modality":"tace"}')
    before = client.get_cookie("nelm_smart_session", path="/smart")
    response = complete_launch(client, auth_server, launch)
    assert response.status_code == 303, response.get_data(as_text=True)[-600:]
    assert response.headers["Location"].endswith("/smart/app")
    # The token request was a confidential private_key_jwt client with the PKCE verifier.
    form = auth_server.token_requests[-1]
    assert form["grant_type"] == "authorization_code"
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert len(form["code_verifier"]) >= 43
    access_tokens = list(auth_server.tokens)
    assert access_tokens
    cookie = client.get_cookie("nelm_smart_session", path="/smart")
    assert cookie is not None and (before is None or cookie.value != before.value)  # a new id after login
    assert all(token not in cookie.value for token in access_tokens)
    assert all(token not in response.get_data(as_text=True) for token in access_tokens)
    # Stored encrypted: the database row does not contain the token either.
    engine = smart_app.extensions["nelm_smart"].sessions._engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        payloads = [bytes(row[0]) for row in conn.execute(sa.text("SELECT payload FROM smart_session"))]
    assert payloads and all(token.encode() not in p for p in payloads for token in access_tokens)


def test_client_secret_basic_registration_also_launches(
    tmp_path: Path, auth_server: SmartAuthServer, fhir_server: FhirServer
) -> None:
    reg, _ = write_registration(tmp_path, auth_server.iss, method="client_secret_basic")
    auth_server.register_client(CLIENT_ID, redirect_uri="http://localhost/smart/callback", scope=SCOPES,
                                secret="s3cret-for-tests")
    client = create_app(make_settings(tmp_path, reg)).test_client()
    response = complete_launch(client, auth_server, auth_server.new_launch(patient="smart-p1"))
    assert response.status_code == 303, response.get_data(as_text=True)[-600:]
    assert "client_secret" not in auth_server.token_requests[-1]  # sent in the Authorization header


def test_unknown_iss_is_refused(client: FlaskClient) -> None:
    response = client.get("/smart/launch", query_string={"iss": "https://evil.example.org/fhir", "launch": "x"})
    text = assert_clear_page(response, 403, "Unknown EHR", "not registered")
    assert "evil.example.org" in text  # says which server, escaped by the template
    assert "Location" not in response.headers


def test_missing_iss_without_standalone_choices_is_400(tmp_path: Path) -> None:
    client = create_app(make_settings(tmp_path, None)).test_client()
    assert_clear_page(client.get("/smart/launch"), 400, "Missing iss")


def test_standalone_launch_offers_registered_servers(client: FlaskClient, auth_server: SmartAuthServer) -> None:
    page = client.get("/smart/launch")
    assert page.status_code == 200 and "Test EHR" in page.get_data(as_text=True)
    response = client.get("/smart/launch", query_string={"iss": auth_server.iss})
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert "launch" not in query
    assert "launch/patient" in query["scope"][0].split() and "launch" not in query["scope"][0].split()


def test_standalone_launch_completes_with_the_patient_chosen_at_the_ehr(
    client: FlaskClient, auth_server: SmartAuthServer, fhir_server: FhirServer
) -> None:
    fhir_server.put(PATIENT)
    auth_server.standalone_patient = "smart-p1"
    response = client.get("/smart/launch", query_string={"iss": auth_server.iss})
    back = requests.get(response.headers["Location"], allow_redirects=False, timeout=10)
    target = urlsplit(back.headers["Location"])
    done = client.get(f"{target.path}?{target.query}")
    assert done.status_code == 303 and done.headers["Location"].endswith("/smart/app")


def test_bad_state_is_refused_and_no_token_is_requested(client: FlaskClient, auth_server: SmartAuthServer) -> None:
    path, params = start_launch(client, auth_server, auth_server.new_launch(patient="smart-p1"))
    forged = path.replace(params["state"][0], "forged-state-value")
    assert_clear_page(client.get(forged), 400, "state mismatch")
    assert auth_server.token_requests == []
    # The launch is spent: replaying the genuine answer now is refused too.
    assert_clear_page(client.get(path), 400, "no launch in progress")


def test_callback_without_a_launch_in_this_browser(smart_app: object, auth_server: SmartAuthServer) -> None:
    other = smart_app.test_client()  # type: ignore[attr-defined]
    client = smart_app.test_client()  # type: ignore[attr-defined]
    path, _ = start_launch(client, auth_server, auth_server.new_launch(patient="smart-p1"))
    assert_clear_page(other.get(path), 400, "no launch in progress")


def test_authorization_denied_by_the_ehr(client: FlaskClient, auth_server: SmartAuthServer) -> None:
    _path, params = start_launch(client, auth_server, auth_server.new_launch(patient="smart-p1"))
    denied = f"/smart/callback?error=access_denied&state={params['state'][0]}"
    assert_clear_page(client.get(denied), 403, "access_denied")


@pytest.mark.parametrize(
    ("failure", "phrase"),
    [
        ((400, {"error": "invalid_grant", "error_description": "code expired"}), "invalid_grant"),
        ((500, "<html>upstream exploded</html>"), "HTTP 500"),
        ((200, {"token_type": "Bearer"}), "no access_token"),
    ],
)
def test_token_endpoint_errors_are_clear_pages(
    client: FlaskClient, auth_server: SmartAuthServer, failure: tuple[int, object], phrase: str
) -> None:
    auth_server.fail_token_with = failure  # type: ignore[assignment]
    response = complete_launch(client, auth_server, auth_server.new_launch(patient="smart-p1"))
    assert_clear_page(response, 502, "Sign-in failed", phrase)
    assert client.get("/smart/app").status_code == 401  # no session was created


def test_unreachable_discovery_is_a_clear_page(tmp_path: Path) -> None:
    iss = f"http://127.0.0.1:{free_port()}/fhir"  # nothing listens there
    reg, _ = write_registration(tmp_path, iss)
    client = create_app(make_settings(tmp_path, reg, fhir_request_timeout_seconds=0.5)).test_client()
    response = client.get("/smart/launch", query_string={"iss": iss, "launch": "abc"})
    assert_clear_page(response, 502, "could not be reached")


def test_expired_token_without_refresh_asks_to_launch_again(
    client: FlaskClient, auth_server: SmartAuthServer, fhir_server: FhirServer
) -> None:
    fhir_server.put(PATIENT)
    auth_server.expires_in = 5  # inside the app's 30-second safety margin: already expired
    auth_server.issue_refresh = False
    assert complete_launch(client, auth_server, auth_server.new_launch(patient="smart-p1")).status_code == 303
    assert_clear_page(client.get("/smart/app"), 401, "Session expired", "no refresh token")
    assert not any(rest.startswith("Patient") for _, rest, _ in auth_server.fhir_requests)


def test_fhir_401_asks_to_launch_again(
    client: FlaskClient, auth_server: SmartAuthServer, fhir_server: FhirServer
) -> None:
    fhir_server.put(PATIENT)
    assert complete_launch(client, auth_server, auth_server.new_launch(patient="smart-p1")).status_code == 303
    auth_server.revoke_all()  # the EHR revokes access (and the refresh token) behind the app's back
    assert_clear_page(client.get("/smart/app"), 401, "Session expired")
    assert ("GET", "Patient/smart-p1", 401) in auth_server.fhir_requests


def test_no_session_is_a_clear_page(client: FlaskClient) -> None:
    assert_clear_page(client.get("/smart/app"), 401, "Session expired")
    response = client.post("/smart/app/findings", data={"flr-percent": "40"})
    assert_clear_page(response, 401, "Session expired")


def test_dev_launch_is_404_in_production(tmp_path: Path) -> None:
    # Only the SMART surface: a production create_app also needs the security engineer's trust file.
    settings = make_settings(tmp_path, None, environment="production", auth_disabled=False)
    app = Flask(__name__)
    app.config["NELM_SETTINGS"] = settings
    smart.init_app(app, settings)
    client = app.test_client()
    assert_clear_page(client.get("/smart/dev-launch", query_string={"patient": "v01"}), 404)


def test_dev_launch_unknown_patient_is_404(client: FlaskClient) -> None:
    assert_clear_page(client.get("/smart/dev-launch", query_string={"patient": "../../etc/passwd"}), 404,
                      "Unknown demo patient")


def test_discovery_is_only_well_known(client: FlaskClient, auth_server: SmartAuthServer) -> None:
    client.get("/smart/launch", query_string={"iss": auth_server.iss, "launch": auth_server.new_launch(patient="x")})
    # The app never asked the FHIR server's CapabilityStatement for OAuth endpoints.
    assert not any(rest == "metadata" for _, rest, _ in auth_server.fhir_requests)
    assert requests.get(f"{auth_server.iss}/.well-known/smart-configuration", timeout=5).status_code == 200
