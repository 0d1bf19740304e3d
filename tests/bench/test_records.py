"""The synthetic records of the benchmark: exact sizes, deterministic, valid FHIR R4 shaped like a chart."""

from __future__ import annotations

import json

import pytest
from fhir.resources.R4B.bundle import Bundle

from bench.records import count_by_type, make_record

RELEVANT_LAB_CODES = {"718-7", "777-3", "6690-2", "751-8", "1975-2", "1751-7", "6301-6", "2160-0", "98979-8"}


def _loinc_codes(bundle: dict) -> list[str]:
    codes = []
    for entry in bundle["entry"]:
        res = entry["resource"]
        if res["resourceType"] == "Observation":
            codes += [c["code"] for c in res["code"]["coding"] if c["system"] == "http://loinc.org"]
    return codes


@pytest.mark.parametrize("size", [50, 200, 1000])
@pytest.mark.parametrize("mix", ["realistic", "irrelevant"])
def test_record_has_exactly_the_size_asked(size: int, mix: str) -> None:
    bundle = make_record(size, mix=mix)
    assert bundle["resourceType"] == "Bundle"
    assert len(bundle["entry"]) == size
    ids = [(e["resource"]["resourceType"], e["resource"]["id"]) for e in bundle["entry"]]
    assert len(set(ids)) == size


def test_same_seed_same_record_other_seed_other_values() -> None:
    a, b, c = make_record(200, seed=7), make_record(200, seed=7), make_record(200, seed=8)
    assert json.dumps(a) == json.dumps(b)
    assert json.dumps(a) != json.dumps(c)


def test_larger_record_extends_the_smaller_one() -> None:
    small, large = make_record(200), make_record(1000)
    assert large["entry"][:200] == small["entry"]


def test_realistic_record_holds_years_of_monthly_labs_and_irrelevant_data() -> None:
    bundle = make_record(1000)
    codes = _loinc_codes(bundle)
    assert codes.count("718-7") >= 36  # three years of monthly haemoglobin
    assert codes.count("9811-1") >= 12  # quarterly chromogranin A
    assert codes.count("8867-4") >= 36  # vitals at every visit
    assert count_by_type(bundle)["Encounter"] >= 36
    for core in ("29593-1", "21889-1", "97509-4", "89247-1"):
        assert core in codes


def test_irrelevant_mix_keeps_the_core_but_no_monthly_relevant_labs() -> None:
    codes = _loinc_codes(make_record(1000, mix="irrelevant"))
    assert not RELEVANT_LAB_CODES & set(codes)
    assert "29593-1" in codes
    assert sum(1 for c in codes if c in {"8867-4", "2345-7"}) > 100


def test_every_reference_resolves_inside_the_record() -> None:
    bundle = make_record(200)
    present = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]}
    present.add("Practitioner/onc-1")  # the requester lives in the EHR's directory, not in the chart
    text = json.dumps(bundle)
    refs = {part.split('"')[0] for part in text.split('"reference": "')[1:]}
    assert refs <= present, refs - present


def test_record_is_valid_fhir_r4() -> None:
    Bundle.model_validate(make_record(200))


def test_too_small_or_unknown_mix_is_refused() -> None:
    with pytest.raises(ValueError, match="at least"):
        make_record(5)
    with pytest.raises(ValueError, match="unknown mix"):
        make_record(200, mix="random")
