"""The real FHIR server fixture answers searches as the integration tests expect."""

from tests.support.sekmet import FhirServer


def test_sekmet_stores_and_searches_by_token(fhir_server: FhirServer) -> None:
    fhir_server.put({"resourceType": "Patient", "id": "fixture-p1", "birthDate": "1970-01-01"})
    fhir_server.put(
        {
            "resourceType": "Observation",
            "id": "fixture-o1",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "29593-1"}]},
            "subject": {"reference": "Patient/fixture-p1"},
            "valueQuantity": {"value": 5, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"},
        }
    )
    found = fhir_server.search("Observation?patient=fixture-p1&code=http%3A%2F%2Floinc.org%7C29593-1")
    assert [e["resource"]["id"] for e in found["entry"]] == ["fixture-o1"]
    none = fhir_server.search("Observation?patient=fixture-p1&code=http%3A%2F%2Floinc.org%7C718-7")
    assert none.get("entry", []) == []
