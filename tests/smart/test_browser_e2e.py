"""End to end in a real headless browser: EHR launch → pathway page → record a finding → statuses flip.

Debian chromium + Playwright; the test SMART authorization server; the real SEKMET FHIR server holding a
vignette patient; the product app served by werkzeug on a free loopback port. Screenshots go to
``test-artifacts/screenshots/`` for people to look at.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from cds_hooks.app import create_app
from cds_hooks.config import REPO_ROOT
from tests.smart.conftest import CLIENT_ID, SCOPES, load_vignette, make_settings, write_registration
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
]


@pytest.fixture
def live_app(tmp_path: Path, auth_server: SmartAuthServer) -> Iterator[str]:
    """The product app on a free port, registered with the test authorization server; yields its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    reg, jwks = write_registration(tmp_path, auth_server.iss)
    auth_server.register_client(CLIENT_ID, redirect_uri=f"{base}/smart/callback", scope=SCOPES, public_jwks=jwks)
    app = create_app(make_settings(tmp_path, reg, base=base))
    with serving(app, port):
        yield base


def badge(page: object, modality: str) -> str:
    """Return the status the page shows for ``modality``."""
    return str(page.get_attribute(f"#m-{modality} summary [data-status]", "data-status"))  # type: ignore[attr-defined]


def test_ehr_launch_page_and_data_capture_in_a_real_browser(
    live_app: str, auth_server: SmartAuthServer, fhir_server: FhirServer
) -> None:
    from playwright.sync_api import sync_playwright

    pid = load_vignette(fhir_server, "V10", f"e2e{uuid.uuid4().hex[:6]}")
    launch = auth_server.new_launch(patient=pid, app_context='{"modality":"alpps"}')
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{live_app}/smart/launch?iss={quote(auth_server.iss, safe='')}&launch={launch}")
            page.wait_for_url(f"{live_app}/smart/app*")
            assert page.title().startswith("Pathway")
            # The EHR launch went through PKCE S256 with aud = iss.
            assert auth_server.authorize_requests[-1]["code_challenge_method"] == "S256"
            assert auth_server.authorize_requests[-1]["aud"] == auth_server.iss
            # The expected statuses of vignette V10 (FLR 29 %).
            assert badge(page, "curative-resection") == "not-recommended"
            assert badge(page, "portal-vein-embolization") in {"recommended", "consider"}
            assert badge(page, "alpps") == "consider"
            assert page.locator("details#m-alpps").get_attribute("open") is not None  # appContext opened first
            assert page.locator(".patient-banner").inner_text().startswith("Demo Vignette V10")
            assert page.locator("svg.flowchart .leaf.on-route").count() >= 1
            page.screenshot(path=str(SHOTS / "smart-01-launch-focus.png"))
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(SHOTS / "smart-02-pathway-page.png"), full_page=True)
            page.locator("svg.flowchart").scroll_into_view_if_needed()
            page.screenshot(path=str(SHOTS / "smart-02b-flowchart.png"))

            # Record a new FLR after re-volumetry.
            page.fill("#f-flr-percent", "35")
            page.fill("#f-note", "re-volumetry")
            page.click("section.capture button[type=submit]")
            page.wait_for_selector("#changes")
            changes = page.locator("#changes").inner_text()
            assert "Curative liver resection" in changes and "Recommended" in changes
            assert badge(page, "curative-resection") == "recommended"
            assert badge(page, "portal-vein-embolization") == "not-recommended"
            page.screenshot(path=str(SHOTS / "smart-03-after-capture.png"))

            # A value out of range: nothing written, the input kept, the error announced.
            page.fill("#f-krenning-score", "7")
            page.click("section.capture button[type=submit]")
            page.wait_for_selector("#error-summary")
            assert page.input_value("#f-krenning-score") == "7"
            assert "between 0 and 4" in page.locator("#error-summary").inner_text()
            page.screenshot(path=str(SHOTS / "smart-04-validation.png"))

            page.emulate_media(media="print")
            page.screenshot(path=str(SHOTS / "smart-05-print-summary.png"), full_page=True)
            # The print layout: a one-page tumour-board summary on A4, the flowchart on the next page
            # (tests/smart/test_page_browser.py reads the PDF's text).
            pdf = page.pdf(format="A4", print_background=True)
            (SHOTS / "smart-05-print-summary.pdf").write_bytes(pdf)
            assert 2 <= len(re.findall(rb"/Type\s*/Page[^s]", pdf)) <= 3
        finally:
            browser.close()
    found = fhir_server.search(f"Observation?patient={pid}&code={quote(FINDING + '|flr-percent', safe='')}")
    assert [e["resource"]["valueQuantity"]["value"] for e in found["entry"]].count(35) == 1
    krenning = fhir_server.search(f"Observation?patient={pid}&code={quote(FINDING + '|krenning-score', safe='')}")
    assert 7 not in [e["resource"].get("valueInteger") for e in krenning.get("entry", [])]


def test_failure_page_in_the_browser(live_app: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 600})
            response = page.goto(f"{live_app}/smart/launch?iss=https%3A%2F%2Fevil.example.org%2Ffhir&launch=x")
            assert response is not None and response.status == 403
            assert page.locator("h1").inner_text() == "Unknown EHR"
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "smart-06-unknown-iss.png"))
        finally:
            browser.close()


def test_two_tabs_with_two_patients_each_keep_their_patient_after_a_reload(
    live_app: str, auth_server: SmartAuthServer, fhir_server: FhirServer
) -> None:
    from playwright.sync_api import sync_playwright

    prefix = f"e2t{uuid.uuid4().hex[:6]}"
    pid_a = load_vignette(fhir_server, "V10", prefix + "a")
    pid_b = load_vignette(fhir_server, "V01", prefix + "b")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            tab_a, tab_b = context.new_page(), context.new_page()
            for tab, pid in ((tab_a, pid_a), (tab_b, pid_b)):
                launch = auth_server.new_launch(patient=pid)
                tab.goto(f"{live_app}/smart/launch?iss={quote(auth_server.iss, safe='')}&launch={launch}")
                tab.wait_for_url(f"{live_app}/smart/app?launch=*")  # the tab pins itself to its launch
            tab_a.reload()
            tab_b.reload()
            assert tab_a.locator(".patient-banner").inner_text().startswith("Demo Vignette V10")
            assert tab_b.locator(".patient-banner").inner_text().startswith("Demo Vignette V01")
            tab_a.fill("#f-flr-percent", "36")
            tab_a.click("section.capture button[type=submit]")
            tab_a.wait_for_selector("#changes")
            assert tab_a.locator(".patient-banner").inner_text().startswith("Demo Vignette V10")
            assert "launch=" in tab_a.url
        finally:
            browser.close()
