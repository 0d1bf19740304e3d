"""Input shapes: Bundle types, CDS Hooks prefetch, lists; one patient only; problems instead of crashes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from nelm_fhir.ingest import NotABundleError, PatientMismatchError, ingest
from nelm_fhir.model import LabKind
from tests.ingest.builders import baseline, bundle, lab, patient

AS_OF = dt.date(2026, 11, 26)


def _ingest(data: Any, **kw: Any) -> Any:
    return ingest(data, as_of=AS_OF, **kw)


@pytest.mark.parametrize("kind", ["collection", "searchset", "transaction", "batch", "document"])
def test_every_bundle_type_gives_the_same_profile(kind: str) -> None:
    reference = _ingest(bundle(*baseline()))
    assert _ingest(bundle(*baseline(), kind=kind)) == reference
    assert reference.ecog is not None and len(reference.labs) == 7


def test_a_list_of_resources_gives_the_same_profile() -> None:
    assert _ingest(baseline()) == _ingest(bundle(*baseline()))


def test_transaction_with_urn_uuid_references_and_no_ids() -> None:
    entries = []
    for resource in baseline():
        resource = dict(resource)
        rid = resource.pop("id")
        if "subject" in resource:
            resource["subject"] = {"reference": "urn:uuid:00000000-0000-0000-0000-0000000000p1"}
        entries.append({"fullUrl": f"urn:uuid:{rid}-{resource['resourceType']}", "resource": resource})
    entries[0]["fullUrl"] = "urn:uuid:00000000-0000-0000-0000-0000000000p1"
    tx = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    prof = _ingest(tx)
    assert prof.patient == "urn:uuid:00000000-0000-0000-0000-0000000000p1"
    hb = prof.latest_lab(LabKind.HAEMOGLOBIN)
    assert hb is not None and hb.source == "urn:uuid:hb-Observation"


def test_cds_hooks_prefetch_with_bundles_resources_nulls_and_an_outcome() -> None:
    resources = baseline()
    prefetch = {
        "patient": resources[0],
        "conditions": {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [{"resource": r} for r in resources[1:4]],
        },
        "labs": {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources[4:]],
        },
        "medications": None,
        "procedures": {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "timeout", "diagnostics": "search timed out"}],
        },
    }
    prof = _ingest(prefetch)
    expected = _ingest(bundle(*resources))
    assert prof.labs == expected.labs and prof.primary == expected.primary
    [problem] = prof.problems
    assert problem.path == "prefetch.procedures" and "search timed out" in problem.message
    assert problem.severity == "error"


def test_searchset_outcome_entries_are_warnings() -> None:
    searchset = bundle(*baseline(), kind="searchset")
    searchset["entry"].append(
        {
            "resource": {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "warning", "code": "incomplete", "diagnostics": "results truncated"}],
            },
            "search": {"mode": "outcome"},
        }
    )
    prof = _ingest(searchset)
    assert [(p.severity, p.message.endswith("results truncated")) for p in prof.problems] == [("warning", True)]
    assert "may be incomplete" in prof.problems[0].message


def _outcome_entry(severity: str, code: str, text: str, *, mode: bool = True) -> dict[str, Any]:
    entry: dict[str, Any] = {"resource": {"resourceType": "OperationOutcome",
                                          "issue": [{"severity": severity, "code": code, "diagnostics": text}]}}
    if mode:
        entry["search"] = {"mode": "outcome"}
    return entry


@pytest.mark.parametrize("mode", [True, False])
@pytest.mark.parametrize(
    ("severity", "code"),
    [("information", "informational"), ("warning", "not-supported"), ("information", "not-supported"),
     ("warning", "processing")],
)
def test_harmless_outcome_entries_beside_data_are_not_missing_data(severity: str, code: str, mode: bool) -> None:
    reference = _ingest(bundle(*baseline(), kind="searchset"))
    searchset = bundle(*baseline(), kind="searchset")
    searchset["entry"].insert(0, _outcome_entry(severity, code, "Unknown _include parameter ignored", mode=mode))
    assert _ingest(searchset) == reference
    assert reference.problems == ()


@pytest.mark.parametrize("severity", ["error", "fatal"])
def test_error_outcome_entries_beside_data_are_still_reported(severity: str) -> None:
    searchset = bundle(*baseline(), kind="searchset")
    searchset["entry"].append(_outcome_entry(severity, "exception", "Observation index unavailable"))
    prof = _ingest(searchset)
    assert [(p.severity, "instead of data" in p.message) for p in prof.problems] == [("error", True)]
    assert prof.labs == _ingest(bundle(*baseline())).labs  # the rest is still used


def test_a_warning_alone_in_place_of_the_data_is_still_missing_data() -> None:
    prefetch = {"patient": patient(), "labs": {"resourceType": "OperationOutcome", "issue": [
        {"severity": "warning", "code": "not-supported", "diagnostics": "search not supported"}]}}
    [problem] = _ingest(prefetch).problems
    assert problem.path == "prefetch.labs" and "instead of data" in problem.message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("not json", "got str"),
        (42, "got int"),
        ({"resourceType": "Patient", "id": "p1"}, "resourceType 'Patient'"),
        ({"resourceType": "Bundle", "type": "bogus"}, "not a FHIR R4 Bundle type"),
        ({"resourceType": "Bundle", "type": "collection", "entry": {}}, "entry is not a list"),
        ({"patient": "Patient/p1"}, "prefetch key 'patient'"),
        ({"type": "collection", "entry": []}, "needs resourceType 'Bundle'"),
    ],
)
def test_not_a_bundle(data: Any, message: str) -> None:
    with pytest.raises(NotABundleError, match=message) as info:
        _ingest(data)
    assert "\n" not in str(info.value)


def test_empty_inputs_give_an_empty_profile() -> None:
    for data in ({}, [], {"resourceType": "Bundle", "type": "searchset"}):
        prof = _ingest(data, patient_id="p1")
        assert prof.patient == "Patient/p1" and prof.labs == () and prof.primary is None and prof.problems == ()


def test_another_patients_resource_is_refused() -> None:
    other = lab("x", "718-7", 9.0, "g/dL", subject="Patient/p2")
    with pytest.raises(PatientMismatchError, match=r"Observation/x\.subject\.reference"):
        _ingest(bundle(*baseline(), other))
    with pytest.raises(PatientMismatchError):
        _ingest(bundle(*baseline()), patient_id="p2")
    with pytest.raises(PatientMismatchError):
        _ingest(bundle(patient("p2")), patient_id="Patient/p1")


def test_patient_id_forms_and_absolute_references() -> None:
    absolute = lab("abs", "718-7", 9.0, "g/dL", subject="https://ehr.example.org/fhir/Patient/p1/_history/3")
    for pid in ("p1", "Patient/p1"):
        prof = _ingest(bundle(*baseline(), absolute), patient_id=pid)
        assert prof.patient == "Patient/p1"
        assert "Observation/abs" in {x.source for x in prof.labs}


def test_malformed_entries_are_problems_and_the_rest_is_used() -> None:
    data = bundle(*baseline())
    data["entry"].extend(
        [{"resource": "junk"}, "junk", {"resource": {"id": "no-type"}}, {"request": {"method": "DELETE"}}]
    )
    prof = _ingest(data)
    assert prof.labs == _ingest(bundle(*baseline())).labs
    assert sorted(p.path for p in prof.problems) == [
        "Bundle.entry[14]",
        "Bundle.entry[15]",
        "Bundle.entry[16]",
    ]


def test_duplicate_resources_are_read_once_keeping_the_newest_version() -> None:
    old = lab("hb", "718-7", 9.0, "g/dL")
    old["meta"] = {"versionId": "1", "lastUpdated": "2026-11-01T10:00:00Z"}
    new = lab("hb", "718-7", 12.0, "g/dL")
    new["meta"] = {"versionId": "2", "lastUpdated": "2026-11-02T10:00:00Z"}
    for order in ((old, new), (new, old)):
        prof = _ingest(bundle(*order))
        assert [x.value for x in prof.labs] == [12.0]


def test_a_group_subject_is_not_a_patient() -> None:
    grouped = lab("g", "718-7", 11.0, "g/dL", subject="Group/ward-3")
    prof = _ingest(bundle(*baseline(), grouped), patient_id="p1")
    assert "Observation/g" in {x.source for x in prof.labs}


def test_data_dated_after_the_evaluation_date_is_not_used() -> None:
    from tests.ingest.builders import ICD10CM, SNOMED, cc, condition, procedure

    later = [
        lab("future-hb", "718-7", 7.0, "g/dL", date="2026-12-01"),
        procedure("future-op", cc(SNOMED, "85946004"), date="2027-01-05"),
        condition("future-pvt", cc(ICD10CM, "I81"), onset="2026-12-24"),
    ]
    prof = _ingest(bundle(*baseline(), *later))
    hb = prof.latest_lab(LabKind.HAEMOGLOBIN)
    assert hb is not None and hb.source == "Observation/hb"
    assert [p.source for p in prof.procedures] == ["Procedure/primary-resection"]
    assert prof.portal_vein_thrombosis == ()
    assert sorted(p.path for p in prof.problems) == [
        "Condition/future-pvt",
        "Observation/future-hb",
        "Procedure/future-op",
    ]
    assert all(p.severity == "warning" and "after the evaluation date 2026-11-26" in p.message for p in prof.problems)
    assert ingest(bundle(*baseline(), *later), as_of=dt.date(2027, 2, 1)).portal_vein_thrombosis != ()
