"""One entry point for "FHIR data → Evaluation", shared by the CDS service and the SMART app.

Ingestion uses the app's terminology and the engine the app's pathway configuration, both loaded
once at start-up by ``services.init_app``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask

from nelm_fhir.ingest import ingest
from nelm_fhir.model import NelmProfile
from nelm_fhir.pathways import evaluate
from nelm_fhir.pathways.result import Evaluation

__all__ = ["evaluate_profile", "evaluate_record", "has_nelm", "ingest_record", "today"]


def today(app: Flask) -> dt.date:
    """Return the evaluation date: ``app.extensions["nelm_clock"]()`` when set (tests, demo), else today in UTC."""
    clock = app.extensions.get("nelm_clock")
    if callable(clock):
        value = clock()
        if isinstance(value, dt.date):
            return value
    return dt.datetime.now(dt.UTC).date()


def ingest_record(app: Flask, data: Any, *, patient_id: str, now: dt.date) -> NelmProfile:
    """Return the NELM profile of ``data``; raises ``PatientMismatchError`` / ``NotABundleError`` from ingestion."""
    return ingest(data, as_of=now, terminology=app.extensions["nelm_terminology"], patient_id=patient_id)


def evaluate_profile(app: Flask, profile: NelmProfile, *, now: dt.date) -> Evaluation:
    """Return the engine's evaluation of ``profile`` with the app's pathway configuration."""
    return evaluate(profile, now=now, config=app.extensions["nelm_pathway_config"])


def has_nelm(profile: NelmProfile) -> bool:
    """Return True when the record holds a liver-metastasis Condition: the pathway concerns this patient."""
    return bool(profile.nelm)


def evaluate_record(app: Flask, data: Any, *, patient_id: str, now: dt.date) -> Evaluation:
    """Return the pathway evaluation of ``data`` (Bundle, prefetch dict or resource list) for one patient.

    Raises ``nelm_fhir.ingest.PatientMismatchError`` when the data holds another patient's resources,
    and KeyError when the app was not initialised by ``services.init_app``.
    """
    return evaluate_profile(app, ingest_record(app, data, patient_id=patient_id, now=now), now=now)
