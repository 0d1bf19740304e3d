"""The CDS Hooks 2.0 endpoints: discovery, the three services (dispatched by id) and feedback.

``GET /cds-services`` lists ``nelm-pathway`` (patient-view), ``nelm-order-select`` and
``nelm-order-sign``. ``POST /cds-services/{id}`` answers a hook; ``POST /cds-services/{id}/feedback``
stores feedback. Every failure is an OperationOutcome (``cds_hooks.errors``); every hook call
leaves one audit row and one ``HookOutcome`` for the observers, also when it fails.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import requests
from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from cds_hooks.bodylimit import BodyTooLargeError, read_body
from cds_hooks.cardlimit import bound_order_cards
from cds_hooks.cardparts import CardContext
from cds_hooks.cards import patient_view_cards, unreadable_data_card
from cds_hooks.config import Settings
from cds_hooks.errors import (
    HookError,
    PayloadTooLargeError,
    RequestError,
    UnknownServiceError,
    register_error_handlers,
)
from cds_hooks.evaluation import evaluate_profile, has_nelm, ingest_record, today
from cds_hooks.feedback import parse_feedback
from cds_hooks.jsonbody import BodyError, parse_json_object
from cds_hooks.logging_setup import bind_request_context
from cds_hooks.observe import HookOutcome, notify
from cds_hooks.orders import draft_orders_of, order_cards
from cds_hooks.overrides import apply_overrides
from cds_hooks.prefetch import (
    PREFETCH_TEMPLATES,
    REPORT_KEYS,
    ResolvedPrefetch,
    prefetch_templates,
    resolve_prefetch,
    with_report_window,
)
from cds_hooks.privacy import hash_patient_id
from cds_hooks.report_candidates import ReportReading, attachment_fetcher, read_reports
from cds_hooks.security import current_client
from cds_hooks.store import AuditRecord, store_of
from cds_hooks.validate import validate_cds_response
from cds_hooks.wire import HookRequest, parse_hook_request
from nelm_fhir.ingest.errors import NotABundleError, PatientMismatchError
from nelm_fhir.model import NelmProfile
from nelm_fhir.pathways.result import Evaluation

__all__ = ["SERVICES", "ServiceDefinition", "discovery_document", "init_app", "templates_of"]

log = logging.getLogger("nelm.cds.services")


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceDefinition:
    """One CDS service as listed in discovery."""

    id: str
    hook: str
    title: str
    description: str
    prefetch: dict[str, str]

    def to_json(self, prefetch: dict[str, str] | None = None) -> dict[str, Any]:
        """Return the discovery entry of this service (with ``prefetch``: the app's site-derived templates)."""
        return {
            "hook": self.hook,
            "title": self.title,
            "description": self.description,
            "id": self.id,
            "prefetch": dict(self.prefetch if prefetch is None else prefetch),
            "usageRequirements": "Send the prefetch keys, or fhirServer with fhirAuthorization "
            "(patient/Patient, Condition, Observation, Procedure, MedicationRequest, MedicationStatement read; "
            "optional: DiagnosticReport, DocumentReference, Binary read for report texts).",
        }


SERVICES: dict[str, ServiceDefinition] = {
    s.id: s
    for s in (
        ServiceDefinition(
            id="nelm-pathway", hook="patient-view", title="NELM treatment pathway",
            description="Rates every treatment option for neuroendocrine liver metastases against the patient's "
            "record (grade, resectability, liver function, SSTR imaging, labs) and names missing data.",
            prefetch=PREFETCH_TEMPLATES),
        ServiceDefinition(
            id="nelm-order-select", hook="order-select", title="NELM pathway check of a selected order",
            description="Checks a selected liver-directed, surgical, radionuclide or systemic NELM order against "
            "the pathway: contraindications, options not recommended, missing data.",
            prefetch=PREFETCH_TEMPLATES),
        ServiceDefinition(
            id="nelm-order-sign", hook="order-sign", title="NELM pathway check before signing",
            description="Checks NELM treatment orders before signing: critical for a contraindicated order, with "
            "override reasons and a suggested alternative; warning when not recommended or data are missing.",
            prefetch=PREFETCH_TEMPLATES),
    )
}

bp = Blueprint("cds_services", __name__)


def discovery_document(templates: dict[str, str] | None = None) -> dict[str, Any]:
    """Return the body of ``GET /cds-services``; ``templates`` are the app's prefetch templates if given."""
    return {"services": [s.to_json(templates) for s in SERVICES.values()]}


def templates_of(app: Flask) -> dict[str, str]:
    """Return the app's prefetch templates: derived at start-up from its terminology, site codes included."""
    templates = app.extensions.get("nelm_prefetch_templates")
    return templates if isinstance(templates, dict) else PREFETCH_TEMPLATES


def _settings() -> Settings:
    settings = current_app.config["NELM_SETTINGS"]
    if not isinstance(settings, Settings):
        raise TypeError("app was not created by create_app")
    return settings


def _base_url(settings: Settings) -> str:
    return (settings.external_base_url or request.host_url).rstrip("/")


def _read_body(settings: Settings) -> dict[str, Any]:
    try:
        raw = read_body(settings.max_request_bytes)  # chunked bodies included
    except BodyTooLargeError:
        raise PayloadTooLargeError(f"request body is larger than the limit of {settings.max_request_bytes} bytes") \
            from None
    try:
        return parse_json_object(raw)
    except BodyError as exc:
        raise RequestError(str(exc)) from None


def _default_allow(settings: Settings) -> Callable[[str | None, str], bool]:
    def allow(issuer: str | None, url: str) -> bool:
        return not settings.production

    return allow


def _resolve(req: HookRequest, settings: Settings) -> ResolvedPrefetch:
    app = current_app
    allow = app.extensions.get("nelm_fhir_allow") or _default_allow(settings)
    client = getattr(g, "nelm_client", None)
    issuer = getattr(client, "issuer", None)
    session = app.extensions["nelm_http_session"]
    templates = with_report_window(templates_of(app), today(app))  # fallback queries: recent reports only
    return resolve_prefetch(req, templates, session=session, timeout=settings.fhir_request_timeout_seconds,
                            deadline_seconds=settings.fhir_deadline_seconds, allow=allow, issuer=issuer)


def _evaluate(req: HookRequest, resolved: ResolvedPrefetch) -> tuple[NelmProfile, Evaluation] | None:
    """Return the profile and its evaluation, or None when the record holds no NELM (nothing to say)."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    now = today(app)
    try:
        # Report texts never reach ingest: candidates from them cannot change a status (issue 15).
        data = {k: v for k, v in resolved.data.items() if k not in REPORT_KEYS}
        profile = ingest_record(app, data, patient_id=req.patient_id, now=now)
    except PatientMismatchError as exc:
        raise RequestError(f"prefetch holds data of another patient: {exc}", expression="prefetch") from None
    except NotABundleError as exc:
        raise RequestError(f"prefetch is not usable FHIR data: {exc}", expression="prefetch") from None
    if not has_nelm(profile):
        return None
    return profile, evaluate_profile(app, profile, now=now)


def _read_reports(req: HookRequest, settings: Settings, resolved: ResolvedPrefetch) -> ReportReading:
    """Candidates from the report texts (after the evaluation, which never sees them); never fatal."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    allow = app.extensions.get("nelm_fhir_allow") or _default_allow(settings)
    server = req.fhir_server if req.fhir_server and allow(getattr(getattr(g, "nelm_client", None), "issuer", None),
                                                          req.fhir_server) else None
    fetch = attachment_fetcher(base=server, token=req.fhir_authorization.access_token if req.fhir_authorization
                               else None, session=app.extensions["nelm_http_session"],
                               timeout=settings.fhir_request_timeout_seconds, max_bytes=2_000_000)
    return read_reports(resolved.data, as_of=today(app), fetch=fetch, not_had=resolved.optional_failures,
                        patient_id=req.patient_id)


def _answer(service: ServiceDefinition, req: HookRequest, settings: Settings,
            outcome: dict[str, Any]) -> dict[str, Any]:
    ctx = CardContext(base_url=_base_url(settings), service_id=service.id, patient_id=req.patient_id,
                      user_id=req.user_id, encounter_id=req.encounter_id)
    if service.hook == "patient-view":
        resolved = _resolve(req, settings)
        outcome.update(fhir_queries=resolved.queries, fhir_failures=len(resolved.failures))
        evaluated = _evaluate(req, resolved)
        if evaluated is None:
            return {"cards": []}  # no liver metastasis recorded: this chart is not the pathway's concern
        profile, evaluation = evaluated
        outcome["statuses"] = {r.modality.value: r.status.value for r in evaluation.results}
        return {"cards": patient_view_cards(evaluation, ctx, unreadable=[f.reason for f in resolved.failures],
                                            profile=profile, reports=_read_reports(req, settings, resolved))}
    terminology = current_app.extensions["nelm_terminology"]

    def mapper(codings: list[dict[str, str]]) -> str | None:
        result = terminology.modality_for_order((c["system"], c["code"]) for c in codings)
        return str(result) if result is not None else None

    only = req.selections if service.hook == "order-select" else None
    orders = [o for o in draft_orders_of(req.draft_order_resources(), mapper, only=only) if o.modality is not None]
    if not orders:
        return {"cards": []}  # no NELM treatment order: nothing to say
    resolved = _resolve(req, settings)
    outcome.update(fhir_queries=resolved.queries, fhir_failures=len(resolved.failures))
    evaluated = _evaluate(req, resolved)
    if evaluated is None:
        return {"cards": []}  # e.g. TACE for hepatocellular carcinoma: not a NELM order
    profile, evaluation = evaluated
    outcome["statuses"] = {o.modality.value: evaluation.result(o.modality).status.value
                           for o in orders if o.modality is not None}
    cards = order_cards(evaluation, ctx, orders, profile=profile)
    client = current_client()
    cards = apply_overrides(cards, store=store_of(current_app), service_id=service.id, hook=service.hook,
                            issuer=client.issuer if client is not None else "", patient_id=req.patient_id,
                            user_id=req.user_id, secret=settings.id_hash_key, now=dt.datetime.now(dt.UTC))
    cards = bound_order_cards(cards, ctx)
    if resolved.failures and cards:
        cards.append(unreadable_data_card(ctx, [f.reason for f in resolved.failures]))
    return {"cards": cards}


def _record(service_id: str, hook: str, req: HookRequest | None, status: int, started: float,
            body: dict[str, Any] | None, outcome: dict[str, Any]) -> None:
    settings = _settings()
    seconds = time.perf_counter() - started
    cards = body.get("cards", []) if body else []
    by_indicator = Counter(str(c.get("indicator")) for c in cards)
    statuses: dict[str, str] = outcome.get("statuses", {})
    record = AuditRecord(
        service_id=service_id, hook=hook, hook_instance=req.hook_instance if req else None,
        patient_hash=hash_patient_id(req.patient_id, settings.id_hash_key) if req else None,
        status_code=status, card_count=len(cards), statuses=statuses, latency_ms=round(seconds * 1000, 2),
        fhir_queries=int(outcome.get("fhir_queries", 0)), fhir_failures=int(outcome.get("fhir_failures", 0)),
        card_uuids=tuple(str(c["uuid"]) for c in cards if isinstance(c, dict) and c.get("uuid")),
    )
    try:
        store_of(current_app).record_audit(record)
    except SQLAlchemyError as exc:
        log.error("audit row not written for %s: %s", service_id, type(exc).__name__)
    notify(current_app._get_current_object(),  # type: ignore[attr-defined]
           HookOutcome(service_id=service_id, hook=hook, status_code=status, seconds=seconds,
                       cards_by_indicator=dict(by_indicator), statuses=statuses,
                       fhir_queries=record.fhir_queries, fhir_failures=record.fhir_failures))


@bp.get("/cds-services")
def discovery() -> Response:
    """Return the discovery document."""
    return jsonify(discovery_document(templates_of(current_app)))


@bp.post("/cds-services/<service_id>")
def call_service(service_id: str) -> Response:
    """Answer one hook call of the service ``service_id``."""
    started = time.perf_counter()
    settings = _settings()
    service = SERVICES.get(service_id)
    req: HookRequest | None = None
    outcome: dict[str, Any] = {}
    hook = service.hook if service else "unknown"
    try:
        if service is None:
            raise UnknownServiceError(f"no CDS service with id {service_id!r}; see GET /cds-services")
        body = _read_body(settings)
        req = parse_hook_request(body, expected_hook=service.hook)
        bind_request_context(service_id=service.id, patient_id=req.patient_id)  # log lines carry the hash only
        answer = _answer(service, req, settings, outcome)
    except HookError as exc:
        _record(service.id if service else "unknown", hook, req, exc.status, started, None, outcome)
        raise
    problems = validate_cds_response(answer)
    if problems:
        log.error("response of %s breaks CDS Hooks 2.0: %s", service.id, "; ".join(problems[:5]))
    _record(service.id, hook, req, 200, started, answer, outcome)
    response = jsonify(answer)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/cds-services/<service_id>/feedback")
def feedback(service_id: str) -> Response:
    """Store feedback on this service's cards (idempotent); 200 with counts."""
    settings = _settings()
    if service_id not in SERVICES:
        raise UnknownServiceError(f"no CDS service with id {service_id!r}; see GET /cds-services")
    records = parse_feedback(service_id, _read_body(settings))
    store = store_of(current_app)
    issued = store.issued_cards(service_id, [r.card_uuid for r in records])
    unknown = [r.card_uuid for r in records if r.card_uuid not in issued]
    if unknown:
        # Kept (feedback is never lost) but marked; card uuids are logged as keyed hashes only.
        log.warning("feedback for %d card(s) %s never issued: %s", len(unknown), service_id,
                    ", ".join(sorted({hash_patient_id(u, settings.id_hash_key) for u in unknown})))
        records = [replace(r, unknown_card=r.card_uuid not in issued) for r in records]
    new = store.save_feedback(records)
    return jsonify({"received": len(records), "stored": new, "duplicates": len(records) - new})


def _load_engine(app: Flask, settings: Settings) -> None:
    from cds_hooks.orderables import load_orderables
    from nelm_fhir.pathways import load_config
    from nelm_fhir.terminology import load_terminology

    terminology = load_terminology(settings.mappings_dir, settings.site_mapping_files)
    app.extensions["nelm_terminology"] = terminology
    # Discovery and the fallback fetcher use the same templates, following the site's codes.
    app.extensions["nelm_prefetch_templates"] = prefetch_templates(terminology)
    app.extensions["nelm_pathway_config"] = load_config(settings.pathway_config_file)
    load_orderables()  # a malformed orderables.json stops the start, naming the entry


def init_app(app: Flask, settings: Settings) -> None:
    """Register the CDS Hooks endpoints and error handlers; load terminology and pathway configuration once."""
    register_error_handlers(app)
    _load_engine(app, settings)
    if settings.production and not settings.external_base_url:
        log.warning("NELM_EXTERNAL_BASE_URL is not set: card links are built from the request's Host header")
    if "nelm_http_session" not in app.extensions:
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=8, pool_maxsize=16, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        app.extensions["nelm_http_session"] = session
    app.register_blueprint(bp)
