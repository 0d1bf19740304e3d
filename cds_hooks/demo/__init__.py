"""``/demo``: an EHR-like page that calls the real CDS Hooks endpoints (development only).

The page plays the EHR: it lists the bundled demo patients, opens a chart (patient-view), places
orders (order-select, then order-sign), renders the cards as an EHR does and sends feedback. The
JSON endpoints under ``/demo/api`` do what an EHR's back end would: fulfil prefetch templates from
the patient's record, mint the client JWT (``dev_signer.demo_token``) and draft orders. None of
this exists in production: the blueprint is not registered there.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, render_template, request

from cds_hooks.bodylimit import BodyTooLargeError, read_body
from cds_hooks.clinical_text import UNIT_TEXT
from cds_hooks.config import Settings
from cds_hooks.demo.patients import (
    MODALITY_GROUPS,
    MODALITY_LABELS,
    DemoDataError,
    DemoPatient,
    draft_order,
    find_demo_bundle,
    fulfil_prefetch,
    list_demo_patients,
    load_demo_bundle,
)
from cds_hooks.evaluation import today
from cds_hooks.jsonbody import BodyError, parse_json_object
from cds_hooks.security.dev_signer import DevSignerUnavailable, demo_token
from cds_hooks.validate import validate_cds_response

__all__ = ["init_app"]

bp = Blueprint(
    "demo", __name__, url_prefix="/demo", template_folder="templates",
    static_folder="static", static_url_path="/static",
)
# Only the CDS Hooks endpoints of this service may be the audience of a demo token.
_AUD_PATH = re.compile(r"^/cds-services(/[A-Za-z0-9._-]{1,64}(/feedback)?)?$")
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'")


def _settings() -> Settings:
    settings = current_app.config["NELM_SETTINGS"]
    if not isinstance(settings, Settings):
        raise TypeError("app was not created by create_app")
    return settings


def _patients() -> list[DemoPatient]:
    return list_demo_patients(_settings().demo_dir)


def _patient_bundle(patient_id: str) -> Path:
    """Return the Bundle file of demo patient ``patient_id`` (without reading every other bundle); 404 if none."""
    path = find_demo_bundle(_settings().demo_dir, patient_id)
    if path is None:
        abort(404, description=f"no demo patient {patient_id!r}")
    return path


def _body() -> dict[str, Any]:
    try:
        return parse_json_object(read_body(_settings().max_request_bytes))
    except BodyTooLargeError:
        abort(413, description="request body is too large")
    except BodyError as exc:
        abort(400, description=str(exc))


def _str_field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        abort(400, description=f"{name!r} must be a non-empty string")
    return value


def _base_url() -> str:
    return _settings().external_base_url or request.host_url.rstrip("/")


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", _CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.path.startswith("/demo/api/"):
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(400)
@bp.errorhandler(404)
@bp.errorhandler(413)
@bp.errorhandler(503)
def _error(exc: Any) -> tuple[Response, int]:
    code = int(getattr(exc, "code", 500))
    return jsonify(error=str(getattr(exc, "description", exc))), code


@bp.get("/")
def index() -> str:
    """Render the demo EHR page: patient list, chart, orders and the CDS card panels."""
    return render_template(
        "demo/index.html",
        patients=_patients(),
        groups=[(name, [(m, MODALITY_LABELS[m]) for m in mods]) for name, mods in MODALITY_GROUPS],
        base_url=_base_url(),
        demo_dir=_settings().demo_dir,
        # The chart shows lab units as clinicians write them (10*9/L → ×10⁹/L, {INR} → nothing).
        units=UNIT_TEXT,
    )


@bp.get("/api/patients")
def patients() -> Response:
    """Return the demo patients (id, title, one-line description)."""
    return jsonify(patients=[{"id": p.id, "title": p.title, "description": p.description} for p in _patients()])


@bp.get("/api/patients/<patient_id>/record")
def record(patient_id: str) -> Response:
    """Return the demo patient's whole record (the vignette Bundle) for the chart view."""
    return jsonify(load_demo_bundle(_patient_bundle(patient_id), as_of=today(current_app)))


@bp.post("/api/prefetch")
def prefetch() -> Response:
    """Return the prefetch for ``templates`` (discovery's map) from the patient's record, as an EHR would."""
    body = _body()
    path = _patient_bundle(_str_field(body, "patient"))
    templates = body.get("templates")
    context = body.get("context")
    if not isinstance(templates, dict) or not all(isinstance(v, str) for v in templates.values()):
        abort(400, description="'templates' must be an object of prefetch query strings")
    if not isinstance(context, dict):
        abort(400, description="'context' must be the hook context object")
    try:
        return jsonify(fulfil_prefetch(load_demo_bundle(path, as_of=today(current_app)), templates, context))
    except DemoDataError as exc:
        abort(400, description=str(exc))


@bp.post("/api/token")
def token() -> Response:
    """Return a CDS client JWT signed by the demo EHR for one of this service's endpoints."""
    path = _str_field(_body(), "path")
    if not _AUD_PATH.fullmatch(path):
        abort(400, description="tokens are minted only for this service's /cds-services endpoints")
    aud = _base_url() + path
    try:
        return jsonify(token=demo_token(current_app, aud), aud=aud)
    except DevSignerUnavailable as exc:
        abort(503, description=str(exc))


@bp.post("/api/draft-order")
def order() -> Response:
    """Return a draft order (ServiceRequest or MedicationRequest) for a modality and patient."""
    body = _body()
    patient_id = _str_field(body, "patient")
    _patient_bundle(patient_id)
    try:
        return jsonify(draft_order(_str_field(body, "modality"), patient_id))
    except DemoDataError as exc:
        abort(400, description=str(exc))


@bp.post("/api/validate")
def validate() -> Response:
    """Return the CDS Hooks 2.0 problems of a service response (empty list = valid)."""
    return jsonify(problems=validate_cds_response(_body()))


def init_app(app: Flask, settings: Settings) -> None:
    """Register ``/demo`` in development; in production the demo EHR does not exist (404)."""
    if settings.production:
        return
    app.register_blueprint(bp)
