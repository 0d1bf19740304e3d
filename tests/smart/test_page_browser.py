"""The pathway page as a clinician meets it, in a real browser (Debian chromium + Playwright).

Development launches of the bundled vignettes on a live app. Checked the way it is judged: at
1280×800 the first screen holds the answer (the first rated option and every gap's "Record" button);
a gap's button opens the recording form for that gap; the printed tumour-board summary (a PDF read
back with pdfminer) holds every option's full reason, grouped by status, and a legible flowchart on a
page of its own; no internal name in any rendered text; axe-core finds no serious or critical
violation; the page works at 800 and 400 px.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import unicodedata
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from cds_hooks.app import create_app
from cds_hooks.clinical_text import MODALITY_NAMES, STATUS_LABELS, clinician_text
from cds_hooks.config import REPO_ROOT, Settings
from cds_hooks.demo.patients import find_demo_bundle, load_demo_bundle
from cds_hooks.evaluation import evaluate_record
from nelm_fhir.pathways.result import Modality
from tests.support.browser import CHROMIUM, chromium, serving
from tests.support.browser_checks import axe_violations, screenshot, visible_internal_names

VIGNETTES = sorted(p.stem for p in (REPO_ROOT / "tests" / "vignettes").glob("V*.json"))
STATUS_ORDER = ["recommended", "consider", "insufficient-data", "contraindicated", "not-recommended"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium (apt-get install)"),
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Flask]]:
    """The development app (bundled vignettes, fixed evaluation date) on a free loopback port."""
    db = tmp_path_factory.mktemp("smart-page") / "nelm.sqlite3"
    app = create_app(Settings().with_(database_url=f"sqlite:///{db}", extra={"evaluation_date": "2026-11-26"}))
    with serving(app) as base:
        yield base, app


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def _page(browser: Any, width: int = 1280, height: int = 800, *, axe: bool = False) -> Any:
    # axe-core is injected as a script tag, which the app's Content-Security-Policy (rightly) refuses.
    context = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=axe)
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    return page


def _open(page: Any, base: str, vignette: str) -> None:
    page.goto(f"{base}/smart/dev-launch?patient={vignette.lower()}")
    page.wait_for_selector("section.answer")


def _evaluation(app: Flask, vignette: str) -> Any:
    now = dt.date(2026, 11, 26)
    path = find_demo_bundle(REPO_ROOT / "tests" / "vignettes", vignette.lower())
    assert path is not None
    bundle = load_demo_bundle(path, as_of=now)
    patient = next(e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    with app.app_context():
        return evaluate_record(app, bundle, patient_id=patient, now=now)


def _inside(box: dict[str, float] | None, width: int, height: int) -> bool:
    return box is not None and box["y"] >= 0 and box["x"] >= 0 and box["y"] + box["height"] <= height \
        and box["x"] + box["width"] <= width


@pytest.mark.parametrize("vignette", VIGNETTES)
def test_first_screen_at_1280x800_shows_the_answer_and_the_gap_buttons(
        served: tuple[str, Flask], browser: Any, vignette: str) -> None:
    base, app = served
    page = _page(browser)
    _open(page, base, vignette)
    evaluation = _evaluation(app, vignette)
    groups = page.locator("section.answer .answer-group")
    shown = [groups.nth(i).get_attribute("data-status") for i in range(groups.count())]
    # Grouped by status, most relevant first; every option once, by its clinician name.
    assert shown == [s for s in STATUS_ORDER if any(r.status.value == s for r in evaluation.results)]
    named = page.locator("section.answer [data-answer]")
    assert sorted(named.nth(i).get_attribute("data-answer") for i in range(named.count())) == sorted(
        m.value for m in Modality)
    first = page.locator("section.answer [data-answer]").first
    best = next(r for s in STATUS_ORDER for r in evaluation.results if r.status.value == s)
    assert first.inner_text() == MODALITY_NAMES[best.modality.value]
    assert _inside(first.bounding_box(), 1280, 800), first.bounding_box()
    status_badge = groups.first.locator(".badge")
    assert status_badge.inner_text() == STATUS_LABELS[best.status.value]
    assert _inside(status_badge.bounding_box(), 1280, 800)
    buttons = page.locator("section.gaps button.gap-record")
    for i in range(buttons.count()):
        assert _inside(buttons.nth(i).bounding_box(), 1280, 800), buttons.nth(i).inner_text()
    # the evidence (every option's criteria) and the profile come after the answer
    answer_top = page.locator("section.answer").bounding_box()["y"]
    assert page.locator("section.modalities").bounding_box()["y"] > answer_top
    assert page.locator("section.profile").bounding_box()["y"] > page.locator("section.gaps").bounding_box()["y"]
    if vignette in {"V08", "V23"}:
        screenshot(page, f"smart-first-screen-{vignette.lower()}.png", readme=vignette == "V23")
    if vignette == "V08":
        screenshot(page.locator("section.flow"), "smart-flowchart-v08.png", readme=True)
    assert page.js_errors == []
    page.context.close()


def test_flowchart_labels_fit_their_chips(served: tuple[str, Flask], browser: Any) -> None:
    base, _ = served
    page = _page(browser)
    for vignette in ("V08", "V07", "V16"):
        _open(page, base, vignette)
        overflowing = page.evaluate(
            "() => [...document.querySelectorAll('svg.flowchart a.chip')].filter(a => {"
            " const r = a.querySelector('rect').getBBox(), t = a.querySelector('text').getBBox();"
            " return t.x < r.x || t.x + t.width > r.x + r.width - 4; }).map(a => a.textContent)")
        assert overflowing == [], (vignette, overflowing)
    page.context.close()


def test_each_gap_button_opens_the_recording_form_for_that_gap(served: tuple[str, Flask], browser: Any) -> None:
    base, app = served
    page = _page(browser)
    _open(page, base, "V23")  # five gaps: FLR, R0, Ki-67 (mitotic count), involvement, debulking
    evaluation = _evaluation(app, "V23")
    buttons = page.locator("section.gaps button.gap-record")
    assert buttons.count() == len(evaluation.data_gaps) == 5
    for i in range(buttons.count()):
        button = buttons.nth(i)
        dialog = page.locator(f"dialog#{button.get_attribute('data-open')}")
        assert not dialog.is_visible()
        button.click()
        assert dialog.is_visible()
        # the focus is in the dialog's first field, which belongs to this gap
        assert page.evaluate("() => document.activeElement.closest('dialog') !== null")
        assert dialog.locator("input:not([type=hidden]), select").first.is_visible()
        if i == 0:
            screenshot(page, "smart-gap-dialog.png")
        dialog.locator("[data-close]").click()
        assert not dialog.is_visible()
    # Recording the FLR from its gap's dialog writes it and the page shows what changed.
    flr = page.locator("section.gaps li", has_text="Future liver remnant").locator("button.gap-record")
    flr.click()
    dialog = page.locator(f"dialog#{flr.get_attribute('data-open')}")
    dialog.locator("input[name=flr-percent]").fill("45")
    dialog.locator("button[type=submit]").click()
    page.wait_for_selector("#changes")
    assert "Future liver remnant" in page.locator("#changes").inner_text()
    assert page.locator("section.gaps li", has_text="Future liver remnant").count() == 0
    assert page.js_errors == []
    page.context.close()


def _text_lines(node: Any) -> list[tuple[str, float]]:
    """Return the text lines under a pdfminer layout node with their smallest character size (pt)."""
    from pdfminer.layout import LTChar, LTTextLine

    if isinstance(node, LTTextLine):
        sizes = [c.size for c in node if isinstance(c, LTChar) and c.get_text().strip()]
        return [(node.get_text().strip(), min(sizes))] if sizes else []
    if hasattr(node, "__iter__"):
        return [line for child in node for line in _text_lines(child)]
    return []


def _pdf_pages(pdf: bytes) -> list[tuple[str, list[tuple[str, float]]]]:
    """Return each page's text and its text lines with their smallest character size (pt)."""
    from pdfminer.high_level import extract_pages

    out = []
    for layout in extract_pages(io.BytesIO(pdf)):
        lines = _text_lines(layout)
        out.append(("\n".join(t for t, _ in lines), lines))
    return out


def _squash(text: str) -> str:
    """Return ``text`` without whitespace and ligatures (the PDF breaks lines and may set "fi" as one glyph)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


@pytest.mark.parametrize("vignette", VIGNETTES)
def test_printed_summary_has_every_row_in_full_and_a_legible_flowchart(
        served: tuple[str, Flask], browser: Any, vignette: str) -> None:
    base, app = served
    page = _page(browser)
    _open(page, base, vignette)
    evaluation = _evaluation(app, vignette)
    page.emulate_media(media="print")
    pdf = page.pdf(format="A4", print_background=True)
    pages = _pdf_pages(pdf)
    summary = _squash(pages[0][0])
    for r in evaluation.results:
        # every option's row on page 1, with its whole reason (nothing cut off)
        assert _squash(MODALITY_NAMES[r.modality.value]) in summary, r.modality
        assert _squash(clinician_text(r.summary)) in summary, (r.modality, r.summary)
    # grouped by status, in the page's order
    heads = [STATUS_LABELS[s] for s in STATUS_ORDER if any(r.status.value == s for r in evaluation.results)]
    positions = [summary.find(_squash(h) + "(") for h in heads]
    assert -1 not in positions and positions == sorted(positions)
    # the flowchart on a later page of its own, its text at a legible size
    flow = [i for i, (text, _) in enumerate(pages) if "Resectable with R0 intent?" in text]
    assert flow and flow[0] >= 1, "the flowchart is not on a page after the summary"
    chart_lines = [(t, size) for t, size in pages[flow[0]][1]
                   if any(k in t for k in ("Histology", "Fit for major", "Resectable", " · "))]
    assert len(chart_lines) >= 10
    smallest = min(size for _, size in chart_lines)
    assert smallest >= 6.5, f"flowchart text printed at {smallest:.1f} pt"
    assert len(pages) <= 3
    if vignette == "V08":
        from tests.support.browser_checks import SHOTS

        SHOTS.mkdir(parents=True, exist_ok=True)
        (SHOTS / "smart-print-summary.pdf").write_bytes(pdf)
    page.context.close()


def test_no_internal_names_on_the_page_or_the_print_for_any_vignette(
        served: tuple[str, Flask], browser: Any) -> None:
    base, _ = served
    page = _page(browser)
    found: dict[str, list[str]] = {}
    for vignette in VIGNETTES:
        _open(page, base, vignette)
        page.click("[data-expand=open]")  # every option's criteria, notes and outcomes rendered
        names = visible_internal_names(page)
        buttons = page.locator("section.gaps button.gap-record")
        for i in range(buttons.count()):  # each gap's recording form
            buttons.nth(i).click()
            names += visible_internal_names(page, "dialog[open]")
            page.locator("dialog[open] [data-close]").click()
        page.emulate_media(media="print")
        names += visible_internal_names(page)
        page.emulate_media(media="screen")
        if names:
            found[vignette] = sorted(set(names))
    assert found == {}, json.dumps(found, ensure_ascii=False)
    page.context.close()


@pytest.mark.parametrize("media", ["screen", "print"])
def test_axe_finds_no_serious_violation_on_the_page(served: tuple[str, Flask], browser: Any, media: str) -> None:
    base, _ = served
    page = _page(browser, axe=True)
    _open(page, base, "V23")
    page.emulate_media(media=media)
    assert axe_violations(page) == []
    if media == "screen":
        page.locator("button.gap-record").first.click()
        assert axe_violations(page, context="dialog[open]") == []
    page.context.close()


@pytest.mark.parametrize("width", [800, 400])
def test_narrow_side_panel_and_phone(served: tuple[str, Flask], browser: Any, width: int) -> None:
    base, _ = served
    page = _page(browser, width, 800, axe=True)
    _open(page, base, "V08")
    # nothing but the flowchart's own box scrolls sideways; the answer still comes first
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls {overflow} px sideways at {width} px"
    first = page.locator("section.answer [data-answer]").first
    assert _inside(first.bounding_box(), width, 800)
    assert page.locator("section.answer").bounding_box()["y"] < page.locator("section.gaps").bounding_box()["y"] \
        or width > 900
    screenshot(page, f"smart-{width}px.png")
    assert axe_violations(page) == []
    page.context.close()


def test_evidence_pages_no_internal_names_outside_the_owner_section_and_axe(
        served: tuple[str, Flask], browser: Any) -> None:
    base, _ = served
    page = _page(browser, axe=True)
    found: dict[str, list[str]] = {}
    for path in ["/evidence", *(f"/evidence/{m.value}" for m in Modality)]:
        page.goto(base + path)
        clinician = page.evaluate(
            "() => { const c = document.body.cloneNode(true);"
            " c.querySelectorAll('[data-audience=clinical-owner]').forEach(e => e.remove());"
            " document.body.appendChild(c); c.hidden = false; const t = c.innerText; c.remove(); return t; }")
        from cds_hooks.clinical_text import internal_names

        names = internal_names(clinician)
        if names:
            found[path] = sorted(set(names))
        violations = axe_violations(page)
        assert violations == [], (path, violations)
    assert found == {}, json.dumps(found, ensure_ascii=False)
    owner = page.locator("[data-audience=clinical-owner]")
    assert owner.count() == 1 and "clinical owner" in owner.inner_text().lower()
    page.context.close()
