"""The cheap medication check never accepts what full FHIR R4B validation rejects, and reads the same values."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.medicationadministration import MedicationAdministration
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.medicationstatement import MedicationStatement
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from nelm_fhir.ingest.fastmeds import fast_medication
from tests.ingest.builders import PATIENT, RXNORM, cc, med_request

MODELS = {
    "MedicationRequest": MedicationRequest,
    "MedicationStatement": MedicationStatement,
    "MedicationAdministration": MedicationAdministration,
}
odd = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.text(max_size=5), st.just([]), st.just({}))
dates = st.one_of(
    st.sampled_from(["2026-01-10", "2026-01", "2026-01-10T10:00:00Z", "2026-01-10T10:00:00+05:00", "2026-13-01"]), odd
)
statuses = st.sampled_from(
    ["active", "completed", "stopped", "on-hold", "in-progress", "not-done", "draft", "intended", "x"]
)


@st.composite
def medications(draw: st.DrawFn) -> dict[str, Any]:
    rtype = draw(st.sampled_from(sorted(MODELS)))
    raw: dict[str, Any] = {"resourceType": rtype, "id": "m1", "status": draw(st.one_of(statuses, odd))}
    raw["subject"] = draw(st.one_of(st.just({"reference": PATIENT}), odd))
    choice = draw(st.integers(0, 3))
    if choice in (0, 2):
        raw["medicationCodeableConcept"] = draw(st.one_of(st.just(cc(RXNORM, "312068")), odd))
    if choice in (1, 2):
        raw["medicationReference"] = draw(st.one_of(st.just({"reference": "Medication/x"}), odd))
    if rtype == "MedicationRequest":
        raw["intent"] = draw(st.one_of(st.sampled_from(["order", "plan", "proposal", "bogus"]), odd))
        if draw(st.booleans()):
            raw["authoredOn"] = draw(dates)
    else:
        if draw(st.booleans()):
            raw["effectiveDateTime"] = draw(dates)
        if draw(st.booleans()):
            raw["effectivePeriod"] = draw(
                st.one_of(st.fixed_dictionaries({}, optional={"start": dates, "end": dates}), odd)
            )
    if draw(st.booleans()):
        raw[draw(st.sampled_from(["note", "reasonCode", "dosage", "medication", "subjectt"]))] = draw(odd)
    return raw


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=medications())
def test_fast_check_accepts_only_what_r4b_accepts(raw: dict[str, Any]) -> None:
    fast = fast_medication(raw)
    if fast is None:
        return
    try:
        model = MODELS[raw["resourceType"]].model_validate(raw)
    except ValidationError as exc:  # pragma: no cover - the failure this test exists to find
        raise AssertionError(f"fast path accepted an invalid {raw['resourceType']}: {exc}") from exc
    assert fast.status == model.status
    if raw["resourceType"] == "MedicationRequest":
        assert fast.intent == model.intent


def test_a_routine_order_takes_the_fast_path() -> None:
    assert fast_medication(med_request("m", cc(RXNORM, "312068"))) is not None
    contained = med_request("m", cc(RXNORM, "312068"), contained=[{"resourceType": "Medication", "id": "x"}])
    assert fast_medication(contained) is None
