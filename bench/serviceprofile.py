"""Where one hook call spends its time inside the service: the product app in-process (Flask test
client, no network), one 200-resource patient-view repeated under cProfile, own time grouped by
the layer that spent it (strict JSON parse, ingest, terminology, engine, cards, store, Flask...).
Time in builtins (``dict.get``, ``isinstance``...) is charged to the layer that called them."""

from __future__ import annotations

import cProfile
import pstats
import time
from pathlib import Path
from typing import Any

from bench.stats import Summary

__all__ = ["LAYERS", "layer_of", "profile_service"]

# First match wins: (substring of the file path, layer name).
LAYERS: tuple[tuple[str, str], ...] = (
    ("cds_hooks/jsonbody.py", "strict JSON parse (cds_hooks.jsonbody)"),
    ("/json/", "stdlib json (decode / encode)"),
    ("nelm_fhir/ingest/", "ingest: FHIR → profile"),
    ("fhir_core/", "ingest: fhir.resources / pydantic validation"),
    ("fhir/resources/", "ingest: fhir.resources / pydantic validation"),
    ("pydantic", "ingest: fhir.resources / pydantic validation"),
    ("nelm_fhir/terminology/", "terminology lookups"),
    ("nelm_fhir/pathways/", "pathway engine"),
    ("nelm_fhir/model/", "pathway engine"),
    ("cds_hooks/cards", "cards (rendering)"),
    ("cds_hooks/validate", "cards (response validation)"),
    ("cds_hooks/store", "store (audit / SQL)"),
    ("sqlalchemy/", "store (audit / SQL)"),
    ("sqlite3", "store (audit / SQL)"),
    ("cds_hooks/", "service: wire, prefetch, observers, other"),
    ("flask/", "Flask / Werkzeug"),
    ("werkzeug/", "Flask / Werkzeug"),
    ("logging/", "logging"),
)


def layer_of(filename: str) -> str:
    """Return the layer a function's file belongs to ("other" when none matches)."""
    for needle, layer in LAYERS:
        if needle in filename:
            return layer
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins (dict, isinstance, ...)"
    return "other"


def profile_service(body: bytes, path: str, workdir: Path, *, calls: int = 30, runs: int = 5) -> tuple[
        Summary, list[tuple[str, float, float]]]:
    """Return per-call latency in-process (no profiler) and (layer, ms per call, share) under cProfile."""
    from cds_hooks.app import create_app
    from cds_hooks.config import Settings

    settings = Settings(auth_disabled=True, database_url=f"sqlite:///{workdir / 'profile.sqlite3'}")
    client = create_app(settings).test_client()

    def call() -> Any:
        response = client.post(path, data=body, content_type="application/json")
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code}: {response.get_data(as_text=True)[:300]}")
        return response

    for _ in range(3):
        call()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(max(1, calls // runs)):
            call()
        samples.append((time.perf_counter() - start) / max(1, calls // runs))
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        call()
    profiler.disable()
    stats = pstats.Stats(profiler)
    by_layer: dict[str, float] = {}
    for (filename, _line, _name), row in stats.stats.items():  # type: ignore[attr-defined]
        layer, callers = layer_of(filename), row[4]
        if layer.startswith("builtins") and callers:
            # A builtin's time belongs to the code that called it (dict.get in ingest is ingest's cost).
            for (caller_file, _l, _n), caller_row in callers.items():
                by_layer[layer_of(caller_file)] = by_layer.get(layer_of(caller_file), 0.0) + caller_row[2]
        else:
            by_layer[layer] = by_layer.get(layer, 0.0) + row[2]
    total = sum(by_layer.values()) or 1e-9
    rows = sorted(((k, v / calls * 1000, v / total) for k, v in by_layer.items()), key=lambda r: -r[1])
    return Summary.of(samples), rows
