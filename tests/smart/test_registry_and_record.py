"""SMART registrations (the iss allow-list) and reading the record with the user's token."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
import responses

from cds_hooks.smart.page import can_write_observations
from cds_hooks.smart.record import FhirError, FhirUnauthorized, fetch_record
from cds_hooks.smart.registry import RegistrationError, load_registrations


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "smart.json"
    path.write_text(json.dumps(data))
    return path


def test_registration_errors_name_file_and_entry(tmp_path: Path) -> None:
    good = {"iss": "https://ehr.example.org/fhir/", "client_id": "c", "auth_method": "client_secret_basic",
            "client_secret_env": "NELM_TEST_SECRET"}
    regs = load_registrations(write(tmp_path, {"registrations": [good]}), {"NELM_TEST_SECRET": "x"})
    assert list(regs) == ["https://ehr.example.org/fhir"] and regs["https://ehr.example.org/fhir"].client_secret == "x"
    with pytest.raises(RegistrationError, match=r"smart.json: registrations\[0\].*NELM_TEST_SECRET is not set"):
        load_registrations(write(tmp_path, {"registrations": [good]}), {})
    with pytest.raises(RegistrationError, match=r"registrations\[1\]: duplicate iss"):
        load_registrations(write(tmp_path, {"registrations": [good, good]}), {"NELM_TEST_SECRET": "x"})
    with pytest.raises(RegistrationError, match="private_key_file"):
        load_registrations(write(tmp_path, {"registrations": [{"iss": "https://a/fhir", "client_id": "c"}]}), {})
    (tmp_path / "pub.json").write_text(json.dumps({"kty": "RSA", "n": "x", "e": "AQAB"}))
    bad_key = {"iss": "https://a/fhir", "client_id": "c", "private_key_file": "pub.json"}
    with pytest.raises(RegistrationError, match="not a private RSA or EC JWK"):
        load_registrations(write(tmp_path, {"registrations": [bad_key]}), {})
    with pytest.raises(RegistrationError, match="'iss' must be an http"):
        load_registrations(write(tmp_path, {"registrations": [{"iss": "ftp://x", "client_id": "c"}]}), {})
    assert load_registrations(None) == {}
    plain = {"iss": "http://ehr.local/fhir", "client_id": "c", "auth_method": "client_secret_post",
             "client_secret": "s"}
    assert load_registrations(write(tmp_path, {"registrations": [plain]}), {})
    with pytest.raises(RegistrationError, match="production requires an https iss"):
        load_registrations(write(tmp_path, {"registrations": [plain]}), {}, production=True)


@pytest.mark.parametrize(
    ("scope", "allowed"),
    [
        ("launch patient/Observation.cu", True), ("patient/Observation.c", True), ("patient/Observation.crus", True),
        ("patient/Observation.write", True), ("patient/*.cruds", True), ("user/Observation.c", True),
        ("patient/Observation.rs", False), ("patient/Observation.read", False), ("patient/Condition.c", False),
        ("", False),
    ],
)
def test_write_permission_from_granted_scopes(scope: str, allowed: bool) -> None:
    assert can_write_observations(scope) is allowed


BASE = "https://ehr.example.org/fhir"


def _bundle(entries: list[dict[str, object]], next_url: str | None = None) -> dict[str, object]:
    out: dict[str, object] = {"resourceType": "Bundle", "type": "searchset"}
    out["entry"] = [{"resource": r} for r in entries]
    if next_url:
        out["link"] = [{"relation": "next", "url": next_url}]
    return out


def _stub_searches(rsps: responses.RequestsMock, skip: str = "") -> None:
    for rtype in ("Condition", "Procedure", "MedicationRequest", "MedicationStatement"):
        if rtype != skip:
            rsps.get(f"{BASE}/{rtype}", json=_bundle([]))


# Mocked HTTP only for what SEKMET cannot do on demand: paging to another host, 403 on one type.
@responses.activate
def test_next_links_are_followed_on_the_same_server_only() -> None:
    responses.get(f"{BASE}/Patient/p1", json={"resourceType": "Patient", "id": "p1"})
    responses.get(f"{BASE}/Observation", json=_bundle([{"resourceType": "Observation", "id": "o1"}],
                                                         f"{BASE}/Observation?page=2&patient=p1"))
    responses.get(f"{BASE}/Observation?page=2&patient=p1",
                  json=_bundle([{"resourceType": "Observation", "id": "o2"}]))
    _stub_searches(responses.mock)
    record = fetch_record(BASE, "p1", "tok", timeout=2, deadline=10)
    assert [r["id"] for r in record.resources if r["resourceType"] == "Observation"] == ["o1", "o2"]
    assert all(c.request.headers["Authorization"] == "Bearer tok" for c in responses.calls)


@responses.activate
def test_a_next_link_to_another_server_is_refused() -> None:
    responses.get(f"{BASE}/Patient/p1", json={"resourceType": "Patient", "id": "p1"})
    responses.get(f"{BASE}/Condition", json=_bundle([], "https://attacker.example.com/fhir/Condition?page=2"))
    with pytest.raises(FhirError, match="another server"):
        fetch_record(BASE, "p1", "tok", timeout=2, deadline=10)
    assert not any("attacker" in c.request.url for c in responses.calls)


@responses.activate
def test_optional_type_forbidden_is_a_warning_and_401_is_unauthorized() -> None:
    responses.get(f"{BASE}/Patient/p1", json={"resourceType": "Patient", "id": "p1"})
    responses.get(f"{BASE}/Observation", json=_bundle([]))
    responses.get(f"{BASE}/MedicationStatement", status=403)
    _stub_searches(responses.mock, skip="MedicationStatement")
    record = fetch_record(BASE, "p1", "tok", timeout=2, deadline=10)
    assert record.warnings == [
        "MedicationStatement could not be read (HTTP 403); options that depend on it may be incomplete."]
    responses.replace(responses.GET, f"{BASE}/Patient/p1", status=401)
    with pytest.raises(FhirUnauthorized):
        fetch_record(BASE, "p1", "tok", timeout=2, deadline=10)


@responses.activate
def test_connection_failure_is_a_fhir_error() -> None:
    responses.get(f"{BASE}/Patient/p1", body=requests.ConnectionError("refused"))
    with pytest.raises(FhirError, match="could not be reached"):
        fetch_record(BASE, "p1", "tok", timeout=2, deadline=10)
