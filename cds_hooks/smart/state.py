"""The SMART app's per-app state and the request helpers every route shares.

``SmartState`` lives at ``app.extensions["nelm_smart"]``: the registrations (``iss`` allow-list),
the server-side session store and the settings. The helpers read and write the session cookie
and render the app's error page (status code + message; never a stack trace).
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from cds_hooks.config import Settings
from cds_hooks.smart.registry import SmartRegistration
from cds_hooks.smart.sessions import SmartSessionStore
from nelm_fhir.pathways.result import Evaluation

__all__ = [
    "COOKIE",
    "Evaluator",
    "SmartState",
    "blueprint",
    "clear_cookie",
    "error_page",
    "evaluation_date",
    "evaluator",
    "new_csrf",
    "session_id",
    "set_cookie",
    "smart_state",
]

log = logging.getLogger("nelm.smart")
blueprint = Blueprint("smart", __name__, url_prefix="/smart", template_folder="templates", static_folder="static")
COOKIE = "nelm_smart_session"
Evaluator = Callable[..., Evaluation]


@dataclass(frozen=True, slots=True)
class SmartState:
    """What the SMART routes need, built once by ``init_app``."""

    settings: Settings
    registrations: dict[str, SmartRegistration]
    sessions: SmartSessionStore


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
