"""Procedures: which codes count as which procedure, and which statuses count at all."""

from __future__ import annotations

import datetime as dt

import pytest

from nelm_fhir.model import ProcedureKind
from tests.ingest.builders import ICD10PCS, SNOMED, cc, nelm, procedure, profile

PROCEDURE_TABLE = [
    (SNOMED, "69036001", ProcedureKind.WHIPPLE),
    (SNOMED, "265459006", ProcedureKind.WHIPPLE),
    (SNOMED, "3360004", ProcedureKind.BILIO_ENTERIC_ANASTOMOSIS),
    (ICD10PCS, "0F190ZB", ProcedureKind.BILIO_ENTERIC_ANASTOMOSIS),
    (ICD10PCS, "0F160ZB", ProcedureKind.BILIO_ENTERIC_ANASTOMOSIS),
    (SNOMED, "85946004", ProcedureKind.LIVER_RESECTION),
    (SNOMED, "174430004", ProcedureKind.LIVER_RESECTION),
    (SNOMED, "174431000", ProcedureKind.LIVER_RESECTION),
    (SNOMED, "17203000", ProcedureKind.LIVER_RESECTION),
    (ICD10PCS, "0FT00ZZ", ProcedureKind.LIVER_RESECTION),
    (ICD10PCS, "0FT14ZZ", ProcedureKind.LIVER_RESECTION),  # any approach (0FT1 prefix)
    (ICD10PCS, "0FB20ZZ", ProcedureKind.LIVER_RESECTION),
    (SNOMED, "18027006", ProcedureKind.LIVER_TRANSPLANT),
    (ICD10PCS, "0FY00Z0", ProcedureKind.LIVER_TRANSPLANT),
    (SNOMED, "5415002", ProcedureKind.ABLATION),
    (ICD10PCS, "0F503ZZ", ProcedureKind.ABLATION),
    (SNOMED, "41209002", ProcedureKind.EMBOLIZATION),
    (ICD10PCS, "04L33DZ", ProcedureKind.EMBOLIZATION),
    (ICD10PCS, "06L83DZ", ProcedureKind.PORTAL_VEIN_EMBOLIZATION),
    (ICD10PCS, "06L80ZZ", ProcedureKind.PORTAL_VEIN_EMBOLIZATION),
    (SNOMED, "440252007", ProcedureKind.PRRT),
    (ICD10PCS, "0FTG0ZZ", ProcedureKind.PRIMARY_RESECTION),
    (ICD10PCS, "0DTB0ZZ", ProcedureKind.PRIMARY_RESECTION),
]


@pytest.mark.parametrize(("system", "code", "kind"), PROCEDURE_TABLE)
def test_procedure_codes(system: str, code: str, kind: ProcedureKind) -> None:
    prof = profile(procedure("p", cc(system, code), date="2023-03-04"))
    [record] = prof.procedures
    assert (record.kind, record.source, record.date) == (kind, "Procedure/p", dt.date(2023, 3, 4))
    assert prof.procedures_of(kind) == (record,)


@pytest.mark.parametrize(
    ("status", "counted"),
    [
        ("completed", True),
        ("in-progress", True),
        ("not-done", False),
        ("entered-in-error", False),
        ("preparation", False),
        ("stopped", False),
        ("unknown", False),
    ],
)
def test_procedure_statuses(status: str, counted: bool) -> None:
    prof = profile(procedure("p", cc(SNOMED, "69036001"), status=status))
    assert bool(prof.procedures) is counted


def test_performed_period_start_is_the_date() -> None:
    proc = procedure("p", cc(SNOMED, "85946004"))
    del proc["performedDateTime"]
    proc["performedPeriod"] = {"start": "2022-02-02T08:00:00Z", "end": "2022-02-02T14:00:00Z"}
    [record] = profile(proc).procedures
    assert record.date == dt.date(2022, 2, 2)


def test_radiotherapy_course_is_classified_by_its_technique() -> None:
    ext = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-radiotherapy-modality-and-technique"
    sirt = procedure(
        "sirt",
        cc(SNOMED, "1217123003"),
        extension=[
            {
                "url": ext,
                "extension": [
                    {"url": "modality", "valueCodeableConcept": cc(SNOMED, "440252007")},
                    {"url": "technique", "valueCodeableConcept": cc(SNOMED, "1156383000")},
                ],
            }
        ],
    )
    prrt = procedure(
        "prrt",
        cc(SNOMED, "1217123003"),
        extension=[{"url": ext, "extension": [{"url": "modality", "valueCodeableConcept": cc(SNOMED, "440252007")}]}],
    )
    ebrt = procedure("ebrt", cc(SNOMED, "1217123003"))
    kinds = {r.source: r.kind for r in profile(sirt, prrt, ebrt).procedures}
    assert kinds == {"Procedure/sirt": ProcedureKind.RADIOEMBOLIZATION, "Procedure/prrt": ProcedureKind.PRRT}


def test_generic_surgery_is_classified_by_its_reason() -> None:
    prof = profile(
        nelm(),
        procedure("liver-op", cc(SNOMED, "387713003"), reasonReference=[{"reference": "Condition/nelm"}]),
        procedure("unknown-op", cc(SNOMED, "387713003")),
    )
    assert [(r.kind, r.source, r.code) for r in prof.procedures] == [
        (ProcedureKind.LIVER_RESECTION, "Procedure/liver-op", f"{SNOMED}|387713003")
    ]


def test_a_procedure_with_an_unreadable_date_is_read_undated_and_listed_b28() -> None:
    # B28: a Whipple whose date cannot be read is still a Whipple, never "none recorded".
    proc = procedure("p", cc(SNOMED, "69036001"))
    proc["performedDateTime"] = "yesterday"
    prof = profile(proc)
    assert [(p.kind.value, p.date) for p in prof.procedures] == [("whipple", None)]
    assert [p.path for p in prof.problems] == ["Procedure/p.performedDateTime"]


def test_an_invalid_procedure_is_a_problem_with_its_path() -> None:
    proc = procedure("p", cc(SNOMED, "69036001"))
    proc["note"] = "a note"  # not a list of Annotations
    prof = profile(proc)
    assert prof.procedures == ()
    assert [p.path for p in prof.problems] == ["Procedure/p.note"]
