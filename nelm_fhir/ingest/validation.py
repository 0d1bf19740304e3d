"""Validation of one raw FHIR R4 resource with the ``fhir.resources`` R4B models (for resources the app receives)."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.provenance import Provenance
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from pydantic import BaseModel, ValidationError

__all__ = ["validation_errors"]

MAX_ERRORS = 20
_MODELS: dict[str, type[BaseModel]] = {m.__name__: m for m in (Observation, Provenance, Questionnaire,
                                                             QuestionnaireResponse)}


def validation_errors(resource: Any, expected_type: str) -> list[str]:
    """Return what makes ``resource`` not a valid ``expected_type`` (empty when valid); never raises for bad data.

    ``expected_type``: Observation, Provenance, Questionnaire or QuestionnaireResponse.
    """
    model = _MODELS[expected_type]  # KeyError for a type this module does not validate: a programming error
    if not isinstance(resource, dict) or resource.get("resourceType") != expected_type:
        return [f"resourceType must be {expected_type}"]
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        return [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:MAX_ERRORS]]
    except (ValueError, TypeError, RecursionError) as exc:
        return [type(exc).__name__]
    return []
