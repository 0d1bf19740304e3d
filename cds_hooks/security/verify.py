"""Verification of the CDS client's JWT (CDS Hooks 2.0 "Trusting CDS Clients", best-practices steps 1-6).

Order of checks, each failure raising ``AuthError`` with a reason for the log (never the token):

1. ``Authorization: Bearer <jwt>`` present and shaped like a compact JWS of sane size;
2. header: ``alg`` pinned for the issuer (never ``none`` or HMAC), ``kid`` required, no ``crit``;
3. ``iss`` trusted; ``jku`` (when sent) allow-listed for that issuer;
4. key found by ``kid`` (static keys, else the allow-listed JWK Set, re-fetched on rotation) and
   compatible with ``alg``; signature verified;
5. ``aud`` equals the URL called; ``exp``, ``iat`` (and ``nbf``) within the clock skew; lifetime
   at most the issuer's maximum; ``tenant`` allowed when the issuer has a tenant list;
6. ``jti`` not seen before (checked last, so forged tokens cannot fill the replay table).

What the client is told (``AuthError.public``, the 401 body) is deliberately coarser than the log reason:

- before the signature is verified, only what the client can see in its own request: no Authorization
  header (``MISSING``), or a token that is not a well-formed signed JWT (``MALFORMED``);
- every trust failure (issuer unknown, ``alg`` not pinned, ``jku`` not allow-listed, unknown ``kid``, bad
  signature) is the one answer ``NOT_TRUSTED``: telling them apart would let anyone without a key
  enumerate the trust file (which EHRs are clients, which key ids exist);
- after the signature is verified the sender holds a trusted key, so the failing claim is named
  (expired, not yet valid, audience, lifetime, tenant, jti, replay).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt

from cds_hooks.security.jwks import JwksCache
from cds_hooks.security.replay import ReplayGuard
from cds_hooks.security.trust import ALLOWED_ALGORITHMS, IssuerTrust, TrustConfig, key_algorithms

__all__ = ["MALFORMED", "MISSING", "NOT_TRUSTED", "AuthError", "ClientIdentity", "ClientVerifier"]

MAX_TOKEN_CHARS = 8192
MAX_JTI_CHARS = 256
_COMPACT_JWS = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")

MISSING = "Authorization header with a bearer JWT required"
MALFORMED = "the bearer token is not a JWT this service can verify (compact JWS; ES384/RS384/ES256/RS256; kid)"
NOT_TRUSTED = "token not trusted: issuer not trusted, key unknown or signature invalid"
_AFTER_SIGNATURE = {  # PyJWT checks the signature before these claims
    "ExpiredSignatureError": "token expired",
    "ImmatureSignatureError": "token not yet valid (iat or nbf in the future)",
    "InvalidIssuedAtError": "token iat must be a number (seconds since the epoch)",
    "InvalidAudienceError": "token audience (aud) is not the URL called",
    "MissingRequiredClaimError": "token lacks a required claim (iss, aud, exp, iat, jti)",
}


class AuthError(Exception):
    """The JWT is refused: ``reason`` is for the log, ``public`` (coarser, see above) for the client."""

    def __init__(
        self, reason: str, *, issuer: str | None = None, jti: str | None = None, public: str = NOT_TRUSTED
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.issuer = issuer
        self.jti = jti
        self.public = public


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientIdentity:
    """The verified CDS client of this request (``flask.g.nelm_client``)."""

    issuer: str
    tenant: str | None = None
    jti: str | None = None
    subject: str | None = None


class ClientVerifier:
    """Verifies CDS client JWTs against a trust configuration; one per app."""

    def __init__(
        self,
        trust: TrustConfig,
        *,
        jwks: JwksCache,
        replay: Callable[[], ReplayGuard],
        clock_skew_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._trust = trust
        self._jwks = jwks
        self._replay = replay
        self._skew = min(max(clock_skew_seconds, 0), 60)
        self._clock = clock

    def verify(self, authorization: str | None, audience: str) -> ClientIdentity:
        """Return the verified client for this ``Authorization`` header; raises AuthError otherwise."""
        token = _bearer(authorization)
        header = _header(token)
        alg, kid = header["alg"], header["kid"]
        unverified = _unverified_claims(token)
        iss = unverified.get("iss")
        if not isinstance(iss, str):
            raise AuthError("iss missing", public=MALFORMED)
        raw_jti = unverified.get("jti")
        jti_hint = raw_jti[:MAX_JTI_CHARS] if isinstance(raw_jti, str) else None
        trust = self._trust.issuer(iss)
        if trust is None:
            raise AuthError("issuer not trusted", issuer=iss[:200], jti=jti_hint)
        if alg not in trust.algorithms:
            raise AuthError(f"alg {alg} not pinned for this issuer", issuer=iss, jti=jti_hint)
        key = self._key(trust, kid, header.get("jku"), jti_hint)
        if alg not in key_algorithms(key):
            raise AuthError(f"alg {alg} does not match the key {kid}", issuer=iss, jti=jti_hint)
        try:
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=[alg],
                audience=audience,
                issuer=iss,
                leeway=self._skew,
                options={"require": ["iss", "aud", "exp", "iat", "jti"], "strict_aud": False},
            )
        except jwt.InvalidTokenError as exc:
            public = _AFTER_SIGNATURE.get(type(exc).__name__, NOT_TRUSTED)
            raise AuthError(f"{type(exc).__name__}: {exc}", issuer=iss, jti=jti_hint, public=public) from None
        return self._claims(trust, claims)

    def _key(self, trust: IssuerTrust, kid: str, jku: object, jti: str | None) -> jwt.PyJWK:
        # A jku off the allow-list is refused even when the kid names a static key: a client that points
        # at a key set we must not trust is not one of ours, whichever key it claims.
        if jku is not None and (not isinstance(jku, str) or jku not in trust.jku_urls):
            raise AuthError("jku not allow-listed for this issuer", issuer=trust.issuer, jti=jti)
        static = trust.keys.get(kid)
        if static is not None:
            return static
        urls = [jku] if isinstance(jku, str) and jku in trust.jku_urls else list(trust.jku_urls)
        for url in urls:
            key = self._jwks.key(url, kid)
            if key is not None:
                return key
        raise AuthError(f"unknown kid {kid[:80]!r}", issuer=trust.issuer, jti=jti)

    def _claims(self, trust: IssuerTrust, claims: dict[str, object]) -> ClientIdentity:
        iss = trust.issuer
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_CHARS or not jti.isprintable():
            raise AuthError(f"jti must be a printable string of 1 to {MAX_JTI_CHARS} characters", issuer=iss,
                            public=f"token jti must be a printable string of 1 to {MAX_JTI_CHARS} characters")
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(exp, int | float) or not isinstance(iat, int | float):
            raise AuthError("exp and iat must be numbers", issuer=iss, jti=jti,
                            public="token exp and iat must be numbers")
        if exp - iat > trust.max_token_lifetime_seconds:
            raise AuthError(f"token lifetime {exp - iat:.0f} s exceeds the maximum", issuer=iss, jti=jti,
                            public="token lifetime (exp - iat) exceeds the maximum this service accepts")
        if iat > self._clock() + self._skew:
            raise AuthError("iat in the future", issuer=iss, jti=jti, public="token not yet valid (iat in the future)")
        tenant = claims.get("tenant")
        if tenant is not None and not isinstance(tenant, str):
            raise AuthError("tenant must be a string", issuer=iss, jti=jti, public="token tenant must be a string")
        if trust.tenants is not None and tenant not in trust.tenants:
            raise AuthError("tenant not allowed for this issuer", issuer=iss, jti=jti,
                            public="token tenant not allowed for this issuer")
        expires_at = datetime.fromtimestamp(float(exp) + self._skew, UTC)
        if not self._replay().remember_jti(iss, jti, expires_at):
            raise AuthError("jti replayed", issuer=iss, jti=jti, public="token already used (jti replayed)")
        sub = claims.get("sub")
        return ClientIdentity(issuer=iss, tenant=tenant, jti=jti, subject=sub if isinstance(sub, str) else None)


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise AuthError("no Authorization header", public=MISSING)
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("Authorization is not a Bearer token", public=MISSING)
    token = token.strip()
    if len(token) > MAX_TOKEN_CHARS:
        raise AuthError("token too long", public=MALFORMED)
    if not _COMPACT_JWS.match(token):
        raise AuthError("token is not a signed compact JWT", public=MALFORMED)
    return token


def _header(token: str) -> dict[str, str]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise AuthError("unreadable JWT header", public=MALFORMED) from None
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ALLOWED_ALGORITHMS:
        raise AuthError(f"alg {str(alg)[:20]!r} refused", public=MALFORMED)
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise AuthError("kid missing from the JWT header", public=MALFORMED)
    if "crit" in header:
        raise AuthError("crit header not supported", public=MALFORMED)
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.upper() != "JWT"):
        raise AuthError("typ is not JWT", public=MALFORMED)
    out = {"alg": alg, "kid": kid}
    if "jku" in header:
        out["jku"] = header["jku"] if isinstance(header["jku"], str) else repr(header["jku"])
    return out


def _unverified_claims(token: str) -> dict[str, object]:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        raise AuthError("unreadable JWT payload", public=MALFORMED) from None
    if not isinstance(claims, dict):
        raise AuthError("JWT payload is not an object", public=MALFORMED)
    return claims
