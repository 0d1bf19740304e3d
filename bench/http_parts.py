"""The parts of the benchmark that run servers: HTTP load against gunicorn (ours and the baseline,
start-up time, RSS per worker) and the FHIR fallback against a real SEKMET server."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import statistics
from pathlib import Path
from typing import Any

import requests

from bench.fallback import measure_fallback_hook, time_parallel_queries, time_single_queries
from bench.hookbody import (
    DEFAULT_TEMPLATES,
    USER_ID,
    hook_request,
    prefetch_from_record,
    prefetch_size,
    templates_from_discovery,
)
from bench.load import WrkResult, run_wrk
from bench.records import count_by_type, make_record
from bench.report import Report, Table, Target
from bench.servers import BASELINE_APP, run_gunicorn
from bench.stats import Summary

__all__ = ["product_env", "product_templates", "record_with_prefetch", "run_fallback", "run_http",
           "run_service_profile"]

PATIENT = "bench-p1"
SERVICES = (("patient-view", "nelm-pathway"), ("order-sign", "nelm-order-sign"))
PACED_SHARE = 0.5  # paced clients offer this share of the throughput ours sustained at saturation


def product_env(workdir: Path) -> dict[str, str]:
    """Return the NELM_* variables of the benchmarked service (development, auth off, own SQLite)."""
    return {"NELM_ENVIRONMENT": "development", "NELM_AUTH_DISABLED": "1",
            "NELM_DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}"}


def product_templates(workdir: Path) -> tuple[dict[str, dict[str, str]], str]:
    """Return each service's prefetch templates from the product's discovery, and where they came from."""
    try:
        from cds_hooks.app import create_app
        from cds_hooks.config import Settings

        settings = Settings(auth_disabled=True, database_url=f"sqlite:///{workdir / 'discovery.sqlite3'}")
        response = create_app(settings).test_client().get("/cds-services")
        discovery = response.get_json()
        return {sid: templates_from_discovery(discovery, sid) for _, sid in SERVICES}, "the service's discovery"
    except (ImportError, KeyError, TypeError, AttributeError, RuntimeError, ValueError) as exc:
        why = f"{type(exc).__name__}: {exc}"
    try:
        from cds_hooks.prefetch import PREFETCH_TEMPLATES

        note = f"cds_hooks.prefetch.PREFETCH_TEMPLATES (discovery unreadable: {why})"
        return {sid: dict(PREFETCH_TEMPLATES) for _, sid in SERVICES}, note
    except ImportError:
        note = f"the benchmark's built-in defaults (discovery unreadable: {why})"
        return {sid: dict(DEFAULT_TEMPLATES) for _, sid in SERVICES}, note


def record_with_prefetch(target: int, templates: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the smallest realistic record whose prefetch for ``templates`` holds ``target`` resources."""
    context = {"userId": USER_ID, "patientId": PATIENT}
    low, high = 30, target
    while prefetch_size(prefetch_from_record(make_record(high), templates, context)) < target:
        low, high = high, high * 2
        if high > 50 * target:
            raise ValueError(f"the templates never select {target} resources of a synthetic record")
    while low < high:
        mid = (low + high) // 2
        if prefetch_size(prefetch_from_record(make_record(mid), templates, context)) >= target:
            high = mid
        else:
            low = mid + 1
    record = make_record(high)
    return record, prefetch_from_record(record, templates, context)


def _check_answer(url: str, body: bytes) -> str:
    r = requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=30)
    if r.status_code != 200:
        raise RuntimeError(f"{url} answered {r.status_code}: {r.text[:300]}")
    answer = r.json()
    problems: list[str] = []
    with contextlib.suppress(ImportError):
        from cds_hooks.validate import validate_cds_response

        problems = validate_cds_response(answer)
    if problems:
        raise RuntimeError(f"{url} answered an invalid CDS Hooks response: {problems[:3]}")
    count = len(answer.get("cards", []))
    return f"{count} card" if count == 1 else f"{count} cards"


def _fmt(values: list[float], digits: int = 1) -> str:
    return Summary.of(values).format(digits)


def run_http(args: argparse.Namespace, report: Report, raw: dict[str, Any], workdir: Path) -> None:
    """Load ours and the baseline under gunicorn, side by side; add throughput, latency, start-up, RSS."""
    templates, origin = product_templates(workdir)
    bodies: dict[str, Path] = {}
    sizes: dict[str, str] = {}
    for hook, sid in SERVICES:
        record, prefetch = record_with_prefetch(args.prefetch_resources, templates[sid])
        body = json.dumps(hook_request(hook, PATIENT, prefetch=prefetch)).encode("utf-8")
        bodies[sid] = workdir / f"{sid}.json"
        bodies[sid].write_bytes(body)
        sizes[sid] = (f"{hook}: prefetch {prefetch_size(prefetch)} resources "
                      f"({len(body) / 1024:.0f} KiB) from a {len(record['entry'])}-resource chart")
    load = Table(f"HTTP: gunicorn, wrk -t2 -c{args.connections}, {args.duration:g} s per run, "
                 f"{args.http_runs} runs per row", ["workers", "hook", "server", "req/s", "p50 ms", "p99 ms",
                                                    "ours / baseline req/s"])
    start = Table("Start-up and memory", ["server", "workers", "first answer s", "RSS per worker MB (each)",
                                          "PSS per worker MB (each)"])
    env = product_env(workdir)
    ratios: list[float] = []
    p99s: list[float] = []
    paced_p99s: list[float] = []
    firsts: list[float] = []
    rss_all: list[float] = []
    raw["http"] = []
    for workers in args.workers:
        with contextlib.ExitStack() as stack:
            ours = stack.enter_context(run_gunicorn(
                "ours", args.product_app, workers=workers, env=env, probe_path="/cds-services/nelm-pathway",
                probe_body=bodies["nelm-pathway"].read_bytes(), workdir=workdir))
            base = stack.enter_context(run_gunicorn(
                "baseline", BASELINE_APP, workers=workers, env=env, probe_path="/cds-services/baseline",
                probe_body=bodies["nelm-pathway"].read_bytes(), workdir=workdir))
            firsts.append(ours.first_answer_seconds)
            for hook, sid in SERVICES:
                answer = _check_answer(f"{ours.url}/cds-services/{sid}", bodies[sid].read_bytes())
                ours_runs: list[WrkResult] = []
                base_runs: list[WrkResult] = []
                for _ in range(args.http_runs):  # alternate, so that drift in machine load hits both
                    ours_runs.append(run_wrk(f"{ours.url}/cds-services/{sid}", bodies[sid], seconds=args.duration,
                                             connections=args.connections, workdir=workdir))
                    base_runs.append(run_wrk(f"{base.url}/cds-services/baseline", bodies[sid],
                                             seconds=args.duration, connections=args.connections, workdir=workdir))
                # Paced: the same 8 clients, each pausing so that together they offer about half of
                # what ours sustained at saturation: latency when the service is busy, not overrun.
                offered = statistics.median(r.rps for r in ours_runs) * PACED_SHARE
                delay_ms = args.connections / offered * 1000 if offered > 0 else 1000.0
                paced_runs = [run_wrk(f"{ours.url}/cds-services/{sid}", bodies[sid], seconds=args.duration,
                                      connections=args.connections, workdir=workdir, delay_ms=delay_ms)
                              for _ in range(args.http_runs)]
                paced_p99s.append(statistics.median(r.p99_ms for r in paced_runs))
                bad = [r for r in ours_runs + base_runs + paced_runs if not r.clean]
                if bad:
                    load.notes.append(f"{workers} workers {hook}: {len(bad)} run(s) had errors or non-2xx answers")
                run_ratios = [o.rps / b.rps for o, b in zip(ours_runs, base_runs, strict=True) if b.rps]
                ratios.append(statistics.median(run_ratios))
                p99s.append(statistics.median(r.p99_ms for r in ours_runs))
                for name, runs in (("ours", ours_runs), ("baseline", base_runs)):
                    load.add(workers, hook, name if name == "baseline" else f"ours ({answer})",
                             _fmt([r.rps for r in runs], 0), _fmt([r.p50_ms for r in runs]),
                             _fmt([r.p99_ms for r in runs]), _fmt(run_ratios, 2) if name == "ours" else "")
                    raw["http"].append({"workers": workers, "hook": hook, "server": name,
                                        "runs": [dataclasses.asdict(r) for r in runs]})
                load.add(workers, hook, f"ours, paced (clients wait {delay_ms:.0f} ms on average)",
                         _fmt([r.rps for r in paced_runs], 0), _fmt([r.p50_ms for r in paced_runs]),
                         _fmt([r.p99_ms for r in paced_runs]), "")
                raw["http"].append({"workers": workers, "hook": hook, "server": "ours-paced", "delay_ms": delay_ms,
                                    "runs": [dataclasses.asdict(r) for r in paced_runs]})
            for server in (ours, base):
                rss = [kib * 1024 / 1e6 for kib in server.worker_rss_kib()]
                pss = [kib * 1024 / 1e6 for kib in server.worker_pss_kib()]
                if server is ours:
                    rss_all.extend(rss)
                start.add(server.name, workers, f"{server.first_answer_seconds:.2f}",
                          ", ".join(f"{m:.0f}" for m in rss) or "—", ", ".join(f"{m:.0f}" for m in pss) or "—")
    load.notes += [sizes[sid] for _, sid in SERVICES]
    load.notes.append(f"prefetch templates from {origin}; bodies answered from the synthetic record by an "
                      "in-memory search that honours patient/code/category (a conforming EHR)")
    load.notes.append("same gunicorn.conf.py for both (gthread, preload, GC freeze); wrk runs on the same 2 "
                      "cores as the servers; ours and baseline alternate run by run")
    load.notes.append("saturating rows: each client sends its next request as soon as the last is answered, so "
                      "latency is mostly queueing (p50 ≈ clients / throughput); paced rows: the same clients "
                      f"pause at random between requests, sized to offer ≈ {PACED_SHARE:.0%} of ours' saturated "
                      "throughput (the achieved req/s is lower: each client also waits for its answer)")
    start.notes.append("first answer = gunicorn started → first hook POST answered 200 (ours: a 200-resource "
                       "patient-view); RSS = VmRSS of each worker after the load runs (pages shared with the "
                      "preloaded master counted in each); PSS splits shared pages between the processes")
    report.tables += [load, start]
    report.targets += [
        Target("HTTP throughput ours / baseline (worst row)", 0.5, "×", min(ratios, default=None), at_most=False),
        Target(f"p99 at {args.connections} concurrent clients, saturating (worst row)", 50, "ms",
               max(p99s, default=None)),
        Target(f"p99 at {args.connections} concurrent clients, paced to ≈ {PACED_SHARE:.0%} load (worst row)", 50,
               "ms", max(paced_p99s, default=None)),
        Target("RSS per worker after warm-up (largest)", 150, "MB", max(rss_all, default=None)),
        Target("start to first answered request (slowest start)", 2, "s", max(firsts, default=None)),
    ]


def run_fallback(args: argparse.Namespace, report: Report, raw: dict[str, Any], workdir: Path) -> None:
    """Time a hook without prefetch against SEKMET beside each of its queries alone."""
    from tests.support.sekmet import run_sekmet

    templates, origin = product_templates(workdir)
    sid = "nelm-pathway"
    record = make_record(200)
    table = Table("FHIR fallback: patient-view without prefetch, record read from SEKMET",
                  ["measured", "median ms [IQR]", "pages", "resources"])
    with run_sekmet(workdir / "sekmet") as fhir:
        fhir.load_bundle(record)
        context = {"userId": USER_ID, "patientId": PATIENT}
        queries, pages, found = time_single_queries(fhir.base_url, templates[sid], context,
                                                    runs=args.fallback_runs)
        together = time_parallel_queries(fhir.base_url, templates[sid], context, runs=args.fallback_runs)
        body = hook_request("patient-view", PATIENT, fhir_server=fhir.base_url)
        with run_gunicorn("ours-fallback", args.product_app, workers=2, env=product_env(workdir),
                          probe_path=f"/cds-services/{sid}", probe_body=json.dumps(body).encode(),
                          workdir=workdir) as ours:
            hook = measure_fallback_hook(f"{ours.url}/cds-services/{sid}", body, runs=args.fallback_runs,
                                         workdir=workdir)
            # The same data sent as prefetch: the difference is what reading from the FHIR server costs.
            with_prefetch = hook_request("patient-view", PATIENT,
                                         prefetch=prefetch_from_record(record, templates[sid], context))
            local = measure_fallback_hook(f"{ours.url}/cds-services/{sid}", with_prefetch,
                                          runs=args.fallback_runs, workdir=workdir)
    slowest_key = max(queries, key=lambda k: queries[k].median)
    table.add("whole hook (all queries + evaluation + cards)", hook.scaled(1000).format(1), sum(pages.values()),
              sum(found.values()))
    table.add("same hook, same data sent as prefetch (no FHIR reads)", local.scaled(1000).format(1), 0,
              prefetch_size(with_prefetch["prefetch"]))
    table.add(f"all {len(queries)} queries at once from the benchmark (one thread each)",
              together.scaled(1000).format(1), sum(pages.values()), sum(found.values()))
    for key, summary in sorted(queries.items(), key=lambda kv: -kv[1].median):
        mark = "  ← slowest" if key == slowest_key else ""
        table.add(f"query '{key}' alone{mark}", summary.scaled(1000).format(1), pages[key], found[key])
    sequential = sum(s.median for s in queries.values())
    ratio = hook.median / queries[slowest_key].median
    table.notes.append(f"record: {len(record['entry'])} resources in SEKMET {count_by_type(record)}; "
                       f"templates from {origin}")
    table.notes.append(f"sum of the queries one after another: {sequential * 1000:.1f} ms; whole hook / slowest "
                       f"query = {ratio:.2f}; {args.fallback_runs} sequential calls, gunicorn 2 workers")
    fetch = hook.median - local.median
    table.notes.append(f"reading from the FHIR server adds {fetch * 1000:.1f} ms to the hook (without − with "
                       f"prefetch) = {fetch / queries[slowest_key].median:.2f} × the slowest query alone and "
                       f"{fetch / together.median:.2f} × all queries at once from the benchmark; the latter is the "
                       "floor this FHIR server allows (if it ≈ the sum, the server answers one query at a time)")
    report.tables.append(table)
    raw["fallback"] = {"with_prefetch_ms": local.median * 1000, "hook_ms": hook.median * 1000,
                       "together_ms": together.median * 1000,
                       "queries_ms": {k: v.median * 1000 for k, v in queries.items()},
                       "pages": pages, "resources": found}
    report.targets.append(Target("fallback latency / slowest single query", 1.5, "×", ratio))


def run_service_profile(args: argparse.Namespace, report: Report, raw: dict[str, Any], workdir: Path) -> None:
    """Profile one 200-resource patient-view inside the product app and add the cost by layer."""
    from bench.serviceprofile import profile_service

    templates, origin = product_templates(workdir)
    _, prefetch = record_with_prefetch(args.prefetch_resources, templates["nelm-pathway"])
    body = json.dumps(hook_request("patient-view", PATIENT, prefetch=prefetch)).encode("utf-8")
    latency, layers = profile_service(body, "/cds-services/nelm-pathway", workdir,
                                      calls=10 if args.quick else 40, runs=args.runs)
    table = Table(f"Service in-process: one patient-view, prefetch {prefetch_size(prefetch)} resources "
                  f"({len(body) / 1024:.0f} KiB), own time by layer", ["layer", "ms per call (profiled)", "share"])
    for layer, ms, share in layers:
        if share >= 0.005:
            table.add(layer, f"{ms:.2f}", f"{share * 100:.0f} %")
    table.notes.append(f"unprofiled latency per call through the Flask test client (no network): "
                       f"{latency.scaled(1000).format(2)} ms; cProfile inflates the absolute figures, read the "
                       f"shares; auth disabled (no JWT verification); templates from {origin}")
    from bench.authcost import measure_auth_cost

    off, on = measure_auth_cost(body, "/cds-services/nelm-pathway", workdir, calls=10 if args.quick else 40,
                                runs=args.runs)
    table.notes.append(f"with JWT verification (ES384, a fresh jti per call: signature + replay-cache insert): "
                       f"{on.scaled(1000).format(2)} ms against {off.scaled(1000).format(2)} ms without, "
                       f"runs alternated: JWT adds {(on.median - off.median) * 1000:.2f} ms per call")
    report.tables.append(table)
    raw["service"] = {"latency_ms": latency.median * 1000, "layers": {k: v for k, v, _ in layers},
                      "jwt_off_ms": off.median * 1000, "jwt_on_ms": on.median * 1000}
