"""Trust at the edge: the CDS client's JWT on every ``/cds-services`` path, the fhirServer allow-list, CORS.

``init_app(app, settings)`` (called by ``create_app`` after the store, before the services):

- loads the trust file (``settings.trust_file``; ``config/dev-trust.json`` in development;
  required in production) and, in development, the demo EHR signer (``dev_signer``);
- registers a ``before_request`` that answers CORS preflights, then verifies the JWT of every
  ``/cds-services`` request and sets ``flask.g.nelm_client`` (a ``ClientIdentity``, or None when
  authentication is disabled in development, or on discovery, which is open unless
  ``NELM_DISCOVERY_REQUIRE_JWT`` is set: it holds no patient data, and CDS Hooks 2.0 has clients send a
  JWT only where the service requires one); a refusal is a 401 with ``WWW-Authenticate: Bearer`` and a
  short OperationOutcome saying what is wrong (``verify.py`` says which reasons are told and why),
  logged with the full reason, issuer and jti, never the token;
- sets ``app.extensions["nelm_fhir_allow"]``: ``(issuer, fhirServer URL) -> bool``;
- serves the OpenAPI description at ``/openapi.json``.

Exceptions: ``SecurityConfigError`` (start-up refused), ``TrustConfigError`` (bad trust file),
``AuthError`` (one request refused; never leaves this package).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from pathlib import Path

import jwt
from flask import Flask, Response, current_app, g, request
from sqlalchemy.exc import SQLAlchemyError

from cds_hooks import openapi
from cds_hooks.config import REPO_ROOT, Settings
from cds_hooks.security.cors import CorsPolicy
from cds_hooks.security.dev_signer import DevSigner, create_signer
from cds_hooks.security.fhir_allow import FhirServerAllowList
from cds_hooks.security.jwks import JwksCache
from cds_hooks.security.replay import MemoryReplayCache, ReplayGuard
from cds_hooks.security.trust import IssuerTrust, TrustConfig, TrustConfigError, load_trust
from cds_hooks.security.verify import MISSING, AuthError, ClientIdentity, ClientVerifier

__all__ = [
    "DEV_TRUST_FILE",
    "AuthError",
    "ClientIdentity",
    "SecurityConfigError",
    "TrustConfigError",
    "current_client",
    "expected_audience",
    "init_app",
]

DEV_TRUST_FILE = REPO_ROOT / "config" / "dev-trust.json"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
log = logging.getLogger("nelm.security")


class SecurityConfigError(RuntimeError):
    """The security settings are unsafe or incomplete for this environment; the app must not start."""


def _trust_path(settings: Settings) -> Path:
    if settings.trust_file is not None:
        return settings.trust_file
    if settings.production:
        raise SecurityConfigError("production requires NELM_TRUST_FILE (see config/production-trust.example.json)")
    return DEV_TRUST_FILE


def _with_demo_key(trust: TrustConfig, signer: DevSigner) -> TrustConfig:
    issuers = dict(trust.issuers)
    for iss, entry in trust.issuers.items():
        if entry.ephemeral_demo_key:
            keys = {**entry.keys, signer.kid: _public_key(signer)}
            issuers[iss] = IssuerTrust(
                issuer=iss,
                algorithms=entry.algorithms,
                keys=keys,
                jku_urls=entry.jku_urls,
                fhir_servers=entry.fhir_servers,
                tenants=entry.tenants,
                max_token_lifetime_seconds=entry.max_token_lifetime_seconds,
                ephemeral_demo_key=True,
            )
    return TrustConfig(
        issuers=issuers,
        source=trust.source,
        jwks_cache_seconds=trust.jwks_cache_seconds,
        jwks_min_refetch_seconds=trust.jwks_min_refetch_seconds,
        jku_timeout_seconds=trust.jku_timeout_seconds,
    )


def _public_key(signer: DevSigner) -> jwt.PyJWK:
    return jwt.PyJWK(dict(signer.public_jwk()))


def expected_audience(settings: Settings) -> str:
    """Return the URL this request was sent to, as the client's JWT ``aud`` must name it."""
    if settings.external_base_url:
        return settings.external_base_url.rstrip("/") + request.path
    return request.base_url


def current_client() -> ClientIdentity | None:
    """Return the verified CDS client of this request, or None when authentication is disabled."""
    client = g.get("nelm_client")
    return client if isinstance(client, ClientIdentity) else None


def _replay_guard(app: Flask, fallback: MemoryReplayCache) -> ReplayGuard:
    store = app.extensions.get("nelm_store")
    if store is not None and callable(getattr(store, "remember_jti", None)):
        guard: ReplayGuard = store
        return guard
    return fallback


def _unauthorized(public: str) -> Response:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "login", "diagnostics": public}],
    }
    response = Response(json.dumps(body), status=401, mimetype="application/json")
    challenge = 'Bearer realm="cds-services"'
    if public != MISSING:  # RFC 6750 section 3.1: no error code when the request carried no token
        challenge += f', error="invalid_token", error_description="{public}"'
    response.headers["WWW-Authenticate"] = challenge
    response.headers["Cache-Control"] = "no-store"
    return response


def _unavailable() -> Response:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "transient", "diagnostics": "the service cannot verify tokens now"}],
    }
    response = Response(json.dumps(body), status=503, mimetype="application/json")
    response.headers["Retry-After"] = "5"
    response.headers["Cache-Control"] = "no-store"
    return response


def _is_hook_path(path: str) -> bool:
    return path == "/cds-services" or path.startswith("/cds-services/")


def init_app(app: Flask, settings: Settings) -> None:
    """Register JWT verification, the fhirServer allow-list, CORS and /openapi.json on ``app``."""
    if settings.auth_disabled and settings.production:
        raise SecurityConfigError("NELM_AUTH_DISABLED is refused in production")
    if not 0 <= settings.clock_skew_seconds <= 60:
        raise SecurityConfigError("NELM_CLOCK_SKEW_SECONDS must be between 0 and 60")
    trust_path = _trust_path(settings)
    if settings.production and "nelm_store" not in app.extensions:
        raise SecurityConfigError("production needs the database store for the shared jti replay cache")
    problems = settings.production_problems()
    if problems:
        raise SecurityConfigError("refusing to start in production: " + "; ".join(problems) + " (generate keys "
                                  "with: python3 -c 'import secrets; print(secrets.token_urlsafe(48))')")
    trust = load_trust(trust_path, production=settings.production)
    if not settings.production and any(e.ephemeral_demo_key for e in trust.issuers.values()):
        signer = create_signer(Path(app.instance_path))
        app.extensions["nelm_dev_signer"] = signer
        trust = _with_demo_key(trust, signer)
    app.extensions["nelm_trust"] = trust
    app.extensions["nelm_fhir_allow"] = FhirServerAllowList(
        trust, production=settings.production, auth_disabled=settings.auth_disabled
    )
    fallback = MemoryReplayCache()
    if "nelm_store" not in app.extensions:
        log.warning("no database store registered: jti replay cache is per process (development only)")
    verifier = ClientVerifier(
        trust,
        jwks=JwksCache(
            timeout_seconds=trust.jku_timeout_seconds,
            cache_seconds=trust.jwks_cache_seconds,
            min_refetch_seconds=trust.jwks_min_refetch_seconds,
        ),
        replay=lambda: _replay_guard(current_app, fallback),
        clock_skew_seconds=settings.clock_skew_seconds,
    )
    app.extensions["nelm_client_verifier"] = verifier
    cors = CorsPolicy(settings)
    cors.init_app(app)
    if settings.auth_disabled:
        log.warning(
            "AUTHENTICATION IS DISABLED (NELM_AUTH_DISABLED=1): CDS Hooks endpoints accept calls without a JWT; "
            "development only, never expose this server"
        )
    loaded = {"trust_file": trust.source, "issuers": sorted(trust.issuers)}
    log.info("trusted CDS clients loaded", extra={"fields": loaded})

    @app.before_request
    def _authenticate() -> Response | None:
        incoming = request.headers.get("X-Request-ID", "")
        g.nelm_request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        if not _is_hook_path(request.path):
            return None
        if request.method == "OPTIONS":
            return cors.preflight()
        segments = request.path.split("/")
        if len(segments) > 2 and segments[2]:
            g.nelm_service_id = segments[2][:64]
        if settings.auth_disabled or (request.path == "/cds-services" and not settings.discovery_require_jwt):
            g.nelm_client = None  # an open discovery ignores any token sent: nothing to verify, no jti spent
            return None
        try:
            g.nelm_client = verifier.verify(request.headers.get("Authorization"), expected_audience(settings))
        except AuthError as exc:
            log.warning(
                "CDS client JWT refused",
                extra={"fields": {"reason": exc.reason, "issuer": exc.issuer, "jti": exc.jti, "path": request.path}},
            )
            return _unauthorized(exc.public)
        except SQLAlchemyError as exc:
            # The replay table is unreachable: we cannot tell a replay from a first use, so refuse for now.
            log.error("jti replay check unavailable", extra={"fields": {"error": type(exc).__name__}})
            return _unavailable()
        client = g.nelm_client
        log.info(
            "CDS client authenticated",
            extra={"fields": {"issuer": client.issuer, "tenant": client.tenant, "jti": client.jti}},
        )
        return None

    @app.after_request
    def _request_id(response: Response) -> Response:
        request_id = g.get("nelm_request_id")
        if isinstance(request_id, str):
            response.headers["X-Request-ID"] = request_id
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    openapi.init_app(app, settings)
