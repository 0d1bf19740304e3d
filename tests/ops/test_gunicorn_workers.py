"""gunicorn.conf.py's worker model and its garbage-collector freeze, as an operator's gunicorn loads them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Loads the settings as gunicorn does, then runs the master's hooks in the order gunicorn calls them
# (when_ready after the preload, pre_fork before each worker) and reports what the workers inherit.
_PROBE = """
import gc, json, runpy
c = runpy.run_path('gunicorn.conf.py')
garbage = [[] for _ in range(1000)]  # objects the preloaded app would hold
before = gc.get_freeze_count()
c['when_ready'](None)
after_ready = gc.get_freeze_count()
late = [[] for _ in range(500)]  # allocated by the master after start (e.g. before a respawn)
c['pre_fork'](None, None)
print(json.dumps({'before': before, 'after_ready': after_ready, 'after_fork': gc.get_freeze_count(),
                  'worker_class': c['worker_class'], 'threads': c['threads'], 'workers': c['workers']}))
"""


def _probe(tmp_path: Path, **env_changes: str) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items()
           if k not in {"WEB_CONCURRENCY", "GUNICORN_THREADS", "NELM_GC_FREEZE", "PROMETHEUS_MULTIPROC_DIR"}}
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "prom")
    env.update(env_changes)
    done = subprocess.run([sys.executable, "-c", _PROBE], env=env, cwd=REPO, capture_output=True, text=True,
                          check=True, timeout=60)
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_master_freezes_the_preloaded_heap_before_forking_workers(tmp_path: Path) -> None:
    out = _probe(tmp_path)
    assert out["before"] == 0
    after_ready, after_fork = out["after_ready"], out["after_fork"]
    assert isinstance(after_ready, int) and isinstance(after_fork, int)
    assert after_ready > 1000  # the preloaded objects are out of the workers' full collections
    assert after_fork >= after_ready + 500  # and so is what the master allocated before a later fork


def test_gc_freeze_can_be_switched_off_for_measurement(tmp_path: Path) -> None:
    out = _probe(tmp_path, NELM_GC_FREEZE="0")
    assert out["after_ready"] == 0 and out["after_fork"] == 0


def test_threads_are_tunable_and_the_worker_class_keeps_connections_alive(tmp_path: Path) -> None:
    out = _probe(tmp_path, GUNICORN_THREADS="3", WEB_CONCURRENCY="2")
    assert out["worker_class"] == "gthread"  # keep-alive with the EHR, and a thread free while one waits on FHIR
    assert out["threads"] == 3 and out["workers"] == 2
