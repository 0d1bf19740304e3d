"""Alembic migrations of the service's database (programmatic configuration; no alembic.ini)."""
