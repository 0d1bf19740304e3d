"""The FHIR fallback: a hook with no prefetch but ``fhirServer`` makes the service read the record
from a real FHIR server (SEKMET on loopback). Its latency is set beside the slowest single query
of the same templates issued alone: close to it means the queries ran in parallel, near their
sum means they ran one after another."""

from __future__ import annotations

import concurrent.futures as cf
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from bench.hookbody import expand
from bench.stats import Summary

__all__ = ["FallbackResult", "measure_fallback_hook", "time_parallel_queries", "time_single_queries"]


@dataclass
class FallbackResult:
    """Whole-hook latency beside each query alone (seconds), and how many pages each query took."""

    hook: Summary
    queries: dict[str, Summary]
    pages: dict[str, int]
    resources: dict[str, int]

    @property
    def slowest_key(self) -> str:
        """Return the prefetch key whose query alone took longest (median)."""
        return max(self.queries, key=lambda k: self.queries[k].median)

    @property
    def slowest(self) -> Summary:
        """Return the slowest single query's summary."""
        return self.queries[self.slowest_key]

    @property
    def sequential_seconds(self) -> float:
        """Return the sum of the query medians: what running them one by one would cost."""
        return sum(s.median for s in self.queries.values())


def _read_all(session: requests.Session, url: str, token: str) -> tuple[int, int]:
    """GET ``url`` and every ``next`` page; return (pages, resources)."""
    pages = resources = 0
    next_url: str | None = url
    headers = {"Accept": "application/fhir+json", "Authorization": f"Bearer {token}"}
    while next_url:
        r = session.get(next_url, headers=headers, timeout=10)
        r.raise_for_status()
        body = r.json()
        pages += 1
        if body.get("resourceType") != "Bundle":
            return pages, 1
        resources += len(body.get("entry", []))
        next_url = next((link["url"] for link in body.get("link", []) if link.get("relation") == "next"), None)
    return pages, resources


def time_single_queries(base: str, templates: Mapping[str, str], context: Mapping[str, str], *,
                        runs: int, token: str = "bench-opaque-token") -> tuple[dict[str, Summary], dict[str, int],
                                                                               dict[str, int]]:
    """Return per-key latency of each template's full read (all pages) issued alone, pages and sizes."""
    session = requests.Session()
    times: dict[str, list[float]] = {k: [] for k in templates}
    pages: dict[str, int] = {}
    sizes: dict[str, int] = {}
    urls = {k: f"{base.rstrip('/')}/{expand(t, context)}" for k, t in templates.items()}
    for key, url in urls.items():  # warm-up: SEKMET's first query of a type is slower
        pages[key], sizes[key] = _read_all(session, url, token)
    for _ in range(runs):
        for key, url in urls.items():
            start = time.perf_counter()
            _read_all(session, url, token)
            times[key].append(time.perf_counter() - start)
    return {k: Summary.of(v) for k, v in times.items()}, pages, sizes


def time_parallel_queries(base: str, templates: Mapping[str, str], context: Mapping[str, str], *,
                          runs: int, token: str = "bench-opaque-token") -> Summary:
    """Return the latency of all templates read at once (one thread each): what the server allows."""
    urls = [f"{base.rstrip('/')}/{expand(t, context)}" for t in templates.values()]
    sessions = [requests.Session() for _ in urls]
    samples = []
    with cf.ThreadPoolExecutor(max_workers=len(urls)) as pool:
        for i in range(runs + 1):
            start = time.perf_counter()
            list(pool.map(lambda su: _read_all(su[0], su[1], token), zip(sessions, urls, strict=True)))
            if i:
                samples.append(time.perf_counter() - start)
    return Summary.of(samples)


def measure_fallback_hook(url: str, body: dict[str, Any], *, runs: int, workdir: Path) -> Summary:
    """Return the latency of ``runs`` sequential hook calls; raises RuntimeError on a non-200 answer."""
    session = requests.Session()
    raw = json.dumps(body).encode("utf-8")
    samples = []
    for i in range(runs + 1):
        start = time.perf_counter()
        r = session.post(url, data=raw, headers={"Content-Type": "application/json"}, timeout=30)
        elapsed = time.perf_counter() - start
        if r.status_code != 200:
            (workdir / "fallback-error.json").write_text(r.text)
            raise RuntimeError(f"fallback hook answered {r.status_code}: {r.text[:300]}")
        if i:  # the first call warms the worker's connection pool
            samples.append(elapsed)
    return Summary.of(samples)
