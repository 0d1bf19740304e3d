"""Attack finding 4: a hostile or broken EHR cannot steer the SMART app's requests or swell its workers.

A real loopback server plays the EHR: it redirects to another origin, answers 60 MiB, or answers HTML.
The app's FHIR and discovery requests follow no redirect off the ``iss``, stop reading at the cap, and
turn every such answer into a ``FhirError``/``DiscoveryError`` (the app's error page), never a 500.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from cds_hooks.smart import oauth
from cds_hooks.smart.record import FhirError, fetch_record
from tests.support.sekmet import free_port

HUGE = 60 * 2**20


class _Ehr(http.server.BaseHTTPRequestHandler):
    other_origin = ""
    hits: list[str] = []  # noqa: RUF012 - shared on purpose: what the "other origin" received

    def _send(self, status: int, body: bytes, ctype: str = "application/fhir+json", **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path
        if path.startswith("/other/"):
            _Ehr.hits.append(path)
            self._send(200, json.dumps({"resourceType": "Patient", "id": "p1"}).encode())
        elif "/away/" in path:
            self._send(302, b"", Location=f"{_Ehr.other_origin}/other{path}")
        elif "/climb/" in path:
            self._send(302, b"", Location="/fhir/climb/../../other/x")
        elif "/huge/" in path:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()  # no Content-Length: only reading tells the size
            block = b" " * 2**20
            try:
                for _ in range(HUGE // len(block)):
                    self.wfile.write(block)
            except OSError:
                return
        elif "/html/" in path:
            self._send(200, b"<html><body>Maintenance</body></html>", "text/html")
        elif "/moved/" in path and path.endswith("/Patient/p1"):
            self._send(301, b"", Location=path.replace("/Patient/p1", "/Patient/p1-new"))
        elif path.endswith("/Patient/p1-new"):
            self._send(200, json.dumps({"resourceType": "Patient", "id": "p1"}).encode())
        else:
            self._send(200, json.dumps({"resourceType": "Bundle", "type": "searchset", "entry": []}).encode())

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def ehr() -> Iterator[str]:
    servers = [http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Ehr) for _ in range(2)]
    for server in servers:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
    _Ehr.other_origin = f"http://127.0.0.1:{servers[1].server_address[1]}"
    _Ehr.hits = []
    try:
        yield f"http://127.0.0.1:{servers[0].server_address[1]}"
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


@pytest.mark.parametrize("kind", ["away", "climb"])
def test_fhir_redirects_off_the_base_are_not_followed(ehr: str, kind: str) -> None:
    with pytest.raises(FhirError, match="could not be reached"):
        fetch_record(f"{ehr}/fhir/{kind}", "p1", "secret-token", timeout=5, deadline=20)
    assert _Ehr.hits == []  # the other origin (and the path outside the base) never saw the token


def test_a_redirect_within_the_base_is_followed(ehr: str) -> None:
    record = fetch_record(f"{ehr}/fhir/moved", "p1", "tok", timeout=5, deadline=20)
    assert record.resources[0]["id"] == "p1"


def test_a_huge_fhir_answer_is_refused_without_reading_it(ehr: str) -> None:
    started = time.monotonic()
    with pytest.raises(FhirError, match="too large"):
        fetch_record(f"{ehr}/fhir/huge", "p1", "tok", timeout=5, deadline=20)
    assert time.monotonic() - started < 10


def test_a_non_json_fhir_answer_is_a_clear_error(ehr: str) -> None:
    with pytest.raises(FhirError, match="not JSON"):
        fetch_record(f"{ehr}/fhir/html", "p1", "tok", timeout=5, deadline=20)


@pytest.mark.parametrize(("kind", "says"), [("away", "could not be reached"), ("huge", "too large"),
                                            ("html", "not JSON")])
def test_smart_discovery_is_hardened_the_same_way(ehr: str, kind: str, says: str) -> None:
    with pytest.raises(oauth.DiscoveryError, match=says):
        oauth.discover(f"{ehr}/fhir/{kind}", timeout=5, production=False)
    assert _Ehr.hits == []
