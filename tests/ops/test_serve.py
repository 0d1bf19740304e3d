"""``nelm-cds serve`` (what ``make run`` runs): gunicorn starts, says where to look, and stops cleanly."""

from __future__ import annotations

import http.server
import os
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.ops.servers import NELM_CDS, nelm_serve
from tests.support.sekmet import free_port

pytestmark = pytest.mark.slow


def test_serve_prints_where_to_look_and_serves_demo_discovery_and_metrics(tmp_path: Path) -> None:
    env = {"NELM_DATABASE_URL": f"sqlite:///{tmp_path / 'instance' / 'nelm.sqlite3'}"}
    with nelm_serve(tmp_path, env, workers=1) as server:
        deadline = time.monotonic() + 10
        while "Stop with Ctrl-C" not in server.output() and time.monotonic() < deadline:
            time.sleep(0.2)
        out = server.output()
        for path in ("/demo", "/cds-services", "/smart/launch", "/smart/callback", "/metrics", "/readyz"):
            assert f"{server.base_url}{path}" in out, path
        assert re.search(r"database sqlite:///.*nelm\.sqlite3", out)
        assert requests.get(f"{server.base_url}/demo/", timeout=10).status_code == 200
        s = requests.Session()
        disc = s.get(f"{server.base_url}/cds-services", timeout=10,
                     headers={"Authorization": f"Bearer {server.token(s, '/cds-services')}"})
        assert disc.status_code == 200
        assert {"patient-view", "order-select", "order-sign"} <= {x["hook"] for x in disc.json()["services"]}
        # discovery is open (it holds no patient data); a service call without a token is refused, explained
        assert s.get(f"{server.base_url}/cds-services", timeout=10).status_code == 200
        refused = s.post(f"{server.base_url}/cds-services/nelm-pathway", json={}, timeout=10)
        assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert refused.json()["issue"][0]["diagnostics"] == "Authorization header with a bearer JWT required"
        metrics = requests.get(f"{server.base_url}/metrics", timeout=10)
        assert metrics.status_code == 200 and "nelm_http_requests_total{" in metrics.text
        proc = server.proc
    assert proc.returncode == 0  # SIGTERM: gunicorn stops gracefully and serve returns its status
    assert (tmp_path / "instance" / "nelm.sqlite3").exists()  # migrated before gunicorn started


def test_serve_refuses_to_start_when_the_database_cannot_be_migrated(tmp_path: Path) -> None:
    dead = f"postgresql+psycopg://nelm@127.0.0.1:{free_port()}/nelm"  # nothing listens there
    env = {**os.environ, "NELM_DATABASE_URL": dead}
    done = subprocess.run([str(NELM_CDS), "serve", "--port", str(free_port())], env=env, capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert done.returncode != 0
    assert "database migration failed; not starting" in done.stderr
    assert "Listening at" not in done.stdout + done.stderr  # gunicorn never started


def test_serve_on_a_busy_port_says_so_and_exits_non_zero_without_the_banner(tmp_path: Path) -> None:
    """Something already listens there, and even answers /healthz 200: serve must not claim to be running."""

    class _Healthy(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    occupant = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Healthy)
    threading.Thread(target=occupant.serve_forever, daemon=True).start()
    port = occupant.server_address[1]
    try:
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        env = {**os.environ, "NELM_DATABASE_URL": f"sqlite:///{tmp_path / 'nelm.sqlite3'}"}
        done = subprocess.run([str(NELM_CDS), "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                              capture_output=True, text=True, timeout=120, cwd=tmp_path)
    finally:
        occupant.shutdown()
        occupant.server_close()
    assert done.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and "in use" in done.stderr
    assert "is running" not in done.stdout + done.stderr
    assert "Listening at" not in done.stdout + done.stderr  # gunicorn was never started
