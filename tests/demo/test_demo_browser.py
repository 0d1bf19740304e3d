"""/demo in a real headless browser: pick a patient, see the cards, accept, override, sign, open the app.

Screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from cds_hooks.app import create_app
from cds_hooks.config import Settings
from tests.support.browser import CHROMIUM, chromium, serving

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is absent (.ci/run installs it)"),
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Flask]]:
    """The development app on a free loopback port (threaded Werkzeug server, tests only)."""
    db = tmp_path_factory.mktemp("demo-browser") / "nelm.sqlite3"
    app = create_app(Settings().with_(database_url=f"sqlite:///{db}"))
    with serving(app) as base:
        yield base, app


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium driven by Playwright (no downloaded browser)."""
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page that fails the test on any JavaScript error."""
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.set_default_timeout(30_000)
    yield pg
    context.close()
    assert errors == [], errors


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=True)


def _open(page: Any, base: str, patient: str) -> None:
    page.click(f'[data-testid="patient-{patient}"]')
    page.wait_for_selector('[data-testid="chart-cards"] [data-testid="card"], [data-testid="cds-error"]:not([hidden])')
    error = page.locator('[data-testid="cds-error"]')
    assert error.is_hidden(), error.inner_text()


def test_pick_a_patient_see_cards_and_accept_a_suggestion(served: tuple[str, Flask], page: Any) -> None:
    base, app = served
    page.goto(f"{base}/demo/")
    patients = page.locator("button.patient")
    assert patients.count() >= 20  # the public vignettes
    ids = [patients.nth(i).get_attribute("data-patient-id") for i in range(patients.count())]
    accepted = None
    for pid in ids:
        _open(page, base, pid)
        cards = page.locator('[data-testid="chart-cards"] [data-testid="card"]')
        assert cards.count() >= 1  # B25: at least the tumour-board card
        indicators = {cards.nth(i).get_attribute("data-indicator") for i in range(cards.count())}
        assert indicators <= {"info", "warning", "critical"}
        if pid == ids[0]:
            assert page.locator("#banner-name").inner_text().strip()
            _shot(page, "demo-1-patient-view.png")
        button = page.locator('[data-testid="chart-cards"] [data-testid="accept-suggestion"]:enabled').first
        if button.count():
            uuid = button.locator("xpath=ancestor::article[1]").get_attribute("data-card-uuid")
            assert uuid
            button.click()
            status = page.locator(f'[data-card-uuid="{uuid}"] [data-testid="card-status"]')
            status.filter(has_text="Accepted").wait_for()
            accepted = (pid, uuid)
            _shot(page, "demo-2-suggestion-accepted.png")
            break
    assert accepted is not None, "no demo patient got a card with a suggestion"
    rows = app.extensions["nelm_store"].feedback_for(accepted[1])
    assert len(rows) == 1 and rows[0]["outcome"] == "accepted"
    # The exchange log shows the real request and response, validated as CDS Hooks 2.0.
    log = page.locator('[data-testid="exchange"] summary').all_inner_texts()
    assert any("patient-view" in t and "HTTP 200" in t and "problem" not in t for t in log)
    assert any("/feedback" in t and "HTTP 200" in t for t in log)


def test_order_select_sign_override_and_the_smart_link(served: tuple[str, Flask], page: Any) -> None:
    base, app = served
    page.goto(f"{base}/demo/")
    _open(page, base, "v08")  # G3 NET: ALPPS is contraindicated [41]
    page.select_option('[data-testid="order-modality"]', "alpps")
    page.click('[data-testid="order-select"]')
    page.wait_for_selector('[data-testid="order-cards"] [data-testid="card"]')
    assert page.locator('[data-testid="draft-order"]').count() == 1
    page.click('[data-testid="order-sign"]')
    page.wait_for_function("() => document.querySelector('[data-testid=sign-status]').textContent.includes('held')")
    critical = page.locator('[data-testid="order-cards"] [data-indicator="critical"]').first
    assert "alpps" in critical.inner_text().lower()
    assert page.locator('[data-testid="signed-order"]').count() == 0  # held until the alert is answered
    _shot(page, "demo-3-order-sign-critical.png")
    uuid = critical.get_attribute("data-card-uuid")
    select = critical.locator('[data-testid="override-reason"]')
    select.select_option(index=1)
    critical.locator('[data-testid="override"]').click()
    page.wait_for_function("() => document.querySelector('[data-testid=sign-status]').textContent.includes('resolved')")
    rows = app.extensions["nelm_store"].feedback_for(uuid)
    assert [r["outcome"] for r in rows] == ["overridden"]
    page.click('[data-testid="order-sign"]')  # "Sign anyway"
    page.wait_for_selector('[data-testid="signed-order"]')
    _shot(page, "demo-4-order-signed-after-override.png")
    link = page.locator('[data-testid="card-link-smart"]').first
    assert link.count(), "no card offers the SMART app"
    with page.expect_popup() as popup_info:
        link.click()
    popup = popup_info.value
    popup.wait_for_load_state()
    assert "/smart/" in popup.url
    assert popup.locator("body").inner_text().strip()
    _shot(popup, "demo-5-smart-app.png")


def test_card_markdown_renders_markup_but_never_html_or_script_links(served: tuple[str, Flask], page: Any) -> None:
    base, _ = served
    page.goto(f"{base}/demo/")
    hostile = ("**Ki-67** \\> 20 % <img src=x onerror=alert(1)>\n\n- [evidence](https://example.org/a?b=1&c=2)\n"
               "- [bad](javascript:alert(1))\n\n| criterion | met |\n|---|---|\n| FLR ≥ 30 % | `yes` |\n\n"
               '<script>alert("x")</script>')
    html = page.evaluate("md => NelmMarkdown.render(md)", hostile)
    assert "<strong>Ki-67</strong> &gt; 20 %" in html
    assert "<img" not in html and "&lt;img src=x" in html
    assert "<script" not in html and "&lt;script&gt;" in html
    assert '<a href="https://example.org/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">evidence</a>' in html
    assert "javascript:" not in html.split("bad")[0][-60:] and 'href="javascript' not in html
    assert "<table><thead><tr><th>criterion</th><th>met</th></tr></thead>" in html
    assert "<td><code>yes</code></td>" in html


def test_without_prefetch_the_ehr_shows_the_services_412(served: tuple[str, Flask], page: Any) -> None:
    base, _ = served
    page.goto(f"{base}/demo/")
    page.uncheck('[data-testid="send-prefetch"]')
    page.click('[data-testid="patient-v01"]')
    error = page.locator('[data-testid="cds-error"]')
    error.wait_for(state="visible")
    assert "HTTP 412" in error.inner_text()
    assert page.locator('[data-testid="chart-cards"] [data-testid="card"]').count() == 0  # no cards invented
    log = page.locator('[data-testid="exchange"] summary').first.inner_text()
    assert "patient-view" in log and "HTTP 412" in log


def test_accepting_a_replacement_suggestion_changes_the_draft_orders(served: tuple[str, Flask], page: Any) -> None:
    base, app = served
    page.goto(f"{base}/demo/")
    _open(page, base, "v08")
    page.select_option('[data-testid="order-modality"]', "alpps")
    page.click('[data-testid="order-select"]')
    page.click('[data-testid="order-sign"]')
    page.wait_for_function("() => document.querySelector('[data-testid=sign-status]').textContent.includes('held')")
    assert page.locator('[data-testid="order-sign"]').is_disabled()  # signing is held by the critical alert
    critical = page.locator('[data-testid="order-cards"] [data-indicator="critical"]').first
    uuid = critical.get_attribute("data-card-uuid")
    buttons = critical.locator('[data-testid="accept-suggestion"]')
    labels = buttons.all_inner_texts()
    assert any("Remove" in t for t in labels), labels
    buttons.filter(has_text="Remove").first.click()
    page.locator('[data-testid="draft-order"]').first.wait_for(state="detached")
    assert app.extensions["nelm_store"].feedback_for(uuid)[0]["outcome"] == "accepted"
    assert page.locator('[data-testid="order-sign"]').is_disabled()  # nothing left to sign
