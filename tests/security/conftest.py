"""Fixtures of the security tests: real ES384/RS384 keys generated here, trust files, apps and signed tokens."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask import Flask
from flask.testing import FlaskClient

from cds_hooks.app import create_app
from cds_hooks.config import Settings

BASE = "http://localhost"
ES_ISSUER = "https://ehr-es.example.test"
RS_ISSUER = "https://ehr-rs.example.test"
TENANT_ISSUER = "https://ehr-tenant.example.test"
RS_JKU = "https://keys.ehr-rs.example.test/.well-known/jwks.json"
FHIR_BASE = "https://fhir.ehr-es.example.test/r4"


@dataclass
class Signer:
    """A CDS client with a real private key: mints tokens like an EHR (and like an attacker)."""

    issuer: str
    kid: str
    alg: str
    private_key: Any

    def public_jwk(self) -> dict[str, Any]:
        """Return the public JWK with kid, use and alg."""
        algo = jwt.algorithms.ECAlgorithm if self.alg.startswith("ES") else jwt.algorithms.RSAAlgorithm
        jwk: dict[str, Any] = json.loads(algo.to_jwk(self.private_key.public_key()))
        jwk.update(kid=self.kid, use="sig", alg=self.alg)
        return jwk

    def claims(self, aud: str | list[str] | None, **changes: Any) -> dict[str, Any]:
        """Return a valid claim set for ``aud``; ``changes`` override (None removes a claim)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": aud,
            "iat": now,
            "exp": now + 300,
            "jti": str(uuid.uuid4()),
        }
        claims.update(changes)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, aud: str | list[str] | None, *, headers: dict[str, Any] | None = None, **changes: Any) -> str:
        """Return a compact JWT signed with this client's key."""
        head = {"kid": self.kid, "typ": "JWT", **(headers or {})}
        return jwt.encode(self.claims(aud, **changes), self.private_key, algorithm=self.alg, headers=head)


@pytest.fixture(scope="session")
def es_signer() -> Signer:
    """An ES384 CDS client (P-384 key)."""
    return Signer(ES_ISSUER, "es-key-1", "ES384", ec.generate_private_key(ec.SECP384R1()))


@pytest.fixture(scope="session")
def rs_signer() -> Signer:
    """An RS384 CDS client (RSA 2048 key) publishing its keys at a jku."""
    return Signer(RS_ISSUER, "rs-key-1", "RS384", rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="session")
def tenant_signer() -> Signer:
    """An ES384 CDS client whose tokens must name an allowed tenant."""
    return Signer(TENANT_ISSUER, "tenant-key-1", "ES384", ec.generate_private_key(ec.SECP384R1()))


def write_trust(folder: Path, issuers: list[dict[str, Any]], **top: Any) -> Path:
    """Write a trust file into ``folder`` and return its path."""
    path = folder / "trust.json"
    path.write_text(json.dumps({"issuers": issuers, **top}), encoding="utf-8")
    return path


@pytest.fixture
def trust_file(tmp_path: Path, es_signer: Signer, rs_signer: Signer, tenant_signer: Signer) -> Path:
    """A trust file with a static-key ES384 issuer, a jku RS384 issuer and a tenant-restricted issuer."""
    (tmp_path / "es-jwks.json").write_text(json.dumps({"keys": [es_signer.public_jwk()]}), encoding="utf-8")
    return write_trust(
        tmp_path,
        [
            {"issuer": ES_ISSUER, "algorithms": ["ES384"], "jwks_file": "es-jwks.json", "fhir_servers": [FHIR_BASE]},
            {"issuer": RS_ISSUER, "algorithms": ["RS384"], "jku": [RS_JKU]},
            {
                "issuer": TENANT_ISSUER,
                "algorithms": ["ES384"],
                "jwks": {"keys": [tenant_signer.public_jwk()]},
                "tenants": ["hospital-a"],
            },
        ],
        jwks_min_refetch_seconds=1e-6,  # rotation tests re-fetch at once; the rate limit has its own test
    )


def make_settings(tmp_path: Path, trust: Path | None, **changes: Any) -> Settings:
    """Return development settings with a private database and instance folder under ``tmp_path``.

    Discovery requires a JWT here (``NELM_DISCOVERY_REQUIRE_JWT``), unless a test says otherwise: these tests
    probe the JWT checks through ``GET /cds-services``, the cheapest authenticated request. The open default
    has its own tests (test_discovery_auth.py).
    """
    changes.setdefault("discovery_require_jwt", True)
    return Settings(database_url=f"sqlite:///{tmp_path / 'nelm.sqlite3'}", trust_file=trust).with_(**changes)


@pytest.fixture
def app(tmp_path: Path, trust_file: Path) -> Iterator[Flask]:
    """The real app, trusting the test issuers."""
    application = create_app(make_settings(tmp_path, trust_file))
    application.config["TESTING"] = True
    yield application


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of the app."""
    return app.test_client()


def bearer(token: str) -> dict[str, str]:
    """Return the Authorization header carrying ``token``."""
    return {"Authorization": f"Bearer {token}"}
