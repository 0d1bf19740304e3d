"""The ingest parses with the FHIR R4 (R4B) models only, never the package's default R5 models."""

from __future__ import annotations

import re
from pathlib import Path

import nelm_fhir.ingest

INGEST = Path(nelm_fhir.ingest.__file__).parent
IMPORT = re.compile(r"^\s*(?:from|import)\s+(fhir\.resources[\w.]*)", re.MULTILINE)


def test_every_fhir_resources_import_is_r4b() -> None:
    found = {
        (path.name, module)
        for path in INGEST.glob("*.py")
        for module in IMPORT.findall(path.read_text(encoding="utf-8"))
    }
    assert found, "the ingest must validate with fhir.resources models"
    assert all(module.startswith("fhir.resources.R4B.") for _name, module in found), sorted(found)
