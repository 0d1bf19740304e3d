"""The demo EHR's record keeping: prefetch answered from a Bundle as an EHR answers it, draft orders."""

from __future__ import annotations

from typing import Any

import pytest

from cds_hooks.demo.patients import DemoDataError, draft_order, fulfil_prefetch, render_template

LOINC = "http://loinc.org"


def _obs(oid: str, code: str, value: float, date: str, patient: str = "p1") -> dict[str, Any]:
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "code": {"coding": [{"system": LOINC, "code": code}]},
            "subject": {"reference": f"Patient/{patient}"}, "effectiveDateTime": date,
            "valueQuantity": {"value": value, "unit": "%"}}


BUNDLE = {
    "resourceType": "Bundle", "type": "collection",
    "entry": [{"resource": r} for r in [
        {"resourceType": "Patient", "id": "p1", "birthDate": "1971-05-01"},
        {"resourceType": "Patient", "id": "p2"},
        _obs("ki67-old", "29593-1", 2.0, "2025-01-10"),
        _obs("ki67-new", "29593-1", 12.0, "2026-10-01"),
        _obs("bili", "1975-2", 0.6, "2026-11-01"),
        _obs("other-patient", "29593-1", 50.0, "2026-11-20", patient="p2"),
        {"resourceType": "Condition", "id": "nelm", "subject": {"reference": "Patient/p1"},
         "code": {"coding": [{"system": "http://snomed.info/sct", "code": "94381002"}]},
         "clinicalStatus": {"coding": [{"code": "active"}]}},
    ]],
}
CONTEXT = {"patientId": "p1", "userId": "Practitioner/dr1"}


def _ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle["entry"]]


def test_instance_read_returns_the_resource_or_null() -> None:
    out = fulfil_prefetch(BUNDLE, {"patient": "Patient/{{context.patientId}}", "nobody": "Patient/zz"}, CONTEXT)
    assert out["patient"]["id"] == "p1"
    assert out["nobody"] is None  # known empty, as CDS Hooks 2.0 requires for a read


def test_search_filters_by_patient_and_code_and_sorts_newest_first() -> None:
    out = fulfil_prefetch(BUNDLE, {"ki67": f"Observation?patient={{{{context.patientId}}}}&code={LOINC}|29593-1"
                                           "&_sort=-date"}, CONTEXT)
    assert out["ki67"]["type"] == "searchset"
    assert _ids(out["ki67"]) == ["ki67-new", "ki67-old"]  # never the other patient's result


def test_count_and_alternative_codes() -> None:
    latest = fulfil_prefetch(BUNDLE, {"k": "Observation?patient=Patient/p1&code=29593-1&_sort=-date&_count=1"}, CONTEXT)
    assert _ids(latest["k"]) == ["ki67-new"]
    labs = fulfil_prefetch(BUNDLE, {"l": f"Observation?subject=p1&code={LOINC}|1975-2,{LOINC}|718-7"}, CONTEXT)
    assert _ids(labs["l"]) == ["bili"]
    wrong_system = fulfil_prefetch(BUNDLE, {"l": "Observation?patient=p1&code=http://other|1975-2"}, CONTEXT)
    assert _ids(wrong_system["l"]) == []


def test_date_prefixes() -> None:
    out = fulfil_prefetch(BUNDLE, {"recent": "Observation?patient=p1&date=ge2026-01-01"}, CONTEXT)
    assert sorted(_ids(out["recent"])) == ["bili", "ki67-new"]


def test_token_without_a_value_is_refused() -> None:
    with pytest.raises(DemoDataError, match="encounterId"):
        render_template("Encounter/{{context.encounterId}}", CONTEXT)
    assert render_template("Practitioner/{{userPractitionerId}}", CONTEXT) == "Practitioner/dr1"


def test_draft_orders_are_coded_with_the_modality_system() -> None:
    sr = draft_order("tace", "p1")
    assert sr["resourceType"] == "ServiceRequest" and sr["status"] == "draft"
    assert sr["code"]["coding"][0] == {"system": "https://nelm-cds.org/fhir/CodeSystem/modality", "code": "tace",
                                       "display": "Transarterial chemoembolization"}
    assert sr["subject"] == {"reference": "Patient/p1"}
    med = draft_order("everolimus", "p1")
    assert med["resourceType"] == "MedicationRequest"
    assert med["medicationCodeableConcept"]["coding"][0]["code"] == "everolimus"
    assert draft_order("tace", "p1")["id"] != sr["id"]
    with pytest.raises(DemoDataError):
        draft_order("homeopathy", "p1")


def test_demo_bundles_move_to_the_evaluation_date_keeping_intervals() -> None:
    """A demo run months after the vignettes were written sees the same ages, intervals and freshness."""
    import datetime as dt
    from pathlib import Path

    from cds_hooks.demo.patients import load_demo_bundle
    from nelm_fhir.ingest import ingest

    path = Path(__file__).resolve().parents[1] / "vignettes" / "V14.json"
    original = load_demo_bundle(path)
    written = dt.date.fromisoformat(original["timestamp"][:10])
    later = written + dt.timedelta(days=400)
    moved = load_demo_bundle(path, as_of=later)
    assert moved["timestamp"].startswith(later.isoformat())
    before = ingest(original, as_of=written)
    after = ingest(moved, as_of=later)
    assert after.age_years == before.age_years or (
        after.age_years is not None and before.age_years is not None and after.age_years.value == before.age_years.value
    )
    assert [lab.date for lab in after.labs] == [
        lab.date + dt.timedelta(days=400) for lab in before.labs if lab.date is not None
    ]
    assert load_demo_bundle(path, as_of=written) == original
