"""What the browser tests check on every clinician-facing page: axe-core and internal names.

axe-core comes from the npm registry into ``node_modules/`` (``make`` target
``node_modules/axe-core/axe.min.js``), never from a CDN, and is injected by Playwright. Without it the
accessibility tests skip with the reason; when ``CI`` is set they fail instead, so CI never passes by
skipping.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from cds_hooks.clinical_text import internal_names
from cds_hooks.config import REPO_ROOT

AXE = REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
README_IMAGES = REPO_ROOT / "docs" / "img"
UPDATE_SCREENSHOTS = "NELM_UPDATE_SCREENSHOTS"


def require_axe() -> Path:
    """Return axe-core's script; skip (fail under CI) when it is not installed."""
    if AXE.is_file():
        return AXE
    reason = ("axe-core is not installed: run `make node_modules/axe-core/axe.min.js` (needs node and npm)"
              if shutil.which("npm") else "node/npm are absent: the axe-core accessibility checks cannot run")
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: accessibility checks are required)")
    pytest.skip(reason)


def axe_violations(page: Any, *, context: str = "document") -> list[dict[str, Any]]:
    """Run axe-core (WCAG 2.x A/AA rules) on ``page``; return its serious and critical violations."""
    page.add_script_tag(path=str(require_axe()))
    result = page.evaluate(
        "async (ctx) => await axe.run(ctx === 'document' ? document : document.querySelector(ctx), "
        "{runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})",
        context,
    )
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"],
         "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v.get("impact") in {"serious", "critical"}
    ]


def visible_internal_names(page: Any, selector: str = "body") -> list[str]:
    """Return the internal names (rule, element, modality ids, raw UCUM) in the rendered text of ``selector``."""
    text = page.locator(selector).inner_text()
    return internal_names(text)


def screenshot(target: Any, name: str, *, full_page: bool = False, readme: bool = False) -> Path:
    """Save a screenshot of a page or locator under test-artifacts/screenshots/.

    With ``readme=True`` and ``NELM_UPDATE_SCREENSHOTS=1`` it is also copied to docs/img/, where the README
    shows it: ``NELM_UPDATE_SCREENSHOTS=1 make pytest PYTEST_ARGS="-m browser"`` refreshes the README's images.
    """
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    target.screenshot(path=str(path), **({"full_page": True} if full_page else {}))
    if readme and os.environ.get(UPDATE_SCREENSHOTS) == "1":
        README_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, README_IMAGES / name)
    return path
