"""Against a real FHIR R4 server (SEKMET): the searchsets an EHR returns give the same profile as the record."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from nelm_fhir.ingest import PatientMismatchError, ingest
from tests.ingest.builders import FINDING, SNOMED, cc, finding, ki67, med_request, quantity, specimen, tumour_size
from tests.ingest.builders import baseline as baseline_resources
from tests.support.sekmet import FhirServer

pytestmark = pytest.mark.fhirserver

AS_OF = dt.date(2026, 11, 26)
PREFIX = "ingest-"


def _relabel(value: Any) -> Any:
    """Prefix every id and reference so this test's data cannot meet another test's on the shared server."""
    if isinstance(value, dict):
        out = {}
        for key, inner in value.items():
            if key == "id" and isinstance(inner, str):
                out[key] = PREFIX + inner
            elif key == "reference" and isinstance(inner, str) and "/" in inner:
                rtype, rid = inner.split("/", 1)
                out[key] = f"{rtype}/{PREFIX}{rid}"
            else:
                out[key] = _relabel(inner)
        return out
    if isinstance(value, list):
        return [_relabel(v) for v in value]
    return value


def _record() -> list[dict[str, Any]]:
    lesion = tumour_size("ts", 30, "mm", subcapsular=True)
    lesion["bodySite"] = cc(SNOMED, "10200004")
    resources = [
        *baseline_resources(),
        ki67("ki", 4.0, specimen="Specimen/s1"),
        specimen("s1", "10200004"),
        lesion,
        finding("fr", "frilling-type", valueCodeableConcept=cc(FINDING, "type-II")),
        finding("flr", "flr-percent", valueQuantity=quantity(40, "%")),
        med_request("ssa", cc("http://www.nlm.nih.gov/research/umls/rxnorm", "312068")),
    ]
    return [_relabel(r) for r in resources]


def test_prefetch_searchsets_from_a_real_server_give_the_record_s_profile(fhir_server: FhirServer) -> None:
    record = _record()
    fhir_server.load_bundle(
        {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in record]}
    )
    pid = f"{PREFIX}p1"
    prefetch = {
        "patient": fhir_server.search(f"Patient/{pid}"),
        "observations": fhir_server.search(f"Observation?patient={pid}&_count=200"),
        "conditions": fhir_server.search(f"Condition?patient={pid}"),
        "procedures": fhir_server.search(f"Procedure?patient={pid}"),
        "medications": fhir_server.search(f"MedicationRequest?patient={pid}"),
        "specimens": fhir_server.search(f"Specimen?patient={pid}"),
    }
    assert prefetch["observations"]["type"] == "searchset"
    from_server = ingest(prefetch, as_of=AS_OF, patient_id=pid)
    direct = ingest(record, as_of=AS_OF, patient_id=pid)
    assert from_server == direct
    assert from_server.patient == f"Patient/{pid}"
    assert from_server.grade is not None and from_server.grade.grade.value == "G2" and from_server.grade.liver_specimen
    assert [lesion.subcapsular for lesion in from_server.lesions] == [True]
    assert len(from_server.labs) == 7 and from_server.problems == ()
    with pytest.raises(PatientMismatchError):
        ingest(prefetch, as_of=AS_OF, patient_id="someone-else")
