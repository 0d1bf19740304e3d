"""Log scraping over a served app: a SMART launch and a dev launch leave no raw patient id, token or code in any line.

The app runs under werkzeug on a free loopback port, so the access lines (``"GET /smart/dev-launch?patient=v01
HTTP/1.1"``) written outside any request context go through the JSON log handler like everything else.
"""

from __future__ import annotations

import io
import json
import logging
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from werkzeug.serving import make_server

from cds_hooks.app import create_app
from cds_hooks.config import Settings
from cds_hooks.logging_setup import configure_logging
from cds_hooks.privacy import hash_patient_id
from tests.smart.conftest import CLIENT_ID, SCOPES, load_vignette, make_settings, write_registration
from tests.support.sekmet import FhirServer, free_port
from tests.support.smart_auth_server import SmartAuthServer

ID_HASH_KEY = "log-test-id-hash-key-0123456789abcdef"


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """Everything the process logs while the test runs, as the JSON handler writes it."""
    stream = io.StringIO()
    handler = configure_logging(Settings(id_hash_key=ID_HASH_KEY), stream=stream, level=logging.DEBUG)
    yield stream
    logging.getLogger().removeHandler(handler)


@pytest.fixture
def served(tmp_path: Path, auth_server: SmartAuthServer) -> Iterator[str]:
    """The product app on a free port, registered with the test authorization server; yields its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    reg, jwks = write_registration(tmp_path, auth_server.iss)
    auth_server.register_client(CLIENT_ID, redirect_uri=f"{base}/smart/callback", scope=SCOPES, public_jwks=jwks)
    app = create_app(make_settings(tmp_path, reg, base=base, id_hash_key=ID_HASH_KEY))
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.shutdown()
        thread.join(timeout=10)


def _follow(session: requests.Session, url: str, secrets_seen: list[str]) -> requests.Response:
    """Follow redirects by hand, noting every OAuth value that travelled in a URL."""
    for _ in range(10):
        response = session.get(url, allow_redirects=False, timeout=30)
        if response.status_code not in {302, 303}:
            return response
        url = urljoin(url, response.headers["Location"])
        for key, values in parse_qs(urlsplit(url).query).items():
            if key in {"code", "state", "nonce"}:  # code_challenge is a public hash
                secrets_seen.extend(values)
    raise AssertionError("too many redirects")


def test_a_smart_launch_and_a_dev_launch_leave_no_phi_or_secret_in_the_logs(
    log_stream: io.StringIO, served: str, auth_server: SmartAuthServer, fhir_server: FhirServer
) -> None:
    pid = load_vignette(fhir_server, "V10", f"lg{uuid.uuid4().hex[:6]}")
    browser = requests.Session()
    seen: list[str] = []
    launch = auth_server.new_launch(patient=pid, tenant="clinic-north")
    page = _follow(browser, f"{served}/smart/launch?iss={auth_server.iss}&launch={launch}", seen)
    assert page.status_code == 200 and "patient-banner" in page.text
    assert len(seen) >= 3  # state, nonce, code travelled in URLs
    dev = _follow(browser, f"{served}/smart/dev-launch?patient=v01&now=2026-11-26", seen)
    assert dev.status_code == 200
    assert browser.get(f"{served}/demo/api/patients/v01/record", timeout=30).status_code in {200, 401, 404}

    text = log_stream.getvalue()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    access = [line for line in lines if line["logger"] == "werkzeug"]
    assert any("/smart/dev-launch?patient=[patient:" in str(line["message"]) for line in access), access[-5:]
    assert any("/smart/callback?" in str(line["message"]) for line in access)
    assert pid not in text and "v01" not in text
    assert launch not in text
    leaked = [v for v in seen if v in text]
    assert not leaked, [line for line in text.splitlines() if any(v in line for v in leaked)][:3]
    for token in auth_server.tokens:
        assert token not in text
    assert "eyJ" not in text  # no id_token or client assertion
    expected = hash_patient_id("v01", ID_HASH_KEY)
    assert any(expected in str(line["message"]) for line in access)  # hashed, so lines can be correlated
