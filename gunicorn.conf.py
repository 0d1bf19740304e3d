"""gunicorn settings for NELM Pathways (used by ``nelm-cds serve``, ``make run`` and the Docker image).

Override with gunicorn's own means: ``WEB_CONCURRENCY`` (workers), ``GUNICORN_THREADS``,
``GUNICORN_CMD_ARGS="--bind 0.0.0.0:8080"``, ``FORWARDED_ALLOW_IPS`` (trusted proxies).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

# Prometheus multiprocess mode: every worker writes samples to this folder and /metrics sums them.
# It must be set before prometheus_client is first imported, i.e. before the app is loaded.
_prom_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="nelm-prometheus-")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _prom_dir
Path(_prom_dir).mkdir(parents=True, exist_ok=True)


def _default_workers() -> int:
    # gunicorn's rule of thumb (2 x cores + 1), capped: each worker holds the terminology and rules.
    return min(2 * multiprocessing.cpu_count() + 1, 8)


bind = os.environ.get("NELM_BIND", "127.0.0.1:8080")
workers = int(os.environ.get("WEB_CONCURRENCY") or _default_workers())
# Threads let a worker keep answering while another request waits on an EHR's FHIR server.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Load the app once in the master: a broken mapping stops the start with one clear error instead
# of crash-looping workers, and development keys (demo signer, session key) are shared by workers.
preload_app = True
timeout = 30
graceful_timeout = 20
keepalive = 5
max_requests = 5000
max_requests_jitter = 500
# Access log without the query string: SMART callbacks carry codes there, demo links patient ids.
accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
# gunicorn's own lines as JSON too (same formatter as the app: one log format for the pipeline).
logconfig_dict: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "cds_hooks.logging_setup.JsonFormatter"}},
    "handlers": {
        "access": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"},
        "error": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"},
    },
    "root": {"level": "INFO", "handlers": []},  # the app installs its own JSON handler (cds_hooks.wsgi)
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["error"], "propagate": False, "qualname": "gunicorn.error"},
        "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False,
                            "qualname": "gunicorn.access"},
    },
}
# No runtime control socket: containers run read-only homes, and workers are managed by the orchestrator.
control_socket_disable = True


def on_starting(server: Any) -> None:
    """Start with an empty metrics folder so that counters from a previous run do not linger."""
    for stale in Path(_prom_dir).glob("*.db"):
        stale.unlink()


def post_fork(server: Any, worker: Any) -> None:
    """Give each worker its own database connections (the app was loaded before the fork)."""
    wsgi = sys.modules.get("cds_hooks.wsgi")
    store = wsgi.app.extensions.get("nelm_store") if wsgi is not None else None
    engine = getattr(store, "engine", None)
    if engine is not None:
        engine.dispose(close=False)


def child_exit(server: Any, worker: Any) -> None:
    """Tell prometheus_client a worker is gone (its live gauges are dropped, counters kept)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
