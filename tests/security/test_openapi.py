"""The OpenAPI description at /openapi.json, and schemathesis against the live app: no 5xx, no schema violation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
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
            assert operation["security"] == [{"cdsClientJwt": []}]


def test_openapi_document_is_valid_openapi(client: Any) -> None:
    schema = schemathesis.openapi.from_dict(client.get("/openapi.json").get_json())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 6


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_live_app_conforms_to_its_openapi(
    tmp_path: Path, trust_file: Path, es_signer: Signer, mode: GenerationMode
) -> None:
    """Generated calls (schema-valid, then schema-violating) with valid JWTs: no 5xx, every answer as documented."""
    app = create_app(make_settings(tmp_path, trust_file))
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    strategy = st.one_of([result.ok().as_strategy(generation_mode=mode) for result in schema.get_all_operations()])
    seen: dict[int, int] = {}

    @given(case=strategy)
    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
    def run(case: Any) -> None:
        headers = {"Authorization": f"Bearer {es_signer.token(BASE + case.formatted_path)}"}
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        seen[response.status_code] = seen.get(response.status_code, 0) + 1

    run()
    print(mode, sorted(seen.items()))
    assert seen and all(status < 500 for status in seen)
