"""``nelm-cds serve``: apply migrations, start gunicorn on ``cds_hooks.wsgi:app``, say where to look.

The same gunicorn settings (``gunicorn.conf.py``) serve ``make run`` and the Docker image, so the
product runs the same way on a laptop and in production.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import requests
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from cds_hooks.config import REPO_ROOT, Settings

__all__ = ["banner", "gunicorn_command", "port_in_use", "serve_main"]

WSGI_APP = "cds_hooks.wsgi:app"
READY_WAIT_SECONDS = 90.0


def _config_file() -> Path | None:
    for candidate in (Path.cwd() / "gunicorn.conf.py", REPO_ROOT / "gunicorn.conf.py"):
        if candidate.is_file():
            return candidate
    return None


def gunicorn_command(host: str, port: int, workers: int | None) -> list[str]:
    """Return the argv that starts gunicorn with the product's settings on ``host:port``."""
    cmd = [sys.executable, "-m", "gunicorn"]
    conf = _config_file()
    if conf is not None:
        cmd += ["--config", str(conf)]
    cmd += ["--bind", f"{host}:{port}"]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    cmd.append(WSGI_APP)
    return cmd


def _safe_db(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparseable NELM_DATABASE_URL)"


def banner(base: str, settings: Settings) -> str:
    """Return the start-up text that tells a person where to look."""
    mode = settings.environment
    lines = [
        f"NELM Pathways is running at {base}  ({mode}; database {_safe_db(settings.database_url)})",
        "",
    ]
    if not settings.production:
        lines += [
            f"  Demo EHR (pick a patient, open the chart, place an order):  {base}/demo",
            f"  SMART app on a demo patient (no OAuth, development only):  {base}/smart/dev-launch?patient=v01",
        ]
    lines += [
        f"  CDS Hooks discovery (register this URL in the EHR):         {base}/cds-services",
        f"  SMART app launch URL / redirect URL:                         {base}/smart/launch  {base}/smart/callback",
        f"  Health, readiness, Prometheus metrics:                       {base}/healthz  {base}/readyz  {base}/metrics",
        "",
        "Stop with Ctrl-C. Configuration: NELM_* variables (see README.md).",
    ]
    return "\n".join(lines)


def _wait_until_up(proc: subprocess.Popen[bytes], url: str, deadline: float) -> bool:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if requests.get(url, timeout=1.0).status_code == 200:
                return True
        except requests.RequestException:
            pass  # not listening yet: keep polling until the deadline
        time.sleep(0.25)
    return False


def port_in_use(host: str, port: int) -> str | None:
    """Return why ``host:port`` cannot be bound (another process listens there), or None when it is free.

    Checked before gunicorn starts: gunicorn retries a busy port for seconds, and meanwhile whatever
    already listens there may answer ``/healthz``; the banner would then claim a service that never
    started.
    """
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"{host} is not an address of this machine ({exc.strerror})"
    for family, kind, proto, _name, address in infos:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
            try:
                probe.bind(address)
            except OSError as exc:
                return exc.strerror or str(exc)
    return None


def _migrate() -> int:
    from cds_hooks.store import upgrade_main

    return upgrade_main()


def serve_main(host: str, port: int, workers: int | None) -> int:
    """Migrate the database, run gunicorn until it stops; returns gunicorn's exit status."""
    settings = Settings.from_env()
    busy = port_in_use(host, port)
    if busy is not None:
        print(f"nelm-cds serve: cannot listen on {host}:{port}: {busy}. Another process is using that port; "  # noqa: T201
              "stop it or choose another with --port (make run PORT=...). Not starting.", file=sys.stderr)
        return 1
    if settings.database_url.startswith("sqlite:///") and not settings.database_url.startswith("sqlite:////"):
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    status = _migrate()
    if status != 0:
        print("nelm-cds serve: database migration failed; not starting", file=sys.stderr)  # noqa: T201 - command output
        return status
    env = dict(os.environ)
    proc = subprocess.Popen(gunicorn_command(host, port, workers), env=env)  # noqa: S603 - our own argv

    def forward(signum: int, frame: FrameType | None) -> None:
        proc.send_signal(signum)

    previous = signal.signal(signal.SIGTERM, forward)
    try:
        probe_host = "127.0.0.1" if host in {"0.0.0.0", "", "::"} else host  # noqa: S104 - comparing, not binding
        base = f"http://{probe_host}:{port}"
        if _wait_until_up(proc, f"{base}/healthz", time.monotonic() + READY_WAIT_SECONDS):
            print(banner(base, settings), flush=True)  # noqa: T201 - command output
        elif proc.poll() is None:
            print(f"nelm-cds serve: no answer from {base}/healthz yet; gunicorn still starting", flush=True)  # noqa: T201
        return proc.wait()
    except KeyboardInterrupt:
        # Ctrl-C reached gunicorn too (same process group); let it finish its graceful stop.
        return proc.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
