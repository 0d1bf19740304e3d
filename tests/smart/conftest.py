"""Fixtures of the SMART app tests: a test SMART authorization server in front of SEKMET, and the app."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from joserfc.jwk import RSAKey

from cds_hooks.app import create_app
from cds_hooks.config import REPO_ROOT, Settings
from tests.support.sekmet import FhirServer
from tests.support.smart_auth_server import SmartAuthServer, run_smart_auth_server

CLIENT_ID = "nelm-pathways-test"
SCOPES = (
    "launch openid fhirUser patient/Patient.rs patient/Condition.rs patient/Observation.rs patient/Procedure.rs "
    "patient/MedicationRequest.rs patient/MedicationStatement.rs patient/Observation.cu"
)
EVALUATION_DATE = "2026-11-26"
VIGNETTES = REPO_ROOT / "tests" / "vignettes"


@pytest.fixture
def auth_server(fhir_server: FhirServer) -> Iterator[SmartAuthServer]:
    """A fresh test SMART authorization server proxying the session's SEKMET server."""
    with run_smart_auth_server(fhir_server.base_url) as server:
        yield server


def write_registration(tmp_path: Path, iss: str, *, method: str = "private_key_jwt") -> tuple[Path, dict[str, Any]]:
    """Write a SMART registration file for ``iss``; return it and the public JWK Set."""
    key = RSAKey.generate_key(2048, parameters={"kid": "nelm-test-1", "alg": "RS384"}, private=True)
    key_file = tmp_path / "nelm-private.jwk.json"
    key_file.write_text(json.dumps(key.as_dict(private=True)))
    entry: dict[str, Any] = {"iss": iss, "client_id": CLIENT_ID, "auth_method": method, "scopes": SCOPES,
                             "standalone": True, "label": "Test EHR"}
    if method == "private_key_jwt":
        entry |= {"private_key_file": key_file.name, "alg": "RS384"}
    else:
        entry["client_secret"] = "s3cret-for-tests"
    path = tmp_path / "smart.json"
    path.write_text(json.dumps({"registrations": [entry]}))
    return path, {"keys": [key.as_dict(private=False)]}


def make_settings(
    tmp_path: Path, smart_file: Path | None, *, base: str = "http://localhost", **changes: Any
) -> Settings:
    """Settings of an app under test: its own SQLite file, the registration file, a fixed evaluation date."""
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'nelm.sqlite3'}",
        "smart_config_file": smart_file,
        "external_base_url": base,
        "secret_key": "test-secret-key",
        "auth_disabled": True,
        "extra": {"evaluation_date": EVALUATION_DATE},
    }
    return Settings().with_(**(values | changes))


@pytest.fixture
def smart_app(tmp_path: Path, auth_server: SmartAuthServer) -> Flask:
    """The product app registered (private_key_jwt) with the test authorization server."""
    reg, jwks = write_registration(tmp_path, auth_server.iss)
    auth_server.register_client(CLIENT_ID, redirect_uri="http://localhost/smart/callback", scope=SCOPES,
                                public_jwks=jwks, secret="s3cret-for-tests")
    return create_app(make_settings(tmp_path, reg))


@pytest.fixture
def client(smart_app: Flask) -> FlaskClient:
    """A test client of the app."""
    return smart_app.test_client()


def start_launch(client: FlaskClient, auth: SmartAuthServer, launch: str) -> tuple[str, dict[str, list[str]]]:
    """Run ``/smart/launch`` and the (auto-approving) authorize step; return the callback path+query and params."""
    response = client.get("/smart/launch", query_string={"iss": auth.iss, "launch": launch})
    assert response.status_code == 302, response.get_data(as_text=True)
    authorize = requests.get(response.headers["Location"], allow_redirects=False, timeout=10)
    assert authorize.status_code == 302, authorize.text
    back = urlsplit(authorize.headers["Location"])
    return f"{back.path}?{back.query}", parse_qs(back.query)


def complete_launch(client: FlaskClient, auth: SmartAuthServer, launch: str) -> Any:
    """Run the whole EHR launch and return the callback's response."""
    path, _ = start_launch(client, auth, launch)
    return client.get(path)


def load_vignette(fhir_server: FhirServer, name: str, prefix: str) -> str:
    """Load vignette ``name`` (e.g. ``V10``) into the FHIR server under fresh ids; return the patient id.

    Every id and reference gets ``prefix`` so that findings written by one test never change the
    record other tests (and other engineers' tests on the same server) read.
    """
    path = VIGNETTES / f"{name}.json"
    if not path.exists():
        pytest.skip(f"vignette bundle {path.name} is not in tests/vignettes yet")
    pid = name.lower()
    text = re.sub(rf"\b{re.escape(pid)}\b", f"{prefix}-{pid}", path.read_text())
    fhir_server.load_bundle(json.loads(text))
    return f"{prefix}-{pid}"
