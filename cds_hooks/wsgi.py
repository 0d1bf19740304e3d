"""The WSGI entry point for gunicorn (``cds_hooks.wsgi:app``): settings come from ``NELM_*`` variables.

Logging is configured first (JSON lines, tokens redacted) so that start-up messages, such as a
broken mapping file, are written in the same form as everything else.
"""

from __future__ import annotations

import logging

from cds_hooks.app import create_app
from cds_hooks.config import Settings
from cds_hooks.logging_setup import configure_logging
from cds_hooks.report_candidates import warm_up

__all__ = ["app", "settings"]

settings = Settings.from_env()
configure_logging(settings)
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # one line per plugin at every start
app = create_app(settings)
warm_up()  # the text reader's pipeline (issue 15), in the background; nothing when NELM_TEXT_READER=off
