"""In-process cost of one evaluation, split by stage: parse (bytes → dict with the product's strict
parser), map (``nelm_fhir.ingest.ingest``: FHIR R4 → NelmProfile), evaluate (the pathway engine),
render (``Evaluation.to_json()``, outside the total). Also a cProfile of map + evaluate to say what dominates."""

from __future__ import annotations

import cProfile
import datetime as dt
import importlib
import io
import json
import pstats
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.records import make_record
from bench.stats import Summary, time_runs
from cds_hooks.jsonbody import parse_json_object

__all__ = ["AS_OF", "Engine", "StageTimes", "load_engine", "measure_record", "profile_record"]

AS_OF = dt.date(2026, 11, 26)


@dataclass
class Engine:
    """The product's ingest and evaluate, bound to the default terminology and rules."""

    ingest: Callable[[dict[str, Any]], Any]
    evaluate: Callable[[Any], Any]


def load_engine() -> Engine:
    """Return the product's pipeline; raises ImportError/AttributeError naming what is not built yet."""
    ingest_mod = importlib.import_module("nelm_fhir.ingest")
    terminology_mod = importlib.import_module("nelm_fhir.terminology")
    pathways = importlib.import_module("nelm_fhir.pathways")
    terminology = terminology_mod.default_terminology()
    config = pathways.load_config()

    def ingest(data: dict[str, Any]) -> Any:
        return ingest_mod.ingest(data, as_of=AS_OF, terminology=terminology)

    def evaluate(profile: Any) -> Any:
        return pathways.evaluate(profile, now=AS_OF, config=config)

    return Engine(ingest=ingest, evaluate=evaluate)


@dataclass
class StageTimes:
    """Per-stage seconds (each a Summary over runs) for one record, and what the engine made of it."""

    label: str
    resources: int
    body_bytes: int
    parse: Summary
    parse_plain: Summary  # json.loads without the strict checks, for comparison
    map: Summary | None = None
    evaluate: Summary | None = None
    render: Summary | None = None
    total: Summary | None = None
    facts: dict[str, int] = field(default_factory=dict)


def _inner_for(fn: Callable[[], object], budget: float = 0.04) -> int:
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-6)
    return max(1, min(200, int(budget / once)))


def _facts(profile: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in ("labs", "ki67", "disease_status", "lesions", "drugs", "procedures", "problems"):
        value = getattr(profile, name, None)
        if isinstance(value, tuple):
            counts[name] = len(value)
    return counts


def measure_record(label: str, record: dict[str, Any], engine: Engine | None, *, runs: int) -> StageTimes:
    """Return the stage times of ``record``; only parse is measured when ``engine`` is None."""
    raw = json.dumps(record).encode("utf-8")

    def parse() -> object:
        return parse_json_object(raw)

    def plain() -> object:
        return json.loads(raw)

    result = StageTimes(label=label, resources=len(record.get("entry", [])), body_bytes=len(raw),
                        parse=time_runs(parse, runs=runs, inner=_inner_for(parse)),
                        parse_plain=time_runs(plain, runs=runs, inner=_inner_for(plain)))
    if engine is None:
        return result
    data = parse_json_object(raw)
    profile = engine.ingest(data)
    evaluation = engine.evaluate(profile)
    result.facts = _facts(profile)

    def map_() -> object:
        return engine.ingest(data)

    def evaluate() -> object:
        return engine.evaluate(profile)

    def render() -> object:
        return evaluation.to_json()

    def total() -> object:
        return engine.evaluate(engine.ingest(parse_json_object(raw)))

    result.map = time_runs(map_, runs=runs, inner=_inner_for(map_))
    result.evaluate = time_runs(evaluate, runs=runs, inner=_inner_for(evaluate))
    result.render = time_runs(render, runs=runs, inner=_inner_for(render))
    result.total = time_runs(total, runs=runs, inner=_inner_for(total))
    return result


def profile_record(engine: Engine, size: int = 1000, *, repeat: int = 20, top: int = 15) -> list[list[str]]:
    """Return the top functions by own time for parse + map + evaluate of a ``size`` record."""
    raw = json.dumps(make_record(size)).encode("utf-8")
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(repeat):
        engine.evaluate(engine.ingest(parse_json_object(raw)))
    profiler.disable()
    stats = pstats.Stats(profiler, stream=io.StringIO())
    total = sum(v[2] for v in stats.stats.values()) or 1e-9  # type: ignore[attr-defined]
    rows = []
    ranked = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)  # type: ignore[attr-defined]
    for (filename, line, name), (_cc, calls, tottime, cumtime, _callers) in ranked[:top]:
        where = filename.split("/site-packages/")[-1].split("/work/main/")[-1]
        rows.append([f"{name} ({where}:{line})", str(calls // repeat), f"{tottime / repeat * 1000:.2f}",
                     f"{cumtime / repeat * 1000:.2f}", f"{tottime / total * 100:.0f} %"])
    return rows
