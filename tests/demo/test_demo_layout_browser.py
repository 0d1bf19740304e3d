"""/demo as an EHR side panel (800 px) and on a phone (400 px): the critical card is seen, cards are announced,
axe-core finds no serious or critical violation. Screenshots for the README (NELM_UPDATE_SCREENSHOTS=1).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from cds_hooks.app import create_app
from cds_hooks.config import Settings
from tests.support.browser import CHROMIUM, chromium, serving
from tests.support.browser_checks import axe_violations, screenshot, visible_internal_names

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is absent (.ci/run installs it)"),
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("demo-layout") / "nelm.sqlite3"
    app: Flask = create_app(Settings().with_(database_url=f"sqlite:///{db}"))
    with serving(app) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def _page(browser: Any, width: int, height: int = 800) -> Any:
    context = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=True)  # axe injection
    page = context.new_page()
    page.set_default_timeout(30_000)
    return page


def _critical_after_order(page: Any, base: str) -> Any:
    page.goto(f"{base}/demo/")
    page.click('[data-testid="patient-v08"]')  # G3 NET: ALPPS is contraindicated
    page.wait_for_selector('[data-testid="chart-cards"] [data-testid="card"]')
    page.select_option('[data-testid="order-modality"]', "alpps")
    page.click('[data-testid="order-select"]')
    critical = page.locator('[data-testid="order-cards"] [data-indicator="critical"]').first
    critical.wait_for()
    return critical


def _uncovered(page: Any, locator: Any) -> bool:
    """Return True when the card's top-left corner and centre are painted by the card itself (nothing over it)."""
    return bool(locator.evaluate(
        "el => { const r = el.getBoundingClientRect();"
        " const pts = [[r.left + 8, r.top + 8], [r.left + r.width / 2, r.top + Math.min(r.height / 2, 40)]];"
        " return pts.every(([x, y]) => { const hit = document.elementFromPoint(x, y);"
        " return hit && el.contains(hit); }); }"))


@pytest.mark.parametrize("width", [1500, 800, 400])
def test_the_critical_card_is_in_view_and_not_under_the_patient_list(
        served: str, browser: Any, width: int) -> None:
    page = _page(browser, width)
    critical = _critical_after_order(page, served)
    box = critical.bounding_box()
    assert box is not None and -1 <= box["y"] < 800, box  # brought into view when it arrives
    assert _uncovered(page, critical), "something is drawn over the critical card"
    # scrolled anywhere, the patient list never sits on top of the card
    for y in (0, 300, 600):
        page.evaluate(f"window.scrollTo(0, {y})")
        critical.scroll_into_view_if_needed()
        assert _uncovered(page, critical)
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"/demo scrolls {overflow} px sideways at {width} px"
    announced = page.locator('[data-testid="cds-announce"]')
    assert announced.get_attribute("aria-live") == "polite"
    assert "critical" in announced.inner_text()
    assert axe_violations(page) == []
    critical.scroll_into_view_if_needed()
    if width == 1500:
        screenshot(page, "demo-order-select-critical.png", readme=True)
    else:
        screenshot(page, f"demo-{width}px-critical.png", readme=width == 800)
    page.context.close()


def test_demo_axe_and_no_internal_names_in_the_cards(served: str, browser: Any) -> None:
    page = _page(browser, 1280)
    page.goto(f"{served}/demo/")
    assert axe_violations(page) == []
    _critical_after_order(page, served)
    violations = axe_violations(page, context=".cds")
    assert violations == []
    assert visible_internal_names(page, ".cds") == []
    # the chart's lab results show units as clinicians write them, not raw UCUM ({INR}, 10*9/L)
    assert visible_internal_names(page, "#t-observations") == []
    assert "×10" in page.locator("#t-observations").inner_text()
    page.context.close()


def test_reference_links_with_brackets_render_as_links(served: str, browser: Any) -> None:
    """Cards cite the review as [[41]](…/evidence/alpps#ref-41): the EHR shows a link labelled [41]."""
    page = _page(browser, 1280)
    page.goto(f"{served}/demo/")
    html = page.evaluate("md => NelmMarkdown.render(md)",
                         "Evidence: [[41]](https://example.org/evidence/alpps#ref-41) [[2]](https://example.org/e#ref-2)")
    assert '<a href="https://example.org/evidence/alpps#ref-41" target="_blank" rel="noopener noreferrer">[41]</a>' \
        in html
    assert ">[2]</a>" in html and "](" not in html
    page.context.close()
