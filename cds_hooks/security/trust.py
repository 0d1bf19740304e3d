"""Per-issuer trust configuration: which CDS clients may call us, with which keys, to which FHIR servers.

A trust file is JSON::

    {
      "jwks_cache_seconds": 3600,          # optional: how long a fetched jku JWK Set is used
      "jwks_min_refetch_seconds": 30,      # optional: rate limit of re-fetches on an unknown kid
      "jku_timeout_seconds": 3,            # optional: timeout of one jku fetch
      "issuers": [
        {
          "issuer": "https://sandbox.cds-hooks.org",
          "algorithms": ["ES384"],                          # pinned, from ES384 RS384 ES256 RS256
          "jwks_file": "cds-hooks-sandbox-jwks.json",       # static keys (relative to this file) ...
          "jwks": {"keys": [...]},                          # ... or inline ...
          "jku": ["https://sandbox.cds-hooks.org/.well-known/jwks.json"],   # ... and/or allow-listed jku URLs
          "tenants": ["t1"],                                # optional tenant allow-list
          "fhir_servers": ["https://ehr.example.org/fhir"], # fhirServer allow-list (URL prefixes)
          "max_token_lifetime_seconds": 3600,               # optional, at most 3600
          "ephemeral_demo_key": false                       # development only: the local demo EHR
        }
      ]
    }

Loading fails with ``TrustConfigError`` naming the file and the entry (``issuers[1].jwks.keys[0]``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

__all__ = [
    "ALLOWED_ALGORITHMS",
    "IssuerTrust",
    "TrustConfig",
    "TrustConfigError",
    "key_algorithms",
    "load_trust",
    "parse_jwk",
]

# Asymmetric only: "none" and HMAC are never accepted whatever a token header or a config says.
ALLOWED_ALGORITHMS = frozenset({"ES384", "RS384", "ES256", "RS256"})
MAX_TOKEN_LIFETIME_SECONDS = 3600
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")


class TrustConfigError(ValueError):
    """The trust configuration is unusable; the message names the file and the entry."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuerTrust:
    """What we accept from one CDS client (``iss``)."""

    issuer: str
    algorithms: frozenset[str]
    keys: Mapping[str, jwt.PyJWK] = field(default_factory=dict)
    jku_urls: tuple[str, ...] = ()
    fhir_servers: tuple[str, ...] = ()
    tenants: frozenset[str] | None = None
    max_token_lifetime_seconds: int = MAX_TOKEN_LIFETIME_SECONDS
    ephemeral_demo_key: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustConfig:
    """Every trusted issuer, keyed by ``iss``, plus the jku cache policy."""

    issuers: Mapping[str, IssuerTrust]
    source: str
    jwks_cache_seconds: float = 3600.0
    jwks_min_refetch_seconds: float = 30.0
    jku_timeout_seconds: float = 3.0

    def issuer(self, iss: str) -> IssuerTrust | None:
        """Return the trust entry for ``iss``, or None when the issuer is unknown."""
        return self.issuers.get(iss)


def key_algorithms(key: jwt.PyJWK) -> frozenset[str]:
    """Return the signature algorithms this public key can verify (by key type and curve)."""
    material = key.key
    if isinstance(material, ec.EllipticCurvePublicKey):
        return frozenset({{"secp384r1": "ES384", "secp256r1": "ES256"}.get(material.curve.name, "")} - {""})
    if isinstance(material, rsa.RSAPublicKey):
        return frozenset({"RS384", "RS256"})
    return frozenset()


def parse_jwk(data: Any, where: str, *, require_kid: bool = True) -> jwt.PyJWK:
    """Return a public signature key from one JWK; raises TrustConfigError naming ``where``.

    ``require_kid=False`` accepts a key without ``kid`` (an OpenID provider's single signing key).
    """
    if not isinstance(data, dict):
        raise TrustConfigError(f"{where}: a JWK must be a JSON object")
    kty = data.get("kty")
    if kty not in {"EC", "RSA"}:
        raise TrustConfigError(f"{where}: kty {kty!r} is not accepted (EC or RSA public keys only)")
    private = [m for m in _PRIVATE_MEMBERS if m in data]
    if private:
        members = ", ".join(private)
        raise TrustConfigError(f"{where}: holds private key material ({members}); publish the public key only")
    kid = data.get("kid")
    if (require_kid or kid is not None) and (not isinstance(kid, str) or not kid):
        raise TrustConfigError(f"{where}: kid is required")
    if data.get("use", "sig") != "sig":
        raise TrustConfigError(f"{where}: use {data.get('use')!r} is not a signature key")
    alg = data.get("alg")
    if alg is not None and alg not in ALLOWED_ALGORITHMS:
        raise TrustConfigError(f"{where}: alg {alg!r} is not one of {sorted(ALLOWED_ALGORITHMS)}")
    try:
        key = jwt.PyJWK(data)
    except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError) as exc:
        raise TrustConfigError(f"{where}: not a usable public key ({exc})") from None
    if not key_algorithms(key):
        raise TrustConfigError(f"{where}: curve not accepted (P-256 or P-384)")
    material = key.key
    if isinstance(material, rsa.RSAPublicKey) and material.key_size < 2048:
        raise TrustConfigError(f"{where}: RSA key of {material.key_size} bits is too short (2048 at least)")
    return key


def parse_jwks(data: Any, where: str) -> dict[str, jwt.PyJWK]:
    """Return the keys of a JWK Set by kid; raises TrustConfigError on any bad or duplicate key."""
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise TrustConfigError(f"{where}: a JWK Set is an object with a 'keys' array")
    keys: dict[str, jwt.PyJWK] = {}
    for i, item in enumerate(data["keys"]):
        key = parse_jwk(item, f"{where}.keys[{i}]")
        kid = str(item["kid"])
        if kid in keys:
            raise TrustConfigError(f"{where}.keys[{i}]: duplicate kid {kid!r}")
        keys[kid] = key
    return keys


def check_url(url: Any, where: str, *, production: bool, allow_any_port: bool = False) -> str:
    """Return ``url`` when it is an absolute http(s) URL without credentials, query or fragment."""
    if not isinstance(url, str) or not url:
        raise TrustConfigError(f"{where}: a URL string is required")
    probe = url.replace(":*", ":1", 1) if allow_any_port else url
    parts = urlsplit(probe)
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise TrustConfigError(f"{where}: {url!r} is not an absolute http(s) URL")
    if production and parts.scheme != "https":
        raise TrustConfigError(f"{where}: {url!r} must use https in production")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise TrustConfigError(f"{where}: {url!r} must not carry credentials, a query or a fragment")
    if ":*" in url and (production or not allow_any_port):
        raise TrustConfigError(f"{where}: {url!r}: a port wildcard is for development on loopback only")
    if ":*" in url and parts.hostname not in {"127.0.0.1", "localhost", "::1"}:
        raise TrustConfigError(f"{where}: {url!r}: a port wildcard is for loopback hosts only")
    return url


def _string_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise TrustConfigError(f"{where}: a list of non-empty strings is required")
    return list(value)


def _issuer(entry: Any, where: str, base: Path, *, production: bool) -> IssuerTrust:
    if not isinstance(entry, dict):
        raise TrustConfigError(f"{where}: an issuer entry must be an object")
    known = {
        "issuer", "algorithms", "jwks", "jwks_file", "jku", "tenants", "fhir_servers",
        "max_token_lifetime_seconds", "ephemeral_demo_key", "description",
    }  # fmt: skip
    unknown = sorted(set(entry) - known)
    if unknown:
        raise TrustConfigError(f"{where}: unknown field(s) {unknown}")
    iss = entry.get("issuer")
    if not isinstance(iss, str) or not iss or len(iss) > 512:
        raise TrustConfigError(f"{where}.issuer: required string of at most 512 characters")
    algorithms = _string_list(entry.get("algorithms", ["ES384", "RS384"]), f"{where}.algorithms")
    bad = sorted(set(algorithms) - ALLOWED_ALGORITHMS)
    if bad or not algorithms:
        raise TrustConfigError(f"{where}.algorithms: {bad or 'empty'} not accepted; use {sorted(ALLOWED_ALGORITHMS)}")
    keys: dict[str, jwt.PyJWK] = {}
    if "jwks" in entry:
        keys.update(parse_jwks(entry["jwks"], f"{where}.jwks"))
    if "jwks_file" in entry:
        path = base / str(entry["jwks_file"])
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise TrustConfigError(f"{where}.jwks_file: cannot read {path}: {exc}") from None
        for kid, key in parse_jwks(data, f"{where}.jwks_file({path.name})").items():
            if kid in keys:
                raise TrustConfigError(f"{where}.jwks_file: kid {kid!r} also given inline")
            keys[kid] = key
    jku = tuple(
        check_url(u, f"{where}.jku[{i}]", production=production)
        for i, u in enumerate(_string_list(entry.get("jku", []), f"{where}.jku"))
    )
    demo = entry.get("ephemeral_demo_key", False)
    if not isinstance(demo, bool):
        raise TrustConfigError(f"{where}.ephemeral_demo_key: true or false")
    if demo and production:
        raise TrustConfigError(f"{where}.ephemeral_demo_key: the demo EHR issuer is refused in production")
    if not keys and not jku and not demo:
        raise TrustConfigError(f"{where}: give keys (jwks or jwks_file) or allow-listed jku URLs")
    fhir = tuple(
        check_url(u, f"{where}.fhir_servers[{i}]", production=production, allow_any_port=True)
        for i, u in enumerate(_string_list(entry.get("fhir_servers", []), f"{where}.fhir_servers"))
    )
    tenants = entry.get("tenants")
    lifetime = entry.get("max_token_lifetime_seconds", MAX_TOKEN_LIFETIME_SECONDS)
    if not isinstance(lifetime, int) or isinstance(lifetime, bool) or not 1 <= lifetime <= MAX_TOKEN_LIFETIME_SECONDS:
        raise TrustConfigError(f"{where}.max_token_lifetime_seconds: an integer from 1 to {MAX_TOKEN_LIFETIME_SECONDS}")
    for kid, key in keys.items():
        if not key_algorithms(key) & set(algorithms):
            raise TrustConfigError(f"{where}: key {kid!r} cannot verify any of the pinned algorithms {algorithms}")
    return IssuerTrust(
        issuer=iss,
        algorithms=frozenset(algorithms),
        keys=keys,
        jku_urls=jku,
        fhir_servers=fhir,
        tenants=None if tenants is None else frozenset(_string_list(tenants, f"{where}.tenants")),
        max_token_lifetime_seconds=lifetime,
        ephemeral_demo_key=demo,
    )


def _positive(data: dict[str, Any], name: str, default: float, where: str) -> float:
    value = data.get(name, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        raise TrustConfigError(f"{where}: {name} must be a positive number")
    return float(value)


def load_trust(path: Path, *, production: bool) -> TrustConfig:
    """Return the trust configuration in ``path``; raises TrustConfigError naming file and entry."""
    where = str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TrustConfigError(f"{where}: cannot read the trust file: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise TrustConfigError(f"{where}: not valid JSON (line {exc.lineno}): {exc.msg}") from None
    if not isinstance(data, dict) or not isinstance(data.get("issuers"), list):
        raise TrustConfigError(f"{where}: a JSON object with an 'issuers' array is required")
    issuers: dict[str, IssuerTrust] = {}
    for i, entry in enumerate(data["issuers"]):
        trust = _issuer(entry, f"{where}: issuers[{i}]", path.parent, production=production)
        if trust.issuer in issuers:
            raise TrustConfigError(f"{where}: issuers[{i}]: issuer {trust.issuer!r} listed twice")
        issuers[trust.issuer] = trust
    return TrustConfig(
        issuers=issuers,
        source=where,
        jwks_cache_seconds=_positive(data, "jwks_cache_seconds", 3600.0, where),
        jwks_min_refetch_seconds=_positive(data, "jwks_min_refetch_seconds", 30.0, where),
        jku_timeout_seconds=_positive(data, "jku_timeout_seconds", 3.0, where),
    )
