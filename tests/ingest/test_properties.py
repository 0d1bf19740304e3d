"""Properties: irrelevant resources and order never change the profile; malformed resources never raise."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nelm_fhir.ingest import ingest
from tests.ingest.builders import (
    FINDING,
    LOINC,
    PATIENT,
    SNOMED,
    cc,
    finding,
    ki67,
    med_request,
    observation,
    quantity,
    specimen,
    tumour_size,
)
from tests.ingest.builders import baseline as baseline_resources

AS_OF = dt.date(2026, 11, 26)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Codes the mappings do not know: vital signs, unrelated labs and diagnoses.
IRRELEVANT_LOINC = ["8867-4", "8480-6", "8462-4", "29463-7", "8302-2", "2345-7", "2951-2", "4548-4", "2093-3"]
IRRELEVANT_SNOMED = ["38341003", "44054006", "195967001", "73211009", "233604007"]

safe_text = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 -._", max_size=12)
json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(-1000, 1000), st.floats(allow_nan=False, width=32), safe_text
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(safe_text, inner, max_size=3)),
    max_leaves=8,
)


def full_record() -> list[dict[str, Any]]:
    """Return baseline patient B with every kind of relevant resource."""
    return [
        *baseline_resources(),
        ki67("ki", 4.0, specimen="Specimen/s1"),
        specimen("s1", "10200004"),
        tumour_size("ts", 30, "mm", near_hilum=True),
        finding("flr", "flr-percent", valueQuantity=quantity(40, "%")),
        finding("fr", "frilling-type", valueCodeableConcept=cc(FINDING, "type-II")),
        med_request("ssa", cc("http://www.nlm.nih.gov/research/umls/rxnorm", "312068")),
    ]


@st.composite
def irrelevant_resource(draw: st.DrawFn) -> dict[str, Any]:
    """Return a resource the pathway does not read (possibly malformed: irrelevant ones are never validated)."""
    index = draw(st.integers(0, 10_000))
    kind = draw(st.sampled_from(["vital", "condition", "encounter", "allergy", "junk-observation"]))
    if kind == "vital":
        return observation(
            f"irr-{index}",
            cc(LOINC, draw(st.sampled_from(IRRELEVANT_LOINC))),
            category="vital-signs",
            valueQuantity=quantity(draw(st.floats(0, 300)), "mm[Hg]"),
        )
    if kind == "condition":
        return {
            "resourceType": "Condition",
            "id": f"irr-{index}",
            "code": cc(SNOMED, draw(st.sampled_from(IRRELEVANT_SNOMED))),
            "subject": {"reference": PATIENT},
            "onsetDateTime": draw(json_value),
        }
    if kind == "encounter":
        return {
            "resourceType": "Encounter",
            "id": f"irr-{index}",
            "status": "finished",
            "subject": {"reference": PATIENT},
        }
    if kind == "allergy":
        return {"resourceType": "AllergyIntolerance", "id": f"irr-{index}", "patient": {"reference": PATIENT}}
    return {"resourceType": "Observation", "id": f"irr-{index}", "code": draw(json_value), "value": draw(json_value)}


def _bundle(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


REFERENCE = ingest(_bundle(full_record()), as_of=AS_OF)


@SETTINGS
@given(extra=st.lists(irrelevant_resource(), max_size=12), data=st.data())
def test_irrelevant_resources_and_order_never_change_the_profile(
    extra: list[dict[str, Any]], data: st.DataObject
) -> None:
    resources = data.draw(st.permutations([*full_record(), *extra]))
    assert ingest(_bundle(resources), as_of=AS_OF) == REFERENCE


@SETTINGS
@given(resources=st.permutations(full_record()))
def test_order_never_changes_the_profile(resources: list[dict[str, Any]]) -> None:
    assert ingest(resources, as_of=AS_OF) == REFERENCE


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            if key not in {"resourceType", "id", "subject", "patient"}:
                found.extend(_paths(inner, (*prefix, key)))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found.extend(_paths(inner, (*prefix, index)))
    return found


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    copy = json.loads(json.dumps(value))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return copy


@st.composite
def mutated_record(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Return the full record with a few elements of relevant resources replaced by random JSON."""
    resources = full_record()
    for _ in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, len(resources) - 1))
        paths = _paths(resources[index])
        if not paths:
            continue
        path = draw(st.sampled_from(paths))
        resources[index] = _replace(resources[index], path, draw(json_value))
    return resources


@SETTINGS
@given(resources=mutated_record(), data=st.data())
def test_malformed_resources_never_raise_and_order_still_does_not_matter(
    resources: list[dict[str, Any]], data: st.DataObject
) -> None:
    first = ingest(_bundle(resources), as_of=AS_OF)
    shuffled = data.draw(st.permutations(resources))
    assert ingest(_bundle(shuffled), as_of=AS_OF) == first
    for problem in first.problems:
        assert problem.path and problem.message and problem.severity in {"error", "warning"}


@SETTINGS
@given(value=json_value)
def test_any_json_in_a_relevant_value_is_a_problem_or_a_fact(value: Any) -> None:
    obs = observation("hb", cc(LOINC, "718-7"))
    obs["valueQuantity"] = value
    profile = ingest([obs], as_of=AS_OF)
    assert bool(profile.labs) != bool(profile.problems)


def test_malformed_supporting_resources_are_not_fatal() -> None:
    from tests.ingest.builders import tumour_size

    k = ki67("k", 4.0, specimen="#spec")
    k["contained"] = 5
    lesion = tumour_size("ts", 2.0, focus="BodyStructure/b")
    structure = {
        "resourceType": "BodyStructure",
        "id": "b",
        "extension": [{"url": "x/mcode-related-condition", "valueReference": []}, "junk"],
        "identifier": "not-a-list",
        "location": 7,
    }
    medication = {"resourceType": "Medication", "id": "m", "code": "x", "ingredient": "y"}
    request = med_request("r", cc("http://www.nlm.nih.gov/research/umls/rxnorm", "0"))
    del request["medicationCodeableConcept"]
    request["medicationReference"] = {"reference": "Medication/m"}
    spec = specimen("s", "10200004")
    spec["collection"] = ["junk"]
    k2 = ki67("k2", 5.0, specimen="Specimen/s")
    profile = ingest([k, lesion, structure, medication, request, spec, k2], as_of=AS_OF)
    assert [r.source for r in profile.ki67] == ["Observation/k2"]
    assert any(p.path.startswith("Observation/k.contained") for p in profile.problems)
    assert [lesion.size_cm for lesion in profile.lesions] == [2.0]
