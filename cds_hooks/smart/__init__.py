"""The SMART on FHIR app: launch, the pathway page, and data capture back into the EHR.

``init_app(app, settings)`` registers the ``/smart`` blueprint and its server-side session store.
Routes: ``/smart/launch``, ``/smart/callback``, ``/smart/app``, ``/smart/app/findings``,
``/smart/app/theme.css``, ``/smart/app/reading`` (how the record was read),
``/smart/dev-launch`` (development only). Raises ``RegistrationError``
(broken registration file) or ``SmartConfigError`` (production without ``NELM_SECRET_KEY``).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets

from flask import Flask

from cds_hooks.config import Settings
from cds_hooks.smart import launch as _launch_routes  # noqa: F401 - registers the routes
from cds_hooks.smart import page as _page_routes  # noqa: F401 - registers the routes
from cds_hooks.smart import reading as _reading_routes  # noqa: F401 - registers the routes
from cds_hooks.smart import sdc_routes as _sdc_routes  # noqa: F401 - registers the routes
from cds_hooks.smart.identity import new_jwks_cache
from cds_hooks.smart.registry import RegistrationError, SmartRegistration, load_registrations
from cds_hooks.smart.sessions import SmartSessionStore, engine_for
from cds_hooks.smart.state import SmartState, blueprint

__all__ = ["RegistrationError", "SmartConfigError", "SmartRegistration", "init_app"]

log = logging.getLogger("nelm.smart")
SESSION_LIFETIME = dt.timedelta(hours=8)


class SmartConfigError(RuntimeError):
    """The SMART app's settings are unsafe for this environment; the app must not start."""


def init_app(app: Flask, settings: Settings) -> None:
    """Register the SMART app; raises RegistrationError for a broken registration file."""
    registrations = load_registrations(settings.smart_config_file, production=settings.production)
    store = app.extensions.get("nelm_store")
    engine = getattr(store, "engine", None)
    secret = settings.secret_key
    if not secret:
        if settings.production:
            raise SmartConfigError("NELM_SECRET_KEY is not set: in production SMART sessions must survive a restart "
                                   "and span replicas")
        secret = secrets.token_urlsafe(32)  # development: sessions end when the process does
    sessions = SmartSessionStore(engine or engine_for(settings.database_url), secret=secret, lifetime=SESSION_LIFETIME)
    if engine is None:
        sessions.ensure_table()  # no shared store (and so no migrations) in this app
    app.extensions["nelm_smart"] = SmartState(
        settings=settings, registrations=registrations, sessions=sessions,
        jwks=new_jwks_cache(settings.fhir_request_timeout_seconds * 2),
    )
    app.register_blueprint(blueprint)
