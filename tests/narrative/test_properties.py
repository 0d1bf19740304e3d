"""Properties over many inputs: reading never crashes, spans point into the text, rules are well formed."""

from __future__ import annotations

import base64
import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nelm_fhir.narrative import Finding, ReportKind, ReportText, read_texts
from nelm_fhir.narrative.extract import extract_text
from nelm_fhir.narrative.rules import target_rules
from nelm_fhir.narrative.textclean import neutralise

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
WORDS = ["Ki-67", "12%", "no", "bone", "metastases", "segment", "4", "lesions", "three", "possibly", "FLR", "mm",
         "2.5", "cm", "portal", "vein", "thrombosis", ";", ".", "not", "history", "of", "if", "Krenning", "3",
         "well", "differentiated", "G2", "primary", "resected", "\n", ":", "x", "(", ")", "both", "lobes"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["resourceType", "category", "code", "conclusion", "presentedForm",
                                                 "content", "status", "effectiveDateTime", "type", "id"]),
                                json_values, max_size=8), max_size=5))
def test_reading_any_json_never_raises(resources: list[dict[str, object]]) -> None:
    for resource in resources:
        resource.setdefault("resourceType", "DiagnosticReport")
    read_texts(resources, as_of=dt.date(2026, 11, 26))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["text/plain", "text/html", "application/pdf", "", "x/y"]))
def test_any_attachment_bytes_give_text_or_a_problem(data: bytes, content_type: str) -> None:
    resource = {"resourceType": "DiagnosticReport", "id": "r", "category": {"text": "Radiology"},
                "presentedForm": [{"contentType": content_type, "data": base64.b64encode(data).decode()}]}
    reading = read_texts([resource], as_of=dt.date(2026, 11, 26))
    assert len(reading.texts) + len(reading.problems) == 1 or (not reading.problems and not neutralise(
        data.decode("utf-8", "replace")))
    for text in reading.texts:
        assert all(ch == "\n" or ch.isprintable() for ch in text.text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(WORDS), max_size=40))
def test_candidates_point_into_their_text(words: list[str]) -> None:
    text = neutralise(" ".join(words))
    report = ReportText(document="DiagnosticReport/r", section="conclusion", kind=ReportKind.PATHOLOGY,
                        date=None, title="", text=text)
    for candidate in extract_text(report):
        assert 0 <= candidate.start < candidate.end <= len(text)
        assert text[candidate.start:candidate.end] in candidate.sentence
        assert candidate.proposed == (candidate.assertion.value == "affirmed")


def test_every_rule_names_a_finding_and_a_valid_value() -> None:
    for literal, category, pattern in target_rules():
        name, _, value = category.partition("=")
        finding = Finding(name)
        assert pattern, literal
        if value and finding not in (Finding.LESION_COUNT,):
            assert value in {"true", "false", "well", "poor", "type-I", "type-II", "type-III", "bilobar",
                             "unilobar", "bone", "lung", "peritoneum", "distant-nodes", "resected", "in-situ",
                             "unknown-primary", "major", "minor"}, category
