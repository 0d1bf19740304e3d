"""Issue 15, hook side: report texts read by the service, candidates on the data-gap card, never a status."""

from __future__ import annotations

import base64
import copy
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cds_hooks.prefetch import PREFETCH_TEMPLATES, REPORT_KEYS
from cds_hooks.report_candidates import EXTENSION, warm_up
from cds_hooks.validate import validate_cds_response
from nelm_fhir.narrative.settings import text_reader_installed
from tests.service.requests_ import patient_view
from tests.service.vignettes import EXPECTED, bundle, patient_id, statuses_of

pytestmark = pytest.mark.skipif(not text_reader_installed(), reason="medspaCy (the 'text' extra) is not installed")

CORPUS = Path(__file__).resolve().parents[2] / "bench" / "text_corpus"
V2 = "http://terminology.hl7.org/CodeSystem/v2-0074"
SECTION = {"radiology": "RAD", "nuclear-medicine": "NMS", "pathology": "SP"}
URL = "/cds-services/nelm-pathway"
PID = patient_id("V23")  # Ki-67, resectability, FLR, debulking and liver involvement are missing


@pytest.fixture(autouse=True)
def _reader_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NELM_TEXT_READER", "on")
    monkeypatch.setenv("NELM_TEXT_READER_SECONDS", "60")  # the pipeline is built once per process (3–7 s)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def ct_report(rid: str, conclusion: str, pid: str = PID, date: str = "2026-11-02") -> dict[str, Any]:
    return {"resourceType": "DiagnosticReport", "id": rid, "status": "final",
            "category": [{"coding": [{"system": V2, "code": "CT"}]}], "code": {"text": "CT liver"},
            "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": date, "conclusion": conclusion}


def pathology_document(rid: str, attachment: dict[str, Any], pid: str = PID,
                       date: str = "2026-10-20") -> dict[str, Any]:
    return {"resourceType": "DocumentReference", "id": rid, "status": "current",
            "type": {"text": "Pathology report"}, "subject": {"reference": f"Patient/{pid}"}, "date": date,
            "content": [{"attachment": attachment}]}


def corpus_resource(report: dict[str, Any], pid: str) -> dict[str, Any]:
    """A corpus report as a FHIR resource: DiagnosticReport (text in presentedForm), or a tumour-board note."""
    if report["kind"] == "tumour-board":
        return pathology_document(f"tb-{report['id']}", {"contentType": "text/plain", "data": _b64(report["text"])},
                                  pid, report["date"]) | {"type": {"text": "Tumour board note"}}
    return {"resourceType": "DiagnosticReport", "id": f"r-{report['id']}", "status": "final",
            "category": [{"coding": [{"system": V2, "code": SECTION[report["kind"]]}]}],
            "code": {"text": report["kind"]}, "subject": {"reference": f"Patient/{pid}"},
            "effectiveDateTime": report["date"],
            "presentedForm": [{"contentType": "text/plain", "data": _b64(report["text"])}]}


def corpus() -> list[dict[str, Any]]:
    reports: list[dict[str, Any]] = []
    for part in ("dev", "heldout"):
        reports += json.loads((CORPUS / f"{part}.json").read_text(encoding="utf-8"))["reports"]
    return reports


def searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
            "entry": [{"resource": r} for r in resources]}


def add_to(body: dict[str, Any], key: str, resources: list[dict[str, Any]]) -> None:
    """Add ``resources`` to the prefetch searchset ``key``, keeping what the record already sent there (the
    ``reports`` key also carries the structured results of DiagnosticReports, B27)."""
    current = body["prefetch"].get(key)
    kept = [e["resource"] for e in (current or {}).get("entry", []) if isinstance(e, dict) and "resource" in e]
    body["prefetch"][key] = searchset([*kept, *resources])


def with_reports(vid: str, reports: list[dict[str, Any]], documents: list[dict[str, Any]]) -> dict[str, Any]:
    body = patient_view(patient_id(vid), bundle(vid))
    add_to(body, "reports", reports)
    add_to(body, "documents", documents)
    return body


def gap_card(response: dict[str, Any]) -> dict[str, Any]:
    cards = [c for c in response["cards"] if c["source"]["label"] == "NELM Pathways: data gaps"]
    assert len(cards) == 1, [c["summary"] for c in response["cards"]]
    return cards[0]


def post(client: FlaskClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(URL, json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    data: dict[str, Any] = response.get_json()
    assert validate_cds_response(data) == []
    return data


CT = "CT volumetry: the future liver remnant after right hepatectomy is 28 %. No ascites."
PATH = "Liver biopsy, segment 6. Ki-67 proliferation index 12 %. Well differentiated neuroendocrine tumour."


def test_the_gap_card_quotes_the_report_and_asks_to_confirm(client: FlaskClient) -> None:
    body = with_reports("V23", [ct_report("ct-1", CT)],
                        [pathology_document("path-1", {"contentType": "text/plain; charset=utf-8",
                                                        "data": _b64(PATH)})])
    card = gap_card(post(client, body))
    detail = card["detail"]
    assert 'CT liver 2026-11-02: "CT volumetry: the future liver remnant after right hepatectomy is 28 %." — confirm' \
        in detail
    assert 'Pathology report 2026-10-20: "Ki-67 proliferation index 12 %." — confirm' in detail
    # A SMART link per gap a report can fill, opening the app on that gap.
    contexts = {json.loads(link["appContext"]).get("gap") for link in card["links"]}
    assert {"flrPercent", "ki67Percent"} <= contexts
    # No internal names in what a clinician reads on these lines.
    quoted = [line for line in detail.splitlines() if line.endswith("— confirm")]
    assert quoted and not any("flrPercent" in line or "ki67Percent" in line or "flr-percent" in line
                              for line in quoted)
    proposals = card["extension"][EXTENSION]["proposals"]
    flr = next(p for p in proposals if p["finding"] == "flr-percent")
    assert flr["value"] == {"value": 28.0, "unit": "%"} and flr["document"] == "DiagnosticReport/ct-1"
    assert flr["date"] == "2026-11-02" and flr["assertion"] == "affirmed" and flr["gap"] == "flrPercent"
    assert CT[flr["span"]["start"]:flr["span"]["end"]] in flr["sentence"]
    ki67 = next(p for p in proposals if p["finding"] == "ki67-percent")
    assert ki67["document"] == "DocumentReference/path-1" and ki67["section"] == "content[0]"


def test_negated_hedged_and_hypothetical_sentences_are_never_proposed(client: FlaskClient) -> None:
    text = ("Ki-67 of 20% cannot be excluded. If the future liver remnant were 40 %, resection would be possible. "
            "No evidence of FDG avid disease.")
    card = gap_card(post(client, with_reports("V23", [ct_report("ct-h", text)], [])))
    assert "— confirm" not in card["detail"] and "Found in the reports" not in card["detail"]
    assert "proposals" not in card["extension"][EXTENSION]
    assert not any("gap" in json.loads(link["appContext"]) for link in card["links"])


def test_over_the_corpus_cards_propose_only_affirmed_statements(client: FlaskClient) -> None:
    reports = corpus()
    resources = [corpus_resource(r, PID) for r in reports]
    for chunk in (resources[:30], resources[30:]):
        card = gap_card(post(client, with_reports("V23", [r for r in chunk if r["resourceType"] ==
                                                          "DiagnosticReport"],
                                                  [r for r in chunk if r["resourceType"] == "DocumentReference"])))
        proposals = card["extension"][EXTENSION]["proposals"]
        assert proposals and {p["assertion"] for p in proposals} == {"affirmed"}
        quoted = [line for line in card["detail"].splitlines() if line.endswith("— confirm")]
        assert quoted
        for line in quoted:  # every quote is the sentence of a proposal
            assert any(p["sentence"].split()[0] in line for p in proposals)


def test_reports_never_change_a_status_over_all_vignettes(client: FlaskClient) -> None:
    """Metamorphic: adding corpus reports changes no status, for every vignette (each vignette gets its own
    slice of the corpus; over all vignettes every corpus report is added at least twice)."""
    reports = corpus()
    size = -(-2 * len(reports) // len(EXPECTED))
    for i, vid in enumerate(EXPECTED):
        pid = patient_id(vid)
        before = statuses_of(post(client, patient_view(pid, bundle(vid))))
        chosen = [corpus_resource(reports[(i * size + j) % len(reports)], pid) for j in range(size)]
        body = patient_view(pid, bundle(vid))
        add_to(body, "reports", [r for r in chosen if r["resourceType"] == "DiagnosticReport"])
        add_to(body, "documents", [r for r in chosen if r["resourceType"] == "DocumentReference"])
        response = post(client, body)
        assert statuses_of(response) == before, vid


def test_each_corpus_report_alone_changes_no_status(client: FlaskClient) -> None:
    before = statuses_of(post(client, patient_view(PID, bundle("V23"))))
    for report in corpus():
        resource = corpus_resource(report, PID)
        kind = "reports" if resource["resourceType"] == "DiagnosticReport" else "documents"
        body = patient_view(PID, bundle("V23"))
        body["prefetch"][kind] = searchset([resource])
        assert statuses_of(post(client, body)) == before, report["id"]


def _without_report_parts(response: dict[str, Any]) -> list[dict[str, Any]]:
    cards = copy.deepcopy(response["cards"])
    for card in cards:
        card.pop("uuid", None)
        for s in card.get("suggestions", []):
            s.pop("uuid", None)
            for a in s.get("actions", []):
                a.get("resource", {}).pop("id", None)
    return cards


def test_reader_off_gives_the_cards_of_the_core_service(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    body = with_reports("V23", [ct_report("ct-1", CT)], [])
    on = post(client, body)
    assert "— confirm" in gap_card(on)["detail"]
    monkeypatch.setenv("NELM_TEXT_READER", "off")
    off = post(client, body)
    core = post(client, patient_view(PID, bundle("V23")))  # no report keys at all
    assert _without_report_parts(off) == _without_report_parts(core)
    assert EXTENSION not in gap_card(off).get("extension", {})
    # On: the same cards, with the quotes, links and extension added to the data-gap card only.
    on_gap, off_gap = gap_card(on), gap_card(off)
    assert on_gap["summary"] == off_gap["summary"]
    # every gap the core card names is still named (its explanation may be shortened to make room for quotes)
    heads = [line.partition(")")[0] for line in off_gap["detail"].splitlines() if line.startswith("- **")]
    assert heads and all(any(x.startswith(h) for x in on_gap["detail"].splitlines()) for h in heads)
    assert len(on["cards"]) == len(off["cards"])


def test_no_documents_key_and_no_fhir_server_still_answers_200(client: FlaskClient) -> None:
    """Clinical documents are optional: without them (and no fhirServer) the service answers 200 and says so.
    (``reports`` also carries structured results, B27, so it follows the rule of every other core key.)"""
    body = patient_view(PID, bundle("V23"))
    for key in REPORT_KEYS:
        body["prefetch"].pop(key, None)
    assert "fhirServer" not in body and {"documents"} == REPORT_KEYS
    response = post(client, body)
    card = gap_card(response)
    assert "not read" in card["detail"] and "no fhirServer" in card["detail"]


def test_a_report_of_another_patient_is_refused(client: FlaskClient) -> None:
    """A DiagnosticReport of another patient in ``reports`` is another patient's record: 400, never mixed."""
    response = client.post(URL, json=with_reports("V23", [ct_report("ct-other", CT, pid="someone-else")], []))
    assert response.status_code == 400 and response.get_json()["resourceType"] == "OperationOutcome"


def test_discovery_templates_for_reports_are_bounded() -> None:
    assert set(REPORT_KEYS) <= set(PREFETCH_TEMPLATES)
    assert "_count=40" in PREFETCH_TEMPLATES["documents"] and "DiagnosticReport?" in PREFETCH_TEMPLATES["reports"]
    assert all(len(PREFETCH_TEMPLATES[k]) < 2000 for k in REPORT_KEYS)


# --- url attachments: fetched from the FHIR server with the hardened client -------------------------------


class _Attachments(http.server.BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[str, bytes]]] = {}
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        name = self.path.split("/fhir/", 1)[-1]
        if name not in self.routes:
            self.send_response(404)
            self.end_headers()
            return
        ctype, data = self.routes[name]
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:  # quiet
        pass


@pytest.fixture
def loopback() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Attachments)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/fhir"
    server.shutdown()
    server.server_close()


def test_url_attachments_are_fetched_and_bad_ones_reported(client: FlaskClient, loopback: str) -> None:
    _Attachments.routes = {
        "Binary/ct-text": ("text/plain; charset=utf-8", CT.encode("utf-8")),
        "Binary/huge": ("text/plain", b"liver " * 500_000),  # 3 MB: over the 2 MB cap
        "Binary/image": ("image/png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100),
    }
    _Attachments.seen = []
    docs = [pathology_document("d-ct", {"contentType": "text/plain", "url": "Binary/ct-text"}) | {
                "type": {"text": "CT liver"}},
            pathology_document("d-huge", {"contentType": "text/plain", "url": f"{loopback}/Binary/huge"}),
            pathology_document("d-img", {"contentType": "image/png", "url": "Binary/image"}),
            pathology_document("d-off", {"contentType": "text/plain", "url": "http://elsewhere.invalid/x"})]
    body = with_reports("V23", [], docs)
    body["fhirServer"] = loopback
    card = gap_card(post(client, body))
    assert 'CT liver 2026-10-20: "CT volumetry: the future liver remnant after right hepatectomy is 28 %." — confirm' \
        in card["detail"]
    problems = " | ".join(card["extension"][EXTENSION]["problems"])
    assert "DocumentReference/d-huge content[0]: attachment not fetched (ResponseTooLarge)" in problems
    assert "DocumentReference/d-img content[0]: content type image/png is not read" in problems
    assert "DocumentReference/d-off content[0]: attachment url is not on fhirServer; not fetched" in problems
    assert not any("elsewhere" in p for p in _Attachments.seen)
    # What the clinician reads: the reasons, not the resource paths (those are in the extension).
    assert "content type image/png is not read" in card["detail"] and "content[0]" not in card["detail"]


def test_a_reader_over_its_time_budget_says_so_and_changes_nothing_else(
        client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    resources = [corpus_resource(r, PID) for r in corpus()[:30]]
    body = with_reports("V23", [r for r in resources if r["resourceType"] == "DiagnosticReport"],
                        [r for r in resources if r["resourceType"] == "DocumentReference"])
    monkeypatch.setenv("NELM_TEXT_READER_SECONDS", "0.001")
    slow = post(client, body)
    assert "not read within the time budget" in gap_card(slow)["detail"]
    assert statuses_of(slow) == statuses_of(post(client, patient_view(PID, bundle("V23"))))


def test_warm_up_does_nothing_when_the_reader_is_off() -> None:
    assert warm_up({"NELM_TEXT_READER": "off"}) is None


def _prefix_ids(node: Any) -> None:
    if isinstance(node, list):
        for item in node:
            _prefix_ids(item)
    elif isinstance(node, dict):
        if isinstance(node.get("resourceType"), str) and isinstance(node.get("id"), str):
            node["id"] = "i15-" + node["id"]
        ref = node.get("reference")
        if isinstance(ref, str) and ref.count("/") == 1:
            kind, rid = ref.split("/")
            node["reference"] = f"{kind}/i15-{rid}"
        for value in node.values():
            _prefix_ids(value)


def test_url_attachment_from_a_real_fhir_server(app: Flask, fhir_server: Any) -> None:
    """SEKMET holds the record, a Binary and a DocumentReference pointing to it; nothing is prefetched."""
    record = copy.deepcopy(bundle("V23"))
    _prefix_ids(record["entry"])  # its own ids: the server is shared by the session's tests
    pid = "i15-" + PID
    fhir_server.load_bundle(record)
    fhir_server.put({"resourceType": "Binary", "id": "i15-ct", "contentType": "text/plain", "data": _b64(CT)})
    fhir_server.put(pathology_document("i15-doc", {"contentType": "text/plain", "url": "Binary/i15-ct"}, pid)
                    | {"type": {"text": "CT liver"}})
    fhir_server.put(ct_report("i15-ct-report", PATH.replace("Liver biopsy, segment 6. ", ""), pid))
    body = patient_view(pid, fhir_server=fhir_server.base_url)
    card = gap_card(post(app.test_client(), body))
    assert 'CT liver 2026-10-20: "CT volumetry: the future liver remnant after right hepatectomy is 28 %." — confirm' \
        in card["detail"], card["extension"][EXTENSION].get("problems")
    docs = {p["document"] for p in card["extension"][EXTENSION]["proposals"]}
    assert docs == {"DocumentReference/i15-doc", "DiagnosticReport/i15-ct-report"}
