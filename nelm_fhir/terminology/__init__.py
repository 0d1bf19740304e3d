"""Terminology as reviewed data: ``mappings/`` loaded, validated and looked up.

Public surface::

    load_terminology(mappings_dir, site_files=()) -> Terminology   # raises MappingError
    default_terminology() -> Terminology                            # cached; the repo's mappings/
    check_mappings_main(files) -> int                               # nelm-cds check-mappings

Exceptions: ``MappingError`` (a broken mapping file: message names file and entry) and
``UnitError`` (a quantity in a unit the mappings do not know; ingestion turns it into a problem).
Concept keys are described in ``nelm_fhir.terminology.concepts``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from nelm_fhir.terminology import systems
from nelm_fhir.terminology.check import check_mappings_main
from nelm_fhir.terminology.loader import MappingError, load_terminology
from nelm_fhir.terminology.tables import MappingEntry, MappingFileInfo, Terminology
from nelm_fhir.terminology.units import UnitError, UnitTable

__all__ = [
    "DEFAULT_MAPPINGS_DIR",
    "MappingEntry",
    "MappingError",
    "MappingFileInfo",
    "Terminology",
    "UnitError",
    "UnitTable",
    "check_mappings_main",
    "default_terminology",
    "load_terminology",
    "systems",
]

DEFAULT_MAPPINGS_DIR = Path(__file__).resolve().parents[2] / "mappings"


@lru_cache(maxsize=1)
def default_terminology() -> Terminology:
    """Return the terminology of the repository's ``mappings/`` (loaded once); raises MappingError."""
    return load_terminology(DEFAULT_MAPPINGS_DIR)
