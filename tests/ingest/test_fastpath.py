"""The cheap Observation check never accepts what full FHIR R4B validation rejects, and reads the same values."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.observation import Observation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from nelm_fhir.ingest.fastpath import fast_observation
from tests.ingest.builders import LOINC, cc, lab, observation

odd = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=False),
    st.text(max_size=6),
    st.just([]),
    st.just({}),
)
dates = st.one_of(
    st.sampled_from(["2026-11-01", "2026-11", "2026", "2026-11-01T10:00:00Z", "2026-11-01T10:00:00"]), odd
)
statuses = st.one_of(st.sampled_from(["final", "preliminary", "amended", "cancelled", "bogus", "Final"]), odd)
units = st.one_of(st.sampled_from(["g/dL", "10*9/L", "mg/dL", "a b", " g/dL"]), odd)
quantities = st.one_of(
    st.fixed_dictionaries(
        {"value": st.one_of(st.floats(-1e6, 1e6), st.integers(-10, 10**6), odd)},
        optional={
            "unit": units,
            "system": units,
            "code": units,
            "comparator": st.one_of(st.sampled_from(["<", ">=", "~"]), odd),
        },
    ),
    odd,
)
values = st.one_of(
    st.fixed_dictionaries({"valueQuantity": quantities}),
    st.fixed_dictionaries({"valueInteger": st.one_of(st.integers(-(2**40), 2**40), odd)}),
    st.fixed_dictionaries({"valueBoolean": odd}),
    st.fixed_dictionaries({"valueCodeableConcept": st.one_of(st.just(cc(LOINC, "LA9622-7")), odd)}),
    st.just({"valueQuantity": {"value": 1, "unit": "g/dL"}, "valueInteger": 1}),
    st.just({}),
)


ref_text = st.one_of(st.sampled_from(["Condition/c1", "urn:uuid:1", " Condition/c1", "", "a b"]), odd)
references = st.fixed_dictionaries(
    {}, optional={"reference": ref_text, "display": ref_text, "type": ref_text, "identifier": odd}
)
focuses = st.one_of(st.lists(references, max_size=3), odd)


@st.composite
def observations(draw: st.DrawFn) -> dict[str, Any]:
    obs = observation("o1", cc(LOINC, "718-7"))
    obs.pop("effectiveDateTime")
    obs.update(draw(values))
    if draw(st.booleans()):
        obs["status"] = draw(statuses)
    if draw(st.booleans()):
        obs["effectiveDateTime"] = draw(dates)
    if draw(st.booleans()):
        obs["issued"] = draw(dates)
    if draw(st.booleans()):
        obs["id"] = draw(st.one_of(st.sampled_from(["ok-1", "bad id", "x" * 65]), odd))
    if draw(st.booleans()):
        obs["code"] = draw(st.one_of(st.just({"coding": [{"system": 1, "code": "x"}]}), odd))
    if draw(st.booleans()):
        obs[draw(st.sampled_from(["valueQuantityy", "note", "referenceRange", "subject"]))] = draw(odd)
    if draw(st.booleans()):
        obs["focus"] = draw(focuses)
    return obs


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=observations())
def test_fast_check_accepts_only_what_r4b_accepts_and_reads_the_same_value(raw: dict[str, Any]) -> None:
    fast = fast_observation(raw)
    if fast is None:
        return
    try:
        model = Observation.model_validate(raw)
    except ValidationError as exc:  # pragma: no cover - the failure this test exists to find
        raise AssertionError(f"fast path accepted an invalid Observation: {exc}") from exc
    assert fast.status == model.status
    if fast.valueQuantity is not None:
        assert model.valueQuantity is not None
        assert fast.valueQuantity.value == float(model.valueQuantity.value)
        assert (fast.valueQuantity.unit, fast.valueQuantity.code) == (
            model.valueQuantity.unit,
            model.valueQuantity.code,
        )
    if fast.valueInteger is not None:
        assert fast.valueInteger == model.valueInteger
    if fast.valueBoolean is not None:
        assert fast.valueBoolean is model.valueBoolean
    if fast.focus is not None or model.focus is not None:
        assert fast.focus is not None and model.focus is not None
        assert [f.reference for f in fast.focus] == [f.reference for f in model.focus]


def test_a_disease_status_with_its_focus_takes_the_fast_path() -> None:
    status = observation("ds", cc(LOINC, "97509-4"), valueCodeableConcept=cc("http://snomed.info/sct", "359746009"))
    status["focus"] = [{"reference": "Condition/nelm", "display": "NELM"}]
    fast = fast_observation(status)
    assert fast is not None and fast.focus is not None and [f.reference for f in fast.focus] == ["Condition/nelm"]
    status["focus"] = [{"reference": "Condition/nelm", "identifier": {"value": "x"}}]
    assert fast_observation(status) is None  # an element of the Reference the fast path does not check


def test_a_routine_lab_takes_the_fast_path_and_a_complex_one_does_not() -> None:
    assert fast_observation(lab("hb", "718-7", 13.5, "g/dL")) is not None
    with_specimen = lab("hb", "718-7", 13.5, "g/dL", specimen={"reference": "Specimen/s"})
    assert fast_observation(with_specimen) is None


def test_a_code_r4b_rejects_is_never_taken_by_the_fast_path() -> None:
    # R4B rejects a code with surrounding whitespace and an empty text; the fast path used to accept both.
    spaced = lab("hb", "718-7", 13.5, "g/dL")
    spaced["code"] = {"coding": [{"system": LOINC, "code": " 718-7"}]}
    assert fast_observation(spaced) is None
    empty_text = lab("hb", "718-7", 13.5, "g/dL")
    empty_text["code"] = {**cc(LOINC, "718-7"), "text": ""}
    assert fast_observation(empty_text) is None
    with_extension = lab("hb", "718-7", 13.5, "g/dL")
    with_extension["valueQuantity"]["extension"] = 5
    assert fast_observation(with_extension) is None


liver = cc("http://snomed.info/sct", "10200004")
sites = st.sampled_from([liver, liver, {"coding": [{"code": " x"}]}, {"text": ""}, [], {}, "liver"])
component_values = st.one_of(
    st.just({}),
    st.just({"valueQuantity": {"value": 4.0, "unit": "cm"}}),
    st.fixed_dictionaries({"valueQuantity": quantities}),
    st.fixed_dictionaries({"valueBoolean": st.one_of(st.booleans(), odd)}),
    st.fixed_dictionaries({"valueCodeableConcept": st.one_of(st.just(cc(LOINC, "LA9622-7")), odd)}),
    st.fixed_dictionaries({"valueBoolean": st.booleans(), "valueInteger": st.integers(0, 3)}),
    st.fixed_dictionaries({"interpretation": odd}),
)


@st.composite
def a_component(draw: st.DrawFn) -> dict[str, Any]:
    size = cc(LOINC, "33728-7")
    code = draw(st.sampled_from([size, size, size, {"coding": [{"code": "a", "display": ""}]}, {}, [size], None]))
    return {"code": code, **draw(component_values)}


components = st.lists(a_component(), min_size=1, max_size=3)


@st.composite
def located_observations(draw: st.DrawFn) -> dict[str, Any]:
    obs = lab("t", "21889-1", 4.0, "cm")
    if draw(st.booleans()):
        obs["bodySite"] = draw(sites)
    if draw(st.booleans()):
        obs["component"] = draw(st.one_of(components, st.sampled_from([[], {}, None, [{}], "x"])))
        if draw(st.booleans()):
            for key in ("valueQuantity", "valueInteger", "valueBoolean", "valueCodeableConcept"):
                obs.pop(key, None)
    return obs


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=located_observations())
def test_fast_check_of_body_site_and_components_accepts_only_what_r4b_accepts(raw: dict[str, Any]) -> None:
    fast = fast_observation(raw)
    if fast is None:
        return
    try:
        model = Observation.model_validate(raw)
    except ValidationError as exc:  # pragma: no cover - the failure this test exists to find
        raise AssertionError(f"fast path accepted an invalid Observation: {exc}") from exc
    assert (fast.component is None) == (model.component is None)
    for mine, theirs in zip(fast.component or (), model.component or (), strict=True):
        assert [(c.system, c.code) for c in mine.code.coding] == [(c.system, c.code) for c in theirs.code.coding or ()]
        if mine.valueQuantity is not None:
            assert theirs.valueQuantity is not None
            assert mine.valueQuantity.value == float(theirs.valueQuantity.value)
            assert mine.valueQuantity.code == theirs.valueQuantity.code
        assert (mine.valueQuantity is None) == (theirs.valueQuantity is None)
        assert mine.valueBoolean == theirs.valueBoolean


def test_a_liver_ki67_and_a_tumour_size_with_components_take_the_fast_path() -> None:
    ki67 = observation("k", cc(LOINC, "29593-1"), valueQuantity={"value": 4, "unit": "%"})
    ki67["bodySite"] = cc("http://snomed.info/sct", "10200004")
    assert fast_observation(ki67) is not None
    size = observation("t", cc(LOINC, "21889-1"))
    size["component"] = [{"code": cc(LOINC, "33728-7"), "valueQuantity": {"value": 4.0, "unit": "cm"}}]
    fast = fast_observation(size)
    assert fast is not None and fast.component is not None and fast.component[0].valueQuantity is not None
    size["component"][0]["referenceRange"] = [{"text": "n/a"}]
    assert fast_observation(size) is None  # an element of a component the fast path does not check
