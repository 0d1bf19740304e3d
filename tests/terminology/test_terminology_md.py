"""Every code the terminology review marks VERIFIED is recognised by the mappings (and the contract's local codes).

The review's code tables (B.3-B.8) and the contract's local codes are kept in the repository as facts in
``tests/data/verified-codes.json``, so this test needs nothing outside the repository.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nelm_fhir.terminology import default_terminology, systems

DATA = Path(__file__).resolve().parents[1] / "data" / "verified-codes.json"
FACTS: dict[str, Any] = json.loads(DATA.read_text(encoding="utf-8"))

SECTION_SYSTEMS = {
    "B.3": systems.LOINC,
    "B.4": systems.SNOMED,
    "B.5": systems.ICD10CM,
    "B.6": systems.ICD10PCS,
    "B.7": systems.ICDO3,
    "B.8": systems.RXNORM,
}

CODES = [
    (section, table["system"], code) for section, table in FACTS["sections"].items() for code in table["codes"]
]


def test_the_copied_tables_are_complete() -> None:
    """The copy holds every table, each under the system our code uses for it, and only VERIFIED rows."""
    assert {section: table["system"] for section, table in FACTS["sections"].items()} == SECTION_SYSTEMS
    assert len(CODES) > 250
    assert len(set(CODES)) == len(CODES)
    assert ("B.3", systems.LOINC, "29593-1") in CODES  # Ki-67
    assert ("B.5", systems.ICD10CM, "C7A.011") in CODES  # a sibling listed as "C7A.010 / .011 / ..."
    assert ("B.8", systems.RXNORM, "4179") in CODES
    assert ("B.8", systems.RXNORM, "7617") not in CODES  # octreotide ingredient is UNVERIFIED in the review


@pytest.mark.parametrize(("section", "system", "code"), CODES, ids=[f"{s}-{c}" for s, _y, c in CODES])
def test_every_verified_code_is_recognised(section: str, system: str, code: str) -> None:
    assert default_terminology().concept(system, code) is not None, f"{section}: {system}|{code} not in mappings/"


# Contract codes not (yet) in mappings/: strict, so the list must shrink as soon as mappings/ recognises one.
NOT_YET_MAPPED: set[str] = set()


def test_the_contract_lists_eighteen_local_finding_codes() -> None:
    assert len(FACTS["local_finding_codes"]) == 18


@pytest.mark.parametrize(
    "code",
    [
        pytest.param(c, marks=pytest.mark.xfail(strict=True, reason="contract code not yet in mappings/"))
        if c in NOT_YET_MAPPED
        else c
        for c in FACTS["local_finding_codes"]
    ],
)
def test_every_local_finding_code_is_recognised(code: str) -> None:
    assert default_terminology().concept(systems.FINDING, code) == f"finding:{code}"


@pytest.mark.parametrize("value", FACTS["local_finding_values"])
def test_every_local_finding_value_is_recognised(value: str) -> None:
    assert default_terminology().concept(systems.FINDING, value) is not None, value


def test_every_modality_id_is_a_code_of_the_modality_system() -> None:
    ids = FACTS["modality_ids"]
    assert len(ids) == 21
    term = default_terminology()
    for modality in ids:
        assert term.modality_for_order([(systems.MODALITY, modality)]) == modality
