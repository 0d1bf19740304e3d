"""Every code TERMINOLOGY.md marks VERIFIED is recognised by the mappings (and the local codes of CONTRACT.md)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nelm_fhir.terminology import default_terminology, systems

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
TERMINOLOGY_MD = SHARED / "clinical" / "TERMINOLOGY.md"
CONTRACT_MD = SHARED / "design" / "CONTRACT.md"

# Section heading -> (system, code pattern)
SECTIONS = {
    "B.3": (systems.LOINC, re.compile(r"\b\d{1,5}-\d\b")),
    "B.4": (systems.SNOMED, re.compile(r"\b\d{6,18}\b")),
    "B.5": (systems.ICD10CM, re.compile(r"\b[A-Z]\d[0-9A-Z](?:\.[0-9A-Z]{1,4})?\b|(?<![\w.])\.\d{1,3}\b")),
    "B.6": (systems.ICD10PCS, re.compile(r"\b[0-9][0-9A-HJ-NP-Z]{6}\b")),
    "B.7": (systems.ICDO3, re.compile(r"\b\d{4}/\d\b")),
    "B.8": (systems.RXNORM, re.compile(r"\b\d{4,7}\b")),
}
CODE_HEADERS = ("LOINC", "SCTID", "Code", "RxCUI")
VERIFIED = re.compile(r"(?<!UN)VERIFIED")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def verified_codes() -> list[tuple[str, str, str]]:
    """Return (section, system, code) for every VERIFIED code in TERMINOLOGY.md's B.3-B.8 tables."""
    found: list[tuple[str, str, str]] = []
    section: str | None = None
    code_col: int | None = None
    status_col: int | None = None
    for line in TERMINOLOGY_MD.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"#{2,4} (B\.\d)", line)
        if heading:
            section = heading.group(1) if heading.group(1) in SECTIONS else None
            code_col = None
            continue
        if section is None or not line.startswith("|"):
            if not line.startswith("|"):
                code_col = None
            continue
        cells = _cells(line)
        if code_col is None:  # a header row
            code_col = next((i for i, c in enumerate(cells) if c.startswith(CODE_HEADERS)), None)
            status_col = next((i for i, c in enumerate(cells) if c == "Status"), None)
            continue
        if set(line) <= set("|-: "):
            continue
        if code_col >= len(cells):
            continue
        # B.5 and B.6 are "all VERIFIED" (S3); other tables say so per row.
        if status_col is not None and not VERIFIED.search(cells[status_col]):
            continue
        system, pattern = SECTIONS[section]
        cell = cells[code_col].replace("*", "").replace("–", " - ")
        if "header" in cells[-1] and section == "B.5" and "(cat.)" not in cell and "E34.0" not in cell:
            continue
        last_full = ""
        for match in pattern.finditer(cell):
            code = match.group(0)
            if code.startswith("."):  # "C7A.010 / .011": a sibling of the previous full code
                code = last_full.split(".")[0] + code
            else:
                last_full = code
            found.append((section, system, code))
    return found


CODES = verified_codes()


def test_the_parser_finds_the_tables() -> None:
    by_section = {s for s, _sys, _c in CODES}
    assert by_section == set(SECTIONS), by_section
    assert len(CODES) > 250
    assert ("B.3", systems.LOINC, "29593-1") in CODES
    assert ("B.5", systems.ICD10CM, "C7A.011") in CODES  # from "C7A.010 / .011 / .012 / .019"
    assert ("B.8", systems.RXNORM, "4179") in CODES
    assert ("B.8", systems.RXNORM, "7617") not in CODES  # octreotide ingredient is UNVERIFIED


@pytest.mark.parametrize(("section", "system", "code"), CODES, ids=[f"{s}-{c}" for s, _y, c in CODES])
def test_every_verified_code_is_recognised(section: str, system: str, code: str) -> None:
    assert default_terminology().concept(system, code) is not None, f"{section}: {system}|{code} not in mappings/"


def contract_local_codes() -> list[str]:
    """Return the codes of CONTRACT.md section 3 (the nelm-finding CodeSystem)."""
    text = CONTRACT_MD.read_text(encoding="utf-8")
    section = text.split("## 3.")[1].split("## 4.")[0]
    return re.findall(r"^\| `([a-z0-9-]+)` \|", section, flags=re.MULTILINE)


def test_every_local_finding_code_is_recognised() -> None:
    codes = contract_local_codes()
    assert len(codes) == 18  # issue 11 added lesion-count, resection-extent and who-grade (B37-B39)
    assert {"lesion-count", "resection-extent", "who-grade"} <= set(codes)
    term = default_terminology()
    for code in codes:
        assert term.concept(systems.FINDING, code) == f"finding:{code}"
    for value in ("type-I", "type-II", "type-III", "well", "poor", "in-situ", "resected", "unknown-primary",
                  "minor", "major", "G1", "G2", "G3"):
        assert term.concept(systems.FINDING, value) is not None, value


def test_every_modality_id_is_a_code_of_the_modality_system() -> None:
    text = CONTRACT_MD.read_text(encoding="utf-8").split("## 1.")[1].split("## 2.")[0]
    ids = re.findall(r"^\| `([a-z0-9-]+)` \|", text, flags=re.MULTILINE)
    assert len(ids) == 21
    term = default_terminology()
    for modality in ids:
        assert term.modality_for_order([(systems.MODALITY, modality)]) == modality
