"""A strict, cheap check of whole Conditions, Procedures and Patients, before full R4B validation.

Full ``fhir.resources`` validation of a Condition with its extensions and body sites costs about
0.3 ms; a record holds a Patient and a few relevant Conditions and Procedures on every call. Unlike
the Observation quick path, every element of the resource is checked here (``fasttypes``), not only
those the ingest reads: a resource passes only when it holds nothing but the common US Core / mCODE
elements listed below, each well formed. Anything else (an element not listed, a modifier extension,
contained resources, narrative, a primitive extension, two values of one ``[x]``) returns None and
the reader falls back to full validation. The objects returned carry the attribute names of the R4B
models the readers use, with the raw values (dates as written).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nelm_fhir.ingest.fastpath import FastCoding, FastConcept, FastReference
from nelm_fhir.ingest.fasttypes import (
    ADDRESS,
    CONCEPT,
    CONTACT_POINT,
    HUMAN_NAME,
    IDENTIFIER,
    META,
    PERIOD,
    REFERENCE,
    Check,
    boolean,
    code,
    date,
    date_time,
    extension,
    fhir_id,
    list_of,
    obj,
    one_choice,
    string,
)

__all__ = [
    "FastCondition",
    "FastExtension",
    "FastPatient",
    "FastPeriod",
    "FastProcedure",
    "fast_condition",
    "fast_patient",
    "fast_procedure",
]


@dataclass(frozen=True, slots=True)
class FastPeriod:
    """A Period: its start and end as written."""

    start: str | None
    end: str | None


@dataclass(frozen=True, slots=True)
class FastExtension:
    """An Extension: its url, a CodeableConcept value and nested extensions (what the readers look at)."""

    url: str
    valueCodeableConcept: FastConcept | None
    extension: tuple[FastExtension, ...] | None


@dataclass(frozen=True, slots=True)
class FastCondition:
    """The Condition elements the ingest reads, with the attribute names of the R4B model."""

    code: FastConcept | None
    clinicalStatus: FastConcept | None
    verificationStatus: FastConcept | None
    bodySite: tuple[FastConcept, ...] | None
    extension: tuple[FastExtension, ...] | None
    onsetDateTime: str | None
    onsetPeriod: FastPeriod | None
    recordedDate: str | None
    abatementDateTime: str | None
    abatementPeriod: FastPeriod | None
    abatementString: str | None
    abatementAge: None = None
    abatementRange: None = None


@dataclass(frozen=True, slots=True)
class FastProcedure:
    """The Procedure elements the ingest reads, with the attribute names of the R4B model."""

    status: str
    code: FastConcept | None
    performedDateTime: str | None
    performedPeriod: FastPeriod | None
    extension: tuple[FastExtension, ...] | None
    reasonReference: tuple[FastReference, ...] | None
    reasonCode: tuple[FastConcept, ...] | None


@dataclass(frozen=True, slots=True)
class FastPatient:
    """The Patient elements the ingest reads: gender and birth date as written."""

    gender: str | None
    birthDate: str | None


_EXTENSIONS = list_of(extension)
_CONCEPTS = list_of(CONCEPT)
_REFERENCES = list_of(REFERENCE)
_COMMON: dict[str, Check] = {
    "resourceType": string,
    "id": fhir_id,
    "meta": META,
    "identifier": list_of(IDENTIFIER),
    "extension": _EXTENSIONS,
}

_CONDITION = obj(
    {
        **_COMMON,
        "clinicalStatus": CONCEPT,
        "verificationStatus": CONCEPT,
        "category": _CONCEPTS,
        "severity": CONCEPT,
        "code": CONCEPT,
        "bodySite": _CONCEPTS,
        "subject": REFERENCE,
        "encounter": REFERENCE,
        "onsetDateTime": date_time,
        "onsetPeriod": PERIOD,
        "onsetString": string,
        "abatementDateTime": date_time,
        "abatementPeriod": PERIOD,
        "abatementString": string,
        "recordedDate": date_time,
        "recorder": REFERENCE,
        "asserter": REFERENCE,
    },
    required=frozenset({"subject"}),
)
_ONSET = frozenset({"onsetDateTime", "onsetPeriod", "onsetString", "onsetAge", "onsetRange"})
_ABATEMENT = frozenset({"abatementDateTime", "abatementPeriod", "abatementString", "abatementAge", "abatementRange"})

_PROCEDURE_STATUSES = frozenset(
    {"preparation", "in-progress", "not-done", "on-hold", "stopped", "completed", "entered-in-error", "unknown"}
)
_PROCEDURE = obj(
    {
        **_COMMON,
        "status": code,
        "statusReason": CONCEPT,
        "category": CONCEPT,
        "code": CONCEPT,
        "subject": REFERENCE,
        "encounter": REFERENCE,
        "performedDateTime": date_time,
        "performedPeriod": PERIOD,
        "performedString": string,
        "recorder": REFERENCE,
        "asserter": REFERENCE,
        "location": REFERENCE,
        "reasonCode": _CONCEPTS,
        "reasonReference": _REFERENCES,
        "bodySite": _CONCEPTS,
        "outcome": CONCEPT,
    },
    required=frozenset({"status", "subject"}),
)
_PERFORMED = frozenset({"performedDateTime", "performedPeriod", "performedString", "performedAge", "performedRange"})

_GENDERS = frozenset({"male", "female", "other", "unknown"})
_PATIENT = obj(
    {
        **_COMMON,
        "active": boolean,
        "name": list_of(HUMAN_NAME),
        "telecom": list_of(CONTACT_POINT),
        "gender": code,
        "birthDate": date,
        "deceasedBoolean": boolean,
        "deceasedDateTime": date_time,
        "address": list_of(ADDRESS),
        "maritalStatus": CONCEPT,
        "communication": list_of(obj({"language": CONCEPT, "preferred": boolean}, frozenset({"language"}))),
        "generalPractitioner": _REFERENCES,
        "managingOrganization": REFERENCE,
    }
)
_DECEASED = frozenset({"deceasedBoolean", "deceasedDateTime"})


def _body(raw: Any, resource_type: str, check: Check) -> dict[str, Any] | None:
    """Return ``raw`` when it is a JSON object of ``resource_type`` that passes ``check``."""
    if not isinstance(raw, dict) or raw.get("resourceType") != resource_type or not check(raw):
        return None
    return raw


def _concept_of(raw: dict[str, Any]) -> FastConcept:
    return FastConcept(coding=tuple(FastCoding(c.get("system"), c.get("code")) for c in raw.get("coding", ())))


def _concept(raw: Any) -> FastConcept | None:
    return None if raw is None else _concept_of(raw)


def _concepts(raw: Any) -> tuple[FastConcept, ...] | None:
    return None if raw is None else tuple(_concept_of(c) for c in raw)


def _period(raw: Any) -> FastPeriod | None:
    return None if raw is None else FastPeriod(start=raw.get("start"), end=raw.get("end"))


def _extensions(raw: Any) -> tuple[FastExtension, ...] | None:
    if raw is None:
        return None
    return tuple(
        FastExtension(
            url=ext["url"],
            valueCodeableConcept=_concept(ext.get("valueCodeableConcept")),
            extension=_extensions(ext.get("extension")),
        )
        for ext in raw
    )


def fast_condition(raw: Any) -> FastCondition | None:
    """Return the read elements of a common, well-formed Condition, or None when full validation must decide."""
    body = _body(raw, "Condition", _CONDITION)
    if body is None or not one_choice(body, _ONSET) or not one_choice(body, _ABATEMENT):
        return None
    return FastCondition(
        code=_concept(body.get("code")),
        clinicalStatus=_concept(body.get("clinicalStatus")),
        verificationStatus=_concept(body.get("verificationStatus")),
        bodySite=_concepts(body.get("bodySite")),
        extension=_extensions(body.get("extension")),
        onsetDateTime=body.get("onsetDateTime"),
        onsetPeriod=_period(body.get("onsetPeriod")),
        recordedDate=body.get("recordedDate"),
        abatementDateTime=body.get("abatementDateTime"),
        abatementPeriod=_period(body.get("abatementPeriod")),
        abatementString=body.get("abatementString"),
    )


def fast_procedure(raw: Any) -> FastProcedure | None:
    """Return the read elements of a common, well-formed Procedure, or None when full validation must decide."""
    body = _body(raw, "Procedure", _PROCEDURE)
    if body is None or not one_choice(body, _PERFORMED):
        return None
    status = body["status"]
    if status not in _PROCEDURE_STATUSES:
        return None
    reasons = body.get("reasonReference")
    return FastProcedure(
        status=status,
        code=_concept(body.get("code")),
        performedDateTime=body.get("performedDateTime"),
        performedPeriod=_period(body.get("performedPeriod")),
        extension=_extensions(body.get("extension")),
        reasonReference=None if reasons is None else tuple(FastReference(r.get("reference")) for r in reasons),
        reasonCode=_concepts(body.get("reasonCode")),
    )


def fast_patient(raw: Any) -> FastPatient | None:
    """Return gender and birth date of a common, well-formed Patient, or None when full validation must decide."""
    body = _body(raw, "Patient", _PATIENT)
    if body is None or not one_choice(body, _DECEASED):
        return None
    gender = body.get("gender")
    if gender is not None and gender not in _GENDERS:
        return None
    return FastPatient(gender=gender, birthDate=body.get("birthDate"))
