"""The app factory: ``create_app(settings)`` builds the Flask app and registers each surface.

Each surface lives in its own module and exposes ``init_app(app, settings)``; the factory calls
them in order. No configuration is read at import time.
"""

from __future__ import annotations

from flask import Flask

from cds_hooks.config import Settings

__all__ = ["create_app"]


def create_app(settings: Settings | None = None) -> Flask:
    """Return a configured Flask app; raises on a broken mapping or configuration at start-up."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config["NELM_SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    # Surfaces register themselves here, one line each (service, security, SMART app, demo, ops).
    from cds_hooks import evidence, security, services, store

    store.init_app(app, settings)

    security.init_app(app, settings)
    services.init_app(app, settings)
    evidence.init_app(app, settings)
    from cds_hooks import demo, ops, smart

    smart.init_app(app, settings)
    ops.init_app(app, settings)
    demo.init_app(app, settings)
    from cds_hooks import bidi, purge

    purge.init_app(app)  # expired replay entries and SMART sessions, one replica per interval

    bidi.init_app(app)  # every surface's text answer, the error pages included
    return app


def settings_of(app: Flask) -> Settings:
    """Return the Settings the app was created with."""
    settings = app.config["NELM_SETTINGS"]
    if not isinstance(settings, Settings):
        raise TypeError("app was not created by create_app")
    return settings
