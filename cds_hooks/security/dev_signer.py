"""The local "demo EHR" (development only): an ES384 key that signs real CDS client JWTs for ``/demo``.

The key is generated on first start into the instance folder (mode 0600) so that every gunicorn
worker of one development server shares it; it is trusted only through a trust entry with
``"ephemeral_demo_key": true``, which production refuses. ``demo_token(app, aud)`` mints a token
exactly like an EHR would (``iss``, ``aud``, ``iat``, ``exp`` = iat + 300, fresh ``jti``).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask

__all__ = ["DEMO_ISSUER", "DevSigner", "DevSignerUnavailable", "demo_token"]

DEMO_ISSUER = "https://demo-ehr.nelm.invalid"
_EXTENSION = "nelm_dev_signer"
_KEY_FILE = "dev-demo-ehr-es384.pem"


class DevSignerUnavailable(RuntimeError):
    """No demo EHR signer: production, or the trust file has no ``ephemeral_demo_key`` issuer."""


@dataclass(frozen=True, slots=True)
class DevSigner:
    """The demo EHR's private key, its kid and issuer."""

    issuer: str
    kid: str
    private_key: ec.EllipticCurvePrivateKey

    def public_jwk(self) -> dict[str, str]:
        """Return the public key as a JWK (what the trust configuration holds for the demo issuer)."""
        jwk: dict[str, str] = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.private_key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "ES384"})
        return jwk

    def sign(self, aud: str, *, lifetime_seconds: int = 300) -> str:
        """Return a compact ES384 JWT for ``aud``, as a CDS client would send it."""
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": aud, "iat": now, "exp": now + lifetime_seconds, "jti": str(uuid.uuid4())}
        return jwt.encode(claims, self.private_key, algorithm="ES384", headers={"kid": self.kid, "typ": "JWT"})


def _load_or_create(instance: Path) -> ec.EllipticCurvePrivateKey:
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / _KEY_FILE
    if not path.exists():
        pem = ec.generate_private_key(ec.SECP384R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        tmp = instance / f".{_KEY_FILE}.{os.getpid()}.{uuid.uuid4().hex}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        # link() fails if another worker won the race; then everyone uses the winner's key.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
        tmp.unlink()
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp384r1":
        raise DevSignerUnavailable(f"{path} is not a P-384 private key; delete it to regenerate")
    return key


def create_signer(instance: Path, issuer: str = DEMO_ISSUER) -> DevSigner:
    """Return the demo EHR signer, generating its key in ``instance`` on first use."""
    key = _load_or_create(instance)
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    kid = "demo-" + uuid.uuid5(uuid.NAMESPACE_OID, public.hex()).hex[:16]
    return DevSigner(issuer=issuer, kid=kid, private_key=key)


def demo_token(app: Flask, aud: str) -> str:
    """Return a JWT of the demo EHR for ``aud``; raises DevSignerUnavailable outside development."""
    signer = app.extensions.get(_EXTENSION)
    if not isinstance(signer, DevSigner):
        raise DevSignerUnavailable("the demo EHR signer exists only in development with the dev trust file")
    return signer.sign(aud)
