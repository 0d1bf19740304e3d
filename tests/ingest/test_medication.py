"""MedicationRequest / MedicationStatement / MedicationAdministration: drug classes and exposure states."""

from __future__ import annotations

import datetime as dt

import pytest

from nelm_fhir.model import DrugClass, ExposureState
from tests.ingest.builders import PATIENT, RXNORM, cc, med_request, profile

ATC = "http://www.whocc.no/atc"

DRUG_TABLE = [
    (RXNORM, "312068", DrugClass.SSA, "octreotide"),
    (RXNORM, "7617", DrugClass.SSA, "octreotide"),
    (RXNORM, "60215", DrugClass.SSA, "lanreotide"),
    (RXNORM, "141704", DrugClass.EVEROLIMUS, "everolimus"),
    (RXNORM, "357977", DrugClass.SUNITINIB, "sunitinib"),
    (RXNORM, "1999682", DrugClass.LU177, "lutetium-lu-177-dotatate"),
    (RXNORM, "40048", DrugClass.CHEMOTHERAPY, "carboplatin"),
    (RXNORM, "4179", DrugClass.CHEMOTHERAPY, "etoposide"),
    (RXNORM, "309311", DrugClass.CHEMOTHERAPY, "cisplatin"),
    (RXNORM, "37776", DrugClass.CHEMOTHERAPY, "temozolomide"),
    (RXNORM, "5879", DrugClass.INTERFERON, "interferon-alfa-2b"),
    (ATC, "H01CB03", DrugClass.SSA, "lanreotide"),
]


@pytest.mark.parametrize(("system", "code", "drug_class", "ingredient"), DRUG_TABLE)
def test_drug_codes(system: str, code: str, drug_class: DrugClass, ingredient: str) -> None:
    prof = profile(med_request("m", cc(system, code)))
    [drug] = prof.drugs
    assert (drug.drug_class, drug.ingredient, drug.state, drug.source, drug.code) == (
        drug_class,
        ingredient,
        ExposureState.CURRENT,
        "MedicationRequest/m",
        f"{system}|{code}",
    )
    assert prof.drugs_of(drug_class, current_only=True) == (drug,)


REQUEST_STATUS = [
    ("active", ExposureState.CURRENT),
    ("on-hold", ExposureState.CURRENT),
    ("completed", ExposureState.PAST),
    ("stopped", ExposureState.PAST),
    ("cancelled", None),
    ("draft", None),
    ("entered-in-error", None),
    ("unknown", None),
]


@pytest.mark.parametrize(("status", "state"), REQUEST_STATUS)
def test_medication_request_statuses(status: str, state: ExposureState | None) -> None:
    prof = profile(med_request("m", cc(RXNORM, "141704"), status=status))
    assert [d.state for d in prof.drugs] == ([state] if state else [])


def test_a_proposal_is_not_an_exposure() -> None:
    assert profile(med_request("m", cc(RXNORM, "141704"), intent="proposal")).drugs == ()


def _statement(mid: str, status: str) -> dict[str, object]:
    return {
        "resourceType": "MedicationStatement",
        "id": mid,
        "status": status,
        "medicationCodeableConcept": cc(RXNORM, "312068"),
        "subject": {"reference": PATIENT},
        "effectivePeriod": {"start": "2025-03-01", "end": "2026-02-01"},
    }


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("active", ExposureState.CURRENT),
        ("completed", ExposureState.PAST),
        ("stopped", ExposureState.PAST),
        ("intended", None),
        ("not-taken", None),
        ("entered-in-error", None),
    ],
)
def test_medication_statement_statuses(status: str, state: ExposureState | None) -> None:
    prof = profile(_statement("s", status))
    assert [d.state for d in prof.drugs] == ([state] if state else [])
    if state:
        assert (prof.drugs[0].start, prof.drugs[0].end) == (dt.date(2025, 3, 1), dt.date(2026, 2, 1))


def _administration(mid: str, status: str, medication: dict[str, object]) -> dict[str, object]:
    resource: dict[str, object] = {
        "resourceType": "MedicationAdministration",
        "id": mid,
        "status": status,
        "subject": {"reference": PATIENT},
        "effectiveDateTime": "2026-03-03T10:00:00+01:00",
    }
    resource.update(medication)
    return resource


@pytest.mark.parametrize(
    ("status", "state"),
    [("completed", ExposureState.PAST), ("in-progress", ExposureState.CURRENT), ("not-done", None)],
)
def test_medication_administration_statuses(status: str, state: ExposureState | None) -> None:
    prof = profile(_administration("a", status, {"medicationCodeableConcept": cc(RXNORM, "1999687")}))
    assert [d.state for d in prof.drugs] == ([state] if state else [])


def test_medication_reference_to_a_medication_resource_and_to_a_contained_one() -> None:
    medication = {"resourceType": "Medication", "id": "lutathera", "code": cc(RXNORM, "1999682")}
    via_bundle = _administration("a1", "completed", {"medicationReference": {"reference": "Medication/lutathera"}})
    contained = _administration("a2", "completed", {"medicationReference": {"reference": "#med"}})
    contained["contained"] = [
        {
            "resourceType": "Medication",
            "id": "med",
            "code": {"text": "FOLFOX"},
            "ingredient": [{"itemCodeableConcept": cc(RXNORM, "4492")}],
        }
    ]
    prof = profile(medication, via_bundle, contained)
    assert {(d.source, d.drug_class) for d in prof.drugs} == {
        ("MedicationAdministration/a1", DrugClass.LU177),
        ("MedicationAdministration/a2", DrugClass.CHEMOTHERAPY),
    }


def test_irrelevant_medications_are_ignored() -> None:
    prof = profile(med_request("m", cc(RXNORM, "197361")), med_request("t", {"text": "amlodipine 5 mg"}))
    assert prof.drugs == () and prof.problems == ()


def test_an_invalid_medication_request_is_a_problem() -> None:
    bad = med_request("m", cc(RXNORM, "141704"))
    bad["authoredOn"] = "last week"
    prof = profile(bad)
    assert prof.drugs == () and [p.path for p in prof.problems] == ["MedicationRequest/m.authoredOn"]
