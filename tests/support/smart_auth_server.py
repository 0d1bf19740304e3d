"""A test SMART on FHIR authorization server (stand-in for the EHR's), built on Authlib's server classes.

It serves, on one free loopback port:

- ``{iss}/.well-known/smart-configuration`` (``iss`` = ``{base}/fhir``),
- ``/auth/authorize``: authorization code with PKCE S256 required, ``aud`` must equal ``iss``,
  ``launch`` must be one the test registered (EHR launch) — the user is approved automatically,
- ``/auth/token``: confidential clients by ``client_secret_basic``/``client_secret_post`` or
  ``private_key_jwt``; the response carries the SMART launch context (``patient``, ``encounter``,
  ``need_patient_banner``, ``smart_style_url``, ``appContext``, ``tenant``), an ``id_token`` signed
  with the key published at ``/auth/jwks`` (``jwks_uri``; RS256 by default, ``id_token_alg`` for
  RS384/ES384) carrying the authorize request's ``nonce``, and, when enabled, a refresh token,
- ``/styles/<name>.json``: SMART style documents registered with ``add_style``,
- ``{iss}/...``: a FHIR proxy to a real FHIR server (SEKMET) that checks the bearer token, so that
  an expired or revoked token gives a real 401.

``issue_token()`` mints an access token directly (the token an EHR passes to a CDS service as
``fhirAuthorization``); ``searchset_outcome`` makes the FHIR proxy add an OperationOutcome entry
(``search.mode = outcome``) to every searchset, as servers do for an ignored parameter.

Fault switches for failure-path tests: ``fail_token_with``, ``fail_writes_with`` (a gateway refusing
writes), ``expires_in``, ``issue_refresh``, ``revoke_all()``, ``id_token_fault`` (one of
``ID_TOKEN_FAULTS``: a token signed by an unpublished key, for another audience, expired, with
another nonce or issuer, or unsigned).

How common servers sign (``id_token_alg``, ``id_token_kid``, ``jwks_layout``, ``jwks_kid_members``):
RS256/RS384/ES384, with or without ``kid`` in the header (smart-on-fhir's launcher sends none), and a
published key set of one key (``single``), of an RSA and an EC key (``rsa+ec``, the default) or of
two keys of the signing key's type with a spare listed first (``two-same-type``, a key rotation), with
or without ``kid`` members in the set.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import jwt
import requests
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, InvalidClientError, OAuth2Error, grants
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7636 import CodeChallenge
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask import Flask, Response, jsonify, request
from joserfc import jwt as joserfc_jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from werkzeug.serving import make_server

from tests.support.sekmet import free_port

__all__ = ["ID_TOKEN_FAULTS", "JWKS_LAYOUTS", "SmartAuthServer", "run_smart_auth_server"]

ID_TOKEN_FAULTS = ("wrong-key", "wrong-aud", "expired", "wrong-nonce", "wrong-iss", "alg-none", "future-iat")
JWKS_LAYOUTS = ("single", "rsa+ec", "two-same-type")


@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    client_id: str
    redirect_uris: list[str]
    scope: str
    auth_methods: tuple[str, ...]
    client_secret: str | None = None
    public_jwks: dict[str, Any] | None = None

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return ""
        allowed = set(self.scope.split())
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return self.client_secret is not None and secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in self.auth_methods

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in {"authorization_code", "refresh_token"}


@dataclass
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    code_challenge: str | None
    code_challenge_method: str | None
    context: dict[str, Any]
    nonce: str | None = None

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_auth_time(self) -> int:
        return int(time.time())

    def get_nonce(self) -> str | None:
        return self.nonce


@dataclass
class TokenRecord:
    access_token: str
    client_id: str
    scope: str
    expires_at: float
    context: dict[str, Any]
    refresh_token: str | None = None
    revoked: bool = False

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at

    def is_revoked(self) -> bool:
        return self.revoked


@dataclass
class User:
    id: str = "dr-1"
    fhir_user: str = "Practitioner/dr-1"


class _CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [
        "client_secret_basic", "client_secret_post", JWTBearerClientAssertion.CLIENT_AUTH_METHOD,
    ]
    owner: SmartAuthServer

    def save_authorization_code(self, code: str, req: Any) -> None:
        data = req.payload.data
        self.owner.codes[code] = AuthCode(
            code=code, client_id=req.client.client_id, redirect_uri=data.get("redirect_uri", ""),
            scope=req.payload.scope or "", code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"), context=self.owner.pending_context,
            nonce=data.get("nonce"),
        )

    def query_authorization_code(self, code: str, client: Client) -> AuthCode | None:
        item = self.owner.codes.get(code)
        return item if item is not None and item.client_id == client.client_id else None

    def delete_authorization_code(self, authorization_code: AuthCode) -> None:
        self.owner.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: AuthCode) -> User:
        return User()

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        context = dict(self.request.authorization_code.context)
        status, token, headers = super().create_token_response()
        token.update({k: v for k, v in context.items() if v is not None})
        if "openid" in (token.get("scope") or "").split():
            token["id_token"] = self.owner.id_token(self.request.client.client_id,
                                                    nonce=self.request.authorization_code.nonce)
        self.owner.tokens[token["access_token"]].context = context
        return status, token, headers


class _RefreshGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = _CodeGrant.TOKEN_ENDPOINT_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True
    owner: SmartAuthServer

    def authenticate_refresh_token(self, refresh_token: str) -> TokenRecord | None:
        for rec in self.owner.tokens.values():
            if rec.refresh_token == refresh_token and not rec.revoked:
                return rec
        return None

    def authenticate_user(self, refresh_token: TokenRecord) -> User:
        return User()

    def revoke_old_credential(self, refresh_token: TokenRecord) -> None:
        refresh_token.revoked = True

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        old: TokenRecord = self.request.refresh_token
        status, token, headers = super().create_token_response()
        token["patient"] = old.context.get("patient")
        self.owner.tokens[token["access_token"]].context = dict(old.context)
        self.owner.refreshes += 1
        return status, token, headers


class _Assertion(JWTBearerClientAssertion):  # type: ignore[misc]
    owner: SmartAuthServer

    def get_audiences(self) -> list[str]:
        return [self.owner.token_url]

    def validate_jti(self, claims: Any, jti: str) -> bool:
        if jti in self.owner.seen_jtis:
            return False
        self.owner.seen_jtis.add(jti)
        return True

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> Any:
        # SMART asks for RS384/ES384, which joserfc's default registry rejects as "not recommended".
        try:
            token = joserfc_jwt.decode(assertion, resolve_key, algorithms=["RS384", "ES384"])
        except JoseError as exc:
            raise InvalidClientError(description=exc.description) from exc
        if token.claims.get("exp", 0) > time.time() + 300 + 5:
            raise InvalidClientError(description="client assertion lives longer than 5 minutes")
        self.verify_claims(token.claims)
        return token.claims

    def resolve_client_public_key(self, client: Client) -> Any:
        return KeySet.import_key_set(client.public_jwks or {"keys": []})


@dataclass
class SmartAuthServer:
    """The running server: its URLs, registered clients and launches, and what it saw."""

    fhir_upstream: str
    port: int = field(default_factory=free_port)
    expires_in: int = 3600
    issue_refresh: bool = True
    fail_token_with: tuple[int, dict[str, Any] | str] | None = None
    fail_writes_with: tuple[int, dict[str, Any]] | None = None  # what the FHIR gateway answers to POST/PUT
    clients: dict[str, Client] = field(default_factory=dict)
    launches: dict[str, dict[str, Any]] = field(default_factory=dict)
    codes: dict[str, AuthCode] = field(default_factory=dict)
    tokens: dict[str, TokenRecord] = field(default_factory=dict)
    seen_jtis: set[str] = field(default_factory=set)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    fhir_requests: list[tuple[str, str, int]] = field(default_factory=list)
    refreshes: int = 0
    standalone_patient: str | None = None
    pending_context: dict[str, Any] = field(default_factory=dict)
    id_token_alg: str = "RS256"
    id_token_fault: str | None = None
    id_token_kid: bool = True  # False: the header names no kid (smart-on-fhir's launcher)
    jwks_layout: str = "rsa+ec"  # one of JWKS_LAYOUTS
    jwks_kid_members: bool = True  # False: the published keys carry no kid member
    publish_jwks_uri: bool = True
    jwks_uri_override: str | None = None  # publish another jwks_uri (e.g. one where nothing listens)
    jwks_requests: int = 0
    styles: dict[str, Any] = field(default_factory=dict)
    searchset_outcome: dict[str, Any] | None = None  # an OperationOutcome the FHIR proxy adds to every searchset
    style_requests: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def iss(self) -> str:
        return f"{self.base_url}/fhir"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/auth/token"

    def register_client(self, client_id: str, *, redirect_uri: str, scope: str, secret: str | None = None,
                        public_jwks: dict[str, Any] | None = None) -> None:
        methods = []
        if secret:
            methods += ["client_secret_basic", "client_secret_post"]
        if public_jwks:
            methods.append(JWTBearerClientAssertion.CLIENT_AUTH_METHOD)
        self.clients[client_id] = Client(client_id=client_id, redirect_uris=[redirect_uri], scope=scope,
                                         auth_methods=tuple(methods), client_secret=secret, public_jwks=public_jwks)

    def new_launch(self, *, patient: str, encounter: str | None = None, app_context: str | None = None,
                   need_patient_banner: bool = True, smart_style_url: str | None = None,
                   tenant: str | None = None) -> str:
        launch = secrets.token_urlsafe(12)
        self.launches[launch] = {"patient": patient, "encounter": encounter, "appContext": app_context,
                                 "need_patient_banner": need_patient_banner, "smart_style_url": smart_style_url,
                                 "tenant": tenant}
        return launch

    def add_style(self, name: str, style: Any, *, host: str = "127.0.0.1") -> str:
        """Serve ``style`` (a SMART style document) and return its URL (``host`` picks the origin)."""
        self.styles[name] = style
        return f"http://{host}:{self.port}/styles/{name}.json"

    def issue_token(self, *, patient: str, scope: str = "patient/*.rs", client_id: str = "cds-client") -> str:
        """Return a fresh access token for ``patient`` (what an EHR hands a CDS service as fhirAuthorization)."""
        token = secrets.token_urlsafe(32)
        self.tokens[token] = TokenRecord(access_token=token, client_id=client_id, scope=scope,
                                         expires_at=time.time() + self.expires_in, context={"patient": patient})
        return token

    def revoke_all(self) -> None:
        """Revoke every access and refresh token (the FHIR proxy then answers 401)."""
        for rec in self.tokens.values():
            rec.revoked = True

    def id_token(self, client_id: str, *, nonce: str | None = None) -> str:
        """Return an id_token for ``client_id``, spoilt as ``id_token_fault`` says."""
        now = int(time.time())
        fault = self.id_token_fault
        claims: dict[str, Any] = {
            "iss": "https://counterfeit.example.org/fhir" if fault == "wrong-iss" else self.iss,
            "sub": "dr-1", "aud": "another-app" if fault == "wrong-aud" else client_id,
            "iat": now - 3600 if fault == "expired" else now + 3600 if fault == "future-iat" else now,
            "exp": now - 1800 if fault == "expired" else now + 3900 if fault == "future-iat" else now + 300,
            "fhirUser": f"{self.iss}/Practitioner/dr-1",
        }
        if nonce is not None:
            claims["nonce"] = "a-nonce-of-another-launch" if fault == "wrong-nonce" else nonce
        if fault == "alg-none":
            return jwt.encode(claims, None, algorithm="none", headers={"kid": "ehr-rsa-1"})
        alg = self.id_token_alg
        ec_alg = alg.startswith("ES")
        key: Any = self._ec_key if ec_alg else self._signing_key
        kid = "ehr-ec-1" if ec_alg else "ehr-rsa-1"
        if fault == "wrong-key":
            key = self._rogue_ec if ec_alg else self._rogue_key  # same kid, a key the EHR never published
        headers = {"kid": kid} if self.id_token_kid else {}
        return jwt.encode(claims, key, algorithm=alg, headers=headers)

    def jwks(self) -> dict[str, Any]:
        """Return the published JWK Set (public keys only), laid out as ``jwks_layout`` says."""
        rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._signing_key.public_key()))
        ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self._ec_key.public_key()))
        rsa_jwk |= {"kid": "ehr-rsa-1", "use": "sig"}
        ec_jwk |= {"kid": "ehr-ec-1", "use": "sig", "alg": "ES384"}
        ec_alg = self.id_token_alg.startswith("ES")
        if self.jwks_layout == "single":
            keys = [ec_jwk if ec_alg else rsa_jwk]
        elif self.jwks_layout == "two-same-type":
            spare = (json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self._spare_ec.public_key())) if ec_alg
                     else json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._spare_rsa.public_key())))
            spare |= {"kid": "ehr-next-1", "use": "sig"}
            keys = [spare, ec_jwk if ec_alg else rsa_jwk]
        else:
            keys = [rsa_jwk, ec_jwk]
        if not self.jwks_kid_members:
            keys = [{k: v for k, v in item.items() if k != "kid"} for item in keys]
        return {"keys": keys}

    def build(self) -> Flask:
        self._signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._rogue_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._ec_key = ec.generate_private_key(ec.SECP384R1())
        self._rogue_ec = ec.generate_private_key(ec.SECP384R1())
        self._spare_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._spare_ec = ec.generate_private_key(ec.SECP384R1())
        app = Flask("smart_auth_server")
        app.config["OAUTH2_ERROR_URIS"] = None
        server = AuthorizationServer(app, query_client=self.clients.get, save_token=self._save_token)
        server.register_token_generator("default", BearerTokenGenerator(
            lambda **kw: secrets.token_urlsafe(32),
            lambda **kw: secrets.token_urlsafe(32) if self.issue_refresh else None,
            lambda client, grant_type: self.expires_in,
        ))
        owner = self
        code_grant = type("CodeGrant", (_CodeGrant,), {"owner": owner})
        refresh_grant = type("RefreshGrant", (_RefreshGrant,), {"owner": owner})
        server.register_grant(code_grant, [CodeChallenge(required=True)])
        server.register_grant(refresh_grant)
        assertion = type("Assertion", (_Assertion,), {"owner": owner})
        server.register_client_auth_method(JWTBearerClientAssertion.CLIENT_AUTH_METHOD, assertion())

        @app.get("/auth/jwks")
        def jwks() -> Response:
            self.jwks_requests += 1
            return jsonify(self.jwks())

        @app.get("/styles/<name>.json")
        def style(name: str) -> Response:
            self.style_requests.append(f"{request.host}/{name}")
            if name not in self.styles:
                return Response("no such style", status=404)
            return jsonify(self.styles[name])

        @app.get("/fhir/.well-known/smart-configuration")
        def smart_configuration() -> Response:
            return jsonify({
                **({"jwks_uri": self.jwks_uri_override or f"{self.base_url}/auth/jwks"}
                   if self.publish_jwks_uri else {}),
                "issuer": self.iss,
                "authorization_endpoint": f"{self.base_url}/auth/authorize",
                "token_endpoint": self.token_url,
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic", "client_secret_post", "private_key_jwt",
                ],
                "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "scopes_supported": ["openid", "fhirUser", "launch", "launch/patient", "offline_access",
                                     "patient/*.rs", "patient/Observation.cu"],
                "response_types_supported": ["code"],
                "code_challenge_methods_supported": ["S256"],
                "capabilities": ["launch-ehr", "launch-standalone", "client-confidential-symmetric",
                                 "client-confidential-asymmetric", "context-ehr-patient", "context-banner",
                                 "context-style", "permission-v2", "sso-openid-connect"],
            })

        @app.get("/auth/authorize")
        def authorize() -> Any:
            args = request.args.to_dict()
            self.authorize_requests.append(args)
            if args.get("aud", "").rstrip("/") != self.iss:
                return Response("aud must be the FHIR base URL (iss)", status=400)
            if args.get("code_challenge_method") != "S256" or not args.get("code_challenge"):
                return Response("PKCE S256 is required", status=400)
            launch = args.get("launch")
            if launch is not None:
                if launch not in self.launches:
                    return Response("unknown launch", status=400)
                self.pending_context = dict(self.launches[launch])
            elif "launch/patient" in args.get("scope", "").split() and self.standalone_patient:
                self.pending_context = {"patient": self.standalone_patient, "need_patient_banner": True}
            else:
                self.pending_context = {}
            try:
                grant = server.get_consent_grant(end_user=User())
            except OAuth2Error as exc:
                return server.handle_error_response(None, exc)
            return server.create_authorization_response(grant_user=User(), grant=grant)

        @app.post("/auth/token")
        def token() -> Any:
            self.token_requests.append(request.form.to_dict())
            if self.fail_token_with is not None:
                status, body = self.fail_token_with
                if isinstance(body, str):
                    return Response(body, status=status, mimetype="text/html")
                return Response(jsonify(body).get_data(), status=status, mimetype="application/json")
            return server.create_token_response()

        @app.route("/fhir/<path:rest>", methods=["GET", "POST", "PUT"])
        def fhir(rest: str) -> Response:
            auth = request.headers.get("Authorization", "")
            rec = self.tokens.get(auth.removeprefix("Bearer ")) if auth.startswith("Bearer ") else None
            if rec is None or rec.revoked or rec.is_expired():
                self.fhir_requests.append((request.method, rest, 401))
                body = {"resourceType": "OperationOutcome",
                        "issue": [{"severity": "error", "code": "login", "diagnostics": "invalid or expired token"}]}
                return Response(jsonify(body).get_data(), status=401, mimetype="application/fhir+json",
                                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
            if self.fail_writes_with is not None and request.method in {"POST", "PUT"}:
                status, outcome = self.fail_writes_with
                self.fhir_requests.append((request.method, rest, status))
                return Response(jsonify(outcome).get_data(), status=status, mimetype="application/fhir+json")
            url = f"{self.fhir_upstream}/{rest}"
            upstream = requests.request(
                request.method, url, params=list(request.args.items(multi=True)), data=request.get_data(),
                headers={"Content-Type": request.headers.get("Content-Type", "application/fhir+json"),
                         "Accept": "application/fhir+json"}, timeout=20,
            )
            self.fhir_requests.append((request.method, rest, upstream.status_code))
            body = upstream.content.replace(self.fhir_upstream.encode(), self.iss.encode())
            if self.searchset_outcome is not None and upstream.status_code == 200:
                body = self._with_outcome(body)
            headers = {}
            if "Location" in upstream.headers:
                headers["Location"] = upstream.headers["Location"].replace(self.fhir_upstream, self.iss)
            return Response(body, status=upstream.status_code,
                            mimetype=upstream.headers.get("Content-Type", "application/fhir+json"), headers=headers)

        return app

    def _with_outcome(self, body: bytes) -> bytes:
        """Add ``searchset_outcome`` as a ``search.mode = outcome`` entry, as servers report ignored parameters."""
        data = json.loads(body)
        if data.get("resourceType") != "Bundle" or data.get("type") != "searchset":
            return body
        entry = {"resource": self.searchset_outcome, "search": {"mode": "outcome"}}
        data["entry"] = [entry, *data.get("entry", [])]
        return json.dumps(data).encode()

    def _save_token(self, token: dict[str, Any], req: Any) -> None:
        self.tokens[token["access_token"]] = TokenRecord(
            access_token=token["access_token"], client_id=req.client.client_id, scope=token.get("scope", ""),
            expires_at=time.time() + int(token.get("expires_in", 0)), context={},
            refresh_token=token.get("refresh_token"),
        )


@contextlib.contextmanager
def run_smart_auth_server(fhir_upstream: str) -> Iterator[SmartAuthServer]:
    """Start the server on a free loopback port in a thread; yield it; shut it down."""
    server = SmartAuthServer(fhir_upstream=fhir_upstream.rstrip("/"))
    http = make_server("127.0.0.1", server.port, server.build(), threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        http.shutdown()
        thread.join(timeout=10)
