"""Shared fixtures. Surface-specific fixtures live next to their tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.sekmet import FhirServer, run_sekmet

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def fhir_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FhirServer]:
    """A real FHIR R4 server (SEKMET) for the whole test session."""
    with run_sekmet(tmp_path_factory.mktemp("sekmet")) as server:
        yield server
