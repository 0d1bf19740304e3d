"""SMART launch routes: ``/smart/launch`` (EHR and standalone), ``/smart/callback``, ``/smart/dev-launch``.

The launch creates a short-lived server-side session holding ``state``, the PKCE verifier and the
OpenID Connect ``nonce`` and sends the browser to the EHR's authorization endpoint; the callback
checks ``state`` against that session, exchanges the code (confidential client), verifies the
id_token (``cds_hooks.smart.identity``; a failure stops the launch), fetches the EHR's style when
allowed, and keeps the tokens and launch context in a new server-side session (new id: no
fixation) under a new launch key (one per tab, see ``cds_hooks.smart.state``).
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
import re
from typing import Any

from flask import Response, current_app, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from cds_hooks.demo.patients import find_demo_bundle
from cds_hooks.privacy import hash_patient_id
from cds_hooks.smart import oauth
from cds_hooks.smart.discovery import cached_discovery
from cds_hooks.smart.identity import IdTokenError, verify_id_token
from cds_hooks.smart.registry import SmartRegistration, normalise_iss
from cds_hooks.smart.state import (
    SmartState,
    blueprint,
    clear_pending_cookie,
    error_page,
    new_csrf,
    new_launch_key,
    pending_session_id,
    set_launch_cookies,
    set_pending_cookie,
    smart_state,
)
from cds_hooks.smart.style import StyleRefused, fetch_style

__all__ = ["parse_app_context"]

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
        config = cached_discovery(current_app, iss, lambda: oauth.discover(
            iss, timeout=state.settings.fhir_request_timeout_seconds * 2, production=state.settings.production
        ))
    except oauth.DiscoveryError as exc:
        return error_page(502, "The EHR could not be reached", f"Launch stopped: {exc}.", action="retry")
    pending = {
        "kind": "pending",
        "iss": iss,
        "launch": launch_token,
        "state": oauth.new_state(),
        "verifier": oauth.new_pkce_verifier(),
        "nonce": oauth.new_nonce(),
        "token_endpoint": config.token_endpoint,
        "issuer": config.issuer,
        "jwks_uri": config.jwks_uri,
        "started": _now(),
    }
    url = oauth.authorization_url(
        reg,
        config,
        redirect_uri=_redirect_uri(),
        state=str(pending["state"]),
        code_verifier=str(pending["verifier"]),
        launch=launch_token,
        nonce=str(pending["nonce"]),
    )
    # An earlier launch of this browser (another tab) is left alone: it keeps its own cookie.
    sid = state.sessions.create(pending, lifetime=dt.timedelta(seconds=PENDING_SECONDS))  # pending: minutes
    response = redirect(url, code=302)
    response.headers["Cache-Control"] = "no-store"
    return set_pending_cookie(response, sid, str(pending["state"]), state.settings, PENDING_SECONDS)


def _identity(state: SmartState, token: dict[str, Any], pending: dict[str, Any], client_id: str) -> str | None:
    """Return the verified fhirUser of the token response (None without an id_token); raises IdTokenError."""
    raw = token.get("id_token")
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise IdTokenError("the identity token is not a string")
    nonce = pending.get("nonce")
    identity = verify_id_token(
        raw,
        issuer=pending.get("issuer"),
        jwks_uri=pending.get("jwks_uri"),
        client_id=client_id,
        nonce=nonce if isinstance(nonce, str) else None,
        keys=state.jwks,
        leeway_seconds=state.settings.clock_skew_seconds,
    )
    return identity.fhir_user


def _style_of(state: SmartState, url: object, reg: SmartRegistration) -> dict[str, str]:
    if not isinstance(url, str) or not url:
        return {}
    try:
        return fetch_style(url, iss=reg.iss, allowed_origins=reg.style_origins,
                           timeout=state.settings.fhir_request_timeout_seconds,
                           production=state.settings.production)
    except StyleRefused as exc:
        log.warning("smart style not applied: %s", exc)
        return {}


@blueprint.get("/callback")
def callback() -> BaseResponse:
    """Finish the authorization: check ``state``, exchange the code, verify the id_token, keep tokens server-side."""
    state = smart_state()
    got_state = request.args.get("state", "")
    sid = pending_session_id(got_state)
    pending = state.sessions.load(sid)
    if sid is None or pending is None or pending.get("kind") != "pending":
        return error_page(400, "Launch not recognised", "This browser has no launch in progress (it expired, or "
                          "cookies are blocked). Nothing was done.")
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
    try:
        fhir_user = _identity(state, token, pending, reg.client_id)
    except IdTokenError as exc:
        # The same answer carries the access token: a counterfeit or misconfigured server gets no session.
        state.sessions.delete(sid)
        log.warning("smart launch refused: id_token not verified: %s", exc)
        return error_page(403, "Sign-in could not be verified", f"The EHR's identity token failed verification: "
                          f"{exc}. For your safety the app did not open.", action="contact")
    patient = token.get("patient")
    if not isinstance(patient, str) or not _PATIENT_ID.match(patient):
        state.sessions.delete(sid)
        return error_page(400, "No patient selected", "The EHR did not give the app a patient context; open the "
                          "app from a patient's chart.")
    expires_in = token.get("expires_in")
    tenant = token.get("tenant")
    key = new_launch_key()
    session: dict[str, Any] = {
        "kind": "smart",
        "launch_key": key,
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
        "style": _style_of(state, token.get("smart_style_url"), reg),
        "tenant": tenant if isinstance(tenant, str) and len(tenant) <= 200 else None,
        "app_context": parse_app_context(token.get("appContext")),
        "fhir_user": fhir_user,
        "identity_verified": fhir_user is not None,
        "csrf": new_csrf(),
    }
    new_sid = state.sessions.rotate(sid, session)
    log.info("smart launch complete for %s", hash_patient_id(patient, state.settings.id_hash_key),
             extra={"fields": {"iss": reg.iss, "tenant": session["tenant"], "fhir_user": fhir_user is not None}})
    response = redirect(landing_url(session["app_context"]), code=303)
    clear_pending_cookie(response, got_state, state.settings)
    return set_launch_cookies(response, new_sid, key, state.settings)


def landing_url(app_context: object) -> str:
    """Where a launch lands: the structured form when a data-gap card named a gap, else the pathway page."""
    gap = app_context.get("gap") if isinstance(app_context, dict) else None
    return url_for("smart.form_page" if isinstance(gap, str) else "smart.app_page")


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
        "launch_key": new_launch_key(),
    }
    # Like an EHR launch, a second dev launch (another tab, another patient) leaves the first one alone.
    sid = state.sessions.create(session)
    return set_launch_cookies(redirect(landing_url(session["app_context"]), code=303), sid, str(session["launch_key"]),
                              state.settings)
