"""The OpenID Connect ``id_token`` of a SMART launch, verified before its ``fhirUser`` is trusted.

The ``fhirUser`` claim becomes the ``performer`` of every Observation the clinician records, so it
must come from the EHR and be meant for us. Following OpenID Connect Core 3.1.3.7 the token is
checked against the issuer's published keys (``jwks_uri`` of ``.well-known/smart-configuration``,
fetched with a timeout and cached by ``kid``, see ``cds_hooks.security.jwks``; a token without ``kid``
is checked against the published keys that fit its algorithm, ``_decode_without_kid``): the signature
(RS256, RS384, ES256, ES384; never ``none`` or HMAC), ``iss`` equal to the configuration's
``issuer``, ``aud`` containing our ``client_id`` (and ``azp`` when several audiences are named),
``exp``/``iat`` with the service's clock leeway, and the ``nonce`` this launch sent.

Policy (documented in config/README.md): an id_token that fails any check stops the launch with a
clear page; it is evidence of a misconfigured or counterfeit authorization server, and the same
token response carries the access token. A launch without ``openid`` scope (no id_token) goes on
without a fhirUser: captured Observations then carry no performer, and the page says so.

Errors: ``IdTokenError`` (a ``LaunchError``; ``str()`` is safe to show and carries no token).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from cds_hooks.security.jwks import JwksCache
from cds_hooks.security.trust import key_algorithms
from cds_hooks.smart.oauth import LaunchError

__all__ = ["ID_TOKEN_ALGORITHMS", "IdTokenError", "VerifiedIdentity", "new_jwks_cache", "verify_id_token"]

ID_TOKEN_ALGORITHMS = ("RS256", "RS384", "ES256", "ES384")
JWKS_CACHE_SECONDS = 3600
JWKS_MIN_REFETCH_SECONDS = 30  # an unknown kid re-reads the JWK Set at most this often (key rotation)
MAX_KEYS_WITHOUT_KID = 8  # a token without kid is tried against at most this many fitting keys


class IdTokenError(LaunchError):
    """The id_token failed verification; the message says which check, never the token."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedIdentity:
    """The claims of a verified id_token that the app uses."""

    subject: str
    fhir_user: str | None


def new_jwks_cache(timeout_seconds: float) -> JwksCache:
    """Return the per-process cache of EHR signing keys (by jwks_uri and kid)."""
    return JwksCache(
        timeout_seconds=timeout_seconds,
        cache_seconds=JWKS_CACHE_SECONDS,
        min_refetch_seconds=JWKS_MIN_REFETCH_SECONDS,
    )


def _audiences(claims: Mapping[str, Any]) -> list[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list) and all(isinstance(a, str) for a in aud):
        return list(aud)
    return []


def verify_id_token(
    raw: str,
    *,
    issuer: str | None,
    jwks_uri: str | None,
    client_id: str,
    nonce: str | None,
    keys: JwksCache,
    leeway_seconds: int,
) -> VerifiedIdentity:
    """Return the verified identity of ``raw``; raises IdTokenError naming the failed check."""
    if not issuer or not jwks_uri:
        raise IdTokenError("the EHR sent an identity token but its SMART configuration publishes no "
                           "issuer and jwks_uri to verify it with")
    try:
        header = jwt.get_unverified_header(raw)
    except jwt.PyJWTError as exc:
        raise IdTokenError("the identity token is not a well-formed JWT") from exc
    alg = header.get("alg")
    if alg not in ID_TOKEN_ALGORITHMS:
        raise IdTokenError(f"the identity token's algorithm {str(alg)[:20]!r} is not accepted "
                           f"({', '.join(ID_TOKEN_ALGORITHMS)})")
    kid = header.get("kid")
    if kid is not None and (not isinstance(kid, str) or not kid):
        raise IdTokenError("the identity token's key id (kid) is malformed")
    if kid is None:
        claims = _decode_without_kid(raw, alg, jwks_uri, keys, issuer=issuer, client_id=client_id,
                                     leeway_seconds=leeway_seconds)
    else:
        key = keys.key(jwks_uri, kid)
        if key is None:
            raise IdTokenError("the identity token's signing key is not among the EHR's published keys "
                               "(or they could not be read)")
        if alg not in key_algorithms(key):
            raise IdTokenError("the identity token's algorithm does not match its signing key")
        claims = _decode(raw, key, alg, issuer=issuer, client_id=client_id, leeway_seconds=leeway_seconds)
    audiences = _audiences(claims)
    if len(audiences) > 1 and claims.get("azp") not in {None, client_id}:
        raise IdTokenError("the identity token was authorised for another application (azp)")
    if nonce is not None:
        got = claims.get("nonce")
        if not isinstance(got, str) or not hmac.compare_digest(got.encode(), nonce.encode()):
            raise IdTokenError("the identity token does not belong to this launch (nonce mismatch)")
    subject = claims.get("sub")
    user = claims.get("fhirUser")
    return VerifiedIdentity(subject=str(subject), fhir_user=user if isinstance(user, str) and user else None)


def _decode_without_kid(
    raw: str, alg: str, jwks_uri: str, keys: JwksCache, *, issuer: str, client_id: str, leeway_seconds: int
) -> dict[str, Any]:
    """Verify a token that names no ``kid`` against the published keys that fit its algorithm.

    OpenID Connect Core 10.1 obliges the provider to send ``kid`` only when its JWK Set holds several
    keys; smart-on-fhir's launcher and other single-key servers leave it out. ``kid`` is only a hint
    (RFC 7515 4.1.4): every published key is the provider's, so a signature that verifies under one
    of them proves the same as one found by ``kid``. The candidates are the keys whose type (and EC
    curve) fit ``alg``, tried in order, at most ``MAX_KEYS_WITHOUT_KID``; when none verifies the set
    is re-read once (within the refetch rate limit: a key may have been rotated in), then refused.
    """
    published = keys.key_set(jwks_uri)
    tried: tuple[jwt.PyJWK, ...] = ()
    for _ in range(2):
        candidates = [k for k in published if alg in key_algorithms(k)][:MAX_KEYS_WITHOUT_KID]
        for key in candidates:
            if key in tried:
                continue
            try:
                return _decode(raw, key, alg, issuer=issuer, client_id=client_id, leeway_seconds=leeway_seconds)
            except _BadSignature:
                continue
        tried = published
        published = keys.key_set(jwks_uri, refresh=True)
        if published is tried:  # not re-read (rate limit or failure): nothing new to try
            break
    if not candidates:
        raise IdTokenError(f"the identity token names no signing key (kid) and the EHR publishes no {alg} key "
                           "(or its keys could not be read)")
    raise IdTokenError(f"the identity token names no signing key (kid) and its signature is not valid under any "
                       f"of the EHR's {len(candidates)} published {alg} key(s)")


class _BadSignature(IdTokenError):
    """The signature does not verify under this key (another key of the set may fit)."""


def _decode(
    raw: str, key: jwt.PyJWK, alg: str, *, issuer: str, client_id: str, leeway_seconds: int
) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            raw,
            key.key,
            algorithms=[alg],
            audience=client_id,
            issuer=issuer,
            leeway=leeway_seconds,
            options={"require": ["iss", "sub", "aud", "exp", "iat"]},
        )
    except jwt.InvalidSignatureError as exc:
        raise _BadSignature("the identity token's signature is not valid") from exc
    except jwt.ExpiredSignatureError as exc:
        raise IdTokenError("the identity token has expired") from exc
    except jwt.InvalidAudienceError as exc:
        raise IdTokenError("the identity token was issued for another application (aud)") from exc
    except jwt.InvalidIssuerError as exc:
        raise IdTokenError("the identity token was issued by another server than the EHR's (iss)") from exc
    except jwt.ImmatureSignatureError as exc:
        raise IdTokenError("the identity token is dated in the future (iat)") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise IdTokenError(f"the identity token lacks the required claim {exc.claim!r}") from exc
    except jwt.PyJWTError as exc:
        raise IdTokenError(f"the identity token is not valid ({type(exc).__name__})") from exc
    return claims
