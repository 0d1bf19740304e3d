"""The NELM pathway engine: pure rules of PATHWAY.md over a ``NelmProfile``.

Public surface: ``evaluate(profile, *, now, config)``, ``load_config()``, and the result types.
Imports only ``nelm_fhir.model`` (checked by import-linter).
"""

from nelm_fhir.pathways.result import (
    Criterion,
    DataGap,
    Evaluation,
    Modality,
    ModalityResult,
    Status,
)

__all__ = ["Criterion", "DataGap", "Evaluation", "Modality", "ModalityResult", "Status"]
