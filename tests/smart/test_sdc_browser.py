"""The SDC form in a real browser: LHC-Forms from the local node_modules, a proposal with its sentence, submit.

Debian chromium + Playwright, the test SMART authorization server, SEKMET holding vignette V10 and one CT
report whose text states a finding the record lacks. Screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from cds_hooks.app import create_app
from cds_hooks.config import REPO_ROOT
from cds_hooks.smart.sdc_routes import lforms_installed
from nelm_fhir.narrative.settings import text_reader_installed
from tests.smart.conftest import CLIENT_ID, load_vignette, make_settings, write_registration
from tests.smart.test_sdc_routes import REPORT_TEXT, SDC_SCOPES
from tests.support.browser import ARGS, CHROMIUM, serving
from tests.support.sekmet import FhirServer, free_port
from tests.support.smart_auth_server import SmartAuthServer

SHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
FINDING = "https://nelm-cds.org/fhir/CodeSystem/nelm-finding"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.fhirserver,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium (apt-get install)"),
    pytest.mark.skipif(not lforms_installed() and not os.environ.get("CI"),
                       reason="LHC-Forms is not installed in node_modules (run `make lforms`; it needs npm)"),
    pytest.mark.skipif(not text_reader_installed(), reason="the text extra (medspaCy) is not installed"),
]


@pytest.fixture
def live_app(tmp_path: Path, auth_server: SmartAuthServer) -> Iterator[str]:
    """The product app on a free port with the structured form's scopes; yields its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    reg, jwks = write_registration(tmp_path, auth_server.iss)
    data = json.loads(reg.read_text())
    data["registrations"][0]["scopes"] = SDC_SCOPES
    reg.write_text(json.dumps(data))
    auth_server.register_client(CLIENT_ID, redirect_uri=f"{base}/smart/callback", scope=SDC_SCOPES,
                                public_jwks=jwks)
    app = create_app(make_settings(tmp_path, reg, base=base))
    with serving(app, port):
        yield base


def test_lhc_forms_shows_a_proposal_with_its_sentence_and_submits(
    live_app: str, auth_server: SmartAuthServer, fhir_server: FhirServer
) -> None:
    from playwright.sync_api import sync_playwright

    prefix = f"sb{uuid.uuid4().hex[:6]}"
    pid = load_vignette(fhir_server, "V10", prefix)
    report = {"resourceType": "DiagnosticReport", "id": f"{prefix}-ct", "status": "final",
              "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD"}]}],
              "code": {"text": "CT abdomen"}, "subject": {"reference": f"Patient/{pid}"},
              "effectiveDateTime": "2026-11-02", "conclusion": REPORT_TEXT}
    assert requests.put(f"{fhir_server.base_url}/DiagnosticReport/{report['id']}", json=report, timeout=20,
                        headers={"Content-Type": "application/fhir+json"}).status_code in {200, 201}
    launch = auth_server.new_launch(patient=pid, app_context='{"gap":"liverInvolvementPercent"}')
    SHOTS.mkdir(parents=True, exist_ok=True)
    requested: list[str] = []
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.on("request", lambda r: requested.append(r.url))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.goto(f"{live_app}/smart/launch?iss={quote(auth_server.iss, safe='')}&launch={launch}")
            page.wait_for_url(f"{live_app}/smart/app/form*")
            page.wait_for_selector("#sdc-form[data-ready=true]", timeout=60_000)
            assert page.locator("#sdc-form lhc-item").count() > 0 or page.locator("#sdc-form input").count() > 0
            form_text = page.locator("#sdc-form").inner_text()
            assert "Liver involvement approximately 40%." in form_text  # the source sentence beside the field
            assert page.input_value("[id='liver-involvement-percent/1']") == "40"
            assert page.input_value("[id='flr-percent/1']") == "29"  # from the record
            page.screenshot(path=str(SHOTS / "smart-sdc-01-form.png"), full_page=True)
            page.fill("[id='achievable-debulking-percent/1']", "60")
            page.click("#sdc-submit")
            page.wait_for_url(f"{live_app}/smart/app*", timeout=60_000)
            page.wait_for_selector("#changes")
            assert "Liver involvement" in page.locator("#changes").inner_text()
            page.screenshot(path=str(SHOTS / "smart-sdc-02-after-submit.png"))
        finally:
            browser.close()
    assert all(u.startswith((live_app, auth_server.base_url, "data:")) for u in requested), [
        u for u in requested if not u.startswith((live_app, auth_server.base_url, "data:"))]
    assert any("/smart/lforms/webcomponent/main.js" in u for u in requested)
    assert not [m for m in problems if "Content Security Policy" in m], problems
    code = quote(FINDING + '|liver-involvement-percent', safe='')
    found = fhir_server.search(f"Observation?patient={pid}&code={code}")
    written = [e["resource"] for e in found.get("entry", [])]
    assert [o["valueQuantity"]["value"] for o in written] == [40]
    assert {"reference": f"DiagnosticReport/{prefix}-ct"} in written[0]["derivedFrom"]
