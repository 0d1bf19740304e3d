"""SMART app registrations: which FHIR servers (``iss``) the app may be launched from, and how.

The registration file (``NELM_SMART_CONFIG``, ``Settings.smart_config_file``) is JSON::

    {"registrations": [
       {"iss": "https://ehr.example.org/fhir", "client_id": "nelm-pathways",
        "auth_method": "private_key_jwt", "private_key_file": "keys/nelm.jwk.json", "alg": "RS384",
        "scopes": "launch openid fhirUser patient/Patient.rs ...", "standalone": true},
       {"iss": "https://other.example.org/fhir", "client_id": "x",
        "auth_method": "client_secret_basic", "client_secret_env": "NELM_SMART_SECRET_OTHER"}]}

Only an ``iss`` listed here is ever contacted (the allow-list). Secrets may be given inline
(``client_secret``) or, better, by the name of an environment variable (``client_secret_env``).
``style_origins`` lists further origins (besides the ``iss`` origin) the EHR's ``smart_style_url``
may be fetched from. An unknown field is an error (a typo must not silently drop a setting);
fields whose name starts with ``_`` or ``$`` are comments. ``config/smart-registration.example.json``
documents every field.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "AUTH_METHODS",
    "DEFAULT_SCOPES",
    "FIELDS",
    "RegistrationError",
    "SmartRegistration",
    "load_registrations",
    "normalise_iss",
]

AUTH_METHODS = ("private_key_jwt", "client_secret_basic", "client_secret_post")
ASYMMETRIC_ALGS = ("RS384", "ES384", "RS256", "ES256")

# Read what the pathway and the report reader need; write Observations (data capture) and, for the SDC form,
# its QuestionnaireResponse and a Provenance.
DEFAULT_SCOPES = (
    "launch openid fhirUser patient/Patient.rs patient/Condition.rs patient/Observation.rs "
    "patient/Procedure.rs patient/MedicationRequest.rs patient/MedicationStatement.rs "
    "patient/DiagnosticReport.rs patient/DocumentReference.rs "
    "patient/Observation.cu patient/QuestionnaireResponse.c patient/Provenance.c"
)


class RegistrationError(ValueError):
    """The SMART registration file is unusable; the message names the file and the entry."""


def normalise_iss(iss: str) -> str:
    """Return ``iss`` without a trailing slash (the form the allow-list compares)."""
    return iss.strip().rstrip("/")


@dataclass(frozen=True, slots=True, kw_only=True)
class SmartRegistration:
    """How this app is registered with one EHR's authorization server."""

    iss: str
    client_id: str
    auth_method: str
    scopes: str = DEFAULT_SCOPES
    client_secret: str | None = None
    private_jwk: Mapping[str, Any] | None = None  # the private key as a JWK (dict)
    alg: str = "RS384"
    standalone: bool = False  # offered on the standalone-launch page
    label: str | None = None
    style_origins: tuple[str, ...] = ()  # origins besides iss's that may serve smart_style_url

    def standalone_scopes(self) -> str:
        """Return the scopes for a standalone launch: ``launch/patient`` instead of ``launch``."""
        parts = [p for p in self.scopes.split() if p != "launch"]
        if "launch/patient" not in parts:
            parts.insert(0, "launch/patient")
        return " ".join(parts)


FIELDS = frozenset({
    "iss", "client_id", "auth_method", "scopes", "client_secret", "client_secret_env", "private_key_file", "alg",
    "standalone", "label", "style_origins",
})


def _style_origins(raw: object, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(o, str) and o.startswith(("https://", "http://")) for o in raw):
        raise RegistrationError(f"{where}: 'style_origins' must be a list of http(s) origins")
    return tuple(o.rstrip("/") for o in raw)


def _entry(raw: object, where: str, base_dir: Path, environ: Mapping[str, str]) -> SmartRegistration:
    if not isinstance(raw, dict):
        raise RegistrationError(f"{where}: each registration must be a JSON object")
    unknown = sorted(k for k in raw if k not in FIELDS and not str(k).startswith(("_", "$")))
    if unknown:
        raise RegistrationError(f"{where}: unknown field(s) {', '.join(unknown)}")
    iss = raw.get("iss")
    client_id = raw.get("client_id")
    if not isinstance(iss, str) or not iss.startswith(("https://", "http://")):
        raise RegistrationError(f"{where}: 'iss' must be an http(s) URL")
    if not isinstance(client_id, str) or not client_id:
        raise RegistrationError(f"{where}: 'client_id' is required")
    method = raw.get("auth_method", "private_key_jwt")
    if method not in AUTH_METHODS:
        raise RegistrationError(f"{where}: 'auth_method' must be one of {', '.join(AUTH_METHODS)}")
    scopes = raw.get("scopes", DEFAULT_SCOPES)
    if not isinstance(scopes, str) or not scopes.split():
        raise RegistrationError(f"{where}: 'scopes' must be a space-separated string")
    secret: str | None = None
    jwk: dict[str, Any] | None = None
    alg = raw.get("alg", "RS384")
    if method == "private_key_jwt":
        key_file = raw.get("private_key_file")
        if not isinstance(key_file, str):
            raise RegistrationError(f"{where}: private_key_jwt needs 'private_key_file' (a private JWK, JSON)")
        path = Path(key_file) if Path(key_file).is_absolute() else base_dir / key_file
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise RegistrationError(f"{where}: cannot read private key {path}: {exc}") from exc
        if not isinstance(loaded, dict) or "d" not in loaded or loaded.get("kty") not in {"RSA", "EC"}:
            raise RegistrationError(f"{where}: {path} is not a private RSA or EC JWK")
        jwk = loaded
        if alg not in ASYMMETRIC_ALGS:
            raise RegistrationError(f"{where}: 'alg' must be one of {', '.join(ASYMMETRIC_ALGS)}")
    else:
        env_name = raw.get("client_secret_env")
        if isinstance(env_name, str):
            secret = environ.get(env_name)
            if not secret:
                raise RegistrationError(f"{where}: environment variable {env_name} is not set")
        elif isinstance(raw.get("client_secret"), str) and raw["client_secret"]:
            secret = raw["client_secret"]
        else:
            raise RegistrationError(f"{where}: {method} needs 'client_secret_env' or 'client_secret'")
    label = raw.get("label")
    return SmartRegistration(
        iss=normalise_iss(iss),
        client_id=client_id,
        auth_method=method,
        scopes=" ".join(scopes.split()),
        client_secret=secret,
        private_jwk=jwk,
        alg=str(alg),
        standalone=bool(raw.get("standalone", False)),
        label=label if isinstance(label, str) else None,
        style_origins=_style_origins(raw.get("style_origins"), where),
    )


def load_registrations(
    path: Path | None, environ: Mapping[str, str] | None = None, *, production: bool = False
) -> dict[str, SmartRegistration]:
    """Return the registrations keyed by normalised ``iss``; empty when no file is configured."""
    if path is None:
        return {}
    env = os.environ if environ is None else environ
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RegistrationError(f"{path}: cannot read SMART registrations: {exc}") from exc
    entries = data.get("registrations") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise RegistrationError(f"{path}: expected an object with a 'registrations' list")
    out: dict[str, SmartRegistration] = {}
    for i, raw in enumerate(entries):
        reg = _entry(raw, f"{path}: registrations[{i}]", path.parent, env)
        if production and not reg.iss.startswith("https://"):
            raise RegistrationError(f"{path}: registrations[{i}]: production requires an https iss")
        if reg.iss in out:
            raise RegistrationError(f"{path}: registrations[{i}]: duplicate iss {reg.iss}")
        out[reg.iss] = reg
    return out
