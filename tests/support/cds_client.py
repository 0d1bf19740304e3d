"""A CDS Hooks client for tests that sends what the official CDS Hooks sandbox sends.

Facts taken from the sandbox's public source (github.com/cds-hooks/sandbox, read by hand; no code
copied): every call carries a JWT signed ES384 with header ``{alg, typ: JWT, kid, jku}`` and claims
``iss``, ``aud`` (the exact service URL), ``exp`` (now + 300 s), ``iat``, ``jti`` (a UUID); the body
holds ``hookInstance``, ``hook``, ``fhirServer``, ``context`` and, when it has a token,
``fhirAuthorization``; its prescribing screens put one draft MedicationRequest (id ``request-123``,
``status: draft``, no ``intent`` unless a dispense request is filled, ``authoredOn``, a dosage with
``doseAndRate``) coded with an RxNorm clinical drug into ``draftOrders``, a Bundle without ``type``,
and order-select names it in ``selections``.

The sandbox's private key is public but not ours to use: tests sign with a key generated here and
registered in a trust file exactly as ``config/dev-trust.json`` registers the sandbox (issuer, ES384,
``jku`` allow-list, a static JWK Set, allowed ``fhir_servers``).
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = ["SANDBOX_ISSUER", "SANDBOX_JKU", "SandboxClient"]

SANDBOX_ISSUER = "https://sandbox.cds-hooks.org"
SANDBOX_JKU = "https://sandbox.cds-hooks.org/.well-known/jwks.json"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


@dataclass
class SandboxClient:
    """Signs and builds requests the way the sandbox does, with a test key."""

    kid: str = field(default_factory=lambda: str(uuid.uuid4()))
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP384R1()))
    user: str = "Practitioner/COREPRACTITIONER1"

    def public_jwks(self) -> dict[str, Any]:
        """Return the public JWK Set of the test key."""
        jwk: dict[str, Any] = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.key.public_key()))
        jwk.update(kid=self.kid, use="sig", alg="ES384")
        return {"keys": [jwk]}

    def write_trust(self, folder: Path, fhir_servers: list[str]) -> Path:
        """Write a trust file registering this client like config/dev-trust.json registers the sandbox."""
        path = folder / "trust.json"
        path.write_text(json.dumps({"issuers": [{
            "issuer": SANDBOX_ISSUER, "algorithms": ["ES384"], "jwks": self.public_jwks(), "jku": [SANDBOX_JKU],
            "fhir_servers": fhir_servers,
        }]}))
        return path

    def jwt(self, audience: str) -> str:
        """Return the bearer token for a call to ``audience``."""
        now = int(time.time())
        claims = {"iss": SANDBOX_ISSUER, "aud": audience, "exp": now + 300, "iat": now, "jti": str(uuid.uuid4())}
        headers = {"typ": "JWT", "kid": self.kid, "jku": SANDBOX_JKU}
        return jwt.encode(claims, self.key, algorithm="ES384", headers=headers)

    def body(self, hook: str, patient: str, fhir_server: str, token: str | None,
             context: dict[str, Any] | None = None) -> dict[str, Any]:
        """Return a hook request without prefetch (the service must read fhirServer itself)."""
        request: dict[str, Any] = {
            "hookInstance": str(uuid.uuid4()), "hook": hook, "fhirServer": fhir_server,
            "context": {"patientId": patient, "userId": self.user, **(context or {})},
        }
        if token is not None:
            request["fhirAuthorization"] = {"access_token": token, "token_type": "Bearer", "expires_in": 3600,
                                            "scope": "patient/*.read user/*.read", "subject": "nelm-pathways"}
        return request

    @staticmethod
    def draft_medication_request(patient: str, rxcui: str, name: str) -> dict[str, Any]:
        """Return the sandbox's draft MedicationRequest for an RxNorm clinical drug (no intent, no dispense)."""
        return {
            "resourceType": "MedicationRequest", "id": "request-123", "status": "draft",
            "subject": {"reference": f"Patient/{patient}"},
            "authoredOn": dt.date.today().isoformat(),
            "dosageInstruction": [{"timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                                   "doseAndRate": [{"doseQuantity": {"value": 1, "system": "http://unitsofmeasure.org",
                                                                     "code": "{pill}"}}]}],
            "medicationCodeableConcept": {"text": name, "coding": [{"display": name, "system": RXNORM,
                                                                    "code": rxcui}]},
        }

    def order_context(self, order: dict[str, Any], *, select: bool) -> dict[str, Any]:
        """Return the context of order-select (with ``selections``) or order-sign for one draft order."""
        context: dict[str, Any] = {"draftOrders": {"resourceType": "Bundle", "entry": [{"resource": order}]}}
        if select:
            context["selections"] = [f"{order['resourceType']}/{order['id']}"]
        return context
