"""Reading report text from raw FHIR R4 JSON: which reports, which parts, bounds and problems."""

from __future__ import annotations

import base64
import datetime as dt
import io

import pytest

from nelm_fhir.narrative import Limits, ReportKind, read_texts, report_kind
from nelm_fhir.narrative.textclean import html_to_text, neutralise

AS_OF = dt.date(2026, 11, 26)
V2 = "http://terminology.hl7.org/CodeSystem/v2-0074"


def b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def report(rid: str = "r1", *, category: str = "RAD", date: str = "2026-11-02", **extra: object) -> dict[str, object]:
    return {"resourceType": "DiagnosticReport", "id": rid, "status": "final",
            "category": [{"coding": [{"system": V2, "code": category}]}],
            "code": {"text": "CT abdomen"}, "effectiveDateTime": date, **extra}


def minimal_pdf(text: str | None) -> bytes:
    """A one-page PDF; with a Helvetica text layer when ``text`` is given, blank otherwise."""
    content = f"BT /F1 12 Tf 72 712 Td ({text}) Tj ET".encode() if text else b""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


@pytest.mark.parametrize(("resource", "kind"), [
    (report(category="RAD"), ReportKind.RADIOLOGY),
    (report(category="CT"), ReportKind.RADIOLOGY),
    (report(category="NMS"), ReportKind.NUCLEAR_MEDICINE),
    (report(category="SP"), ReportKind.PATHOLOGY),
    (report(category="CP"), ReportKind.PATHOLOGY),
    ({**report(category="RAD"), "code": {"text": "68Ga-DOTATATE PET/CT"}}, ReportKind.NUCLEAR_MEDICINE),
    ({"resourceType": "DiagnosticReport",
      "category": [{"coding": [{"system": "http://loinc.org", "code": "LP7839-6"}]}],
      "code": {"coding": [{"system": "http://loinc.org", "code": "60568-3"}]}}, ReportKind.PATHOLOGY),
    ({"resourceType": "DocumentReference", "type": {"text": "NEN tumour board note"}}, ReportKind.TUMOUR_BOARD),
    ({"resourceType": "DocumentReference", "type": {"coding": [{"system": "http://loinc.org", "code": "18748-4"}]}},
     ReportKind.RADIOLOGY),
])
def test_report_kinds_from_codes_and_words(resource: dict[str, object], kind: ReportKind) -> None:
    assert report_kind(resource) is kind


@pytest.mark.parametrize("resource", [
    report(category="CH"),  # chemistry
    {"resourceType": "DocumentReference", "type": {"text": "Discharge summary"}},
    {"resourceType": "Observation", "code": {"text": "CT"}},
])
def test_other_reports_are_not_read(resource: dict[str, object]) -> None:
    assert report_kind(resource) is None
    assert read_texts([resource], as_of=AS_OF).texts == ()


def test_conclusion_and_attachments_keep_reference_section_and_date() -> None:
    dr = report(conclusion="Three lesions.", presentedForm=[
        {"contentType": "text/plain; charset=utf-8", "data": b64("Segment 6 lesion 41 mm.")},
        {"contentType": "text/html", "data": b64("<html><head><title>x</title><script>alert('no')</script></head>"
                                                 "<body><p>Bilobar&nbsp;disease</p><p>FLR 29%</p></body></html>")},
        {"contentType": "application/pdf", "data": b64(minimal_pdf("Ki-67 index 12%"))},
        {"contentType": "application/pdf", "url": "https://fhir.example.org/Binary/42"},
    ])
    reading = read_texts([dr], as_of=AS_OF)
    by_section = {t.section: t for t in reading.texts}
    assert by_section["conclusion"].text == "Three lesions."
    assert by_section["presentedForm[0]"].text == "Segment 6 lesion 41 mm."
    html = by_section["presentedForm[1]"].text
    assert "Bilobar" in html and "FLR 29%" in html and "alert" not in html and "<p>" not in html
    assert "Ki-67 index 12%" in by_section["presentedForm[2]"].text
    assert all(t.document == "DiagnosticReport/r1" and t.date == dt.date(2026, 11, 2) for t in reading.texts)
    assert [(f.section, f.url) for f in reading.to_fetch] == [("presentedForm[3]", "https://fhir.example.org/Binary/42")]
    assert reading.problems == ()


def test_document_reference_content() -> None:
    doc = {"resourceType": "DocumentReference", "id": "d1", "status": "current", "date": "2026-10-20T10:00:00Z",
           "type": {"text": "Tumour board"},
           "content": [{"attachment": {"contentType": "text/plain", "data": b64("Fit for major surgery.")}}]}
    (text,) = read_texts([doc], as_of=AS_OF).texts
    assert (text.document, text.section, text.kind, text.date) == (
        "DocumentReference/d1", "content[0]", ReportKind.TUMOUR_BOARD, dt.date(2026, 10, 20))


@pytest.mark.parametrize(("attachment", "message"), [
    ({"contentType": "application/pdf", "data": b64(minimal_pdf(None))}, "no text layer"),
    ({"contentType": "application/pdf", "data": b64(b"%PDF-1.4 garbage")}, "PDF"),
    ({"contentType": "text/plain", "data": b64(b"\x00\x01\x02binary\x00" * 50)}, "binary"),
    ({"contentType": "text/plain", "data": "not base64!!"}, "base64"),
    ({"contentType": "image/png", "data": b64(b"\x89PNG")}, "not read"),
    ({"contentType": "text/plain", "size": 10_000_000, "data": b64("small")}, "too large"),
    ({"contentType": "text/plain", "data": b64("x" * 5000)}, "too large"),
    ({"contentType": "text/plain"}, "neither data nor url"),
])
def test_unreadable_attachments_are_problems_not_crashes(attachment: dict[str, object], message: str) -> None:
    reading = read_texts([report(conclusion="Solitary lesion.", presentedForm=[attachment])], as_of=AS_OF,
                         limits=Limits(max_attachment_bytes=4096))
    assert [t.section for t in reading.texts] == ["conclusion"]  # the rest is still read
    (problem,) = reading.problems
    assert problem.section == "presentedForm[0]" and message in problem.message


def test_problem_messages_never_hold_the_text() -> None:
    secret = "Patient Jane Roe, MRN 12345"
    reading = read_texts([report(presentedForm=[{"contentType": "text/plain", "data": b64(secret * 400)}])],
                         as_of=AS_OF, limits=Limits(max_attachment_bytes=1000))
    assert reading.problems and all("Jane" not in p.message for p in reading.problems)


def test_recency_window_status_and_document_limit() -> None:
    resources = [report(f"r{i}", date=f"2026-{i:02d}-01", conclusion=f"Report {i}.") for i in range(1, 11)]
    resources.append(report("old", date="2020-01-01", conclusion="Old."))
    resources.append(report("wrong", conclusion="Error.", status="entered-in-error"))
    resources.append(report("undated", date="", conclusion="Undated."))
    reading = read_texts(resources, as_of=AS_OF, limits=Limits(window_days=365, max_documents=4))
    assert [t.document for t in reading.texts] == [f"DiagnosticReport/r{i}" for i in (10, 9, 8, 7)]
    skipped = {p.document for p in reading.problems}
    assert "DiagnosticReport/r1" in skipped and "DiagnosticReport/undated" in skipped
    assert "DiagnosticReport/old" not in skipped and "DiagnosticReport/wrong" not in skipped


def test_long_text_is_cut_and_said() -> None:
    reading = read_texts([report(conclusion="word " * 1000)], as_of=AS_OF, limits=Limits(max_text_chars=100))
    (text,) = reading.texts
    assert len(text.text) == 100 and text.truncated
    assert "cut at 100" in reading.problems[0].message


def test_control_and_bidi_characters_are_neutralised() -> None:
    cleaned = neutralise("Ki-67\x1b[31m 12%\r\nsegment\u202e 6\u200b lesion\x00")
    assert cleaned == "Ki-67 [31m 12%\nsegment 6 lesion"
    assert all(ch == "\n" or ch.isprintable() for ch in cleaned)


def test_html_blocks_become_lines() -> None:
    assert html_to_text("<div>a</div><div>b<br>c</div><style>p{}</style>").split() == ["a", "b", "c"]


def test_malformed_resources_are_skipped() -> None:
    junk: list[object] = [None, "text", {"resourceType": "DiagnosticReport", "category": "RAD"},
                          report(presentedForm=["not a dict"]), report(conclusion=42)]
    reading = read_texts(junk, as_of=AS_OF)  # type: ignore[arg-type]
    assert reading.texts == ()
