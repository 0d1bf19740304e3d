"""gunicorn settings for NELM Pathways (used by ``nelm-cds serve``, ``make run`` and the Docker image).

Override with gunicorn's own means: ``WEB_CONCURRENCY`` (workers), ``GUNICORN_THREADS``,
``GUNICORN_CMD_ARGS="--bind 0.0.0.0:8080"``, ``FORWARDED_ALLOW_IPS`` (trusted proxies).
"""

from __future__ import annotations

import gc
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
# Worker model, chosen by measurement (docs/performance.md, "Worker model"): 8 EHR clients posting
# 200-resource hooks to 2 cores, sync vs gthread with 1/2/4 threads and 2–5 workers. A hook is
# CPU-bound (≈ 15 ms) except the FHIR fallback, which waits on the EHR's server. With clients that
# pause between calls, as an EHR's users do, gthread with 4 threads had a p99 of ≈ 130–140 ms against
# ≈ 240 ms with 2 threads and ≈ 280–440 ms with 1 thread or sync workers (medians of 4–12 runs on a
# shared, noisy machine); at saturation the differences were within the noise. A sync worker blocks
# on a connection whose request has not arrived yet (it closes every connection; clients reconnect
# ahead of their next call), while gthread parks idle kept-alive connections in its poller. Threads
# also keep a worker answering while another request waits on a FHIR server. Tail latency matters
# more to an EHR than peak throughput, so: gthread, 4 threads (``python -m bench.workermodels``).
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


# Freeze the preloaded app's objects (terminology, rules, pydantic models: ≈ 130,000) out of the
# garbage collector before forking. Otherwise each worker's full (generation 2) collection walks
# all of them — measured 6–300 ms on this machine, landing on whichever hook call triggered it —
# and writes to their headers, unsharing the pages copy-on-write. ``NELM_GC_FREEZE=0`` turns it
# off (for A/B measurement only).
_gc_freeze = os.environ.get("NELM_GC_FREEZE", "1") != "0"


def when_ready(server: Any) -> None:
    """Collect once, then move every object of the preloaded app to the GC's permanent generation."""
    if _gc_freeze:
        gc.collect()
        gc.freeze()


def pre_fork(server: Any, worker: Any) -> None:
    """Freeze what the master allocated since (a respawned worker inherits a frozen heap too)."""
    if _gc_freeze:
        gc.freeze()


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
