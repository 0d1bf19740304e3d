"""The pathway page and data capture, through a real launch against SEKMET and through the dev launch."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient

from cds_hooks.app import create_app
from tests.smart.conftest import complete_launch, load_vignette, make_settings
from tests.support.sekmet import FhirServer
from tests.support.smart_auth_server import SmartAuthServer

FINDING = "https://nelm-cds.org/fhir/CodeSystem/nelm-finding"


def statuses(html: str) -> dict[str, str]:
    """Return modality → status as shown in the page's list of options."""
    return dict(re.findall(r'<details id="m-([a-z\-]+)".*?data-status="([a-z\-]+)"', html, flags=re.S))


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "the capture form has a CSRF token"
    return match.group(1)


def launched(client: FlaskClient, auth: SmartAuthServer, fhir: FhirServer, vignette: str, **ctx: object) -> str:
    pid = load_vignette(fhir, vignette, f"pg{uuid.uuid4().hex[:6]}")
    assert complete_launch(client, auth, auth.new_launch(patient=pid, **ctx)).status_code == 303  # type: ignore[arg-type]
    return pid


def test_page_shows_every_modality_profile_banner_and_opens_app_context(
    client: FlaskClient, auth_server: SmartAuthServer, fhir_server: FhirServer
) -> None:
    launched(client, auth_server, fhir_server, "V10", app_context='{"modality":"alpps"}')
    page = client.get("/smart/app")
    html = page.get_data(as_text=True)
    assert page.status_code == 200, html[-500:]
    shown = statuses(html)
    assert len(shown) == 21
    assert shown["curative-resection"] == "not-recommended"  # FLR 29 %
    assert shown["portal-vein-embolization"] in {"recommended", "consider"}
    assert shown["alpps"] == "consider"
    assert re.search(r'<details id="m-alpps"[^>]*\bopen\b', html)  # appContext opens it first
    assert not re.search(r'<details id="m-tace"[^>]*\bopen\b', html)
    assert "Demo Vignette V10" in html and "patient-banner" in html
    assert "FLR 29 %" in html and "from Ki-67 5 %" in html
    assert re.search(r'href="#src-Observation-pg[0-9a-f]+-v10-flr"', html)  # criteria link to their source
    assert re.search(r'<tr id="src-Observation-pg[0-9a-f]+-v10-flr">', html)
    assert "<svg" in html and 'data-modality="portal-vein-embolization"' in html
    assert all(token not in html for token in auth_server.tokens)


def test_no_banner_when_the_ehr_says_so(
    client: FlaskClient, auth_server: SmartAuthServer, fhir_server: FhirServer
) -> None:
    launched(client, auth_server, fhir_server, "V10", need_patient_banner=False)
    html = client.get("/smart/app").get_data(as_text=True)
    assert "patient-banner" not in html and len(statuses(html)) == 21


def test_capture_writes_observation_and_shows_what_changed(
    client: FlaskClient, auth_server: SmartAuthServer, fhir_server: FhirServer
) -> None:
    pid = launched(client, auth_server, fhir_server, "V10")
    html = client.get("/smart/app").get_data(as_text=True)
    assert statuses(html)["curative-resection"] == "not-recommended"
    response = client.post("/smart/app/findings", data={"csrf": csrf_of(html), "flr-percent": "35",
                                                          "note": "re-volumetry after PVE"})
    assert response.status_code == 303
    after = client.get("/smart/app").get_data(as_text=True)
    assert statuses(after)["curative-resection"] == "recommended"
    assert re.search(r"Curative liver resection.*?Not recommended</span> → <span[^>]*>Recommended", after, re.S)
    # The Observation is on the FHIR server, coded as CONTRACT.md section 3 says.
    found = fhir_server.search(f"Observation?patient={pid}&code={quote(FINDING + '|flr-percent', safe='')}")
    values = [e["resource"] for e in found.get("entry", [])]
    written = [o for o in values if o["valueQuantity"]["value"] == 35]
    assert len(written) == 1
    obs = written[0]
    assert obs["status"] == "final" and obs["subject"]["reference"] == f"Patient/{pid}"
    assert obs["valueQuantity"]["code"] == "%" and obs["valueQuantity"]["system"] == "http://unitsofmeasure.org"
    assert obs["effectiveDateTime"] == "2026-11-26"
    assert obs["performer"][0]["reference"].endswith("Practitioner/dr-1")
    assert obs["note"][0]["text"] == "re-volumetry after PVE"


def test_invalid_input_writes_nothing_and_keeps_what_was_typed(
    client: FlaskClient, auth_server: SmartAuthServer, fhir_server: FhirServer
) -> None:
    launched(client, auth_server, fhir_server, "V10")
    html = client.get("/smart/app").get_data(as_text=True)
    writes_before = [r for r in auth_server.fhir_requests if r[0] == "POST"]
    response = client.post("/smart/app/findings", data={
        "csrf": csrf_of(html), "flr-percent": "135", "krenning-score": "2.5", "liver-involvement-percent": "40 cm",
        "achievable-debulking-percent": "75",
    })
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Nothing was written" in page
    assert "must be between 0 and 100" in page and "whole number" in page and "enter a number (in %)" in page
    assert 'value="135"' in page and 'value="75"' in page and 'value="40 cm"' in page
    assert [r for r in auth_server.fhir_requests if r[0] == "POST"] == writes_before


def test_a_refused_write_is_reported_and_the_form_keeps_the_input(
    client: FlaskClient, auth_server: SmartAuthServer, fhir_server: FhirServer
) -> None:
    launched(client, auth_server, fhir_server, "V10")
    html = client.get("/smart/app").get_data(as_text=True)
    auth_server.fail_writes_with = (422, {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "business-rule", "diagnostics": "Observation.performer must be a Practitioner"}]})
    response = client.post("/smart/app/findings", data={"csrf": csrf_of(html), "flr-percent": "35"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "refused to store" in page and "Observation.performer must be a Practitioner" in page
    assert 'value="35"' in page
    assert statuses(page)["curative-resection"] == "not-recommended"


def test_csrf_is_checked(client: FlaskClient, auth_server: SmartAuthServer, fhir_server: FhirServer) -> None:
    launched(client, auth_server, fhir_server, "V10")
    client.get("/smart/app")
    response = client.post("/smart/app/findings", data={"csrf": "guessed", "flr-percent": "35"})
    assert response.status_code == 403 and "CSRF" in response.get_data(as_text=True)
    assert not [r for r in auth_server.fhir_requests if r[0] == "POST"]


def test_expired_access_token_is_refreshed(
    client: FlaskClient, auth_server: SmartAuthServer, fhir_server: FhirServer
) -> None:
    auth_server.expires_in = 5  # within the app's 30-second margin: treated as expired at once
    launched(client, auth_server, fhir_server, "V10")
    page = client.get("/smart/app")
    assert page.status_code == 200, page.get_data(as_text=True)[-400:]
    assert auth_server.refreshes >= 1
    assert auth_server.token_requests[-1]["grant_type"] == "refresh_token"


def test_dev_launch_shows_demo_patient_and_keeps_findings_in_the_session(client: FlaskClient) -> None:
    response = client.get("/smart/dev-launch", query_string={"patient": "v10", "appContext": '{"modality":"tace"}'})
    if response.status_code == 404:
        pytest.skip("demo bundle v10 is not in tests/vignettes yet")
    assert response.status_code == 303
    html = client.get("/smart/app").get_data(as_text=True)
    assert "Development launch" in html and re.search(r'<details id="m-tace"[^>]*\bopen\b', html)
    client.post("/smart/app/findings", data={"csrf": csrf_of(html), "fit-for-major-surgery": "false"})
    after = client.get("/smart/app").get_data(as_text=True)
    shown = statuses(after)
    assert shown["curative-resection"] == "contraindicated" and shown["alpps"] == "contraindicated"
    assert "recorded here" in after  # the captured Observation is listed among the sources


def test_another_patients_data_is_never_shown(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    demo.mkdir()
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "id": "mix1"}},
        {"resource": {"resourceType": "Observation", "id": "o1", "status": "final",
                      "code": {"coding": [{"system": "http://loinc.org", "code": "29593-1"}]},
                      "subject": {"reference": "Patient/someone-else"}, "valueQuantity": {"value": 5, "unit": "%"}}},
    ]}
    (demo / "mix1.json").write_text(json.dumps(bundle))
    client = create_app(make_settings(tmp_path, None, demo_dir=demo)).test_client()
    assert client.get("/smart/dev-launch", query_string={"patient": "mix1"}).status_code == 303
    page = client.get("/smart/app")
    text = page.get_data(as_text=True)
    assert page.status_code == 502 and "another patient" in text and "someone-else" not in text
