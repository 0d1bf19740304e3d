"""The EHR's smart_style_url becomes CSS variables (never raw CSS); need_patient_banner and tenant are honoured."""

from __future__ import annotations

import json
import logging
import re
import uuid
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from cds_hooks.app import create_app
from cds_hooks.smart.style import StyleRefused, fetch_style, parse_style, theme_css
from tests.smart.conftest import CLIENT_ID, SCOPES, complete_launch, load_vignette, make_settings, write_registration
from tests.support.sekmet import FhirServer
from tests.support.smart_auth_server import SmartAuthServer

EHR_STYLE = {
    "color_background": "#edeae3",
    "color_error": "#9e2d2d",
    "color_highlight": "#69b5ce",
    "color_modal_backdrop": "",
    "color_success": "#498e49",
    "color_text": "#303030",
    "dim_border_radius": "6px",
    "dim_font_size": "13px",
    "dim_spacing_size": "20px",
    "font_family_body": "Georgia, Times, 'Times New Roman', serif",
    "font_family_heading": "\"Helvetica Neue\", Helvetica, Arial, sans-serif",
}


def _theme_of(client: FlaskClient) -> tuple[str, str]:
    html = client.get("/smart/app").get_data(as_text=True)
    match = re.search(r'<link rel="stylesheet" href="(/smart/app/theme\.css\?launch=[^"]+)">', html)
    if match is None:
        return html, ""
    return html, client.get(match.group(1).replace("&amp;", "&")).get_data(as_text=True)


def test_the_ehr_style_from_the_iss_origin_is_applied_as_css_variables(
    client: FlaskClient, auth_server: SmartAuthServer, fhir_server: FhirServer
) -> None:
    pid = load_vignette(fhir_server, "V10", f"st{uuid.uuid4().hex[:6]}")
    url = auth_server.add_style("ehr", EHR_STYLE)
    assert complete_launch(client, auth_server, auth_server.new_launch(patient=pid, smart_style_url=url)
                           ).status_code == 303
    _html, css = _theme_of(client)
    assert "--bg: #edeae3;" in css and "--ink: #303030;" in css and "--radius: 6px;" in css
    assert "--font-body: Georgia, Times, 'Times New Roman', serif;" in css
    assert "--error: #9e2d2d;" in css and "--font-size: 13px;" in css
    assert auth_server.style_requests == [f"127.0.0.1:{auth_server.port}/ehr"]  # fetched once, server-side


def test_hostile_style_values_are_dropped(
    client: FlaskClient, auth_server: SmartAuthServer, fhir_server: FhirServer
) -> None:
    pid = load_vignette(fhir_server, "V10", f"st{uuid.uuid4().hex[:6]}")
    hostile = {
        "color_background": "red;} body{display:none",
        "color_text": "url(https://evil.example/x.png)",
        "font_family_body": "\"Arial; }</style><script>alert(1)</script>",
        "dim_border_radius": "expression(alert(1))",
        "color_highlight": "#123456",
    }
    url = auth_server.add_style("hostile", hostile)
    assert complete_launch(client, auth_server, auth_server.new_launch(patient=pid, smart_style_url=url)
                           ).status_code == 303
    _html, css = _theme_of(client)
    assert css == ":root {\n  --accent: #123456;\n}\n"


def test_a_style_from_another_origin_is_not_fetched_unless_allow_listed(
    tmp_path: Path, auth_server: SmartAuthServer, fhir_server: FhirServer
) -> None:
    pid = load_vignette(fhir_server, "V10", f"st{uuid.uuid4().hex[:6]}")
    elsewhere = auth_server.add_style("ehr", EHR_STYLE, host="localhost")  # same server, another origin
    reg, jwks = write_registration(tmp_path, auth_server.iss)
    auth_server.register_client(CLIENT_ID, redirect_uri="http://localhost/smart/callback", scope=SCOPES,
                                public_jwks=jwks)
    client = create_app(make_settings(tmp_path, reg)).test_client()
    assert complete_launch(client, auth_server, auth_server.new_launch(patient=pid, smart_style_url=elsewhere)
                           ).status_code == 303
    html, css = _theme_of(client)
    assert css == "" and "patient-banner" in html  # the page works, in its own look
    assert auth_server.style_requests == []
    data = json.loads(reg.read_text())
    data["registrations"][0]["style_origins"] = [f"http://localhost:{auth_server.port}"]
    reg.write_text(json.dumps(data))
    allowed = create_app(make_settings(tmp_path, reg)).test_client()
    assert complete_launch(allowed, auth_server, auth_server.new_launch(patient=pid, smart_style_url=elsewhere)
                           ).status_code == 303
    assert "--bg: #edeae3;" in _theme_of(allowed)[1]


def test_need_patient_banner_false_hides_the_banner_and_tenant_is_logged(
    client: FlaskClient, auth_server: SmartAuthServer, fhir_server: FhirServer, caplog: pytest.LogCaptureFixture
) -> None:
    pid = load_vignette(fhir_server, "V10", f"st{uuid.uuid4().hex[:6]}")
    with caplog.at_level(logging.INFO, logger="nelm.smart"):
        launch = auth_server.new_launch(patient=pid, need_patient_banner=False, tenant="clinic-north")
        assert complete_launch(client, auth_server, launch).status_code == 303
    html, css = _theme_of(client)
    assert "patient-banner" not in html and css == ""
    done = [r for r in caplog.records if r.getMessage().startswith("smart launch complete")]
    assert done and done[0].fields["tenant"] == "clinic-north"  # type: ignore[attr-defined]
    assert all(pid not in r.getMessage() for r in caplog.records if r.name.startswith("nelm"))


def test_style_fetch_refuses_plain_http_in_production_and_bad_answers() -> None:
    with pytest.raises(StyleRefused, match="not https"):
        fetch_style("http://ehr.example.org/style.json", iss="http://ehr.example.org/fhir", allowed_origins=(),
                    timeout=1, production=True)
    with pytest.raises(StyleRefused, match="neither the EHR's nor allow-listed"):
        fetch_style("https://cdn.example.com/s.json", iss="https://ehr.example.org/fhir", allowed_origins=(),
                    timeout=1, production=True)
    with pytest.raises(StyleRefused, match="not a JSON object"):
        parse_style(["#fff"])


def test_theme_css_rechecks_stored_values() -> None:
    assert theme_css({"--bg": "#fff", "--ink": "red}", "--unknown": "#000"}) == ":root {\n  --bg: #fff;\n}\n"
    assert theme_css({}).startswith("/*")
