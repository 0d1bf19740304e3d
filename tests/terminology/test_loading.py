"""Loading mappings/: start-up validation names the file and the entry of every fault."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from nelm_fhir.terminology import DEFAULT_MAPPINGS_DIR, MappingError, default_terminology, load_terminology, systems


@pytest.fixture
def mappings(tmp_path: Path) -> Path:
    """A writable copy of the repository's mappings/ folder."""
    target = tmp_path / "mappings"
    shutil.copytree(DEFAULT_MAPPINGS_DIR, target)
    return target


def _edit(path: Path, change: Any) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(json.dumps(doc), encoding="utf-8")


def test_the_repository_mappings_load_and_state_their_sources() -> None:
    term = default_terminology()
    assert len(term.known_codes()) > 350
    names = {Path(f.path).name for f in term.files}
    assert {"loinc.json", "snomed.json", "icd10cm.json", "icd10pcs.json", "icdo3.json", "rxnorm.json"} <= names
    assert {"nelm-finding.json", "modality.json", "units.json", "orders.json"} <= names
    for info in term.files:
        assert info.source and info.release and info.title


def test_every_code_is_marked_verified_unverified_or_local() -> None:
    for path in DEFAULT_MAPPINGS_DIR.glob("*.json"):
        doc = json.loads(path.read_text(encoding="utf-8"))
        for entry in doc.get("codes", []) + doc.get("prefixes", []) + doc.get("orders", []):
            assert entry["status"] in {"VERIFIED", "UNVERIFIED", "LOCAL"}, (path.name, entry)
            if entry["status"] == "VERIFIED":
                assert entry.get("evidence"), (path.name, entry)


BROKEN = [
    (
        "loinc.json",
        lambda d: d["codes"].append({"code": "718-7", "concept": "lab:haemoglobin", "status": "VERIFIED"}),
        "loinc.json: entry codes[",
        "duplicate code: already mapped at loinc.json codes[",
    ),
    (
        "icd10cm.json",
        lambda d: d["codes"].append({"code": "C7B02", "concept": "metastasis:liver", "status": "VERIFIED"}),
        "icd10cm.json: entry codes[",
        "duplicate code",
    ),
    (
        "snomed.json",
        lambda d: d["codes"].append({"code": "123", "concept": "lab:potassium", "status": "VERIFIED"}),
        "snomed.json: entry codes[",
        "'potassium' is not one of",
    ),
    (
        "snomed.json",
        lambda d: d["codes"].append({"code": "124", "concept": "nonsense", "status": "VERIFIED"}),
        "entry codes[",
        "not of the form namespace:name",
    ),
    (
        "rxnorm.json",
        lambda d: d["codes"].append({"code": "999", "concept": "drug:aspirin", "status": "VERIFIED"}),
        "rxnorm.json: entry codes[",
        "needs the attribute drugClass",
    ),
    (
        "loinc.json",
        lambda d: d["codes"].append({"code": "1-1", "concept": "lab:inr", "status": "MAYBE"}),
        "loinc.json: entry codes[",
        "status must be one of",
    ),
    ("loinc.json", lambda d: d.pop("release"), "loinc.json: ", "missing release"),
    (
        "loinc.json",
        lambda d: d["codes"].append({"code": "12 3", "concept": "lab:inr", "status": "LOCAL"}),
        '"12 3"',
        "white space",
    ),
    (
        "orders.json",
        lambda d: d["orders"].append({"system": "http://x", "code": "y", "modality": "lobotomy", "status": "LOCAL"}),
        "orders.json: entry orders[",
        "modality 'lobotomy' is not in the modality code system",
    ),
    (
        "units.json",
        lambda d: d["quantities"][0]["units"].append({"unit": "furlong/fortnight", "factor": -1}),
        'units.json: entry quantities[0] "egfr" units[',
        "positive number",
    ),
]


@pytest.mark.parametrize(("file", "change", "where", "what"), BROKEN)
def test_a_broken_mapping_fails_loading_naming_file_and_entry(
    mappings: Path, file: str, change: Any, where: str, what: str
) -> None:
    _edit(mappings / file, change)
    with pytest.raises(MappingError) as info:
        load_terminology(mappings)
    [problem] = info.value.problems
    assert where in problem and what in problem
    assert str(info.value).startswith(str(mappings / file))


def test_a_file_that_is_not_json_fails_loading(mappings: Path) -> None:
    (mappings / "snomed.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(MappingError, match=r"snomed\.json: not valid JSON"):
        load_terminology(mappings)


def test_an_empty_folder_fails_loading(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="no mapping files"):
        load_terminology(tmp_path)


def test_all_problems_are_reported_together(mappings: Path) -> None:
    _edit(mappings / "loinc.json", lambda d: d.pop("source"))
    _edit(mappings / "snomed.json", lambda d: d["codes"].append({"code": "1", "concept": "x:y", "status": "LOCAL"}))
    with pytest.raises(MappingError) as info:
        load_terminology(mappings)
    assert len(info.value.problems) == 2 and "(and 1 more problem(s))" in str(info.value)


def test_icd_codes_match_with_or_without_dot_and_by_prefix() -> None:
    term = default_terminology()
    assert term.concept(systems.ICD10CM, "C7B.02") == term.concept(systems.ICD10CM, "c7b02") == "metastasis:liver"
    assert term.concept(systems.ICD10CM, "E34.00") == "syndrome:carcinoid"
    assert term.concept(systems.ICD10CM, "E34.0") == "syndrome:carcinoid"  # header of FY2025 (ambiguity #22)
    assert term.concept(systems.ICD10CM, "K72.9") == "condition:hepatic-failure"
    assert term.concept(systems.ICD10CM, "E34.1") is None
    assert term.concept("http://hl7.org/fhir/sid/icd-10-us", "C78.7") == "metastasis:liver"  # alias
    assert term.concept(systems.SNOMED, "94381002 ") == "metastasis:liver"
    assert term.concept(systems.LOINC, "718-7 ") == "lab:haemoglobin"
    assert term.concept(None, "718-7") is None and term.concept(systems.LOINC, None) is None
    assert term.concept("http://other.org", "718-7") is None
