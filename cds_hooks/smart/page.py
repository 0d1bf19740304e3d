"""The pathway page (``GET /smart/app``) and data capture (``POST /smart/app/findings``).

A SMART session reads the record from the EHR's FHIR server with the user's token (refreshing it
when it has expired and a refresh token was granted) and writes captured findings back as
Observations. A development session (``/smart/dev-launch``) reads a bundled demo patient and keeps
captured Observations in the server-side session.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from cds_hooks.clinical_text import clinician_text, decided, decisive_first, unit_text
from cds_hooks.demo.patients import load_demo_bundle
from cds_hooks.privacy import hash_patient_id
from cds_hooks.smart import oauth
from cds_hooks.smart.answer import answer_groups, gap_rows
from cds_hooks.smart.capture import FIELDS, build_observation, validate_form
from cds_hooks.smart.flowchart import render_flowchart
from cds_hooks.smart.present import (
    MODALITY_NAMES,
    STATUS_LABELS,
    anchor_of,
    banner_of,
    changes_between,
    grouped_results,
    profile_rows,
    source_rows,
    statuses_of,
)
from cds_hooks.smart.record import FhirError, FhirUnauthorized, RecordFetch, WriteRefused, create_resource, fetch_record
from cds_hooks.smart.state import (
    SmartState,
    blueprint,
    error_page,
    evaluation_date,
    evaluator,
    launch_key_of_request,
    launch_session_id,
    session_id,
    smart_state,
)
from cds_hooks.smart.style import theme_css
from nelm_fhir.ingest import PatientMismatchError
from nelm_fhir.pathways.result import Evaluation, Modality

__all__ = ["can_write_observations"]

log = logging.getLogger("nelm.smart")
# Engine prose reaches the page only through this filter: no rule, element or modality ids, no raw UCUM.
blueprint.add_app_template_filter(clinician_text, "clinician")
EXPIRY_MARGIN_SECONDS = 30


class SessionExpired(Exception):
    """The session's access can no longer be used; the user must launch again."""


def can_write_observations(scope: str) -> bool:
    """Return True when the granted scopes allow creating Observations (SMART v1 or v2 syntax)."""
    for item in scope.split():
        resource, _, perms = item.partition("/")[2].partition(".")
        if resource not in {"Observation", "*"}:
            continue
        perms = perms.split("?", 1)[0]
        if perms in {"write", "*"} or (perms and set(perms) <= set("cruds") and "c" in perms):
            return True
    return False


def _fresh_token(state: SmartState, sid: str, data: dict[str, Any], *, force: bool = False) -> str:
    expires_at = data.get("expires_at")
    expired = isinstance(expires_at, int | float) and time.time() > float(expires_at) - EXPIRY_MARGIN_SECONDS
    if not expired and not force:
        return str(data["access_token"])
    refresh_token = data.get("refresh_token")
    reg = state.registrations.get(str(data["iss"]))
    if not refresh_token or reg is None:
        raise SessionExpired("the access granted by the EHR has expired and it gave no refresh token")
    try:
        token = oauth.refresh(
            reg, token_endpoint=str(data["token_endpoint"]), refresh_token=str(refresh_token),
            redirect_uri="", timeout=state.settings.fhir_request_timeout_seconds * 2,
        )
    except oauth.TokenError as exc:
        raise SessionExpired(f"renewing the access failed ({exc})") from exc
    data["access_token"] = token["access_token"]
    if isinstance(token.get("refresh_token"), str):
        data["refresh_token"] = token["refresh_token"]
    expires_in = token.get("expires_in")
    data["expires_at"] = time.time() + float(expires_in) if isinstance(expires_in, int | float) else None
    state.sessions.save(sid, data)
    log.info("smart access token refreshed")
    return str(data["access_token"])


@dataclass(slots=True)
class _Loaded:
    record: RecordFetch
    captured_ids: frozenset[str] = field(default_factory=frozenset)


def _read_record(state: SmartState, sid: str, data: dict[str, Any]) -> _Loaded:
    if data["kind"] == "dev":
        # the vignette's dates are moved to the evaluation date, as the /demo page does
        as_of = evaluation_date(state.settings, data.get("now"))
        bundle = load_demo_bundle(Path(str(data["bundle_file"])), as_of=as_of)
        rec = RecordFetch(resources=[e["resource"] for e in bundle.get("entry", []) if "resource" in e])
        captured = [dict(o) for o in data.get("captured", [])]
        rec.resources.extend(captured)
        return _Loaded(rec, frozenset(f"Observation/{o['id']}" for o in captured))
    settings = state.settings
    timeout = settings.fhir_request_timeout_seconds
    deadline = max(10.0, settings.fhir_deadline_seconds * 4)
    token = _fresh_token(state, sid, data)
    try:
        return _Loaded(fetch_record(str(data["iss"]), str(data["patient"]), token, timeout=timeout, deadline=deadline))
    except FhirUnauthorized:
        # The server may have revoked the token before its stated expiry: one refresh, then give up.
        token = _fresh_token(state, sid, data, force=True)
        return _Loaded(fetch_record(str(data["iss"]), str(data["patient"]), token, timeout=timeout, deadline=deadline))


def _evaluate(state: SmartState, data: dict[str, Any], record: RecordFetch) -> Evaluation:
    now = evaluation_date(state.settings, data.get("now"))
    try:
        return evaluator()(request_app(), record.bundle(), patient_id=str(data["patient"]), now=now)
    except PatientMismatchError as exc:
        # A server that ignores the patient search parameter must not get another patient's data shown.
        raise FhirError("the EHR's FHIR server returned resources of another patient; nothing is shown") from exc


def request_app() -> Any:
    """Return the current Flask app object (the evaluation helper takes the app)."""
    from flask import current_app

    return current_app._get_current_object()  # type: ignore[attr-defined]


def _flr_min_percent() -> float:
    """Return the configured FLR threshold that splits one-stage from staged resection on the flowchart."""
    return float(request_app().extensions["nelm_pathway_config"].value("flr.min-percent"))


def _load_session() -> tuple[SmartState, str, dict[str, Any]] | BaseResponse:
    state = smart_state()
    key = launch_key_of_request()
    if key == "":
        return error_page(400, "Unknown window", "This page's address does not name a valid launch.")
    sid = session_id() if key is None else launch_session_id(key)
    data = state.sessions.load(sid)
    if key is not None and (sid is None or data is None):
        # This tab's launch ended (expired, or pushed out by newer launches): never fall back to another one.
        return error_page(401, "Session expired", "The launch this window belongs to has ended; another "
                          "patient's launch in this browser is not shown here.")
    if sid is None or data is None or data.get("kind") not in {"smart", "dev"}:
        return error_page(401, "Session expired", "Your session with this app has ended or was never started.")
    if key is not None and data.get("launch_key") != key:
        log.warning("smart page refused: launch key does not match its session")
        return error_page(409, "This window belongs to another launch", "The app's session for this window does "
                          "not match the patient it was opened for. Nothing is shown or written.")
    return state, sid, data


def _page_url(data: dict[str, Any], anchor: str = "") -> str:
    key = data.get("launch_key")
    return (url_for("smart.app_page", launch=key) if isinstance(key, str) else url_for("smart.app_page")) + anchor


def _render(state: SmartState, data: dict[str, Any], loaded: _Loaded, evaluation: Evaluation, *, status: int = 200,
            form: dict[str, str] | None = None, errors: dict[str, str] | None = None,
            changes: list[dict[str, str]] | None = None, write_report: dict[str, Any] | None = None) -> Response:
    resources = {f"{r.get('resourceType')}/{r.get('id')}": r for r in loaded.record.resources}
    patient = next((r for r in loaded.record.resources if r.get("resourceType") == "Patient"), None)
    today = evaluation.evaluated_at
    all_refs = list(dict.fromkeys(
        [s for r in evaluation.results for s in r.sources]
        + [g.last_source for g in evaluation.data_gaps if g.last_source]
    ))
    profile = profile_rows(evaluation.profile_summary)
    for row in profile:
        all_refs.extend(s for s in row.sources if s not in all_refs)
    focus = data.get("app_context", {}).get("modality")
    focus = focus if isinstance(focus, str) and focus in {m.value for m in Modality} else None
    writable = data["kind"] == "dev" or can_write_observations(str(data.get("scope", "")))
    html = render_template(
        "smart/app.html",
        banner=banner_of(patient, today) if data.get("need_patient_banner", True) else None,
        evaluation=evaluation,
        profile=profile,
        groups=grouped_results(evaluation),
        answer=answer_groups(evaluation),
        gaps=gap_rows(evaluation),
        unit_text=unit_text,
        decisive_first=decisive_first,
        decided=decided,
        names=MODALITY_NAMES,
        status_labels=STATUS_LABELS,
        anchor_of=anchor_of,
        sources=source_rows(all_refs, resources, loaded.captured_ids),
        flowchart=render_flowchart(evaluation, flr_min_percent=_flr_min_percent()),
        focus=focus,
        fields=FIELDS,
        form=form or {},
        errors=errors or {},
        changes=changes or [],
        write_report=write_report,
        warnings=loaded.record.warnings,
        writable=writable,
        dev=data["kind"] == "dev",
        csrf=data["csrf"],
        launch_key=data.get("launch_key"),
        page_url=_page_url(data),
        themed=bool(data.get("style")),
        performer_known=bool(data.get("fhir_user")) or data["kind"] == "dev",
        today=today.isoformat(),
    )
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.errorhandler(FhirError)
@blueprint.errorhandler(SessionExpired)
def _failure(exc: Exception) -> Response:
    if isinstance(exc, SessionExpired):
        return error_page(401, "Session expired", f"Your access to the patient's record ended: {exc}.")
    if isinstance(exc, FhirUnauthorized):
        return error_page(401, "Session expired", "The EHR's FHIR server no longer accepts this session.")
    return error_page(502, "The record could not be read", f"{exc}.", action="retry")


@blueprint.get("/app")
def app_page() -> BaseResponse:
    """Show the whole evaluation for the session's patient."""
    loaded_session = _load_session()
    if isinstance(loaded_session, BaseResponse):
        return loaded_session
    state, sid, data = loaded_session
    try:
        loaded = _read_record(state, sid, data)
    except (SessionExpired, FhirError) as exc:
        return _failure(exc)
    evaluation = _evaluate(state, data, loaded.record)
    changes = data.pop("changes", None)
    report = data.pop("write_report", None)
    data["statuses"] = statuses_of(evaluation)
    state.sessions.save(sid, data)
    log.info("smart page for %s", hash_patient_id(str(data["patient"]), state.settings.id_hash_key))
    return _render(state, data, loaded, evaluation, changes=changes, write_report=report)


@blueprint.post("/app/findings")
def record_findings() -> BaseResponse:
    """Validate the capture form, write the findings, re-evaluate and show what changed."""
    loaded_session = _load_session()
    if isinstance(loaded_session, BaseResponse):
        return loaded_session
    state, sid, data = loaded_session
    sent = request.form.get("csrf", "")
    if not hmac.compare_digest(sent.encode(), str(data["csrf"]).encode()):
        return error_page(403, "Form expired", "The form was not sent from this session (CSRF check failed). "
                          "Nothing was written; reload the page and enter the findings again.", action="relaunch")
    form = {k: v for k, v in request.form.items() if k != "csrf"}
    today = evaluation_date(state.settings, data.get("now"))
    result = validate_form(form, today=today)
    try:
        loaded = _read_record(state, sid, data)
    except (SessionExpired, FhirError) as exc:
        return _failure(exc)
    if not result.ok:
        evaluation = _evaluate(state, data, loaded.record)
        return _render(state, data, loaded, evaluation, status=422, form=form, errors=dict(result.errors))
    if data["kind"] == "smart" and not can_write_observations(str(data.get("scope", ""))):
        evaluation = _evaluate(state, data, loaded.record)
        return _render(state, data, loaded, evaluation, status=403, form=form,
                       errors={"form": "This launch was not granted permission to write Observations "
                               "(scope patient/Observation.c). Nothing was written."})
    before = data.get("statuses") or statuses_of(_evaluate(state, data, loaded.record))
    issued = dt.datetime.now(dt.UTC)
    written: list[str] = []
    effective = result.effective or today
    for code, value in result.values.items():
        obs = build_observation(code, value, patient_id=str(data["patient"]), effective=effective, issued=issued,
                                performer=data.get("fhir_user"), encounter=data.get("encounter"), note=result.note)
        if data["kind"] == "dev":
            captured = data.setdefault("captured", [])
            obs["id"] = f"captured-{len(captured) + 1}"
            captured.append(obs)
            written.append(code)
            continue
        try:
            token = _fresh_token(state, sid, data)
            create_resource(str(data["iss"]), obs, token, timeout=state.settings.fhir_request_timeout_seconds * 2)
        except (SessionExpired, FhirUnauthorized) as exc:
            return _failure(exc)
        except FhirError as exc:
            # Keep what the user typed for everything not yet written; report what was.
            kept = {k: v for k, v in form.items() if k not in written}
            evaluation = _evaluate(state, data, loaded.record)
            status = 502 if not isinstance(exc, WriteRefused) else 422
            return _render(state, data, loaded, evaluation, status=status, form=kept, write_report={
                "written": [f.label for f in FIELDS if f.code in written],
                "refused": next(f.label for f in FIELDS if f.code == code), "reason": str(exc)})
        written.append(code)
    try:
        loaded = _read_record(state, sid, data)
    except (SessionExpired, FhirError) as exc:
        return _failure(exc)
    after = _evaluate(state, data, loaded.record)
    data["changes"] = changes_between(before, statuses_of(after))
    data["write_report"] = {"written": [f.label for f in FIELDS if f.code in written]}
    state.sessions.save(sid, data)
    log.info("smart findings written for %s: %d", hash_patient_id(str(data["patient"]), state.settings.id_hash_key),
             len(written))
    return redirect(_page_url(data, "#changes"), code=303)


@blueprint.get("/app/theme.css")
def theme() -> BaseResponse:
    """Serve the launch's EHR style (``smart_style_url``) as CSS variables; an empty sheet without one."""
    loaded_session = _load_session()
    css = "/* no session */\n"
    if not isinstance(loaded_session, BaseResponse):
        style = loaded_session[2].get("style")
        css = theme_css(style if isinstance(style, dict) else {})
    response = Response(css, mimetype="text/css")
    response.headers["Cache-Control"] = "no-store"
    return response
