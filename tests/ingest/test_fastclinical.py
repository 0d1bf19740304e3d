"""The quick Condition / Procedure / Patient check never accepts what R4B rejects, and reads the same values.

A differential test: realistic resources are mutated at random places (values replaced by odd
JSON, near-valid FHIR strings or other datatypes; elements removed; unknown or choice elements
added) and whenever the quick path accepts one, full ``fhir.resources`` R4B validation must accept
it too and yield the same values the readers use.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.procedure import Procedure
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from nelm_fhir.ingest import ingest
from nelm_fhir.ingest.common import model_codings, to_date
from nelm_fhir.ingest.fastclinical import fast_condition, fast_patient, fast_procedure
from nelm_fhir.ingest.procedure import _extension_codings
from tests.ingest.builders import ICD10PCS, MCODE, SNOMED, cc, nelm, patient, primary, procedure

AS_OF = dt.date(2026, 11, 26)
HISTOLOGY = f"{MCODE}/mcode-histology-morphology-behavior"

odd = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=False),
    st.text(max_size=5),
    st.just([]),
    st.just({}),
    st.just([{}]),
    st.just([None]),
)
near_valid = st.sampled_from(
    [
        "2026-02-30",
        "2026-11-01T10:00:00",
        "2026-11-01T10:00:60Z",
        "2026-11-01T24:00:00Z",
        "2026-11-01T10:00:00+05:00",
        "2026-13",
        "2026-11",
        "0000",
        " x",
        "a  b",
        "a b",
        "http://x y",
        "bogus",
        "female",
        "completed",
        "in progress",
        "x" * 65,
        "Patient/p1",
    ]
)
datatypes = st.sampled_from(
    [
        cc(SNOMED, "10200004"),
        {"coding": [{"system": SNOMED, "code": "10200004", "extra": 1}]},
        {"coding": [{"system": SNOMED, "code": "x", "id": "c1"}]},
        {"text": "only text"},
        {"reference": "Patient/p1"},
        {"reference": "Patient/p1", "identifier": {"value": "x"}},
        {"start": "2024-01-01", "end": "2023-01-01"},
        {"url": "http://x", "valueString": "a"},
        {"url": "http://x", "valueString": "a", "valueBoolean": True},
        {"url": "http://x", "extension": [{"url": "a", "valueCode": "b"}]},
        {"url": "http://x", "valueString": "a", "extension": [{"url": "a", "valueCode": "b"}]},
        {"valueString": "a"},
        [{"url": "http://x", "valueCodeableConcept": cc(SNOMED, "1286768001")}],
        [{"url": "http://x", "valueInteger": 3}],
        [cc(SNOMED, "34516001")],
        [{"reference": "Condition/primary"}],
        [{"family": "X", "given": ["A", ""]}],
        [{"system": "phone", "value": "1", "rank": 0}],
        [{"language": {"text": "en"}}],
        [{"preferred": True}],
        {"profile": ["http://x"], "lastUpdated": "2026-11-01"},
        {"profile": ["http://x"], "lastUpdated": "2026-11-01T10:00:00Z", "versionId": "1"},
    ]
)
replacements = st.one_of(odd, near_valid, datatypes)
added_keys = st.sampled_from(
    [
        "foo",
        "_onsetDateTime",
        "_birthDate",
        "modifierExtension",
        "contained",
        "text",
        "implicitRules",
        "onsetString",
        "onsetAge",
        "abatementDateTime",
        "abatementString",
        "performedString",
        "performedPeriod",
        "deceasedBoolean",
        "deceasedDateTime",
        "communication",
        "telecom",
        "address",
        "note",
        "stage",
        "evidence",
        "location",
        "resourceType",
        "status",
        "subject",
        "id",
        "meta",
        "extension",
    ]
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Return the path of every element below ``value`` (object keys and array indexes)."""
    found: list[tuple[Any, ...]] = []
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        found.append((*prefix, key))
        found.extend(_paths(child, (*prefix, key)))
    return found


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """Return ``base`` with one to three random changes."""
    raw = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        paths = _paths(raw)
        if action == "add" or not paths:
            holders = [p for p in [(), *paths] if isinstance(_at(raw, p), dict)]
            holder = _at(raw, draw(st.sampled_from(holders)))
            holder[draw(added_keys)] = copy.deepcopy(draw(replacements))
            continue
        path = draw(st.sampled_from(paths))
        parent = _at(raw, path[:-1])
        if action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = copy.deepcopy(draw(replacements))
    return raw


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


def _accepted(model: type[BaseModel], raw: dict[str, Any]) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:  # pragma: no cover - the failure this test exists to find
        raise AssertionError(f"quick path accepted an invalid {model.__name__}: {exc}") from exc


def _period_dates(period: Any) -> tuple[Any, Any] | None:
    return None if period is None else (to_date(period.start), to_date(period.end))


def _concepts(concepts: Any) -> list[list[tuple[str | None, str | None]]] | None:
    return None if concepts is None else [model_codings(c) for c in concepts]


CONDITION = primary(
    extension=[{"url": HISTOLOGY, "valueCodeableConcept": cc(SNOMED, "1286768001")}],
    body_site="34516001",
    recordedDate="2024-06-02T10:00:00Z",
    meta={"profile": [f"{MCODE}/mcode-primary-cancer-condition"], "lastUpdated": "2026-01-01T00:00:00Z"},
    identifier=[{"system": "https://ehr.example.org/cond", "value": "c-1"}],
    encounter={"reference": "Encounter/e1", "display": "Visit"},
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=mutated(CONDITION))
def test_quick_condition_accepts_only_what_r4b_accepts_and_reads_the_same(raw: dict[str, Any]) -> None:
    fast = fast_condition(raw)
    if fast is None:
        return
    model = _accepted(Condition, raw)
    for name in ("code", "clinicalStatus", "verificationStatus"):
        assert model_codings(getattr(fast, name)) == model_codings(getattr(model, name))
    assert _concepts(fast.bodySite) == _concepts(model.bodySite)
    assert [(e.url, model_codings(e.valueCodeableConcept)) for e in fast.extension or ()] == [
        (e.url, model_codings(e.valueCodeableConcept)) for e in model.extension or ()
    ]
    assert to_date(fast.onsetDateTime) == to_date(model.onsetDateTime)
    assert to_date(fast.recordedDate) == to_date(model.recordedDate)
    assert _period_dates(fast.onsetPeriod) == _period_dates(model.onsetPeriod)
    for name in ("abatementDateTime", "abatementPeriod", "abatementString", "abatementAge", "abatementRange"):
        assert (getattr(fast, name) is None) == (getattr(model, name) is None)


PROCEDURE = procedure(
    "whipple",
    {"coding": [{"system": SNOMED, "code": "387713003"}, {"system": ICD10PCS, "code": "0DTB0ZZ"}]},
    date="2024-07-01T10:00:00Z",
    reasonReference=[{"reference": "Condition/primary", "display": "Ileal NET"}],
    reasonCode=[cc(SNOMED, "737313007")],
    extension=[
        {"url": f"{MCODE}/mcode-procedure-intent", "valueCodeableConcept": cc(SNOMED, "373808002")},
        {"url": "http://x/outer", "extension": [{"url": "inner", "valueCodeableConcept": cc(SNOMED, "1")}]},
    ],
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=mutated(PROCEDURE))
def test_quick_procedure_accepts_only_what_r4b_accepts_and_reads_the_same(raw: dict[str, Any]) -> None:
    fast = fast_procedure(raw)
    if fast is None:
        return
    model = _accepted(Procedure, raw)
    assert fast.status == model.status
    assert model_codings(fast.code) == model_codings(model.code)
    assert to_date(fast.performedDateTime) == to_date(model.performedDateTime)
    assert _period_dates(fast.performedPeriod) == _period_dates(model.performedPeriod)
    assert _extension_codings(fast.extension) == _extension_codings(model.extension)
    assert [r.reference for r in fast.reasonReference or ()] == [r.reference for r in model.reasonReference or ()]
    assert _concepts(fast.reasonCode) == _concepts(model.reasonCode)


PATIENT = {
    **patient(),
    "extension": [
        {
            "url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race",
            "extension": [
                {"url": "ombCategory", "valueCoding": {"system": "urn:oid:2.16.840.1.113883.6.238", "code": "2106-3"}},
                {"url": "text", "valueString": "White"},
            ],
        }
    ],
    "telecom": [{"system": "phone", "value": "555-0100", "use": "home", "rank": 1}],
    "address": [{"line": ["1 Main St"], "city": "Springfield", "postalCode": "12345", "country": "US"}],
    "communication": [{"language": cc("urn:ietf:bcp:47", "en-US"), "preferred": True}],
    "deceasedBoolean": False,
}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=mutated(PATIENT))
def test_quick_patient_accepts_only_what_r4b_accepts_and_reads_the_same(raw: dict[str, Any]) -> None:
    fast = fast_patient(raw)
    if fast is None:
        return
    model = _accepted(Patient, raw)
    assert fast.gender == model.gender
    assert to_date(fast.birthDate) == to_date(model.birthDate)
    # read_patient warns about a birth date without a day when the model keeps it as text
    partial = isinstance(model.birthDate, str) and len(model.birthDate) < 10
    assert partial == (fast.birthDate is not None and len(fast.birthDate) < 10)


def test_common_records_take_the_quick_path_and_unusual_ones_fall_back() -> None:
    assert fast_condition(CONDITION) is not None
    assert fast_procedure(PROCEDURE) is not None
    assert fast_patient(PATIENT) is not None
    assert fast_condition({**CONDITION, "onsetString": "in 2024"}) is None  # two onset[x]
    assert fast_condition({**CONDITION, "stage": [{"summary": cc(SNOMED, "1")}]}) is None  # not a listed element
    assert fast_procedure({**PROCEDURE, "status": "done"}) is None  # not a Procedure status
    assert fast_patient({**PATIENT, "gender": "F"}) is None
    assert fast_patient({**PATIENT, "_birthDate": {"extension": [{"url": "x", "valueString": "y"}]}}) is None


def test_an_invalid_condition_still_reports_its_fhir_path() -> None:
    bad = nelm(onset="2024-02-30")
    profile = ingest([patient(), primary(), bad], as_of=AS_OF)
    assert any(p.path.startswith("Condition/nelm.onsetDateTime") for p in profile.problems)
    assert profile.nelm == ()


def test_quick_and_full_validation_give_the_same_profile() -> None:
    records = [PATIENT, CONDITION, nelm(), PROCEDURE]
    quick = ingest(copy.deepcopy(records), as_of=AS_OF)
    # A narrative (not checked by the quick path) sends each resource through full validation: same profile.
    slow_records = copy.deepcopy(records)
    for resource in slow_records:
        resource["text"] = {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'}
        assert (fast_condition(resource), fast_procedure(resource), fast_patient(resource)) == (None, None, None)
    slow = ingest(slow_records, as_of=AS_OF)
    assert quick.nelm and quick.primary is not None and quick.sex == "female"
    assert quick == slow
