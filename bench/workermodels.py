"""Compare gunicorn worker models for the product: ``python -m bench.workermodels``.

Each configuration (worker class, workers, threads) serves ``cds_hooks.wsgi:app`` with the
product's ``gunicorn.conf.py``, overridden through ``GUNICORN_CMD_ARGS``; wrk posts a patient-view
and an order-sign with a 200-resource prefetch from 8 connections, once saturating (no pause) and
once paced (each connection pauses ``--delay-ms`` on average, exponential). Configurations are
interleaved over ``--rounds`` rounds (each round starting one further along), so that drifts in
machine load spread over all of them; the table gives the median over rounds and hooks.
Bounded: every run lasts ``--duration`` seconds, every server is stopped by its PID.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.hookbody import hook_request
from bench.http_parts import PATIENT, SERVICES, product_env, product_templates, record_with_prefetch
from bench.load import WrkResult, run_wrk
from bench.servers import run_gunicorn

__all__ = ["WorkerModel", "main", "parse_models"]

DEFAULT_MODELS = "sync:2:1,sync:3:1,gthread:2:1,gthread:2:2,gthread:2:4,gthread:5:4"


@dataclass(frozen=True, slots=True)
class WorkerModel:
    """One gunicorn configuration: worker class, worker processes, threads per worker."""

    worker_class: str
    workers: int
    threads: int

    @property
    def label(self) -> str:
        """Return e.g. ``gthread 2 × 4``."""
        return f"{self.worker_class} {self.workers} × {self.threads}"

    @property
    def cmd_args(self) -> str:
        """Return the ``GUNICORN_CMD_ARGS`` that select this model."""
        return f"--worker-class {self.worker_class} --threads {self.threads}"


def parse_models(text: str) -> list[WorkerModel]:
    """Return the models of ``class:workers:threads,...``; raises ValueError on a malformed or unsafe entry."""
    models = []
    for item in (x.strip() for x in text.split(",") if x.strip()):
        parts = item.split(":")
        if len(parts) != 3 or parts[0] not in {"sync", "gthread"}:
            raise ValueError(f"{item!r}: expected sync:W:1 or gthread:W:T")
        workers, threads = int(parts[1]), int(parts[2])
        if not 1 <= workers <= 16 or not 1 <= threads <= 16 or (parts[0] == "sync" and threads != 1):
            raise ValueError(f"{item!r}: 1-16 workers and threads, and sync takes 1 thread")
        models.append(WorkerModel(parts[0], workers, threads))
    if not models:
        raise ValueError("no worker model given")
    return models


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Return the command-line options."""
    p = argparse.ArgumentParser(prog="python -m bench.workermodels", description=__doc__.splitlines()[0])
    p.add_argument("--models", default=DEFAULT_MODELS, help=f"class:workers:threads,... (default {DEFAULT_MODELS})")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    p.add_argument("--duration", type=float, default=4.0, help="seconds per wrk run (default 4)")
    p.add_argument("--connections", type=int, default=8, help="concurrent wrk connections (default 8)")
    p.add_argument("--delay-ms", type=float, default=150.0, help="mean pause of paced clients (default 150)")
    p.add_argument("--prefetch-resources", type=int, default=200, help="resources in the hook prefetch")
    args = p.parse_args(argv)
    try:
        args.models = parse_models(args.models)
    except ValueError as exc:
        p.error(str(exc))
    if not 1 <= args.rounds <= 10 or not 0 < args.duration <= 30:
        p.error("--rounds 1..10 and --duration up to 30 s")
    return args


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.0f}" if values else "—"


def main(argv: list[str] | None = None) -> int:
    """Run every model in interleaved rounds; print a Markdown table of medians; return the status."""
    args = parse_args(argv)
    results: dict[WorkerModel, list[tuple[WrkResult, WrkResult]]] = {m: [] for m in args.models}
    with tempfile.TemporaryDirectory(prefix="nelm-workers-") as tmp:
        workdir = Path(tmp)
        templates, _ = product_templates(workdir)
        bodies: dict[str, Path] = {}
        for hook, sid in SERVICES:
            _, prefetch = record_with_prefetch(args.prefetch_resources, templates[sid])
            bodies[sid] = workdir / f"{sid}.json"
            bodies[sid].write_bytes(json.dumps(hook_request(hook, PATIENT, prefetch=prefetch)).encode("utf-8"))
        for r in range(args.rounds):
            order = args.models[r % len(args.models):] + args.models[:r % len(args.models)]
            for model in order:
                env = dict(product_env(workdir), GUNICORN_CMD_ARGS=model.cmd_args)
                with run_gunicorn(model.label.replace(" × ", "x").replace(" ", "-"), "cds_hooks.wsgi:app",
                                  workers=model.workers, env=env, probe_path="/cds-services/nelm-pathway",
                                  probe_body=bodies["nelm-pathway"].read_bytes(), workdir=workdir) as server:
                    for sid, body in bodies.items():
                        url = f"{server.url}/cds-services/{sid}"
                        saturated = run_wrk(url, body, seconds=args.duration, connections=args.connections,
                                            workdir=workdir)
                        paced = run_wrk(url, body, seconds=args.duration, connections=args.connections,
                                        workdir=workdir, delay_ms=args.delay_ms)
                        results[model].append((saturated, paced))
                        progress = {"model": model.label, "service": sid, "rps": round(saturated.rps, 1),
                                    "p99_ms": round(saturated.p99_ms, 1), "paced_p99_ms": round(paced.p99_ms, 1)}
                        print(json.dumps(progress), file=sys.stderr, flush=True)
    print("| workers × threads | n | req/s | p50 ms | p99 ms | paced p50 ms | paced p99 ms |\n"
          "|---|---:|---:|---:|---:|---:|---:|")
    unclean = 0
    for model, runs in results.items():
        unclean += sum(1 for s, p in runs if not (s.clean and p.clean))
        print(f"| {model.label} | {len(runs)} | {_median([s.rps for s, _ in runs])} | "
              f"{_median([s.p50_ms for s, _ in runs])} | {_median([s.p99_ms for s, _ in runs])} | "
              f"{_median([p.p50_ms for _, p in runs])} | {_median([p.p99_ms for _, p in runs])} |")
    print(f"\n{args.connections} wrk connections, {args.duration:g} s per run, paced clients pause "
          f"{args.delay_ms:g} ms on average; n = rounds × hooks (patient-view, order-sign)")
    if unclean:
        print(f"{unclean} run(s) had socket errors or non-2xx answers")
    return 1 if unclean else 0


if __name__ == "__main__":
    sys.exit(main())
