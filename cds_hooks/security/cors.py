"""CORS for the CDS Hooks endpoints: permissive in development, an origin allow-list in production.

Browser-based CDS clients (the public sandbox) send ``Authorization`` and JSON, so they preflight;
the preflight is answered here before authentication (it never carries the JWT).
"""

from __future__ import annotations

import logging

from flask import Flask, Response, request

from cds_hooks.config import Settings

__all__ = ["CorsPolicy", "is_cors_path"]

ALLOW_METHODS = "GET, POST, OPTIONS"
ALLOW_HEADERS = "Content-Type, Authorization"
log = logging.getLogger("nelm.security.cors")


def is_cors_path(path: str) -> bool:
    """Return True for the paths CORS applies to (the CDS Hooks surface and its OpenAPI description)."""
    return path == "/cds-services" or path.startswith("/cds-services/") or path == "/openapi.json"


class CorsPolicy:
    """Which origins may call us from a browser."""

    def __init__(self, settings: Settings) -> None:
        origins = tuple(settings.cors_origins)
        if settings.production and "*" in origins:
            log.warning("CORS '*' is ignored in production; set NELM_CORS_ORIGINS to the EHR origins")
            origins = tuple(o for o in origins if o != "*")
        self.any_origin = "*" in origins
        self.origins = frozenset(o.rstrip("/") for o in origins if o != "*")

    def allow_origin(self, origin: str | None) -> str | None:
        """Return the Access-Control-Allow-Origin value for ``origin``, or None to send no CORS headers."""
        if self.any_origin:
            return "*"
        if origin and origin.rstrip("/") in self.origins:
            return origin
        return None

    def apply(self, response: Response) -> Response:
        """Add CORS headers to ``response`` when the request's origin is allowed."""
        allowed = self.allow_origin(request.headers.get("Origin"))
        if not self.any_origin:
            response.vary.add("Origin")
        if allowed is None:
            return response
        response.headers["Access-Control-Allow-Origin"] = allowed
        response.headers["Access-Control-Allow-Methods"] = ALLOW_METHODS
        response.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
        if request.method == "OPTIONS":
            response.headers["Access-Control-Max-Age"] = "600"
        return response

    def preflight(self) -> Response:
        """Return the answer to an OPTIONS preflight (204; headers only when the origin is allowed)."""
        return self.apply(Response(status=204))

    def init_app(self, app: Flask) -> None:
        """Register the after-request hook that adds CORS headers on CORS paths."""

        @app.after_request
        def _cors(response: Response) -> Response:
            if is_cors_path(request.path):
                return self.apply(response)
            return response
