"""The shipped registration example loads through the real loader, and the loader refuses unknown fields."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from joserfc.jwk import RSAKey

from cds_hooks.config import REPO_ROOT
from cds_hooks.smart.registry import DEFAULT_SCOPES, RegistrationError, load_registrations

EXAMPLE = REPO_ROOT / "config" / "smart-registration.example.json"


def _installed(tmp_path: Path) -> Path:
    """Copy the example as an operator would, with the private key it names."""
    path = tmp_path / "smart.json"
    shutil.copy(EXAMPLE, path)
    for reg in json.loads(path.read_text())["registrations"]:
        if "private_key_file" in reg:
            key = RSAKey.generate_key(2048, parameters={"kid": "nelm-1"}, private=True)
            target = tmp_path / reg["private_key_file"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(key.as_dict(private=True)))
    return path


def test_the_example_loads_under_production_rules(tmp_path: Path) -> None:
    regs = load_registrations(_installed(tmp_path), {"NELM_SMART_SECRET_EXAMPLE_CLINIC": "from-the-vault"},
                              production=True)
    hospital = regs["https://ehr.example-hospital.org/fhir/r4"]
    assert hospital.auth_method == "private_key_jwt" and hospital.alg == "RS384"
    assert hospital.private_jwk is not None and hospital.standalone and hospital.label == "Example Hospital EHR"
    assert hospital.style_origins == ("https://static.ehr.example-hospital.org",)
    assert "openid" in hospital.scopes.split() and "fhirUser" in hospital.scopes.split()
    clinic = regs["https://fhir.example-clinic.org/r4"]
    assert clinic.auth_method == "client_secret_basic" and clinic.client_secret == "from-the-vault"
    assert clinic.scopes == DEFAULT_SCOPES


def test_the_example_documents_every_field_the_loader_reads(tmp_path: Path) -> None:
    data = json.loads(EXAMPLE.read_text())
    used = {k for reg in data["registrations"] for k in reg if not k.startswith("_")}
    assert used <= set(data["_fields"])
    from cds_hooks.smart.registry import FIELDS

    assert set(data["_fields"]) == set(FIELDS)


def test_the_example_without_its_secret_variable_names_it(tmp_path: Path) -> None:
    with pytest.raises(RegistrationError, match="NELM_SMART_SECRET_EXAMPLE_CLINIC"):
        load_registrations(_installed(tmp_path), {})


def test_an_unknown_field_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "smart.json"
    path.write_text(json.dumps({"registrations": [
        {"iss": "https://ehr.example.org/fhir", "client_id": "x", "auth_method": "client_secret_post",
         "client_secret": "s", "scope": "launch openid"}]}))
    with pytest.raises(RegistrationError, match=r"registrations\[0\]: unknown field\(s\) scope"):
        load_registrations(path, {})
