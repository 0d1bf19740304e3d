"""``make bench`` / ``python -m bench.run``: every figure of issue 8 measured side by side in one run.

Parts (``--parts`` picks some): ``inprocess`` (ingest + evaluate by stage, 50/200/1,000 resources),
``service`` (one hook call inside the product app, cost by layer under cProfile), ``http``
(gunicorn 2 and 4 workers, patient-view and order-sign, wrk -t2 -c8, against the baseline
app under the same settings; start-up time and RSS per worker), ``fallback`` (no prefetch, real
SEKMET FHIR server), ``text`` (the text reader of issue 15: precision/recall on the annotated
corpus and time per report). Prints the tables and the targets; ``--markdown`` writes them for
docs/performance.md, ``--json`` the raw figures. Bounded: about 4 minutes with the defaults.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.inprocess import load_engine, measure_record, profile_record
from bench.records import make_record
from bench.report import Report, Table, Target

__all__ = ["main", "parse_args"]

PARTS = ("inprocess", "service", "http", "fallback", "text")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Return the command-line options of the benchmark."""
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    p.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {', '.join(PARTS)}")
    p.add_argument("--runs", type=int, default=7, help="in-process runs per figure (default 7)")
    p.add_argument("--http-runs", type=int, default=3, help="wrk runs per server and hook (default 3)")
    p.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run (default 5)")
    p.add_argument("--connections", type=int, default=8, help="concurrent wrk connections (default 8)")
    p.add_argument("--workers", default="2,4", help="gunicorn worker counts (default 2,4)")
    p.add_argument("--prefetch-resources", type=int, default=200, help="resources in the hook prefetch")
    p.add_argument("--fallback-runs", type=int, default=15, help="sequential calls for the fallback part")
    p.add_argument("--product-app", default="cds_hooks.wsgi:app",
                   help="WSGI app measured as 'ours' (change only to smoke-test the harness itself)")
    p.add_argument("--quick", action="store_true", help="fewer, shorter runs (a smoke test, not figures)")
    p.add_argument("--no-profile", action="store_true", help="skip the cProfile of ingest + evaluate")
    p.add_argument("--markdown", type=Path, help="also write the report as Markdown to this file")
    p.add_argument("--json", type=Path, help="also write the raw figures as JSON to this file")
    args = p.parse_args(argv)
    args.parts = [x.strip() for x in args.parts.split(",") if x.strip()]
    unknown = set(args.parts) - set(PARTS)
    if unknown:
        p.error(f"unknown part(s): {', '.join(sorted(unknown))}")
    args.workers = [int(w) for w in args.workers.split(",")]
    if args.quick:
        args.runs, args.http_runs, args.duration, args.fallback_runs = 3, 1, 2.0, 5
    return args


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             check=False, cwd=Path(__file__).resolve().parent.parent)
    except OSError:
        return "unknown"
    dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, timeout=10,
                           check=False, cwd=Path(__file__).resolve().parent.parent).stdout.strip()
    return out.stdout.strip() + (" + uncommitted changes" if dirty else "")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_header(argv: list[str]) -> list[str]:
    """Return the lines that say where, when and how the figures were produced."""
    load = os.getloadavg()
    return [
        f"command: python -m bench.run {' '.join(argv)}".rstrip(),
        f"date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}; commit {_git_commit()}",
        f"machine: {_cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}",
        f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (other work on the machine adds noise)",
        "figures: median [interquartile range] over the runs; times in ms",
    ]


def run_inprocess(args: argparse.Namespace, report: Report, raw: dict[str, Any]) -> None:
    """Measure ingest + evaluate by stage and add the table (and the profile) to ``report``."""
    try:
        engine = load_engine()
        why = ""
    except (ImportError, AttributeError) as exc:
        engine, why = None, f"{type(exc).__name__}: {exc}"
    table = Table("In-process: parse, map (ingest), evaluate, render per record",
                  ["record", "KiB", "parse", "(json.loads)", "map", "evaluate", "render", "total", "facts"])
    cases = [(f"{n:,} realistic", make_record(n)) for n in (50, 200, 1000)]
    cases.append(("1,000 mostly irrelevant", make_record(1000, mix="irrelevant")))
    raw["inprocess"] = []
    for label, record in cases:
        st = measure_record(label, record, engine, runs=args.runs)

        def ms(s: Any) -> str:
            return "—" if s is None else s.scaled(1000).format(2)

        facts = ", ".join(f"{k} {v}" for k, v in st.facts.items() if v) or "—"
        table.add(label, f"{st.body_bytes / 1024:.0f}", ms(st.parse), ms(st.parse_plain), ms(st.map),
                  ms(st.evaluate), ms(st.render), ms(st.total), facts)
        raw["inprocess"].append({"label": label, "resources": st.resources, "bytes": st.body_bytes,
                                 **{k: getattr(st, k).median if getattr(st, k) else None
                                    for k in ("parse", "parse_plain", "map", "evaluate", "render", "total")},
                                 "map_best": st.map.low if st.map else None})
        total = st.total.median * 1000 if st.total else None
        best = st.total.low * 1000 if st.total else None
        if label == "200 realistic":
            report.targets.append(Target("ingest + evaluate, 200 resources", 10, "ms", total, why_missing=why,
                                         best=best))
        if label == "1,000 realistic":
            report.targets.append(Target("ingest + evaluate, 1,000 resources", 25, "ms", total, why_missing=why,
                                         best=best))
    table.notes.append("parse = the product's strict parser (cds_hooks.jsonbody); (json.loads) = plain stdlib, "
                       "for comparison; total = bytes → Evaluation (parse + map + evaluate in one call; "
                       "render not included)")
    by_label = {row["label"]: row for row in raw["inprocess"]}
    irrelevant, small, large = (by_label[k] for k in ("1,000 mostly irrelevant", "50 realistic", "1,000 realistic"))
    if irrelevant["map_best"] and small["map_best"] and large["map_best"]:
        table.notes.append(f"irrelevant data (best runs): map of 1,000 mostly irrelevant resources "
                           f"{irrelevant['map_best'] * 1000:.1f} ms, of 50 realistic "
                           f"{small['map_best'] * 1000:.1f} ms, of 1,000 realistic "
                           f"{large['map_best'] * 1000:.1f} ms; parse grows with bytes whatever they hold")
    if engine is None:
        table.notes.append(f"map/evaluate not measured: the engine is not importable yet ({why})")
    report.tables.append(table)
    if engine is not None and not args.no_profile:
        prof = Table("cProfile of parse + map + evaluate, 1,000 realistic resources (per evaluation)",
                     ["function", "calls", "own ms", "cum ms", "share of own time"])
        for row in profile_record(engine, 1000, repeat=5 if args.quick else 20):
            prof.add(*row)
        prof.notes.append("profiling overhead inflates absolute times; read the shares")
        report.tables.append(prof)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark parts asked for, print the report; return the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    report = Report(header=machine_header(argv))
    raw: dict[str, Any] = {"header": report.header}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="nelm-bench-") as tmp:
        workdir = Path(tmp)
        if "inprocess" in args.parts:
            run_inprocess(args, report, raw)
        if {"service", "http", "fallback"} & set(args.parts):
            from bench.http_parts import run_fallback, run_http, run_service_profile

            if "service" in args.parts:
                run_service_profile(args, report, raw, workdir)
            if "http" in args.parts:
                run_http(args, report, raw, workdir)
            if "fallback" in args.parts:
                run_fallback(args, report, raw, workdir)
        if "text" in args.parts:
            from bench.text_extraction import add_to_report

            add_to_report(report, raw)
    report.header.append(f"wall-clock of this run: {time.monotonic() - started:.0f} s")
    print(report.to_text())
    if args.markdown:
        args.markdown.write_text(report.to_markdown())
    if args.json:
        raw["targets"] = [{"name": t.name, "limit": t.limit, "measured": t.measured, "verdict": t.verdict()}
                          for t in report.targets]
        args.json.write_text(json.dumps(raw, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
