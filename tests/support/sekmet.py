"""A real FHIR R4 server for integration tests: SEKMET (PyPI ``sekmet-fhir``) in its own venv.

``make test`` installs it into ``.venv-fhir``. Use the ``fhir_server`` session fixture from
``tests/conftest.py``; it starts one server on a free port with its own data folder and stops it
by PID at the end of the session.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[2]
SEKMET = REPO / ".venv-fhir" / "bin" / "sekmet"


def free_port() -> int:
    """Return a TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class FhirServer:
    """A running SEKMET server: its base URL and helpers to load and read data."""

    base_url: str

    def put(self, resource: dict[str, Any]) -> dict[str, Any]:
        """PUT one resource (with its id) and return what the server stored."""
        url = f"{self.base_url}/{resource['resourceType']}/{resource['id']}"
        r = requests.put(url, json=resource, headers={"Content-Type": "application/fhir+json"}, timeout=10)
        r.raise_for_status()
        result: dict[str, Any] = r.json()
        return result

    def load_bundle(self, bundle: dict[str, Any]) -> None:
        """Store every entry of a Bundle (any type) with PUT, keeping the ids."""
        entries = [e["resource"] for e in bundle.get("entry", []) if "resource" in e]
        tx = {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {"resource": res, "request": {"method": "PUT", "url": f"{res['resourceType']}/{res['id']}"}}
                for res in entries
            ],
        }
        r = requests.post(self.base_url, json=tx, headers={"Content-Type": "application/fhir+json"}, timeout=30)
        r.raise_for_status()

    def search(self, query: str) -> dict[str, Any]:
        """GET ``{base}/{query}`` and return the JSON body."""
        r = requests.get(f"{self.base_url}/{query}", timeout=10)
        r.raise_for_status()
        result: dict[str, Any] = r.json()
        return result


@contextlib.contextmanager
def run_sekmet(data_dir: Path) -> Iterator[FhirServer]:
    """Start SEKMET on a free port with ``data_dir``; yield it; stop it by PID."""
    if not SEKMET.exists():
        raise RuntimeError(f"{SEKMET} is missing: run `make fhir-server` (make test does it)")
    port = free_port()
    base = f"http://127.0.0.1:{port}/fhir"
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / "sekmet.yaml"
    # YAML is a superset of JSON: write the config as JSON to avoid a YAML dependency.
    config.write_text(
        json.dumps(
            {
                "base_url": base,
                "host": "127.0.0.1",
                "port": port,
                "data_dir": str(data_dir / "data"),
                "simulator": {"enabled": False},
                "validation": {"inbound": "warn"},
            }
        )
    )
    log = (data_dir / "sekmet.log").open("w")
    proc = subprocess.Popen([str(SEKMET), "serve", "-c", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{base}/metadata", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"SEKMET did not start; see {data_dir / 'sekmet.log'}")
            time.sleep(0.1)
        yield FhirServer(base_url=base)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
