"""The SMART App Launch 2.x OAuth client: discovery, authorize (PKCE S256), token exchange, refresh.

Built on Authlib's ``OAuth2Session``; only the SMART specifics are ours: discovery solely through
``{iss}/.well-known/smart-configuration``, ``aud=iss`` and ``launch`` on the authorize request, and
the launch context that arrives beside the access token.

Errors (all subclasses of ``LaunchError``, each with a message safe to show a user):
``DiscoveryError`` (the EHR's configuration cannot be read or is unusable) and ``TokenError`` (the
token endpoint refused or failed).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign
from joserfc.jwk import ECKey, RSAKey

from cds_hooks.security.http_client import ResponseTooLarge, safe_request
from cds_hooks.smart.registry import SmartRegistration

DISCOVERY_MAX_BYTES = 256 * 1024  # a SMART configuration is a few kilobytes

__all__ = [
    "DiscoveryError",
    "LaunchError",
    "SmartConfiguration",
    "TokenError",
    "authorization_url",
    "discover",
    "exchange_code",
    "new_nonce",
    "new_pkce_verifier",
    "new_state",
    "refresh",
]


class LaunchError(Exception):
    """A launch step failed; ``str()`` is safe to show the user."""


class DiscoveryError(LaunchError):
    """``.well-known/smart-configuration`` is unreachable or unusable."""


class TokenError(LaunchError):
    """The token endpoint refused the request or failed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SmartConfiguration:
    """The parts of an EHR's ``.well-known/smart-configuration`` the app uses."""

    authorization_endpoint: str
    token_endpoint: str
    capabilities: tuple[str, ...]
    code_challenge_methods: tuple[str, ...]
    issuer: str | None = None  # OpenID Connect: the id_token's expected ``iss``
    jwks_uri: str | None = None  # OpenID Connect: the keys that sign id_tokens


def new_state() -> str:
    """Return an unguessable ``state`` (256 bits; SMART asks for at least 122)."""
    return secrets.token_urlsafe(32)


def new_nonce() -> str:
    """Return an unguessable OpenID Connect ``nonce``, kept in the launch's server-side session."""
    return secrets.token_urlsafe(32)


def new_pkce_verifier() -> str:
    """Return a PKCE code verifier (RFC 7636: 43–128 characters of the unreserved set)."""
    return secrets.token_urlsafe(64)


def _same_scheme_rule(iss: str, url: str, *, production: bool) -> None:
    if production and urlsplit(url).scheme != "https":
        raise DiscoveryError(f"the EHR's endpoint {url} is not https")
    if urlsplit(url).scheme not in {"http", "https"}:
        raise DiscoveryError(f"the EHR's endpoint {url} is not an http(s) URL")
    del iss


def discover(iss: str, *, timeout: float, production: bool) -> SmartConfiguration:
    """Return the EHR's SMART configuration; raises DiscoveryError when it cannot be used."""
    url = f"{iss.rstrip('/')}/.well-known/smart-configuration"
    try:
        response = safe_request("GET", url, stay_under=iss.rstrip("/"), timeout=timeout, max_bytes=DISCOVERY_MAX_BYTES,
                                headers={"Accept": "application/json"})
    except ResponseTooLarge:
        raise DiscoveryError("the EHR's SMART configuration is too large to be one") from None
    except requests.RequestException as exc:
        raise DiscoveryError(f"the EHR's SMART configuration could not be reached ({type(exc).__name__})") from exc
    if response.status_code != 200:
        raise DiscoveryError(f"the EHR's SMART configuration answered HTTP {response.status_code}")
    try:
        data: Any = response.json()
    except ValueError as exc:
        raise DiscoveryError("the EHR's SMART configuration is not JSON") from exc
    if not isinstance(data, dict):
        raise DiscoveryError("the EHR's SMART configuration is not a JSON object")
    auth = data.get("authorization_endpoint")
    token = data.get("token_endpoint")
    if not isinstance(auth, str) or not isinstance(token, str):
        raise DiscoveryError("the EHR's SMART configuration lacks authorization_endpoint or token_endpoint")
    methods = data.get("code_challenge_methods_supported")
    methods_t = tuple(m for m in methods if isinstance(m, str)) if isinstance(methods, list) else ()
    # PKCE S256 is sent whatever the server advertises (some EHRs omit the field); but a server that
    # offers only "plain" is not a SMART 2 server and would downgrade the protection.
    if methods_t and "S256" not in methods_t:
        raise DiscoveryError("the EHR does not support PKCE S256")
    caps = data.get("capabilities")
    caps_t = tuple(c for c in caps if isinstance(c, str)) if isinstance(caps, list) else ()
    for endpoint in (auth, token):
        _same_scheme_rule(iss, endpoint, production=production)
    issuer = data.get("issuer")
    jwks_uri = data.get("jwks_uri")
    if isinstance(jwks_uri, str):
        _same_scheme_rule(iss, jwks_uri, production=production)
    return SmartConfiguration(
        authorization_endpoint=auth,
        token_endpoint=token,
        capabilities=caps_t,
        code_challenge_methods=methods_t,
        issuer=issuer if isinstance(issuer, str) and issuer else None,
        jwks_uri=jwks_uri if isinstance(jwks_uri, str) and jwks_uri else None,
    )


ASSERTION_LIFETIME_SECONDS = 300  # SMART: the client assertion expires within five minutes


class _SmartPrivateKeyJWT(PrivateKeyJWT):  # type: ignore[misc]
    """Authlib's ``private_key_jwt`` with a fresh ``jti`` and a five-minute ``exp`` on every request."""

    def sign(self, auth: Any, token_endpoint: str) -> Any:
        """Return the signed client assertion for ``token_endpoint``."""
        return private_key_jwt_sign(
            auth.client_secret,
            client_id=auth.client_id,
            token_endpoint=token_endpoint,
            alg=self.alg,
            header=dict(self.headers) if self.headers else None,
            expires_in=ASSERTION_LIFETIME_SECONDS,
        )


def _session(reg: SmartRegistration, *, redirect_uri: str, token_endpoint: str, scope: str) -> OAuth2Session:
    if reg.auth_method == "private_key_jwt":
        if reg.private_jwk is None:
            raise TokenError("the app's private key is not configured")
        jwk = dict(reg.private_jwk)
        key = RSAKey.import_key(jwk) if jwk.get("kty") == "RSA" else ECKey.import_key(jwk)
        headers = {"kid": str(jwk["kid"])} if "kid" in jwk else None
        session = OAuth2Session(
            reg.client_id,
            key,
            scope=scope,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="private_key_jwt",  # noqa: S106 - a method name, not a secret
        )
        session.register_client_auth_method(_SmartPrivateKeyJWT(token_endpoint, headers=headers, alg=reg.alg))
        return session
    return OAuth2Session(
        reg.client_id,
        reg.client_secret,
        scope=scope,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method=reg.auth_method,
    )


def authorization_url(
    reg: SmartRegistration,
    config: SmartConfiguration,
    *,
    redirect_uri: str,
    state: str,
    code_verifier: str,
    launch: str | None,
    nonce: str | None = None,
) -> str:
    """Return the authorize URL: PKCE S256, ``state``, ``aud=iss``, ``nonce``, and ``launch`` for an EHR launch."""
    scope = reg.scopes if launch is not None else reg.standalone_scopes()
    session = _session(reg, redirect_uri=redirect_uri, token_endpoint=config.token_endpoint, scope=scope)
    extra: dict[str, str] = {"aud": reg.iss}
    if launch is not None:
        extra["launch"] = launch
    if nonce is not None and "openid" in scope.split():
        extra["nonce"] = nonce
    url, _ = session.create_authorization_url(
        config.authorization_endpoint, state=state, code_verifier=code_verifier, **extra
    )
    session.close()
    return str(url)


def _token_call(call: Any) -> dict[str, Any]:
    try:
        token = call()
    except OAuthError as exc:
        detail = f": {exc.description}" if getattr(exc, "description", None) else ""
        raise TokenError(f"the EHR's authorization server refused the request ({exc.error}{detail})") from exc
    except requests.HTTPError as exc:
        code = exc.response.status_code if exc.response is not None else "?"
        raise TokenError(f"the EHR's token endpoint failed (HTTP {code})") from exc
    except requests.RequestException as exc:
        raise TokenError(f"the EHR's token endpoint could not be reached ({type(exc).__name__})") from exc
    except ValueError as exc:
        raise TokenError("the EHR's token endpoint did not answer with a token") from exc
    if not isinstance(token, dict) or not isinstance(token.get("access_token"), str):
        raise TokenError("the EHR's token response has no access_token")
    if str(token.get("token_type", "")).lower() != "bearer":
        raise TokenError("the EHR's token response is not a Bearer token")
    return dict(token)


def exchange_code(
    reg: SmartRegistration,
    config: SmartConfiguration,
    *,
    code: str,
    redirect_uri: str,
    code_verifier: str,
    timeout: float,
) -> dict[str, Any]:
    """Return the token response (with launch context) for ``code``; raises TokenError."""
    session = _session(reg, redirect_uri=redirect_uri, token_endpoint=config.token_endpoint, scope=reg.scopes)
    try:
        return _token_call(
            lambda: session.fetch_token(
                config.token_endpoint,
                grant_type="authorization_code",
                code=code,
                code_verifier=code_verifier,
                redirect_uri=redirect_uri,
                timeout=timeout,
            )
        )
    finally:
        session.close()


def refresh(
    reg: SmartRegistration, *, token_endpoint: str, refresh_token: str, redirect_uri: str, timeout: float
) -> dict[str, Any]:
    """Return a new token response from ``refresh_token``; raises TokenError."""
    session = _session(reg, redirect_uri=redirect_uri, token_endpoint=token_endpoint, scope=reg.scopes)
    session.scope = None  # keep the granted scopes; do not ask for new ones on refresh
    try:
        return _token_call(
            lambda: session.refresh_token(token_endpoint, refresh_token=refresh_token, timeout=timeout)
        )
    finally:
        session.close()
