"""Candidate findings from text: every finding type, every ConText modifier, spans, and the PHI rule."""

from __future__ import annotations

import datetime as dt
import logging
import subprocess
import sys

import pytest

from nelm_fhir.narrative import Assertion, Candidate, CodeValue, Finding, Quantity, ReportKind, ReportText
from nelm_fhir.narrative import extract as extract_module
from nelm_fhir.narrative.extract import extract, extract_text
from nelm_fhir.narrative.settings import TextReaderUnavailableError, text_reader_enabled


def run(text: str) -> tuple[Candidate, ...]:
    return extract_text(ReportText(document="DiagnosticReport/r1", section="conclusion", kind=ReportKind.RADIOLOGY,
                                   date=dt.date(2026, 11, 2), title="CT", text=text))


def simple(value: object) -> object:
    if isinstance(value, Quantity):
        return (value.value, value.comparator) if value.comparator else value.value
    if isinstance(value, CodeValue):
        return value.code
    return value


def proposals(text: str) -> set[tuple[str, object]]:
    return {(c.finding.value, simple(c.value)) for c in run(text) if c.proposed}


# One affirmed sentence per finding type (the contract's 18 local codes and the 6 extra facts of issue 15).
AFFIRMED = [
    ("Future liver remnant of 31% after right hepatectomy.", "flr-percent", 31.0),
    ("Hepatic tumour involvement approximately 45% of the liver.", "liver-involvement-percent", 45.0),
    ("Distribution corresponds to Frilling type II.", "frilling-type", "type-II"),
    ("The board judged an R0 resection feasible.", "resectable-r0", True),
    ("The liver disease is unresectable.", "resectable-r0", False),
    ("She is fit for major surgery.", "fit-for-major-surgery", True),
    ("He is unfit for major surgery.", "fit-for-major-surgery", False),
    ("Uptake greater than spleen, Krenning score 4.", "krenning-score", 4.0),
    ("The hepatic metastases are FDG-avid.", "fdg-pet-positive", True),
    ("The liver lesion is FDG-negative.", "fdg-pet-positive", False),
    ("Mitotic count: 6 per 2 mm2.", "mitotic-count", 6.0),
    ("Metastatic well-differentiated neuroendocrine tumour.", "differentiation", "well"),
    ("Poorly differentiated neuroendocrine carcinoma.", "differentiation", "poor"),
    ("Carcinoid syndrome refractory to lanreotide.", "syndrome-refractory-to-ssa", True),
    ("Flushing is well controlled on octreotide.", "syndrome-refractory-to-ssa", False),
    ("Right upper quadrant pain attributed to the hepatic tumour burden.", "tumour-burden-symptoms", True),
    ("Debulking of about 80% appears achievable.", "achievable-debulking-percent", 80.0),
    ("The primary was resected.", "primary-status", "resected"),
    ("The primary tumour remains in situ.", "primary-status", "in-situ"),
    ("NET of unknown primary.", "primary-status", "unknown-primary"),
    ("The segment 4 lesion abuts the hilar plate.", "lesion-near-hilum", True),
    ("A subcapsular lesion in segment 6.", "lesion-subcapsular", True),
    ("There are three liver metastases.", "lesion-count", 3.0),
    ("Solitary hepatic metastasis in segment 7.", "lesion-count", 1.0),
    ("Planned extended right hepatectomy.", "resection-extent", "major"),
    ("Laparoscopic segmentectomy planned.", "resection-extent", "minor"),
    ("WHO grade: G2.", "who-grade", "G2"),
    ("Ki-67 proliferation index: 14%.", "ki67-percent", 14.0),
    ("The largest liver lesion measures 42 mm.", "lesion-size", 4.2),
    ("Liver metastasis in segment 2, 3.1 x 2.4 cm.", "lesion-size", 3.1),
    ("Metastases in both lobes of the liver.", "liver-distribution", "bilobar"),
    ("All lesions confined to the right lobe.", "liver-distribution", "unilobar"),
    ("Osseous metastases in the pelvis.", "extrahepatic-site", "bone"),
    ("New pulmonary metastases.", "extrahepatic-site", "lung"),
    ("Peritoneal carcinomatosis.", "extrahepatic-site", "peritoneum"),
    ("Distant nodal disease in the mediastinum.", "extrahepatic-site", "distant-nodes"),
    ("Tumour thrombus of the main portal vein.", "portal-vein-thrombosis", True),
    ("Strong somatostatin receptor expression of the liver lesions.", "sstr-uptake", True),
]


@pytest.mark.parametrize(("text", "finding", "value"), AFFIRMED, ids=[f"{f}={v}" for _, f, v in AFFIRMED])
def test_each_finding_type_is_proposed(text: str, finding: str, value: object) -> None:
    assert (finding, value) in proposals(text)


def test_every_finding_type_is_covered() -> None:
    assert {f for _, f, _ in AFFIRMED} == {f.value for f in Finding}


# (template, assertion): the same statement said in each ConText way is kept but never proposed.
MODIFIED = [
    ("No {}.", Assertion.NEGATED),
    ("There is no evidence of {}.", Assertion.NEGATED),
    ("Possibly {}.", Assertion.UNCERTAIN),
    ("{} cannot be excluded.", Assertion.UNCERTAIN),
    ("History of {}.", Assertion.HISTORICAL),
    ("Previous CT showed {}.", Assertion.HISTORICAL),
    ("If {} is found, PRRT will be discussed.", Assertion.HYPOTHETICAL),
    ("Her mother had {}.", Assertion.FAMILY),
]
PHRASES = [
    ("portal vein thrombosis", "portal-vein-thrombosis"),
    ("bone metastases", "extrahepatic-site"),
    ("peritoneal carcinomatosis", "extrahepatic-site"),
    ("bilobar liver metastases", "liver-distribution"),
    ("FDG-avid disease", "fdg-pet-positive"),
    ("a subcapsular lesion", "lesion-subcapsular"),
]


@pytest.mark.parametrize(("template", "assertion"), MODIFIED, ids=[a.value + ":" + t for t, a in MODIFIED])
@pytest.mark.parametrize(("phrase", "finding"), PHRASES, ids=[p for p, _ in PHRASES])
def test_modified_statements_are_kept_not_proposed(template: str, assertion: Assertion, phrase: str,
                                                   finding: str) -> None:
    text = template.format(phrase)
    text = text[0].upper() + text[1:]
    found = [c for c in run(text) if c.finding.value == finding]
    assert found, f"no candidate in {text!r}"
    assert {c.assertion for c in found} == {assertion}
    assert not any(c.proposed for c in found)
    # metamorphic: the bare statement is proposed
    assert any(c.proposed for c in run(phrase[0].upper() + phrase[1:] + ".") if c.finding.value == finding)


@pytest.mark.parametrize("text", [
    "Not resectable; an R0 resection is not achievable.",
    "R0 resection is not feasible.",
    "Previous biopsy showed Ki-67 3%.",
    "Consider extended right hepatectomy if the FLR exceeds 30%.",
    "Bones: no suspicious osseous lesion.",
    "The patient is not fit for major surgery.",
])
def test_negated_hedged_historical_hypothetical_never_proposed(text: str) -> None:
    assert proposals(text) == set(), proposals(text)


def test_clause_boundaries_end_a_negation() -> None:
    found = proposals("Resection not feasible given bilobar disease; peritoneal deposits cannot be excluded.")
    assert ("liver-distribution", "bilobar") in found
    assert ("extrahepatic-site", "peritoneum") not in found


def test_span_sentence_reference_and_date() -> None:
    text = "CT 2026-11-02.\nThere are three lesions in segments 2, 3 and 6. No ascites."
    (count,) = [c for c in run(text) if c.finding is Finding.LESION_COUNT]
    assert text[count.start:count.end] == "three lesions"
    assert count.sentence.startswith("There are three lesions in segments 2, 3 and 6")
    assert (count.document, count.date, count.section) == ("DiagnosticReport/r1", dt.date(2026, 11, 2), "conclusion")
    assert count.coding == ("https://nelm-cds.org/fhir/CodeSystem/nelm-finding", "lesion-count")


def test_codings_of_the_extra_findings() -> None:
    found = {c.finding: c for c in run("Ki-67 5%. Bone metastases. Portal vein thrombosis. Liver lesion 12 mm.")}
    assert found[Finding.KI67_PERCENT].coding == ("http://loinc.org", "29593-1")
    assert found[Finding.LESION_SIZE].coding == ("http://loinc.org", "33728-7")
    assert found[Finding.EXTRAHEPATIC_SITE].coding == ("http://snomed.info/sct", "94222008")
    assert found[Finding.PORTAL_VEIN_THROMBOSIS].coding == ("http://snomed.info/sct", "17920008")


@pytest.mark.parametrize(("text", "expected"), [
    ("Ki-67 <1%.", ("ki67-percent", (1.0, "<"))),
    ("Debulking of at least 70% achievable.", ("achievable-debulking-percent", (70.0, ">="))),
    ("Mitoses: <2/2 mm2.", ("mitotic-count", (2.0, "<"))),
    ("Lesions measure 12, 15 and 9 mm in segment 5.", ("lesion-size", 0.9)),
])
def test_numbers_units_and_comparators(text: str, expected: tuple[str, object]) -> None:
    assert expected in proposals(text)


@pytest.mark.parametrize("text", [
    "More than 20 liver lesions.",  # not a count the contract can hold (valueInteger)
    "The segment 4 lesion is stable.",  # a segment number is not a count
    "Pulmonary nodules up to 11 mm.",  # not a liver lesion size
    "Mediastinal lymph nodes not enlarged.",
])
def test_no_candidate_from_look_alikes(text: str) -> None:
    assert not {f for f, _ in proposals(text)} & {"lesion-count", "lesion-size", "extrahepatic-site"}


def test_no_report_text_reaches_any_log(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    from loguru import logger

    marker = "ZZPHIMARKER Jane Roe"
    messages: list[str] = []
    sink = logger.add(lambda message: messages.append(str(message)), level="TRACE")
    caplog.set_level(logging.DEBUG)
    try:
        extract_module._NLP = None  # rebuild: loading is where medspaCy logs most
        run(f"{marker}: Ki-67 12%. No bone metastases. Three liver lesions.")
    finally:
        logger.remove(sink)
    out, err = capsys.readouterr()
    logged = "\n".join(messages) + caplog.text + out + err
    assert "ZZPHIMARKER" not in logged and "Jane" not in logged and "Ki-67" not in logged


def test_missing_medspacy_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extract_module, "_NLP", None)
    monkeypatch.setitem(sys.modules, "medspacy", None)  # import medspacy -> ImportError
    with pytest.raises(TextReaderUnavailableError, match="text' extra"):
        extract([ReportText(document="DiagnosticReport/r1", section="conclusion", kind=ReportKind.PATHOLOGY,
                            date=None, title="", text="Ki-67 4%.")])
    assert text_reader_enabled({}) is False


@pytest.mark.parametrize(("value", "enabled"), [("off", False), ("0", False), ("false", False), ("OFF ", False),
                                                 ("on", True), ("", True)])
def test_text_reader_setting(value: str, enabled: bool) -> None:
    assert text_reader_enabled({"NELM_TEXT_READER": value}) is enabled


def test_core_never_imports_the_text_reader() -> None:
    code = ("import sys, nelm_fhir.ingest, nelm_fhir.pathways, cds_hooks.cli; "
            "print(sorted(m for m in sys.modules if m.startswith(('medspacy', 'spacy', 'nelm_fhir.narrative'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(("text", "expected"), [
    ("Plan: simultaneous resection of the primary and the liver metastases.", set()),
    ("Metastases found two years after resection of the primary.", {("primary-status", "resected")}),
    ("The primary tumour was resected in 2022.", {("primary-status", "resected")}),
])
def test_primary_resection_planned_or_done(text: str, expected: set[tuple[str, object]]) -> None:
    assert {p for p in proposals(text) if p[0] == "primary-status"} == expected
