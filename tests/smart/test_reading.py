"""``/smart/app/reading``: how the record was read, on its own page linked from the pathway page."""

from __future__ import annotations

import json
from pathlib import Path

from flask.testing import FlaskClient

from cds_hooks.app import create_app
from tests.smart.conftest import make_settings

VIGNETTES = Path(__file__).resolve().parents[1] / "vignettes"


def test_reading_page_lists_every_resource_and_why(client: FlaskClient) -> None:
    assert client.get("/smart/dev-launch", query_string={"patient": "b28c"}).status_code == 303
    app_page = client.get("/smart/app").get_data(as_text=True)
    assert "How the record was read" in app_page and "/smart/app/reading" in app_page
    page = client.get("/smart/app/reading")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    bundle = json.loads((VIGNETTES / "B28c.json").read_text(encoding="utf-8"))
    for entry in bundle["entry"]:
        resource = entry["resource"]
        assert f"{resource['resourceType']}/{resource['id']}" in html
    assert "could not be read" in html and "Observation/b28c-bilirubin-new" in html  # B28: the unreadable one
    assert "superseded by a newer result" in html or "used" in html


def test_reading_page_needs_a_session(tmp_path: Path) -> None:
    client = create_app(make_settings(tmp_path, None)).test_client()
    page = client.get("/smart/app/reading")
    assert page.status_code == 401 and "Observation/" not in page.get_data(as_text=True)
