"""Draft order codes → modality ids (CONTRACT.md section 1), standard and site ConceptMap codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from nelm_fhir.terminology import DEFAULT_MAPPINGS_DIR, default_terminology, load_terminology, systems

SITE_EXAMPLE = DEFAULT_MAPPINGS_DIR / "site-example" / "site-orders.conceptmap.json"

ORDER_TABLE = [
    (systems.MODALITY, "alpps", "alpps"),
    (systems.MODALITY, "prrt-plus-radioembolization", "prrt-plus-radioembolization"),
    (systems.SNOMED, "18027006", "liver-transplantation"),
    (systems.SNOMED, "41209002", "tae"),
    (systems.SNOMED, "440252007", "prrt"),
    (systems.SNOMED, "5415002", "rfa"),
    (systems.SNOMED, "174430004", "curative-resection"),
    (systems.ICD10PCS, "0F500ZZ", "rfa"),
    (systems.ICD10PCS, "0F503ZZ", "rfa"),
    (systems.ICD10PCS, "06L83DZ", "portal-vein-embolization"),
    (systems.ICD10PCS, "0FT00ZZ", "curative-resection"),
    (systems.ICD10PCS, "0FT24ZZ", "curative-resection"),
    (systems.ICD10PCS, "0FY00Z0", "liver-transplantation"),
    (systems.ICD10PCS, "04L33DZ", "tae"),
    (systems.RXNORM, "1999682", "prrt"),
    (systems.RXNORM, "1999687", "prrt"),
    (systems.RXNORM, "312068", "somatostatin-analogue"),
    (systems.RXNORM, "60215", "somatostatin-analogue"),
    (systems.RXNORM, "141704", "everolimus"),
    (systems.RXNORM, "357977", "sunitinib"),
    (systems.RXNORM, "2555", "chemotherapy"),
    (systems.RXNORM, "40048", "chemotherapy"),
    (systems.RXNORM, "4179", "chemotherapy"),
    (systems.RXNORM, "37776", "chemotherapy"),
    (systems.RXNORM, "194000", "chemotherapy"),
    (systems.RXNORM, "10114", "chemotherapy"),
    (systems.RXNORM, "5879", "interferon-alpha"),
    ("http://www.whocc.no/atc", "V10XX04", "prrt"),
]


@pytest.mark.parametrize(("system", "code", "modality"), ORDER_TABLE)
def test_standard_order_codes(system: str, code: str, modality: str) -> None:
    assert default_terminology().modality_for_order([(system, code)]) == modality


@pytest.mark.parametrize(
    "codings",
    [
        [],
        [(systems.MODALITY, "not-a-modality")],
        [(systems.SNOMED, "73761001")],  # colonoscopy
        [(systems.RXNORM, "197361")],  # amlodipine
        [(None, "alpps"), (systems.MODALITY, None)],
        [("https://example-hospital.org/fhir/CodeSystem/ir-orders", "IR-TACE-LIVER")],  # no site file loaded
    ],
)
def test_unrecognised_orders(codings: list[tuple[str | None, str | None]]) -> None:
    assert default_terminology().modality_for_order(codings) is None


def test_the_first_recognised_coding_wins() -> None:
    codings = [(systems.SNOMED, "73761001"), (systems.SNOMED, "41209002"), (systems.MODALITY, "tace")]
    assert default_terminology().modality_for_order(codings) == "tae"


def test_site_conceptmap_adds_local_order_and_result_codes_without_code_changes() -> None:
    term = load_terminology(DEFAULT_MAPPINGS_DIR, [SITE_EXAMPLE])
    ir = "https://example-hospital.org/fhir/CodeSystem/ir-orders"
    assert term.modality_for_order([(ir, "IR-TACE-LIVER")]) == "tace"
    assert term.modality_for_order([(ir, "NM-LUTATHERA")]) == "prrt"
    assert term.concept("https://example-hospital.org/fhir/CodeSystem/lab", "HB") == "lab:haemoglobin"
    assert term.modality_for_order([(systems.SNOMED, "18027006")]) == "liver-transplantation"
    entry = term.entry("https://example-hospital.org/fhir/CodeSystem/lab", "KI67")
    assert entry is not None and entry.status == "SITE" and entry.evidence == "http://loinc.org|29593-1"


def test_a_site_lab_code_is_ingested_like_the_standard_code(tmp_path: Path) -> None:
    import datetime as dt

    from nelm_fhir.ingest import ingest
    from nelm_fhir.model import LabKind

    term = load_terminology(DEFAULT_MAPPINGS_DIR, [SITE_EXAMPLE])
    obs = {
        "resourceType": "Observation",
        "id": "local-hb",
        "status": "final",
        "code": {"coding": [{"system": "https://example-hospital.org/fhir/CodeSystem/lab", "code": "HB"}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2026-11-20",
        "valueQuantity": {"value": 125, "unit": "g/L", "system": "http://unitsofmeasure.org", "code": "g/L"},
    }
    profile = ingest([obs], as_of=dt.date(2026, 11, 26), terminology=term)
    hb = profile.latest_lab(LabKind.HAEMOGLOBIN)
    assert hb is not None and (hb.value, hb.unit) == (12.5, "g/dL")
    assert ingest([obs], as_of=dt.date(2026, 11, 26)).labs == ()  # without the site file: not recognised
