"""SMART launch routes: ``/smart/launch`` (EHR and standalone), ``/smart/callback``, ``/smart/dev-launch``.

The launch creates a short-lived server-side session holding ``state`` and the PKCE verifier and
sends the browser to the EHR's authorization endpoint; the callback checks ``state`` against that
session, exchanges the code (confidential client) and keeps the tokens and launch context in a new
server-side session (new id: no fixation).
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
import re
from pathlib import Path
from typing import Any

import jwt
from flask import Response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from cds_hooks.privacy import hash_patient_id
from cds_hooks.smart import oauth
from cds_hooks.smart.registry import normalise_iss
from cds_hooks.smart.state import (
    blueprint,
    error_page,
    new_csrf,
    session_id,
    set_cookie,
    smart_state,
)

__all__ = ["find_demo_bundle", "parse_app_context"]

log = logging.getLogger("nelm.smart")
PENDING_SECONDS = 600  # an authorization must come back within 10 minutes
_PATIENT_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def parse_app_context(raw: object) -> dict[str, Any]:
    """Return the card's ``appContext`` as an object (``{"modality": "tace"}``); {} when absent or not JSON."""
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 2000:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _redirect_uri() -> str:
    base = smart_state().settings.external_base_url
    path = url_for("smart.callback")
    return f"{base}{path}" if base else url_for("smart.callback", _external=True)


def _now() -> float:
    return dt.datetime.now(dt.UTC).timestamp()


@blueprint.get("/launch")
def launch() -> BaseResponse:
    """Start an EHR launch (``iss`` + ``launch``) or a standalone launch (``iss`` only, or a chooser)."""
    state = smart_state()
    iss_raw = request.args.get("iss", "")
    launch_token = request.args.get("launch")
    if not iss_raw:
        choices = [r for r in state.registrations.values() if r.standalone]
        if not choices:
            return error_page(400, "Missing iss", "The launch request has no 'iss' parameter: this page must be "
                              "opened by the EHR (SMART EHR launch), which adds it.")
        return Response(render_template("smart/choose.html", choices=choices), mimetype="text/html")
    iss = normalise_iss(iss_raw)
    reg = state.registrations.get(iss)
    if reg is None:
        log.warning("smart launch refused: iss not registered")
        return error_page(403, "Unknown EHR", "This app is not registered with the FHIR server that tried to "
                          "launch it, so it will not connect to it.", action="contact", iss=iss_raw[:200])
    if launch_token is not None and not launch_token.strip():
        return error_page(400, "Empty launch", "The EHR sent an empty 'launch' parameter.")
    try:
        config = oauth.discover(
            iss, timeout=state.settings.fhir_request_timeout_seconds * 2, production=state.settings.production
        )
    except oauth.DiscoveryError as exc:
        return error_page(502, "The EHR could not be reached", f"Launch stopped: {exc}.", action="retry")
    pending = {
        "kind": "pending",
        "iss": iss,
        "launch": launch_token,
        "state": oauth.new_state(),
        "verifier": oauth.new_pkce_verifier(),
        "token_endpoint": config.token_endpoint,
        "started": _now(),
    }
    url = oauth.authorization_url(
        reg,
        config,
        redirect_uri=_redirect_uri(),
        state=str(pending["state"]),
        code_verifier=str(pending["verifier"]),
        launch=launch_token,
    )
    old = session_id()
    if old:
        state.sessions.delete(old)
    sid = state.sessions.create(pending)
    response = redirect(url, code=302)
    response.headers["Cache-Control"] = "no-store"
    return set_cookie(response, sid, state.settings)


def _fhir_user(token: dict[str, Any], client_id: str) -> str | None:
    # OIDC Core 3.1.3.7: an id_token received directly from the token endpoint over TLS may be
    # trusted for its issuer without checking the signature; we still check the audience.
    raw = token.get("id_token")
    if not isinstance(raw, str):
        return None
    try:
        claims = jwt.decode(raw, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    aud = claims.get("aud")
    if client_id not in (aud if isinstance(aud, list) else [aud]):
        return None
    user = claims.get("fhirUser")
    return user if isinstance(user, str) else None


@blueprint.get("/callback")
def callback() -> BaseResponse:
    """Finish the authorization: check ``state``, exchange the code, keep tokens server-side."""
    state = smart_state()
    sid = session_id()
    pending = state.sessions.load(sid)
    if sid is None or pending is None or pending.get("kind") != "pending":
        return error_page(400, "Launch not recognised", "This browser has no launch in progress (it expired, or "
                          "cookies are blocked). Nothing was done.")
    got_state = request.args.get("state", "")
    if not hmac.compare_digest(got_state.encode(), str(pending["state"]).encode()):
        state.sessions.delete(sid)
        log.warning("smart callback refused: state mismatch")
        return error_page(400, "Launch could not be verified", "The authorization answer does not belong to this "
                          "browser's launch (state mismatch). For your safety nothing was done.")
    if _now() - float(pending["started"]) > PENDING_SECONDS:
        state.sessions.delete(sid)
        return error_page(400, "Launch expired", "The sign-in took longer than 10 minutes.")
    if request.args.get("error"):
        state.sessions.delete(sid)
        desc = request.args.get("error_description", "")[:300]
        return error_page(403, "Access was not granted", f"The EHR declined the authorization "
                          f"({request.args['error'][:60]}{': ' + desc if desc else ''}).")
    code = request.args.get("code")
    if not code:
        state.sessions.delete(sid)
        return error_page(400, "No authorization code", "The EHR's answer carried no authorization code.")
    reg = state.registrations.get(str(pending["iss"]))
    if reg is None:
        state.sessions.delete(sid)
        return error_page(403, "Unknown EHR", "The app's registration for this EHR was removed.", action="contact")
    config = oauth.SmartConfiguration(
        authorization_endpoint="", token_endpoint=str(pending["token_endpoint"]), capabilities=(),
        code_challenge_methods=(),
    )
    try:
        token = oauth.exchange_code(
            reg, config, code=code, redirect_uri=_redirect_uri(), code_verifier=str(pending["verifier"]),
            timeout=state.settings.fhir_request_timeout_seconds * 2,
        )
    except oauth.TokenError as exc:
        state.sessions.delete(sid)
        return error_page(502, "Sign-in failed", f"The app could not obtain access: {exc}.")
    patient = token.get("patient")
    if not isinstance(patient, str) or not _PATIENT_ID.match(patient):
        state.sessions.delete(sid)
        return error_page(400, "No patient selected", "The EHR did not give the app a patient context; open the "
                          "app from a patient's chart.")
    expires_in = token.get("expires_in")
    session: dict[str, Any] = {
        "kind": "smart",
        "iss": reg.iss,
        "access_token": token["access_token"],
        "refresh_token": token.get("refresh_token") if isinstance(token.get("refresh_token"), str) else None,
        "expires_at": _now() + float(expires_in) if isinstance(expires_in, int | float) else None,
        "token_endpoint": str(pending["token_endpoint"]),
        "scope": str(token.get("scope") or reg.scopes),
        "patient": patient,
        "encounter": token.get("encounter") if isinstance(token.get("encounter"), str) else None,
        "need_patient_banner": token.get("need_patient_banner") is not False,
        "smart_style_url": token.get("smart_style_url") if isinstance(token.get("smart_style_url"), str) else None,
        "app_context": parse_app_context(token.get("appContext")),
        "fhir_user": _fhir_user(token, reg.client_id),
        "csrf": new_csrf(),
    }
    new_sid = state.sessions.rotate(sid, session)
    log.info("smart launch complete for %s", hash_patient_id(patient, state.settings.id_hash_key))
    response = redirect(url_for("smart.app_page"), code=303)
    return set_cookie(response, new_sid, state.settings)


def find_demo_bundle(demo_dir: Path, patient_id: str) -> Path | None:
    """Return the demo Bundle file whose Patient has ``patient_id``, or None."""
    if not _PATIENT_ID.match(patient_id) or not demo_dir.is_dir():
        return None
    for path in sorted(demo_dir.glob("*.json")):
        if path.stem.lower() == patient_id.lower():
            return path
    for path in sorted(demo_dir.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        for entry in data.get("entry", []) if isinstance(data, dict) else []:
            res = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(res, dict) and res.get("resourceType") == "Patient" and res.get("id") == patient_id:
                return path
    return None


@blueprint.get("/dev-launch")
def dev_launch() -> BaseResponse:
    """Open the app on a bundled demo patient without OAuth (development only; 404 in production)."""
    state = smart_state()
    if state.settings.production:
        return error_page(404, "Not found", "The development launch is not available on this server.",
                          action="relaunch")
    patient = request.args.get("patient", "")
    path = find_demo_bundle(state.settings.demo_dir, patient)
    if path is None:
        return error_page(404, "Unknown demo patient", "There is no demo patient with that id.", action="relaunch")
    now = request.args.get("now")
    if now:
        try:
            dt.date.fromisoformat(now)
        except ValueError:
            return error_page(400, "Bad date", "'now' must be a date in the form YYYY-MM-DD.")
    session = {
        "kind": "dev",
        "patient": patient,
        "bundle_file": str(path),
        "captured": [],
        "need_patient_banner": True,
        "app_context": parse_app_context(request.args.get("appContext")),
        "now": now,
        "scope": "patient/*.rs patient/Observation.cu",
        "csrf": new_csrf(),
    }
    old = session_id()
    if old:
        state.sessions.delete(old)
    sid = state.sessions.create(session)
    return set_cookie(redirect(url_for("smart.app_page"), code=303), sid, state.settings)
