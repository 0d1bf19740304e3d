"""Structured JSON logs without PHI or secrets.

``configure_logging(settings)`` installs one handler on the root logger that writes one JSON object
per line: ``time``, ``level``, ``logger``, ``message``, the request's ``request_id``,
``service_id`` and hashed ``patient`` (set with ``bind_request_context``), and any
``extra={"fields": {...}}``. A redacting filter is the last line of defence: ``Bearer …``
values, JWT-shaped strings, ``access_token`` values and the raw patient id bound to the request
are replaced before anything is written. Code must still never log them.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from flask import g, has_request_context

from cds_hooks.config import Settings
from cds_hooks.privacy import hash_patient_id

__all__ = ["JsonFormatter", "RedactingFilter", "bind_request_context", "configure_logging", "redact"]

_BEARER = re.compile(r"(?i)\bbearer\s+[A-Za-z0-9\-._~+/]{8,}=*")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_TOKEN_FIELD = re.compile(
    r"""(?i)(["']?(?:access_token|id_token|refresh_token|client_secret)["']?\s*[:=]\s*["']?)[^"'\s,&}]+"""
)
_HANDLER_NAME = "nelm-json"


def redact(text: str, patient_ids: tuple[str, ...] = ()) -> str:
    """Return ``text`` with bearer tokens, JWTs, token fields and the given raw patient ids masked."""
    text = _BEARER.sub("Bearer [redacted]", text)
    text = _JWT.sub("[jwt-redacted]", text)
    text = _TOKEN_FIELD.sub(r"\1[redacted]", text)
    for pid in patient_ids:
        if len(pid) >= 3:
            text = text.replace(pid, "[patient]")
    return text


def bind_request_context(*, service_id: str | None = None, patient_id: str | None = None) -> None:
    """Attach the service id and the (hashed) patient id to every log line of the current request."""
    if not has_request_context():
        return
    if service_id is not None:
        g.nelm_service_id = service_id
    if patient_id is not None:
        from flask import current_app

        settings = current_app.config.get("NELM_SETTINGS")
        key = settings.id_hash_key if isinstance(settings, Settings) else Settings().id_hash_key
        g.nelm_patient_hash = hash_patient_id(patient_id, key)
        g.nelm_patient_raw = patient_id


def _request_fields() -> tuple[dict[str, Any], tuple[str, ...]]:
    if not has_request_context():
        return {}, ()
    fields = {
        "request_id": g.get("nelm_request_id"),
        "service_id": g.get("nelm_service_id"),
        "patient": g.get("nelm_patient_hash"),
    }
    raw = g.get("nelm_patient_raw")
    return {k: v for k, v in fields.items() if v is not None}, ((raw,) if isinstance(raw, str) else ())


class RedactingFilter(logging.Filter):
    """Masks secrets and the bound raw patient id in a record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; always keeps it."""
        _, raw_ids = _request_fields()
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg = redact(message, raw_ids)
        record.args = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with request context; every string passes through ``redact``."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one line of JSON."""
        context, raw_ids = _request_fields()
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage(), raw_ids),
            **context,
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                if key not in out:
                    out[str(key)] = json.loads(redact(json.dumps(value, default=str), raw_ids))
        if record.exc_info and record.exc_info[0] is not None:
            out["exception"] = record.exc_info[0].__name__
            out["traceback"] = redact(self.formatException(record.exc_info), raw_ids)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(
    settings: Settings, *, stream: TextIO | None = None, level: int = logging.INFO
) -> logging.Handler:
    """Install the JSON handler on the root logger (replacing a previous one); return the handler."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == _HANDLER_NAME:
            root.removeHandler(existing)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(level)
    if settings.auth_disabled:
        logging.getLogger("nelm.security").warning(
            "AUTHENTICATION IS DISABLED (NELM_AUTH_DISABLED): any caller can use the CDS Hooks endpoints; "
            "development only"
        )
    return handler
