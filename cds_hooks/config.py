"""Settings of the service: one typed object, built from ``NELM_*`` environment variables.

Nothing reads the environment at import time; ``Settings.from_env()`` is called by the app
factory's caller (the CLI, gunicorn's entry point, or a test).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

__all__ = ["DEV_ID_HASH_KEY", "MIN_PRODUCTION_KEY_LENGTH", "REPO_ROOT", "Settings"]

REPO_ROOT = Path(__file__).resolve().parent.parent
DEV_ID_HASH_KEY = "nelm-development-id-hash-key"  # public: hashes made with it are guessable
MIN_PRODUCTION_KEY_LENGTH = 32


def _bool(value: str) -> bool:
    if value.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if value.strip().lower() in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"not a boolean: {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Every setting of the service, with the embedded defaults of ``make run``."""

    environment: str = "development"  # "development" or "production"
    database_url: str = "sqlite:///instance/nelm.sqlite3"
    mappings_dir: Path = REPO_ROOT / "mappings"
    site_mapping_files: tuple[Path, ...] = ()
    demo_dir: Path = REPO_ROOT / "tests" / "vignettes"
    external_base_url: str | None = None  # e.g. https://cds.example.org (for JWT aud behind a proxy)
    max_request_bytes: int = 5 * 1024 * 1024
    fhir_deadline_seconds: float = 2.5
    fhir_request_timeout_seconds: float = 2.0
    auth_disabled: bool = False  # development only; the start-up log says so loudly
    discovery_require_jwt: bool = False  # discovery holds no patient data: open unless a site requires a JWT
    trust_file: Path | None = None  # JSON: issuers, their JWK Sets / jku allow-lists, fhirServer allow-lists
    clock_skew_seconds: int = 60  # leeway for JWT exp/iat/nbf; at most 60
    cors_origins: tuple[str, ...] = ("*",)
    pathway_config_file: Path | None = None  # site overrides of configurable thresholds
    smart_config_file: Path | None = None  # SMART app registrations (iss allow-list, client ids)
    secret_key: str | None = None  # Flask session signing; generated per process in development
    id_hash_key: str = DEV_ID_HASH_KEY  # HMAC key for patient ids in logs/audit; set in production
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def production(self) -> bool:
        """Return True for the production environment."""
        return self.environment == "production"

    def production_problems(self) -> list[str]:
        """Return why these settings must not run in production (empty in development or when sound)."""
        if not self.production:
            return []
        problems = []
        if not self.secret_key:
            problems.append("NELM_SECRET_KEY is not set: SMART sessions would not survive a restart or work "
                            "across replicas")
        elif len(self.secret_key) < MIN_PRODUCTION_KEY_LENGTH:
            problems.append(f"NELM_SECRET_KEY is shorter than {MIN_PRODUCTION_KEY_LENGTH} characters")
        if not self.external_base_url:
            problems.append("NELM_EXTERNAL_BASE_URL is not set: the JWT audience and the SMART redirect_uri would "
                            "be built from the request's Host header, which a client chooses")
        elif not self.external_base_url.startswith("https://"):
            problems.append("NELM_EXTERNAL_BASE_URL must be the public https:// URL (CDS Hooks requires TLS)")
        if self.id_hash_key == DEV_ID_HASH_KEY:
            problems.append("NELM_ID_HASH_KEY is the public development default: patient-id hashes in logs and "
                            "audit would be guessable")
        elif len(self.id_hash_key) < MIN_PRODUCTION_KEY_LENGTH:
            problems.append(f"NELM_ID_HASH_KEY is shorter than {MIN_PRODUCTION_KEY_LENGTH} characters")
        return problems

    def with_(self, **changes: object) -> Settings:
        """Return a copy with ``changes`` applied (for tests)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Return settings from ``NELM_*`` variables; raises ValueError naming a bad variable."""
        env = os.environ if environ is None else environ
        base = cls()
        values: dict[str, object] = {}

        def get(name: str) -> str | None:
            return env.get(f"NELM_{name}")

        try:
            if (v := get("ENVIRONMENT")) is not None:
                if v not in {"development", "production"}:
                    raise ValueError("NELM_ENVIRONMENT must be development or production")
                values["environment"] = v
            if (v := get("DATABASE_URL")) is not None:
                values["database_url"] = v
            if (v := get("MAPPINGS_DIR")) is not None:
                values["mappings_dir"] = Path(v)
            if (v := get("SITE_MAPPINGS")) is not None:
                values["site_mapping_files"] = tuple(Path(p) for p in v.split(os.pathsep) if p)
            if (v := get("DEMO_DIR")) is not None:
                values["demo_dir"] = Path(v)
            if (v := get("EXTERNAL_BASE_URL")) is not None:
                values["external_base_url"] = v.rstrip("/")
            if (v := get("MAX_REQUEST_BYTES")) is not None:
                values["max_request_bytes"] = int(v)
            if (v := get("FHIR_DEADLINE_SECONDS")) is not None:
                values["fhir_deadline_seconds"] = float(v)
            if (v := get("FHIR_REQUEST_TIMEOUT_SECONDS")) is not None:
                values["fhir_request_timeout_seconds"] = float(v)
            if (v := get("AUTH_DISABLED")) is not None:
                values["auth_disabled"] = _bool(v)
            if (v := get("DISCOVERY_REQUIRE_JWT")) is not None:
                values["discovery_require_jwt"] = _bool(v)
            if (v := get("TRUST_FILE")) is not None:
                values["trust_file"] = Path(v)
            if (v := get("CLOCK_SKEW_SECONDS")) is not None:
                values["clock_skew_seconds"] = int(v)
            if (v := get("CORS_ORIGINS")) is not None:
                values["cors_origins"] = tuple(o.strip() for o in v.split(",") if o.strip())
            if (v := get("PATHWAY_CONFIG")) is not None:
                values["pathway_config_file"] = Path(v)
            if (v := get("SMART_CONFIG")) is not None:
                values["smart_config_file"] = Path(v)
            if (v := get("SECRET_KEY")) is not None:
                values["secret_key"] = v
            if (v := get("ID_HASH_KEY")) is not None:
                values["id_hash_key"] = v
        except ValueError as exc:
            raise ValueError(f"bad NELM_* setting: {exc}") from exc
        return replace(base, **values)  # type: ignore[arg-type]
