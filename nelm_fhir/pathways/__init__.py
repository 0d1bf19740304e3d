"""The NELM pathway engine: pure rules of PATHWAY.md over a ``NelmProfile``.

Public surface: ``evaluate(profile, *, now, config)``, ``load_config()``, and the result types.
Imports only ``nelm_fhir.model`` (checked by import-linter).

Errors: ``ConfigError`` (a ``ValueError``) for an unusable rules or site configuration file.
"""

from nelm_fhir.pathways.config import ConfigError, PathwayConfig, Threshold, load_config
from nelm_fhir.pathways.engine import TUMOUR_BOARD_NOTE, evaluate
from nelm_fhir.pathways.result import (
    MODALITY_SYSTEM,
    Criterion,
    DataGap,
    Evaluation,
    Modality,
    ModalityResult,
    Status,
)

__all__ = [
    "MODALITY_SYSTEM",
    "TUMOUR_BOARD_NOTE",
    "ConfigError",
    "Criterion",
    "DataGap",
    "Evaluation",
    "Modality",
    "ModalityResult",
    "PathwayConfig",
    "Status",
    "Threshold",
    "evaluate",
    "load_config",
]
