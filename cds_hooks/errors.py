"""Error answers of the service: every failure is an HTTP status with a FHIR OperationOutcome body.

Exception hierarchy::

    HookError (status, code, diagnostics)   -> OperationOutcome with that status
      ├─ RequestError        400  malformed request (JSON, fields, types, wrong hook)
      ├─ UnknownServiceError 404  no service with that id
      ├─ PreconditionError   412  required data could not be obtained (prefetch + FHIR fallback)
      └─ PayloadTooLargeError 413 body over ``settings.max_request_bytes``

``register_error_handlers(app)`` turns these, Flask's own HTTP errors on ``/cds-services`` paths
and any unexpected exception into OperationOutcome bodies; an unexpected exception is logged
with its type and traceback only (no request data, so no PHI and no tokens).
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

__all__ = [
    "HookError",
    "PayloadTooLargeError",
    "PreconditionError",
    "RequestError",
    "UnknownServiceError",
    "error_response",
    "operation_outcome",
    "register_error_handlers",
]

log = logging.getLogger("nelm.cds.errors")

# FHIR IssueType codes (http://hl7.org/fhir/issue-type) used by our answers.
_ISSUE_CODE_BY_STATUS = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    412: "incomplete",
    413: "too-costly",
    415: "not-supported",
    429: "throttled",
    500: "exception",
    503: "transient",
}


class HookError(Exception):
    """A failure with a client-safe message, answered as ``status`` with an OperationOutcome."""

    status = 400
    code = "invalid"

    def __init__(self, diagnostics: str, *, expression: str | None = None) -> None:
        super().__init__(diagnostics)
        self.diagnostics = diagnostics
        self.expression = expression


class RequestError(HookError):
    """The request is malformed: bad JSON, a missing or mistyped field, or the wrong hook (400)."""

    status = 400
    code = "invalid"


class UnknownServiceError(HookError):
    """No CDS service has this id (404)."""

    status = 404
    code = "not-found"


class PreconditionError(HookError):
    """Data the service needs is neither prefetched nor obtainable from ``fhirServer`` (412)."""

    status = 412
    code = "incomplete"


class PayloadTooLargeError(HookError):
    """The request body is larger than the configured limit (413)."""

    status = 413
    code = "too-costly"


def operation_outcome(
    diagnostics: str, *, code: str = "invalid", severity: str = "error", expression: str | None = None
) -> dict[str, Any]:
    """Return a FHIR R4 OperationOutcome with one issue."""
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def error_response(
    status: int, diagnostics: str, *, code: str | None = None, expression: str | None = None
) -> Response:
    """Return a JSON response holding an OperationOutcome, with ``status``."""
    body = operation_outcome(
        diagnostics, code=code or _ISSUE_CODE_BY_STATUS.get(status, "processing"), expression=expression
    )
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _is_hook_path() -> bool:
    return request.path.startswith("/cds-services")


def register_error_handlers(app: Flask) -> None:
    """Answer HookErrors, HTTP errors on /cds-services and unexpected exceptions with OperationOutcomes."""

    @app.errorhandler(HookError)
    def _hook_error(exc: HookError) -> Response:
        return error_response(exc.status, exc.diagnostics, code=exc.code, expression=exc.expression)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response | HTTPException:
        status = exc.code or 500
        if not _is_hook_path():
            return exc
        if status == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH")
            return error_response(413, f"request body is larger than the limit of {limit} bytes")
        if status == 401:
            # Authentication failures stay bare (STANDARDS.md 1.8); the security module owns them.
            return exc
        if status == 405:
            return error_response(405, f"method {request.method} is not allowed on {request.path}")
        if status == 404:
            return error_response(404, f"no CDS Hooks endpoint at {request.path}")
        return error_response(status, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response | HTTPException:
        if isinstance(exc, HTTPException):  # pragma: no cover - Flask routes these to the handler above
            return exc
        # Type and stack frames only: the exception text may quote request data (PHI, tokens).
        frames = "".join(traceback.format_tb(exc.__traceback__))
        log.error("unexpected %s while handling %s %s\n%s", type(exc).__name__, request.method, request.url_rule,
                  frames)
        return error_response(500, "internal error while handling the request; it has been logged", code="exception")
