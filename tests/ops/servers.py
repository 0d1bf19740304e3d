"""Run the product the way an operator does (``nelm-cds serve`` → gunicorn) for the ops tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.support.sekmet import free_port

REPO = Path(__file__).resolve().parents[2]
NELM_CDS = REPO / ".venv" / "bin" / "nelm-cds"


@dataclass
class Running:
    """A running ``nelm-cds serve``: its base URL, process and captured output file."""

    base_url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        """Return what the server printed so far (banner, gunicorn log)."""
        return self.log.read_text(errors="replace")

    def token(self, session: requests.Session, path: str) -> str:
        """Return a client JWT for ``path`` from the demo EHR's development endpoint."""
        r = session.post(f"{self.base_url}/demo/api/token", json={"path": path}, timeout=30)
        r.raise_for_status()
        return str(r.json()["token"])


@contextlib.contextmanager
def nelm_serve(tmp: Path, env: dict[str, str], *, workers: int) -> Iterator[Running]:
    """Start ``nelm-cds serve`` on a free port; yield once /readyz answers 200; stop it with SIGTERM."""
    port = free_port()
    log = tmp / "serve.log"
    full_env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp / "prometheus"), **env}
    (tmp / "prometheus").mkdir(exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(NELM_CDS), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
            cwd=REPO, env=full_env, stdout=out, stderr=subprocess.STDOUT,
        )
    running = Running(f"http://127.0.0.1:{port}", proc, log)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"nelm-cds serve exited with {proc.returncode}:\n{running.output()}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{running.base_url}/readyz", timeout=2).status_code == 200:
                    break
            time.sleep(0.5)
        else:
            raise RuntimeError(f"nelm-cds serve not ready after 120 s:\n{running.output()}")
        yield running
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
