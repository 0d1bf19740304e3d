"""Operations endpoints: ``/healthz`` (alive), ``/readyz`` (ready to serve) and ``/metrics`` (Prometheus).

Metrics live in a per-app ``CollectorRegistry`` so that tests can build many apps in one process.
Under gunicorn (``PROMETHEUS_MULTIPROC_DIR`` set before ``prometheus_client`` is imported, which
``gunicorn.conf.py`` does) every worker writes its samples to that folder and ``/metrics``
aggregates all workers, so one scrape of any replica's port sees the whole replica.

Hook metrics are fed by the service's observer API (``cds_hooks.observe``): one ``HookOutcome``
per hook call, 4xx and 412 answers included. No label ever holds a patient id or a token.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import metadata

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from cds_hooks.config import Settings
from cds_hooks.observe import HookOutcome, add_observer

__all__ = ["HOOK_LATENCY_BUCKETS", "Metrics", "init_app", "metrics_of", "readiness"]

# Spans the CDS Hooks "about 500 ms" target and the 5-10 s limits clients such as Da Vinci CRD apply.
HOOK_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

bp = Blueprint("ops", __name__)


@dataclass(frozen=True, slots=True)
class Metrics:
    """The app's Prometheus metrics and the registry that holds them."""

    registry: CollectorRegistry
    hook_requests: Counter
    hook_seconds: Histogram
    cards: Counter
    modality_status: Counter
    fhir_queries: Counter
    fhir_failures: Counter
    http_requests: Counter

    @classmethod
    def create(cls) -> Metrics:
        """Return a fresh set of metrics registered in their own registry."""
        reg = CollectorRegistry(auto_describe=True)
        return cls(
            registry=reg,
            hook_requests=Counter(
                "nelm_hook_requests", "CDS Hooks service calls by service, hook and HTTP status code.",
                ["service", "hook", "code"], registry=reg,
            ),
            hook_seconds=Histogram(
                "nelm_hook_duration_seconds", "Time to answer a CDS Hooks service call, per service.",
                ["service", "hook"], buckets=HOOK_LATENCY_BUCKETS, registry=reg,
            ),
            cards=Counter(
                "nelm_cards", "Cards returned, by service and indicator (info, warning, critical).",
                ["service", "indicator"], registry=reg,
            ),
            modality_status=Counter(
                "nelm_modality_status", "Pathway statuses given, by modality and status.",
                ["modality", "status"], registry=reg,
            ),
            fhir_queries=Counter(
                "nelm_fhir_fallback_queries", "FHIR queries made because the client did not prefetch the data.",
                ["service"], registry=reg,
            ),
            fhir_failures=Counter(
                "nelm_fhir_fallback_failures", "FHIR fallback queries that failed (timeout, error status, bad body).",
                ["service"], registry=reg,
            ),
            http_requests=Counter(
                "nelm_http_requests", "HTTP requests by route template, method and status code.",
                ["route", "method", "code"], registry=reg,
            ),
        )

    def observe_hook(self, outcome: HookOutcome) -> None:
        """Record one hook call reported by the service."""
        service = outcome.service_id
        hook = outcome.hook
        self.hook_requests.labels(service, hook, str(outcome.status_code)).inc()
        self.hook_seconds.labels(service, hook).observe(max(0.0, outcome.seconds))
        for indicator, count in outcome.cards_by_indicator.items():
            if count:
                self.cards.labels(service, indicator).inc(count)
        for modality, status in outcome.statuses.items():
            self.modality_status.labels(modality, status).inc()
        if outcome.fhir_queries:
            self.fhir_queries.labels(service).inc(outcome.fhir_queries)
        if outcome.fhir_failures:
            self.fhir_failures.labels(service).inc(outcome.fhir_failures)


def metrics_of(app: Flask) -> Metrics:
    """Return the app's metrics; raises KeyError when ``ops.init_app`` was not called."""
    metrics = app.extensions["nelm_metrics"]
    if not isinstance(metrics, Metrics):
        raise TypeError("app.extensions['nelm_metrics'] is not a Metrics object")
    return metrics


def _version() -> str:
    try:
        return metadata.version("nelm-pathways")
    except metadata.PackageNotFoundError:
        return "unknown"


def readiness(app: Flask) -> tuple[bool, dict[str, str]]:
    """Return (ready, check → "ok" or the reason it failed) for the database, terminology and rules."""
    checks: dict[str, str] = {}
    store = app.extensions.get("nelm_store")
    if store is None:
        checks["database"] = "store not configured"
    else:
        try:
            if not store.ping():
                checks["database"] = "database did not answer"
            elif store.revision() is None:
                checks["database"] = "database has no schema: run nelm-cds db upgrade"
            else:
                # A newer revision than this code knows is fine: that is a rolling upgrade in progress.
                checks["database"] = "ok"
        except (SQLAlchemyError, OSError) as exc:
            checks["database"] = f"database unreachable ({type(exc).__name__})"
    checks["terminology"] = "ok" if app.extensions.get("nelm_terminology") is not None else "mappings not loaded"
    checks["pathwayConfig"] = (
        "ok" if app.extensions.get("nelm_pathway_config") is not None else "pathway configuration not loaded"
    )
    return all(v == "ok" for v in checks.values()), checks


@bp.get("/healthz")
def healthz() -> Response:
    """Answer 200 while the process can serve HTTP (liveness)."""
    return jsonify(status="ok", version=_version())


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Answer 200 when the store answers and mappings and rules are loaded, else 503 with reasons."""
    ready, checks = readiness(current_app)
    body = jsonify(status="ready" if ready else "not-ready", checks=checks, version=_version())
    return body, (200 if ready else 503)


@bp.get("/metrics")
def metrics() -> Response:
    """Return the Prometheus text exposition (all gunicorn workers in multiprocess mode)."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = metrics_of(current_app).registry
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


@bp.after_request
def _no_store(response: Response) -> Response:
    # Probes and scrapes must see the live state, never a cached answer from a proxy.
    response.headers["Cache-Control"] = "no-store"
    return response


def _count_request(response: Response) -> Response:
    rule = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
    metrics_of(current_app).http_requests.labels(rule, request.method, str(response.status_code)).inc()
    return response


def init_app(app: Flask, settings: Settings) -> None:
    """Register the operations endpoints and feed the metrics from the service's hook observer."""
    metrics = Metrics.create()
    app.extensions["nelm_metrics"] = metrics
    app.register_blueprint(bp)
    app.after_request(_count_request)
    add_observer(app, metrics.observe_hook)
