"""The Flask edge of NELM Pathways: CDS Hooks 2.0 services, SMART app, demo, operations."""
