"""The SMART app's per-app state and the request helpers every route shares.

``SmartState`` lives at ``app.extensions["nelm_smart"]``: the registrations (``iss`` allow-list),
the server-side session store, the cache of EHR id_token keys and the settings. The helpers read
and write the session cookies and render the app's error page (status code + message; never a
stack trace).

Several launches per browser (two patients in two tabs): every completed launch gets a public
*launch key* and its own HttpOnly cookie ``nelm_smart_l_<key>`` holding that launch's opaque
session id. The page carries the key in its URL (``/smart/app?launch=<key>``, set by the callback
page's script and by every form and redirect), so each tab reads and writes only its own launch.
``nelm_smart_session`` holds the most recent launch (the page a bare ``/smart/app`` shows) and the
launch in progress. The key is not a secret: without the browser's cookie it opens nothing. At
most ``MAX_LAUNCHES`` launches are kept per browser; the oldest ends first. An authorization in
progress also has its own cookie, named after a hash of its ``state``, so two tabs may launch at
the same moment.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from cds_hooks.config import Settings
from cds_hooks.security.jwks import JwksCache
from cds_hooks.smart.registry import SmartRegistration
from cds_hooks.smart.sessions import SmartSessionStore
from nelm_fhir.pathways.result import Evaluation

__all__ = [
    "COOKIE",
    "LAUNCH_COOKIE_PREFIX",
    "MAX_LAUNCHES",
    "PENDING_COOKIE_PREFIX",
    "Evaluator",
    "SmartState",
    "blueprint",
    "clear_cookie",
    "clear_pending_cookie",
    "error_page",
    "evaluation_date",
    "evaluator",
    "launch_key_of_request",
    "launch_session_id",
    "new_csrf",
    "new_launch_key",
    "pending_session_id",
    "session_id",
    "set_cookie",
    "set_launch_cookies",
    "set_pending_cookie",
    "smart_state",
]

log = logging.getLogger("nelm.smart")
blueprint = Blueprint("smart", __name__, url_prefix="/smart", template_folder="templates", static_folder="static")
COOKIE = "nelm_smart_session"
LAUNCH_COOKIE_PREFIX = "nelm_smart_l_"
PENDING_COOKIE_PREFIX = "nelm_smart_p_"
MAX_LAUNCHES = 8  # concurrent launches kept per browser (tabs); bounded so cookies stay small
_LAUNCH_KEY = re.compile(r"^[0-9a-f]{14}[A-Za-z0-9_-]{16}$")
Evaluator = Callable[..., Evaluation]


def _default_jwks() -> JwksCache:
    return JwksCache(timeout_seconds=4.0, cache_seconds=3600, min_refetch_seconds=30)


@dataclass(frozen=True, slots=True)
class SmartState:
    """What the SMART routes need, built once by ``init_app``."""

    settings: Settings
    registrations: dict[str, SmartRegistration]
    sessions: SmartSessionStore
    jwks: JwksCache = field(default_factory=_default_jwks)  # EHR id_token keys, by jwks_uri and kid


@blueprint.after_request
def _security_headers(response: BaseResponse) -> BaseResponse:
    """Pages of the app may be framed only by this server and the registered EHRs; no inline script."""
    origins = sorted({_origin(iss) for iss in smart_state().registrations})
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors " + " ".join(["'self'", *origins]),
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def smart_state(app: Flask | None = None) -> SmartState:
    """Return the app's SmartState; raises RuntimeError when ``smart.init_app`` was not called."""
    target = app or current_app
    state = target.extensions.get("nelm_smart")
    if not isinstance(state, SmartState):
        raise RuntimeError("the SMART app is not initialised: create_app must call smart.init_app")
    return state


def evaluator(app: Flask | None = None) -> Evaluator:
    """Return the evaluation helper shared with the CDS service (``cds_hooks.evaluation.evaluate_record``)."""
    target = app or current_app
    override = target.extensions.get("nelm_smart_evaluator")
    if callable(override):
        return override  # type: ignore[no-any-return]
    # Imported lazily: the helper belongs to the service module, which loads the terminology.
    module = importlib.import_module("cds_hooks.evaluation")
    func = module.evaluate_record
    if not callable(func):
        raise RuntimeError("cds_hooks.evaluation.evaluate_record is missing")
    return func  # type: ignore[no-any-return]


def evaluation_date(settings: Settings, override: str | None = None) -> dt.date:
    """Return the evaluation date: dev-launch override, ``extra['evaluation_date']``, the app's clock, or today."""
    for value in (override, settings.extra.get("evaluation_date")):
        if value:
            return dt.date.fromisoformat(value)
    clock = current_app.extensions.get("nelm_clock")  # shared with the service (cds_hooks.evaluation.today)
    if callable(clock):
        value = clock()
        if isinstance(value, dt.date):
            return value
    return dt.datetime.now(dt.UTC).date()


def new_csrf() -> str:
    """Return a fresh CSRF token for the session's forms."""
    return secrets.token_urlsafe(24)


def session_id() -> str | None:
    """Return the opaque session id of the request's cookie, if any."""
    return request.cookies.get(COOKIE)


def _secure(settings: Settings) -> bool:
    return settings.production or request.is_secure


def set_cookie(response: BaseResponse, sid: str, settings: Settings) -> BaseResponse:
    """Attach the session cookie: HttpOnly, Secure over https, SameSite=None only when Secure (EHR iframes)."""
    secure = _secure(settings)
    response.set_cookie(
        COOKIE,
        sid,
        max_age=int(smart_state().sessions.lifetime.total_seconds()),
        path="/smart",
        secure=secure,
        httponly=True,
        samesite="None" if secure else "Lax",
    )
    return response


def new_launch_key() -> str:
    """Return a launch key: creation time (hex microseconds, so keys sort by age) and 96 random bits."""
    return f"{time.time_ns() // 1000:014x}{secrets.token_urlsafe(12)}"


def launch_key_of_request() -> str | None:
    """Return the launch key the page's URL or form names; "" when one is named but malformed."""
    key = request.args.get("launch")
    if key is None and request.method == "POST":
        key = request.form.get("launch")
    if key is None:
        return None
    return key if _LAUNCH_KEY.match(key) else ""


def launch_session_id(key: str) -> str | None:
    """Return the session id this browser holds for launch ``key``, if any."""
    return request.cookies.get(LAUNCH_COOKIE_PREFIX + key)


def _cookie(response: BaseResponse, name: str, value: str, max_age: int, settings: Settings) -> None:
    secure = _secure(settings)
    response.set_cookie(name, value, max_age=max_age, path="/smart", secure=secure, httponly=True,
                        samesite="None" if secure else "Lax")


def set_launch_cookies(response: BaseResponse, sid: str, key: str, settings: Settings) -> BaseResponse:
    """Attach a completed launch's cookies (its own and the most-recent one); end the oldest beyond MAX_LAUNCHES."""
    state = smart_state()
    lifetime = int(state.sessions.lifetime.total_seconds())
    _cookie(response, LAUNCH_COOKIE_PREFIX + key, sid, lifetime, settings)
    set_cookie(response, sid, settings)
    held = sorted(
        (name.removeprefix(LAUNCH_COOKIE_PREFIX), value)
        for name, value in request.cookies.items()
        if name.startswith(LAUNCH_COOKIE_PREFIX) and name != LAUNCH_COOKIE_PREFIX + key
    )
    for old_key, old_sid in held[: max(0, len(held) - (MAX_LAUNCHES - 1))]:
        state.sessions.delete(old_sid)
        response.delete_cookie(LAUNCH_COOKIE_PREFIX + old_key, path="/smart", secure=_secure(settings),
                               httponly=True)
    return response


def _pending_name(oauth_state: str) -> str:
    return PENDING_COOKIE_PREFIX + hashlib.sha256(oauth_state.encode()).hexdigest()[:16]


def set_pending_cookie(response: BaseResponse, sid: str, oauth_state: str, settings: Settings,
                       max_age: int) -> BaseResponse:
    """Attach the cookies of an authorization in progress (its own, named by its state, and the current one)."""
    _cookie(response, _pending_name(oauth_state), sid, max_age, settings)
    return set_cookie(response, sid, settings)


def pending_session_id(oauth_state: str) -> str | None:
    """Return the session id of the authorization in progress whose ``state`` is given, else the current one."""
    if oauth_state:
        sid = request.cookies.get(_pending_name(oauth_state))
        if sid:
            return sid
    return session_id()


def clear_pending_cookie(response: BaseResponse, oauth_state: str, settings: Settings) -> None:
    """Remove the cookie of a finished authorization."""
    if oauth_state and request.cookies.get(_pending_name(oauth_state)):
        response.delete_cookie(_pending_name(oauth_state), path="/smart", secure=_secure(settings), httponly=True)


def clear_cookie(response: BaseResponse, settings: Settings) -> BaseResponse:
    """Remove the session cookie."""
    response.delete_cookie(COOKIE, path="/smart", secure=_secure(settings), httponly=True)
    return response


ACTIONS = {
    "relaunch": "Open the app again from the patient's chart in the EHR (or from the card's link).",
    "contact": "If this keeps happening, ask your EHR administrator to check the app's registration.",
    "retry": "Try again in a moment; if it persists, contact the EHR's support.",
}


def error_page(status: int, title: str, message: str, *, action: str = "relaunch", **extra: Any) -> Response:
    """Return the app's HTML error page with ``status``; the message must be safe to show."""
    log.info("smart error page %s: %s", status, title)
    html = render_template(
        "smart/error.html", status=status, title=title, message=message, action=ACTIONS.get(action, action), **extra
    )
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response
