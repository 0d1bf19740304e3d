"""Patient: birth date (age at the evaluation date) and administrative sex."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fhir.resources.R4B.patient import Patient

from nelm_fhir.ingest.collected import Collected
from nelm_fhir.ingest.common import Ctx, Item, to_date, validated
from nelm_fhir.ingest.fastclinical import fast_patient
from nelm_fhir.model import Fact

__all__ = ["age_on", "read_patient"]


def age_on(birth: dt.date, as_of: dt.date) -> int:
    """Return the age in completed years on ``as_of``."""
    return as_of.year - birth.year - ((as_of.month, as_of.day) < (birth.month, birth.day))


def read_patient(item: Item, ctx: Ctx, out: Collected) -> None:
    """Validate the Patient and keep birth date and sex (a second Patient resource is a problem)."""
    patient: Any = fast_patient(item.raw)
    if patient is None:
        patient = validated(Patient, item, ctx)
    if patient is None:
        return
    if out.patient_ref is not None and out.patient_ref != item.ref:
        ctx.problem(item.ref, "a second Patient resource: only the first one is read")
        return
    out.patient_ref = item.ref
    out.sex = patient.gender
    if patient.birthDate is None:
        return
    birth = to_date(patient.birthDate)
    if birth is None:
        ctx.problem(f"{item.ref}.birthDate", "birth date is not a calendar date")
        return
    if birth > ctx.as_of:
        ctx.problem(f"{item.ref}.birthDate", f"birth date {birth.isoformat()} is after the evaluation date")
        return
    if isinstance(patient.birthDate, str) and len(patient.birthDate.strip()) < 10:
        ctx.problem(
            f"{item.ref}.birthDate",
            f"birth date {patient.birthDate} has no day: the age assumes the first day of the period",
            severity="warning",
        )
    out.birth_date = Fact(value=birth, source=item.ref, date=birth)
