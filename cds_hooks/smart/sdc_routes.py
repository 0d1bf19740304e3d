"""Routes of the SDC recording form: the published Questionnaire, populate, the LHC-Forms page and submit.

- ``GET /smart/sdc/Questionnaire/nelm-findings`` — the Questionnaire (public, ``application/fhir+json``);
- ``GET /smart/app/form`` — the form rendered by NLM LHC-Forms, served from ``node_modules`` by
  ``/smart/lforms/<file>``; without it the page says so and links to the server-side form;
- ``GET /smart/app/form/populate`` (also ``…/Questionnaire/nelm-findings/$populate``) — the session patient's
  pre-filled QuestionnaireResponse;
- ``POST /smart/app/form/submit`` — a QuestionnaireResponse (JSON): validated, extracted, written
  (QuestionnaireResponse, then the Observations, then a Provenance), re-evaluated; answers where to go next.
"""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import json
import logging
import os
from pathlib import Path
from typing import Any

import requests
from flask import Response, render_template, request, send_from_directory, url_for
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response as BaseResponse

from cds_hooks.privacy import hash_patient_id
from cds_hooks.report_candidates import FINDING_GAPS, attachment_fetcher, read_reports
from cds_hooks.security.http_client import safe_request
from cds_hooks.smart import sdc
from cds_hooks.smart.page import (
    SessionExpired,
    _evaluate,
    _fresh_token,
    _load_session,
    _page_url,
    _read_record,
    can_write_observations,
)
from cds_hooks.smart.present import changes_between, statuses_of
from cds_hooks.smart.record import FhirError, FhirUnauthorized, _get, _json, create_resource
from cds_hooks.smart.state import SmartState, blueprint, evaluation_date

__all__ = ["LFORMS_FILES", "can_create", "lforms_dir"]

log = logging.getLogger("nelm.smart")
FHIR_JSON = "application/fhir+json"
ROOT = Path(__file__).resolve().parents[2]
# The LHC-Forms web component build and its FHIR R4 support, in the load order its README gives (npm lforms).
LFORMS_FILES = ("webcomponent/assets/lib/zone.min.js", "webcomponent/runtime.js", "webcomponent/polyfills.js",
                "webcomponent/main.js", "fhir/R4/lformsFHIR.min.js")
LFORMS_CSS = "webcomponent/styles.css"
MAX_ATTACHMENT_BYTES = 2_000_000  # as the hooks read them
APP_READ_SECONDS = 30.0  # engineering default: the form may wait longer than a hook call for the reader
REPORT_SEARCHES = (("reports", "DiagnosticReport?patient={pid}&_count=50&_sort=-date"),
                   ("documents", "DocumentReference?patient={pid}&_count=50&_sort=-date"))


def lforms_dir() -> Path:
    """Return the LHC-Forms build directory (``NELM_LFORMS_DIR`` or ``node_modules/lforms/dist/lforms``)."""
    return Path(os.environ.get("NELM_LFORMS_DIR") or ROOT / "node_modules" / "lforms" / "dist" / "lforms")


def lforms_installed() -> bool:
    """Return True when every file the page loads is present."""
    base = lforms_dir()
    return all((base / f).is_file() for f in (*LFORMS_FILES, LFORMS_CSS))


def can_create(scope: str, resource: str) -> bool:
    """Return True when the granted scopes allow creating ``resource`` (SMART v1 ``write`` or v2 ``c``)."""
    for item in scope.split():
        granted, _, perms = item.partition("/")[2].partition(".")
        perms = perms.split("?", 1)[0]
        if granted in {resource, "*"} and (perms in {"write", "*"} or (perms and set(perms) <= set("cruds")
                                                                         and "c" in perms)):
            return True
    return False


def _fhir_json(body: Any, status: int = 200) -> Response:
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=FHIR_JSON)
    response.headers["Cache-Control"] = "no-store"
    return response


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element: no ``<``, ``>`` or ``&`` that could end it (report text is untrusted)."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _outcome(status: int, code: str, messages: list[str]) -> Response:
    return _fhir_json({"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": code, "diagnostics": m} for m in messages]}, status)


@blueprint.get("/sdc/Questionnaire/nelm-findings")
def published_questionnaire() -> BaseResponse:
    """Serve the SDC Questionnaire of the findings the app records."""
    response = _fhir_json(sdc.questionnaire())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@blueprint.get("/lforms/<path:name>")
def lforms_file(name: str) -> BaseResponse:
    """Serve a file of the installed LHC-Forms build (never a CDN); 404 when npm did not install it."""
    if not lforms_dir().is_dir():
        raise NotFound()
    response = send_from_directory(lforms_dir(), name, max_age=3600)
    return response


def _report_resources(state: SmartState, sid: str, data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Return {"reports": [...], "documents": [...]} from the EHR, and what could not be read."""
    out: dict[str, Any] = {}
    problems: list[str] = []
    if data["kind"] == "dev":
        return out, problems
    base = str(data["iss"]).rstrip("/")
    timeout = state.settings.fhir_request_timeout_seconds
    for key, template in REPORT_SEARCHES:
        try:
            token = _fresh_token(state, sid, data)
            response = _get(f"{base}/{template.format(pid=data['patient'])}", token, timeout, _getter(base))
        except (SessionExpired, FhirError) as exc:
            problems.append(f"{key}: {exc}")
            continue
        if response.status_code != 200:
            problems.append(f"{key}: HTTP {response.status_code}")
            continue
        out[key] = _json(response, f"searching {key}")  # a searchset Bundle, as a hook's prefetch
    return out, problems


def _getter(base: str) -> Any:
    return functools.partial(safe_request, "GET", stay_under=base)


def _prefill(state: SmartState, sid: str, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, sdc.Proposal],
                                                                          list[str], dict[str, str]]:
    """Return the populated response, the proposals, problems, and document titles; keeps proposals in the session."""
    loaded = _read_record(state, sid, data)
    today = evaluation_date(state.settings, data.get("now"))
    reports, problems = _report_resources(state, sid, data)
    if data["kind"] == "dev":
        for key, rtype in (("reports", "DiagnosticReport"), ("documents", "DocumentReference")):
            reports[key] = {"resourceType": "Bundle", "type": "collection", "entry": [
                {"resource": r} for r in loaded.record.resources if r.get("resourceType") == rtype]}
    fetch = None
    if data["kind"] == "smart":  # url attachments come from the launch's FHIR server only, with its token
        fetch = attachment_fetcher(base=str(data["iss"]), token=_fresh_token(state, sid, data),
                                   session=requests.Session(), timeout=state.settings.fhir_request_timeout_seconds,
                                   max_bytes=MAX_ATTACHMENT_BYTES)
    reading = read_reports(reports, as_of=today, fetch=fetch, budget_seconds=APP_READ_SECONDS)
    proposals = sdc.proposals_from(reading.candidates)
    gap = data.get("app_context", {}).get("gap")
    qr = sdc.populate(patient_id=str(data["patient"]), resources=loaded.record.resources, proposals=proposals,
                      as_of=today, authored=dt.datetime.now(dt.UTC), open_items=open_items(gap))
    data["sdc_proposals"] = {k: {"answer": p.answer, "document": p.document, "sentence": p.sentence,
                                 "date": p.date.isoformat() if p.date else None} for k, p in proposals.items()}
    data["sdc_current"] = sdc.current_answers(loaded.record.resources, as_of=today)
    state.sessions.save(sid, data)
    return qr, proposals, [*problems, *reading.problems], dict(reading.titles)


def open_items(gap: Any) -> tuple[str, ...]:
    """Return the items a data-gap element (the card's appContext ``gap``) opens; an item's own linkId works too."""
    if not isinstance(gap, str):
        return ()
    if gap in sdc.ITEM_BY_LINK:
        return (gap,)
    return tuple(link for link, element in FINDING_GAPS.items() if element == gap and link in sdc.ITEM_BY_LINK)


def _stored_proposals(data: dict[str, Any]) -> dict[str, sdc.Proposal]:
    out: dict[str, sdc.Proposal] = {}
    for link, p in (data.get("sdc_proposals") or {}).items():
        if link in sdc.ITEM_BY_LINK and isinstance(p, dict):
            date = dt.date.fromisoformat(p["date"]) if isinstance(p.get("date"), str) else None
            out[link] = sdc.Proposal(link_id=link, answer=dict(p["answer"]), document=str(p["document"]),
                                     sentence=str(p["sentence"]), date=date)
    return out


@blueprint.get("/app/form/populate")
@blueprint.get("/sdc/Questionnaire/nelm-findings/$populate")
def populate_response() -> BaseResponse:
    """Return the session patient's pre-filled QuestionnaireResponse (SDC populate, for the launch's patient only)."""
    loaded_session = _load_session()
    if isinstance(loaded_session, BaseResponse):
        return loaded_session
    state, sid, data = loaded_session
    qr, _, _, _ = _prefill(state, sid, data)
    return _fhir_json(qr)


@blueprint.get("/app/form")
def form_page() -> BaseResponse:
    """The recording form as an SDC Questionnaire rendered by LHC-Forms, pre-filled (record, then reports)."""
    loaded_session = _load_session()
    if isinstance(loaded_session, BaseResponse):
        return loaded_session
    state, sid, data = loaded_session
    qr, proposals, problems, titles = _prefill(state, sid, data)
    key = data.get("launch_key")
    submit_url = url_for("smart.submit_response", launch=key) if isinstance(key, str) else url_for(
        "smart.submit_response")
    html = render_template(
        "smart/sdc_form.html",
        lforms=lforms_installed(),
        lforms_files=[url_for("smart.lforms_file", name=f) for f in LFORMS_FILES],
        lforms_css=url_for("smart.lforms_file", name=LFORMS_CSS),
        questionnaire=_script_json(sdc.with_sources(sdc.questionnaire(), proposals, titles)),
        response=_script_json(qr),
        proposals=[(sdc.ITEM_BY_LINK[k].field.label, p, titles.get(p.document, "Report"))
                   for k, p in proposals.items()],
        problems=problems,
        submit_url=submit_url,
        back_url=_page_url(data),
        csrf=data["csrf"],
        open_items=open_items(data.get("app_context", {}).get("gap")),
    )
    response = Response(html, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    # LHC-Forms (an Angular web component) adds its component styles at run time: inline styles only, no script.
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'self'")
    return response


@blueprint.post("/app/form/submit")
def submit_response() -> BaseResponse:
    """Validate a QuestionnaireResponse, write it with its extracted Observations and a Provenance, re-evaluate."""
    loaded_session = _load_session()
    if isinstance(loaded_session, BaseResponse):
        return loaded_session
    state, sid, data = loaded_session
    if not hmac.compare_digest(request.headers.get("X-CSRF-Token", "").encode(), str(data["csrf"]).encode()):
        return _outcome(403, "security", ["The form was not sent from this session (CSRF check failed). "
                                          "Nothing was written; reload the form."])
    try:
        qr = json.loads(request.get_data(as_text=True))
    except ValueError:
        return _outcome(400, "structure", ["The body is not JSON. Nothing was written."])
    if not isinstance(qr, dict):
        return _outcome(400, "structure", ["The body is not a QuestionnaireResponse. Nothing was written."])
    from nelm_fhir.ingest.validation import validation_errors

    problems = validation_errors(qr, "QuestionnaireResponse")
    if problems:
        return _outcome(400, "structure", [f"Not a valid FHIR R4 QuestionnaireResponse: {p}" for p in problems[:5]])
    today = evaluation_date(state.settings, data.get("now"))
    author = data.get("fhir_user") if isinstance(data.get("fhir_user"), str) else None
    issued = dt.datetime.now(dt.UTC)
    proposals = _stored_proposals(data)
    already = data.get("sdc_current") or {}
    scope = str(data.get("scope", ""))
    smart = data["kind"] == "smart"
    if smart and not can_write_observations(scope):
        return _outcome(403, "forbidden", ["This launch was not granted permission to write Observations "
                                           "(scope patient/Observation.c). Nothing was written."])
    response_ref = "QuestionnaireResponse/pending"
    trial = sdc.extract(qr, qr_reference=response_ref, patient_id=str(data["patient"]), proposals=proposals,
                        already=already, issued=issued, today=today, author=author, encounter=data.get("encounter"))
    if trial.errors:
        return _outcome(422, "invariant", list(trial.errors.values()))
    if not trial.observations:
        return _outcome(422, "required", ["Nothing new to record: every answer is already in the record."])
    loaded = _read_record(state, sid, data)
    before = data.get("statuses") or statuses_of(_evaluate(state, data, loaded.record))
    stored_qr = sdc.completed(qr, authored=issued, author=author)
    written: list[str] = []
    try:
        qr_ref = _write(state, sid, data, stored_qr, smart=smart and can_create(scope, "QuestionnaireResponse"))
        result = sdc.extract(qr, qr_reference=qr_ref or response_ref, patient_id=str(data["patient"]),
                             proposals=proposals, already=already, issued=issued, today=today, author=author,
                             encounter=data.get("encounter"))
        observations = [dict(o) for o in result.observations]
        if qr_ref is None:  # not stored: cite no response that does not exist
            for o in observations:
                o["derivedFrom"] = [d for d in o["derivedFrom"] if d["reference"] != response_ref] or None
                if o["derivedFrom"] is None:
                    del o["derivedFrom"]
        targets: list[str] = []
        for obs in observations:
            ref = _write(state, sid, data, obs, smart=smart)
            if ref:
                targets.append(ref)
                written.append(obs["code"]["text"])
        if qr_ref:
            targets.append(qr_ref)
        prov = sdc.provenance(targets=targets, sources=sdc.report_sources(observations), author=author,
                              recorded=issued)
        prov_written = bool(_write(state, sid, data, prov, smart=smart and can_create(scope, "Provenance")))
    except (SessionExpired, FhirUnauthorized) as exc:
        return _outcome(401, "login", [f"{exc}. Written before the failure: {', '.join(written) or 'nothing'}."])
    except FhirError as exc:
        return _outcome(502, "exception", [f"{exc}. Written before the failure: {', '.join(written) or 'nothing'}."])
    after = _evaluate(state, data, _read_record(state, sid, data).record)
    data["changes"] = changes_between(before, statuses_of(after))
    data["write_report"] = {"written": written}
    data.pop("sdc_proposals", None)
    state.sessions.save(sid, data)
    log.info("smart sdc response written for %s: %d observations, response %s, provenance %s",
             hash_patient_id(str(data["patient"]), state.settings.id_hash_key), len(written),
             "yes" if qr_ref else "no", "yes" if prov_written else "no")
    return _fhir_json({"resourceType": "Parameters", "parameter": [
        {"name": "next", "valueUrl": _page_url(data, "#changes")},
        {"name": "written", "valueInteger": len(written)},
        {"name": "questionnaireResponse", "valueString": qr_ref or ""},
        {"name": "provenance", "valueBoolean": prov_written}]})


def _write(state: SmartState, sid: str, data: dict[str, Any], resource: dict[str, Any], *, smart: bool) -> str | None:
    """Create ``resource`` (on the EHR, or in the dev session); return its reference, None when not allowed."""
    rtype = resource["resourceType"]
    if data["kind"] == "dev":
        kept = data.setdefault("captured" if rtype == "Observation" else "sdc_written", [])
        stored = dict(resource, id=f"{'captured' if rtype == 'Observation' else rtype.lower()}-{len(kept) + 1}")
        kept.append(stored)
        return f"{rtype}/{stored['id']}"
    if not smart:
        return None
    token = _fresh_token(state, sid, data)
    stored = create_resource(str(data["iss"]), resource, token, timeout=state.settings.fhir_request_timeout_seconds * 2)
    return f"{rtype}/{stored['id']}" if stored.get("id") else None
