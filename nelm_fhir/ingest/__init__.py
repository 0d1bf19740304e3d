"""FHIR R4 → NelmProfile. The only package of ``nelm_fhir`` that imports ``fhir.resources`` (R4B)."""
