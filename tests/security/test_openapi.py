"""The OpenAPI description at /openapi.json, and schemathesis against the live app: no 5xx, no schema violation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from cds_hooks.app import create_app
from tests.security.conftest import BASE, Signer, make_settings

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_openapi_describes_every_public_endpoint(client: Any, es_signer: Signer) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) >= {
        "/cds-services",
        "/cds-services/{service_id}",
        "/cds-services/{service_id}/feedback",
        "/healthz",
        "/readyz",
        "/metrics",
    }
    service_ids = doc["paths"]["/cds-services/{service_id}"]["post"]["parameters"][0]["schema"]["enum"]
    token = es_signer.token(f"{BASE}/cds-services")
    discovery = client.get("/cds-services", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert set(service_ids) == {s["id"] for s in discovery["services"]}
    assert doc["components"]["securitySchemes"]["cdsClientJwt"]["scheme"] == "bearer"
    for path in ("/cds-services", "/cds-services/{service_id}", "/cds-services/{service_id}/feedback"):
        for operation in doc["paths"][path].values():
            assert "401" in operation["responses"]
            assert operation["security"] == [{"cdsClientJwt": []}]  # these tests run with discovery requiring a JWT


def test_open_discovery_is_described_as_open(tmp_path: Path, trust_file: Path) -> None:
    doc = create_app(make_settings(tmp_path, trust_file, discovery_require_jwt=False)).test_client()
    spec = doc.get("/openapi.json").get_json()
    assert spec["paths"]["/cds-services"]["get"]["security"] == [{}, {"cdsClientJwt": []}]
    assert spec["paths"]["/cds-services/{service_id}"]["post"]["security"] == [{"cdsClientJwt": []}]


def test_openapi_document_is_valid_openapi(client: Any) -> None:
    schema = schemathesis.openapi.from_dict(client.get("/openapi.json").get_json())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 6


def _explore(operation: Any, mode: GenerationMode, signer: Signer, counts: dict[int, int]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
    def run(case: Any) -> None:
        headers = {"Authorization": f"Bearer {signer.token(BASE + case.formatted_path)}"}
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        counts[response.status_code] = counts.get(response.status_code, 0) + 1

    run()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_live_app_conforms_to_its_openapi(
    tmp_path: Path, trust_file: Path, es_signer: Signer, mode: GenerationMode
) -> None:
    """Generated calls (schema-valid, then schema-violating) with valid JWTs: no 5xx, every answer as documented."""
    app = create_app(make_settings(tmp_path, trust_file))
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    seen: dict[str, dict[int, int]] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        if mode is GenerationMode.NEGATIVE and operation.method.upper() != "POST":
            continue  # nothing to violate: no parameters, no body
        _explore(operation, mode, es_signer, seen.setdefault(operation.label, {}))
    assert len(seen) == (6 if mode is GenerationMode.POSITIVE else 2)
    assert all(counts and max(counts) < 500 for counts in seen.values()), seen
    if mode is GenerationMode.POSITIVE:
        assert set(seen["GET /cds-services"]) == {200}
