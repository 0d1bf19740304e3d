"""Production refuses to start with development secrets; development starts with generated or default ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from cds_hooks import smart
from cds_hooks.app import create_app
from cds_hooks.config import DEV_ID_HASH_KEY, REPO_ROOT, Settings
from cds_hooks.security import SecurityConfigError
from tests.security.conftest import make_settings

PRODUCTION_TRUST = REPO_ROOT / "config" / "production-trust.example.json"
GOOD = {"secret_key": "k" * 48, "id_hash_key": "h" * 48, "external_base_url": "https://nelm.example.org"}


def _production(tmp_path: Path, **changes: object) -> Settings:
    values: dict[str, object] = {"environment": "production", "cors_origins": ("https://ehr.example.org",), **GOOD}
    return make_settings(tmp_path, PRODUCTION_TRUST, **(values | changes))


def test_production_without_a_secret_key_refuses_naming_the_variable(tmp_path: Path) -> None:
    with pytest.raises(SecurityConfigError, match="NELM_SECRET_KEY is not set") as info:
        create_app(_production(tmp_path, secret_key=None))
    assert "restart" in str(info.value) and "replicas" in str(info.value)


def test_production_with_the_development_id_hash_key_refuses(tmp_path: Path) -> None:
    with pytest.raises(SecurityConfigError, match="NELM_ID_HASH_KEY is the public development default"):
        create_app(_production(tmp_path, id_hash_key=DEV_ID_HASH_KEY))


def test_production_names_every_problem_at_once_and_refuses_short_keys(tmp_path: Path) -> None:
    with pytest.raises(SecurityConfigError) as info:
        create_app(_production(tmp_path, secret_key="short", id_hash_key="also-short"))
    message = str(info.value)
    assert "NELM_SECRET_KEY is shorter than 32" in message and "NELM_ID_HASH_KEY is shorter than 32" in message


def test_production_with_proper_keys_starts(tmp_path: Path) -> None:
    app = create_app(_production(tmp_path))
    assert app.test_client().get("/healthz").status_code == 200


def test_the_variables_reach_the_check_through_from_env(tmp_path: Path) -> None:
    env = {"NELM_ENVIRONMENT": "production", "NELM_ID_HASH_KEY": "h" * 48,
           "NELM_EXTERNAL_BASE_URL": "https://nelm.example.org/"}
    assert Settings.from_env(env).production_problems() == [
        "NELM_SECRET_KEY is not set: SMART sessions would not survive a restart or work across replicas"
    ]
    assert Settings.from_env(env | {"NELM_SECRET_KEY": "k" * 40}).production_problems() == []


def test_development_starts_with_generated_and_default_keys(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, None, secret_key=None)
    assert settings.id_hash_key == DEV_ID_HASH_KEY and settings.production_problems() == []
    app = create_app(settings)
    assert app.test_client().get("/smart/dev-launch", query_string={"patient": "v01"}).status_code == 303


def test_the_smart_surface_alone_also_refuses_production_without_a_secret(tmp_path: Path) -> None:
    from flask import Flask

    app = Flask(__name__)
    with pytest.raises(smart.SmartConfigError, match="NELM_SECRET_KEY"):
        smart.init_app(app, _production(tmp_path, secret_key=None))


@pytest.mark.parametrize(("url", "says"), [(None, "NELM_EXTERNAL_BASE_URL is not set"),
                                           ("http://nelm.example.org", "must be the public https:// URL")])
def test_production_without_a_public_https_base_url_refuses(tmp_path: Path, url: str | None, says: str) -> None:
    """Without it the JWT audience and the SMART redirect_uri would follow the Host header a client sends."""
    with pytest.raises(SecurityConfigError, match=says) as info:
        create_app(_production(tmp_path, external_base_url=url))
    assert "Host header" in str(info.value) or "TLS" in str(info.value)
    assert "NELM_EXTERNAL_BASE_URL" in Settings.from_env({"NELM_ENVIRONMENT": "production"}).production_problems()[1]
