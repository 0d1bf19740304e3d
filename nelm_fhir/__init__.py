"""NELM Pathways core: FHIR R4 ingestion (``ingest``), domain model (``model``), rules (``pathways``)."""
