"""Faults no mock can fake: a real FHIR server on a loopback socket that stalls or drips its answer.

The service must still answer within the deadline (plus a margin) with an info card, and its
fetch threads must stop soon after, so that a stalled EHR cannot pile up hung workers.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from cds_hooks.app import create_app
from cds_hooks.validate import validate_cds_response
from tests.security.conftest import BASE, ES_ISSUER, Signer, bearer, make_settings, write_trust
from tests.security.records import PATIENT_ID, hook_body
from tests.support.sekmet import free_port

DEADLINE = 1.0
MARGIN = 4.0
PATHWAY = "/cds-services/nelm-pathway"


class _Stalling(http.server.BaseHTTPRequestHandler):
    """``/drip/...`` sends a JSON answer one byte every 0.2 s; ``/stall/...`` never answers."""

    stop = threading.Event()

    def do_GET(self) -> None:
        if self.path.startswith("/stall/"):
            self.stop.wait(15)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.end_headers()
        for byte in b'{"resourceType": "Bundle", "type": "searchset", "entry": []}':
            if self.stop.wait(0.2):
                return
            try:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            except OSError:
                return

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def stalling_server() -> Iterator[str]:
    """A loopback HTTP server whose answers stall or drip; its base URL."""
    _Stalling.stop = threading.Event()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Stalling)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        _Stalling.stop.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def loopback_client(tmp_path: Path, es_signer: Signer) -> FlaskClient:
    """The app trusting the ES issuer with any loopback FHIR server (development rule)."""
    trust = write_trust(
        tmp_path,
        [
            {
                "issuer": ES_ISSUER,
                "algorithms": ["ES384"],
                "jwks": {"keys": [es_signer.public_jwk()]},
                "fhir_servers": ["http://127.0.0.1:*"],
            }
        ],
    )
    settings = make_settings(tmp_path, trust, fhir_deadline_seconds=DEADLINE, fhir_request_timeout_seconds=0.8)
    return create_app(settings).test_client()


def _prefetch_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith("nelm-prefetch"))


@pytest.mark.parametrize("mode", ["drip", "stall"])
def test_stalled_fhir_server_is_cut_at_the_deadline(
    loopback_client: FlaskClient, es_signer: Signer, stalling_server: str, mode: str
) -> None:
    body = hook_body(
        fhirServer=f"{stalling_server}/{mode}/fhir",
        fhirAuthorization={
            "access_token": "t-socket",
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "nelm-cds",
            "patient": PATIENT_ID,
        },
    )
    for key in ("labs", "findings", "procedures"):
        del body["prefetch"][key]
    before = _prefetch_threads()
    started = time.monotonic()
    response = loopback_client.post(PATHWAY, json=body, headers=bearer(es_signer.token(f"{BASE}{PATHWAY}")))
    elapsed = time.monotonic() - started
    assert elapsed < DEADLINE + MARGIN, f"took {elapsed:.1f} s"
    assert response.status_code == 200
    cards = response.get_json()
    assert validate_cds_response(cards) == []
    assert any("could not be read" in c["summary"] for c in cards["cards"])
    # The fetch threads give up soon after the deadline (socket timeout, deadline checks between chunks).
    for _ in range(40):
        if _prefetch_threads() <= before:
            break
        time.sleep(0.1)
    assert _prefetch_threads() <= before, "fetch threads still running 4 s after the answer"
