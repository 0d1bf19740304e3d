"""The fhirServer allow-list (``app.extensions["nelm_fhir_allow"]``): no request forgery through fhirServer."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from cds_hooks.app import create_app
from tests.security.conftest import ES_ISSUER, FHIR_BASE, RS_ISSUER, make_settings


@pytest.mark.parametrize(
    "url",
    [
        FHIR_BASE,
        FHIR_BASE + "/",
        FHIR_BASE + "/tenant-a",
        "https://FHIR.ehr-es.example.test/r4",
        "https://fhir.ehr-es.example.test:443/r4",
    ],
)
def test_allow_listed_servers_are_fetched(app: Flask, url: str) -> None:
    assert app.extensions["nelm_fhir_allow"](ES_ISSUER, url) is True


@pytest.mark.parametrize(
    "url",
    [
        "https://fhir.ehr-es.example.test/r4x",  # not on a segment boundary
        "https://fhir.ehr-es.example.test/",  # above the allowed path
        "https://fhir.ehr-es.example.test/r4/../admin",
        "https://fhir.ehr-es.example.test/r4/%2e%2e/admin",
        "https://fhir.ehr-es.example.test:8443/r4",
        "http://fhir.ehr-es.example.test/r4",
        "https://fhir.ehr-es.example.test.evil.example/r4",
        "https://user:pw@fhir.ehr-es.example.test/r4",
        "https://evil.example/r4?https://fhir.ehr-es.example.test/r4",
        "https://fhir.ehr-es.example.test/r4#x",
        "http://169.254.169.254/latest/meta-data",
        "http://127.0.0.1:5432/",
        "file:///etc/passwd",
        "gopher://fhir.ehr-es.example.test/r4",
        "https://fhir.ehr-es.example.test\\@evil.example/r4",
        "",
    ],
)
def test_everything_else_is_refused(app: Flask, url: str) -> None:
    assert app.extensions["nelm_fhir_allow"](ES_ISSUER, url) is False


def test_allow_list_is_per_issuer(app: Flask) -> None:
    allow = app.extensions["nelm_fhir_allow"]
    assert allow(RS_ISSUER, FHIR_BASE) is False  # another client may not use this EHR's server
    assert allow("https://unknown.example.test", FHIR_BASE) is False


def test_without_a_verified_client_only_development_with_auth_disabled_fetches(
    tmp_path: Path, trust_file: Path
) -> None:
    assert create_app(make_settings(tmp_path, trust_file)).extensions["nelm_fhir_allow"](None, FHIR_BASE) is False
    open_app = create_app(make_settings(tmp_path, trust_file, auth_disabled=True))
    assert open_app.extensions["nelm_fhir_allow"](None, "http://127.0.0.1:8090/fhir") is True


def test_dev_trust_allows_loopback_on_any_port_for_the_demo_ehr(tmp_path: Path) -> None:
    allow = create_app(make_settings(tmp_path, None)).extensions["nelm_fhir_allow"]
    assert allow("https://demo-ehr.nelm.invalid", "http://127.0.0.1:54321/fhir") is True
    assert allow("https://demo-ehr.nelm.invalid", "http://10.0.0.1:54321/fhir") is False
