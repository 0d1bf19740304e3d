"""Two launches in one browser (two tabs, two patients) each keep their own page; no tab shows the other's patient."""

from __future__ import annotations

import re
import uuid

import requests
from flask.testing import FlaskClient

from tests.smart.conftest import complete_launch, load_vignette, start_launch
from tests.smart.test_launch import assert_clear_page
from tests.support.sekmet import FhirServer
from tests.support.smart_auth_server import SmartAuthServer

FINDING = "https://nelm-cds.org/fhir/CodeSystem/nelm-finding"


def page_url(html: str) -> str:
    """Return the URL the page pins its tab to (``/smart/app?launch=…``)."""
    match = re.search(r'<meta name="nelm-page-url" content="([^"]+)"', html)
    assert match, "the page names its own launch"
    return match.group(1).replace("&amp;", "&")


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match
    return match.group(1)


def banner_name(html: str) -> str:
    match = re.search(r'<span class="pb-name">([^<]+)</span>', html)
    assert match, "the page shows a patient banner"
    return match.group(1)


def dev_tab(client: FlaskClient, patient: str) -> str:
    """Open a dev launch for ``patient`` in a 'new tab'; return that tab's page URL."""
    response = client.get("/smart/dev-launch", query_string={"patient": patient})
    assert response.status_code == 303
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    return page_url(html)


def test_two_dev_launches_keep_their_own_patient(client: FlaskClient) -> None:
    tab_a = dev_tab(client, "v01")
    tab_b = dev_tab(client, "v10")
    assert tab_a != tab_b and "launch=" in tab_a
    page_a = client.get(tab_a).get_data(as_text=True)
    page_b = client.get(tab_b).get_data(as_text=True)
    assert "V01" in banner_name(page_a) and "V10" in banner_name(page_b)
    # The older tab writes a finding after the newer tab opened: it lands in the older tab's patient.
    response = client.post(tab_a.replace("/smart/app", "/smart/app/findings"),
                           data={"csrf": csrf_of(page_a), "launch": tab_a.split("launch=")[1],
                                 "fit-for-major-surgery": "false"})
    assert response.status_code == 303 and response.headers["Location"].startswith(tab_a)
    assert "fit-for-major-surgery" in client.get(tab_a).get_data(as_text=True)
    assert "V10" in banner_name(client.get(tab_b).get_data(as_text=True))
    # A bare /smart/app shows the most recent launch.
    assert "V10" in banner_name(client.get("/smart/app").get_data(as_text=True))


def test_a_form_of_one_tab_is_refused_with_the_other_tabs_csrf(client: FlaskClient) -> None:
    tab_a = dev_tab(client, "v01")
    tab_b = dev_tab(client, "v10")
    page_b = client.get(tab_b).get_data(as_text=True)
    key_a = tab_a.split("launch=")[1]
    response = client.post(f"/smart/app/findings?launch={key_a}",
                           data={"csrf": csrf_of(page_b), "launch": key_a, "flr-percent": "35"})
    assert_clear_page(response, 403, "CSRF")


def test_two_ehr_launches_for_two_patients_keep_their_own_pages(
    client: FlaskClient, auth_server: SmartAuthServer, fhir_server: FhirServer
) -> None:
    prefix = f"tab{uuid.uuid4().hex[:6]}"
    pid_a = load_vignette(fhir_server, "V10", prefix + "a")
    pid_b = load_vignette(fhir_server, "V01", prefix + "b")
    assert complete_launch(client, auth_server, auth_server.new_launch(patient=pid_a)).status_code == 303
    tab_a = page_url(client.get("/smart/app").get_data(as_text=True))
    assert complete_launch(client, auth_server, auth_server.new_launch(patient=pid_b)).status_code == 303
    tab_b = page_url(client.get("/smart/app").get_data(as_text=True))
    page_a = client.get(tab_a).get_data(as_text=True)
    assert "V10" in banner_name(page_a) and "V01" in banner_name(client.get(tab_b).get_data(as_text=True))
    response = client.post(tab_a.replace("/smart/app", "/smart/app/findings"),
                           data={"csrf": csrf_of(page_a), "launch": tab_a.split("launch=")[1], "flr-percent": "41"})
    assert response.status_code == 303, response.get_data(as_text=True)[-400:]
    def flr_values(pid: str) -> list[object]:
        bundle = fhir_server.search(f"Observation?patient={pid}&_count=500")
        resources = [e["resource"] for e in bundle.get("entry", [])]
        return [r.get("valueQuantity", {}).get("value") for r in resources
                if any(c.get("code") == "flr-percent" and c.get("system") == FINDING
                       for c in r.get("code", {}).get("coding", []))]

    assert 41 in flr_values(pid_a)
    assert 41 not in flr_values(pid_b)


def test_two_authorizations_in_flight_at_once_both_complete(
    client: FlaskClient, auth_server: SmartAuthServer, fhir_server: FhirServer
) -> None:
    prefix = f"fl{uuid.uuid4().hex[:6]}"
    pid_a = load_vignette(fhir_server, "V10", prefix + "a")
    pid_b = load_vignette(fhir_server, "V01", prefix + "b")
    path_a, _ = start_launch(client, auth_server, auth_server.new_launch(patient=pid_a))
    path_b, _ = start_launch(client, auth_server, auth_server.new_launch(patient=pid_b))
    assert client.get(path_b).status_code == 303
    tab_b = page_url(client.get("/smart/app").get_data(as_text=True))
    done_a = client.get(path_a)
    assert done_a.status_code == 303, done_a.get_data(as_text=True)[-400:]
    tab_a = page_url(client.get("/smart/app").get_data(as_text=True))
    assert "V10" in banner_name(client.get(tab_a).get_data(as_text=True))
    assert "V01" in banner_name(client.get(tab_b).get_data(as_text=True))


def test_a_window_whose_launch_ended_never_shows_another_patient(client: FlaskClient) -> None:
    tab_a = dev_tab(client, "v01")
    key_a = tab_a.split("launch=")[1]
    client.delete_cookie(f"nelm_smart_l_{key_a}", path="/smart")  # expired, or ended by the browser
    dev_tab(client, "v10")
    text = assert_clear_page(client.get(tab_a), 401, "Session expired", "window belongs to has ended")
    assert "V10" not in text
    response = client.post("/smart/app/findings", data={"launch": key_a, "flr-percent": "35"})
    assert_clear_page(response, 401, "window belongs to has ended")
    assert_clear_page(client.get("/smart/app?launch=not-a-key"), 400, "Unknown window")


def test_a_browser_keeps_a_bounded_number_of_launches(client: FlaskClient) -> None:
    tabs = [dev_tab(client, "v01") for _ in range(9)]
    assert_clear_page(client.get(tabs[0]), 401, "window belongs to has ended")
    assert client.get(tabs[1]).status_code == 200 and client.get(tabs[-1]).status_code == 200
    names = [c.key for c in client._cookies.values()]  # type: ignore[attr-defined]
    assert sum(1 for n in names if n.startswith("nelm_smart_l_")) == 8


def test_launch_cookies_are_http_only_and_hold_no_token(
    client: FlaskClient, auth_server: SmartAuthServer, fhir_server: FhirServer
) -> None:
    pid = load_vignette(fhir_server, "V10", f"ck{uuid.uuid4().hex[:6]}")
    response = complete_launch(client, auth_server, auth_server.new_launch(patient=pid))
    cookies = response.headers.getlist("Set-Cookie")
    launch_cookies = [c for c in cookies if c.startswith("nelm_smart_l_")]
    assert launch_cookies and all("HttpOnly" in c and "Path=/smart" in c for c in launch_cookies)
    assert all(token not in c for c in cookies for token in auth_server.tokens)
    assert requests.get(f"{auth_server.iss}/.well-known/smart-configuration", timeout=5).ok
