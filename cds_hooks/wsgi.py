"""The WSGI entry point for gunicorn (``cds_hooks.wsgi:app``): settings come from ``NELM_*`` variables."""

from __future__ import annotations

from cds_hooks.app import create_app
from cds_hooks.config import Settings

__all__ = ["app"]

app = create_app(Settings.from_env())
