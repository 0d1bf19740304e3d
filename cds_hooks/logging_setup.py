"""Structured JSON logs without PHI or secrets.

``configure_logging(settings)`` installs one handler on the root logger that writes one JSON object
per line: ``time``, ``level``, ``logger``, ``message``, the request's ``request_id``,
``service_id`` and hashed ``patient`` (set with ``bind_request_context``), and any
``extra={"fields": {...}}``. A redacting filter is the last line of defence: ``Bearer …``
values, JWT-shaped strings, ``access_token`` values and the raw patient id bound to the request
are replaced before anything is written. Code must still never log them.

Patient ids that travel in URLs are masked in *every* record, inside a request or not (werkzeug's
and gunicorn's access lines are written outside the app's request context): the values of
``patient=``, ``patientId=``, ``patient_id=`` and ``subject=`` query parameters, and the segment after
``/Patient/`` or ``/patients/`` in a path, become ``[patient:<hash>]`` (keyed hash, when the
formatter knows ``id_hash_key``) or ``[patient]``.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO
from urllib.parse import unquote

from flask import g, has_request_context

from cds_hooks.config import Settings
from cds_hooks.privacy import hash_patient_id

__all__ = ["JsonFormatter", "RedactingFilter", "bind_request_context", "configure_logging", "redact"]

_BEARER = re.compile(r"(?i)\bbearer\s+[A-Za-z0-9\-._~+/]{8,}=*")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_TOKEN_FIELD = re.compile(
    r"""(?i)(["']?(?:access_token|id_token|refresh_token|client_secret)["']?\s*[:=]\s*["']?)[^"'\s,&}]+"""
)
# A query parameter naming a patient (?patient=v01, &subject=Patient/x) and a path segment after
# /Patient/ or /patients/ (FHIR reads, the demo API). Already-masked values are left alone.
_PATIENT_QUERY = re.compile(r"(?i)([?&;](?:patient|patientid|patient_id|subject)=)(?!\[patient)([^&#\s\"']+)")
_PATIENT_PATH = re.compile(r"(/(?:Patient|patients)/)(?!\[patient)([^/?#\s\"']+)")
# OAuth values in a callback or launch URL (?code=…&state=…, ?launch=…): one-time, but still credentials.
_OAUTH_QUERY = re.compile(r"(?i)([?&;](?:code|state|launch|nonce|code_verifier|client_assertion)=)[^&#\s\"']+")
_HANDLER_NAME = "nelm-json"


def _patient_mask(hash_key: str | None) -> Callable[[re.Match[str]], str]:
    def mask(match: re.Match[str]) -> str:
        value = unquote(match.group(2))
        value = value.removeprefix("Patient/") if value.startswith("Patient/") else value
        if hash_key is None:
            return f"{match.group(1)}[patient]"
        return f"{match.group(1)}[patient:{hash_patient_id(value, hash_key)}]"

    return mask


def redact(text: str, patient_ids: tuple[str, ...] = (), *, id_hash_key: str | None = None) -> str:
    """Return ``text`` with tokens, JWTs, token fields, patient ids in URLs and the given raw ids masked."""
    text = _BEARER.sub("Bearer [redacted]", text)
    text = _JWT.sub("[jwt-redacted]", text)
    text = _TOKEN_FIELD.sub(r"\1[redacted]", text)
    text = _OAUTH_QUERY.sub(r"\1[redacted]", text)
    mask = _patient_mask(id_hash_key)
    text = _PATIENT_QUERY.sub(mask, text)
    text = _PATIENT_PATH.sub(mask, text)
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
    """Masks secrets, patient ids in URLs and the bound raw patient id in a record's message and arguments."""

    def __init__(self, id_hash_key: str | None = None) -> None:
        """Hash patient ids found in URLs with ``id_hash_key`` (mask them when None)."""
        super().__init__()
        self.id_hash_key = id_hash_key

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; always keeps it."""
        _, raw_ids = _request_fields()
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg = redact(message, raw_ids, id_hash_key=self.id_hash_key)
        record.args = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with request context; every string passes through ``redact``."""

    def __init__(self, *args: Any, id_hash_key: str | None = None, **kwargs: Any) -> None:
        """Build the formatter; ``id_hash_key`` hashes patient ids found in URLs (masked when None)."""
        super().__init__(*args, **kwargs)
        self.id_hash_key = id_hash_key

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one line of JSON."""
        context, raw_ids = _request_fields()
        key = self.id_hash_key

        def clean(text: str) -> str:
            return redact(text, raw_ids, id_hash_key=key)

        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": clean(record.getMessage()),
            **context,
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            for name, value in fields.items():
                if name not in out:
                    out[str(name)] = json.loads(clean(json.dumps(value, default=str)))
        if record.exc_info and record.exc_info[0] is not None:
            out["exception"] = record.exc_info[0].__name__
            out["traceback"] = clean(self.formatException(record.exc_info))
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
    handler.setFormatter(JsonFormatter(id_hash_key=settings.id_hash_key))
    handler.addFilter(RedactingFilter(settings.id_hash_key))
    root.addHandler(handler)
    root.setLevel(level)
    if settings.auth_disabled:
        logging.getLogger("nelm.security").warning(
            "AUTHENTICATION IS DISABLED (NELM_AUTH_DISABLED): any caller can use the CDS Hooks endpoints; "
            "development only"
        )
    return handler
