"""Code-system URIs the product reads, and how codes of each system are normalised for lookup."""

from __future__ import annotations

__all__ = [
    "ATC",
    "FINDING",
    "ICD10CM",
    "ICD10PCS",
    "ICDO3",
    "LOINC",
    "MODALITY",
    "RXNORM",
    "SNOMED",
    "UCUM",
    "normalise_code",
]

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICD10PCS = "http://www.cms.gov/Medicare/Coding/ICD10"
ICDO3 = "http://terminology.hl7.org/CodeSystem/icd-o-3"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
UCUM = "http://unitsofmeasure.org"
FINDING = "https://nelm-cds.org/fhir/CodeSystem/nelm-finding"
MODALITY = "https://nelm-cds.org/fhir/CodeSystem/modality"


def normalise_code(code: str, *, icd: bool) -> str:
    """Return ``code`` as looked up: trimmed; ICD codes upper-case without the dot (C7B.02 = C7B02)."""
    code = code.strip()
    if icd:
        return code.replace(".", "").upper()
    return code
