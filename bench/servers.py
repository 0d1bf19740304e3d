"""gunicorn launcher for the benchmark: the product and the baseline under the same settings.

Both run with the product's own ``gunicorn.conf.py`` (worker class, threads, preload, timeouts),
only ``--bind`` (a free port on 127.0.0.1) and ``--workers`` are set here. The launcher measures
the time from ``Popen`` to the first answered hook request, finds the workers (children of the
master) and reads their resident memory from ``/proc``. Servers are stopped by their PID.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.support.sekmet import free_port

__all__ = ["REPO", "Gunicorn", "pss_kib", "rss_kib", "run_gunicorn", "worker_pids"]

REPO = Path(__file__).resolve().parent.parent
PRODUCT_APP = "cds_hooks.wsgi:app"
BASELINE_APP = "bench.baseline_app:app"


def worker_pids(master: int) -> list[int]:
    """Return the PIDs whose parent is ``master`` (gunicorn's workers), from ``/proc``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name (field 2) may hold spaces; the parent PID is the second field after it.
        fields = stat.rpartition(")")[2].split()
        if len(fields) > 1 and int(fields[1]) == master:
            pids.append(int(entry.name))
    return sorted(pids)


def rss_kib(pid: int) -> int:
    """Return the resident set size (VmRSS) of ``pid`` in KiB; raises OSError if it is gone."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise OSError(f"no VmRSS for pid {pid}")


def pss_kib(pid: int) -> int | None:
    """Return the proportional set size of ``pid`` in KiB (shared pages split), or None if unreadable."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


@dataclass
class Gunicorn:
    """A running gunicorn master: base URL, PID, and how long it took to answer the first hook."""

    name: str
    url: str
    pid: int
    workers: int
    first_answer_seconds: float
    log_path: Path

    def worker_rss_kib(self) -> list[int]:
        """Return the RSS of each live worker in KiB."""
        out = []
        for pid in worker_pids(self.pid):
            with contextlib.suppress(OSError):
                out.append(rss_kib(pid))
        return out

    def worker_pss_kib(self) -> list[int]:
        """Return the PSS of each live worker in KiB (what each adds once shared pages are split)."""
        return [p for p in (pss_kib(pid) for pid in worker_pids(self.pid)) if p is not None]


def _wait_first_answer(proc: subprocess.Popen[bytes], url: str, body: bytes, started: float,
                       timeout: float, log_path: Path,
                       extra_headers: Callable[[], Mapping[str, str]] | None = None) -> float:
    session = requests.Session()
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}; see {log_path}")
        headers = {"Content-Type": "application/json", **(extra_headers() if extra_headers else {})}
        try:
            r = session.post(url, data=body, headers=headers, timeout=5)
            if r.status_code == 200:
                return time.monotonic() - started
            raise RuntimeError(f"first hook call answered {r.status_code}: {r.text[:300]}")
        except requests.ConnectionError:
            pass
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"gunicorn did not answer within {timeout:.0f} s; see {log_path}")
        time.sleep(0.01)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=25)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@contextlib.contextmanager
def run_gunicorn(name: str, app: str, *, workers: int, env: Mapping[str, str], probe_path: str,
                 probe_body: bytes, workdir: Path, timeout: float = 60.0,
                 probe_headers: Callable[[], Mapping[str, str]] | None = None) -> Iterator[Gunicorn]:
    """Start gunicorn serving ``app``; yield it once a POST to ``probe_path`` answered 200; stop it.

    ``probe_headers`` gives the headers of each probe (e.g. a fresh JWT when authentication is on)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = workdir / f"gunicorn-{name}-{workers}w.log"
    cmd = [sys.executable, "-m", "gunicorn", "--config", str(REPO / "gunicorn.conf.py"),
           "--bind", f"127.0.0.1:{port}", "--workers", str(workers), app]
    child_env = dict(os.environ)
    child_env.update(env)
    child_env["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix=f"prom-{name}-", dir=workdir)
    with log_path.open("wb") as log:
        started = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=REPO, env=child_env, stdout=log, stderr=subprocess.STDOUT)
        try:
            first = _wait_first_answer(proc, url + probe_path, probe_body, started, timeout, log_path,
                                       probe_headers)
            yield Gunicorn(name=name, url=url, pid=proc.pid, workers=workers, first_answer_seconds=first,
                           log_path=log_path)
        finally:
            _stop(proc)
