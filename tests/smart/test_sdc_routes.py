"""The SDC form's routes: the published Questionnaire, populate, and submit against SEKMET (real FHIR server)."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.provenance import Provenance
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from flask import Flask
from flask.testing import FlaskClient

from cds_hooks.app import create_app
from cds_hooks.smart import sdc
from cds_hooks.smart.sdc_routes import can_create, open_items
from nelm_fhir.narrative.settings import text_reader_installed
from tests.smart.conftest import CLIENT_ID, SCOPES, complete_launch, load_vignette, make_settings, write_registration
from tests.support.sekmet import FhirServer
from tests.support.smart_auth_server import SmartAuthServer

needs_reader = pytest.mark.skipif(not text_reader_installed(), reason="the text extra (medspaCy) is not installed")
REPORT_TEXT = ("Liver involvement approximately 40%. The lesions show intense FDG avidity. "
               "No evidence of extrahepatic disease.")


# What the structured form needs on top of the capture form's scopes (README, SMART registration).
SDC_SCOPES = (f"{SCOPES} patient/DiagnosticReport.rs patient/DocumentReference.rs patient/QuestionnaireResponse.c "
              "patient/Provenance.c")


@pytest.fixture
def sdc_app(tmp_path: Path, auth_server: SmartAuthServer) -> Flask:
    """The app registered with the scopes of the structured form."""
    reg, jwks = write_registration(tmp_path, auth_server.iss)
    data = json.loads(reg.read_text())
    data["registrations"][0]["scopes"] = SDC_SCOPES
    reg.write_text(json.dumps(data))
    auth_server.register_client(CLIENT_ID, redirect_uri="http://localhost/smart/callback", scope=SDC_SCOPES,
                                public_jwks=jwks, secret="s3cret-for-tests")
    return create_app(make_settings(tmp_path, reg))


@pytest.fixture
def sdc_client(sdc_app: Flask) -> FlaskClient:
    """A test client of the app with the structured form's scopes."""
    return sdc_app.test_client()


def test_the_questionnaire_is_published_as_fhir_json(client: FlaskClient) -> None:
    response = client.get("/smart/sdc/Questionnaire/nelm-findings")
    assert response.status_code == 200
    assert response.mimetype == "application/fhir+json"
    body = response.get_json(force=True)
    Questionnaire.model_validate(body)
    assert body["url"] == sdc.QUESTIONNAIRE_URL


@pytest.mark.parametrize(("scope", "resource", "allowed"), [
    ("patient/Observation.cu", "Observation", True),
    ("patient/Observation.rs", "Observation", False),
    ("patient/QuestionnaireResponse.c", "QuestionnaireResponse", True),
    ("patient/*.write", "Provenance", True),
    ("patient/Observation.cu", "Provenance", False),
])
def test_scopes(scope: str, resource: str, allowed: bool) -> None:
    assert can_create(scope, resource) is allowed


def test_a_gap_opens_the_items_that_fill_it() -> None:
    assert open_items("flrPercent") == ("flr-percent",)
    assert set(open_items("ki67Percent")) == {"ki67-percent", "mitotic-count"}
    assert open_items("nonsense") == () and open_items(None) == ()


def _report(pid: str, prefix: str) -> dict[str, Any]:
    return {"resourceType": "DiagnosticReport", "id": f"{prefix}-ct", "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD"}]}],
            "code": {"text": "CT abdomen"}, "subject": {"reference": f"Patient/{pid}"},
            "effectiveDateTime": "2026-11-02", "conclusion": REPORT_TEXT}


def _launch(client: FlaskClient, auth: SmartAuthServer, fhir: FhirServer, **ctx: object) -> tuple[str, str]:
    prefix = f"sd{uuid.uuid4().hex[:6]}"
    pid = load_vignette(fhir, "V10", prefix)
    report = _report(pid, prefix)
    stored = requests.put(f"{fhir.base_url}/DiagnosticReport/{report['id']}", json=report, timeout=20,
                          headers={"Content-Type": "application/fhir+json"})
    assert stored.status_code in {200, 201}, stored.text
    assert complete_launch(client, auth, auth.new_launch(patient=pid, **ctx)).status_code == 303  # type: ignore[arg-type]
    return pid, prefix


@needs_reader
def test_populate_then_submit_writes_response_observations_and_provenance(
    sdc_client: FlaskClient, auth_server: SmartAuthServer, fhir_server: FhirServer
) -> None:
    client = sdc_client
    pid, prefix = _launch(client, auth_server, fhir_server, app_context='{"gap":"liverInvolvementPercent"}')
    populated = client.get("/smart/app/form/populate")
    assert populated.status_code == 200 and populated.mimetype == "application/fhir+json"
    qr = populated.get_json(force=True)
    QuestionnaireResponse.model_validate(qr)
    answers = {i["linkId"]: i["answer"][0] for i in qr["item"]}
    assert answers["flr-percent"] == {"valueDecimal": 29.0}  # from the record, no source
    proposed = answers["liver-involvement-percent"]
    assert proposed["valueDecimal"] == 40.0
    parts = {e["url"]: e for e in proposed["extension"][0]["extension"]}
    assert parts["source"]["valueReference"]["reference"] == f"DiagnosticReport/{prefix}-ct"
    assert parts["quote"]["valueString"] == "Liver involvement approximately 40%."
    assert {"url": sdc.OPEN_ITEM, "valueString": "liver-involvement-percent"} in qr["extension"]

    page = client.get("/smart/app/form")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Liver involvement approximately 40%." in html
    csrf = re.search(r'data-csrf="([^"]+)"', html) or re.search(r'name="csrf" value="([^"]+)"', html)
    if csrf is None:  # the fallback page (no LHC-Forms) has no form; take the token from the pathway page
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/smart/app").get_data(as_text=True))
    assert csrf

    # the clinician keeps the proposed involvement, changes nothing else, adds achievable debulking
    qr["item"].append({"linkId": "achievable-debulking-percent", "answer": [{"valueDecimal": 60}]})
    qr["status"] = "completed"
    bad = client.post("/smart/app/form/submit", data="{not json", headers={"X-CSRF-Token": csrf.group(1)},
                      content_type="application/fhir+json")
    assert bad.status_code == 400 and bad.get_json(force=True)["resourceType"] == "OperationOutcome"
    forged = client.post("/smart/app/form/submit", data=json.dumps(qr), headers={"X-CSRF-Token": "x"},
                         content_type="application/fhir+json")
    assert forged.status_code == 403
    done = client.post("/smart/app/form/submit", data=json.dumps(qr), headers={"X-CSRF-Token": csrf.group(1)},
                       content_type="application/fhir+json")
    body = done.get_json(force=True)
    assert done.status_code == 200, body
    params = {p["name"]: p for p in body["parameter"]}
    # FLR, Ki-67 … were already in the record: not written again; the two proposals kept + debulking are
    assert params["written"]["valueInteger"] == 3
    qr_ref = params["questionnaireResponse"]["valueString"]

    # re-read from the FHIR server: what was written, and how it is linked
    base = fhir_server.base_url
    obs = requests.get(f"{base}/Observation", params={"patient": pid, "_count": 200}, timeout=20).json()
    assert qr_ref.startswith("QuestionnaireResponse/")
    assert params["provenance"]["valueBoolean"] is True
    written = [e["resource"] for e in obs.get("entry", []) if any(
        d.get("reference") == qr_ref for d in e["resource"].get("derivedFrom", []))]
    by_code = {o["code"]["coding"][0]["code"]: o for o in written}
    assert set(by_code) == {"liver-involvement-percent", "fdg-pet-positive", "achievable-debulking-percent"}
    assert by_code["fdg-pet-positive"]["valueBoolean"] is True
    for o in written:
        Observation.model_validate(o)
    assert by_code["liver-involvement-percent"]["valueQuantity"]["value"] == 40
    assert {"reference": f"DiagnosticReport/{prefix}-ct"} in by_code["liver-involvement-percent"]["derivedFrom"]
    assert len(by_code["achievable-debulking-percent"]["derivedFrom"]) == 1
    stored_qr = requests.get(f"{base}/{qr_ref}", timeout=20).json()
    QuestionnaireResponse.model_validate(stored_qr)
    assert stored_qr["status"] == "completed" and stored_qr.get("author", {}).get("reference")
    provs = requests.get(f"{base}/Provenance", params={"_count": 200}, timeout=20).json()
    mine = [e["resource"] for e in provs.get("entry", []) if any(
        t.get("reference") == qr_ref for t in e["resource"].get("target", []))]
    assert len(mine) == 1
    Provenance.model_validate(mine[0])
    assert mine[0]["entity"] == [{"role": "source", "what": {"reference": f"DiagnosticReport/{prefix}-ct"}}]
    assert mine[0]["agent"][0]["who"]["reference"]

    # the pathway page shows the re-evaluation, and the record now holds the values
    after = client.get("/smart/app").get_data(as_text=True)
    assert 'id="changes"' in after
    again = client.get("/smart/app/form/populate").get_json(force=True)
    now = {i["linkId"]: i["answer"][0] for i in again["item"]}
    assert now["liver-involvement-percent"] == {"valueDecimal": 40.0}  # recorded now: no proposal extension


@needs_reader
def test_an_invalid_response_writes_nothing(
    client: FlaskClient, auth_server: SmartAuthServer, fhir_server: FhirServer
) -> None:
    pid, _ = _launch(client, auth_server, fhir_server)
    qr = client.get("/smart/app/form/populate").get_json(force=True)
    html = client.get("/smart/app").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', html)
    assert csrf
    before = requests.get(f"{fhir_server.base_url}/Observation", params={"patient": pid, "_summary": "count"},
                          timeout=20).json()["total"]
    for broken, status in (
        (dict(qr, item=[{"linkId": "flr-percent", "answer": [{"valueDecimal": 250}]}]), 422),
        (dict(qr, item=[{"linkId": "flr-percent", "answer": [{"valueDecimal": "abc"}]}]), 400),
        (dict(qr, subject={"reference": "Patient/someone-else"}), 422),
    ):
        r = client.post("/smart/app/form/submit", data=json.dumps(broken), headers={"X-CSRF-Token": csrf.group(1)},
                        content_type="application/fhir+json")
        assert r.status_code == status, r.get_data(as_text=True)
        assert r.get_json(force=True)["resourceType"] == "OperationOutcome"
    after = requests.get(f"{fhir_server.base_url}/Observation", params={"patient": pid, "_summary": "count"},
                         timeout=20).json()["total"]
    assert after == before


def test_a_launch_naming_a_gap_lands_on_the_form_which_opens_it(client: FlaskClient) -> None:
    plain = client.get("/smart/dev-launch", query_string={"patient": "v10"})
    assert plain.status_code == 303 and plain.headers["Location"].endswith("/smart/app")
    gap = client.get("/smart/dev-launch", query_string={"patient": "v10", "appContext": '{"gap":"ki67Percent"}'})
    assert gap.status_code == 303 and gap.headers["Location"].endswith("/smart/app/form")
    page = client.get("/smart/app/form")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "style-src 'self' 'unsafe-inline'" in page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in page.headers["Content-Security-Policy"]  # never inline script, never a CDN
    assert "https://" not in "".join(re.findall(r'<script[^>]*src="([^"]+)"', html))
    if 'id="sdc-form"' in html:
        assert 'data-open="ki67-percent mitotic-count"' in html
    else:
        assert "LHC-Forms" in html and "not" in html  # the fallback says why and links to the other form
    qr = client.get("/smart/app/form/populate").get_json(force=True)
    assert [e["valueString"] for e in qr["extension"]] == ["ki67-percent", "mitotic-count"]
    operation = client.get("/smart/sdc/Questionnaire/nelm-findings/$populate").get_json(force=True)
    assert operation["item"] == qr["item"] and operation["subject"] == {"reference": "Patient/v10"}


def test_populate_needs_a_launch(client: FlaskClient) -> None:
    response = client.get("/smart/sdc/Questionnaire/nelm-findings/$populate")
    assert response.status_code == 401


def test_without_lhc_forms_the_page_says_so_and_links_to_the_other_form(
    client: FlaskClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NELM_LFORMS_DIR", str(tmp_path / "no-node-modules"))
    client.get("/smart/dev-launch", query_string={"patient": "v10"})
    html = client.get("/smart/app/form").get_data(as_text=True)
    assert 'id="sdc-fallback"' in html and 'id="sdc-form"' not in html
    assert "/smart/lforms/" not in html  # no script tags for files that are not there
    assert client.get("/smart/lforms/webcomponent/main.js").status_code == 404


@needs_reader
def test_without_response_and_provenance_scopes_only_the_observations_are_written(
    client: FlaskClient, auth_server: SmartAuthServer, fhir_server: FhirServer
) -> None:
    pid, prefix = _launch(client, auth_server, fhir_server)  # the capture form's scopes: Observation.cu only
    qr = client.get("/smart/app/form/populate").get_json(force=True)
    csrf = re.search(r'data-csrf="([^"]+)"', client.get("/smart/app/form").get_data(as_text=True))
    assert csrf
    done = client.post("/smart/app/form/submit", data=json.dumps(dict(qr, status="completed")),
                       headers={"X-CSRF-Token": csrf.group(1)}, content_type="application/fhir+json")
    params = {p["name"]: p for p in done.get_json(force=True)["parameter"]}
    assert done.status_code == 200
    assert params["questionnaireResponse"]["valueString"] == "" and params["provenance"]["valueBoolean"] is False
    code = f"{sdc.FINDING_SYSTEM}|liver-involvement-percent"
    found = requests.get(f"{fhir_server.base_url}/Observation", params={"patient": pid, "code": code},
                         timeout=20).json()
    written = [e["resource"] for e in found.get("entry", [])]
    # no reference to a response that was never stored; the report is still named
    assert [o["derivedFrom"] for o in written] == [[{"reference": f"DiagnosticReport/{prefix}-ct"}]]
