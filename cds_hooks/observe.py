"""Observers of hook calls: the service reports one ``HookOutcome`` per call; ops code subscribes.

The outcome carries counts and statuses only, never patient data or tokens, so that metrics and
logs built from it are safe to export.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from flask import Flask

__all__ = ["HookOutcome", "Observer", "add_observer", "notify"]

log = logging.getLogger("nelm.cds.observe")

_KEY = "nelm_observers"


@dataclass(frozen=True, slots=True, kw_only=True)
class HookOutcome:
    """What one hook call produced: status code, latency, cards by indicator, modality statuses shown."""

    service_id: str
    hook: str
    status_code: int
    seconds: float
    cards_by_indicator: Mapping[str, int] = field(default_factory=dict)
    statuses: Mapping[str, str] = field(default_factory=dict)
    fhir_queries: int = 0
    fhir_failures: int = 0


Observer = Callable[[HookOutcome], None]


def add_observer(app: Flask, fn: Observer) -> None:
    """Register ``fn`` to be called with every HookOutcome of ``app``."""
    observers: list[Observer] = app.extensions.setdefault(_KEY, [])
    observers.append(fn)


def notify(app: Flask, outcome: HookOutcome) -> None:
    """Call every observer with ``outcome``; an observer's failure is logged and does not fail the hook."""
    for fn in list(app.extensions.get(_KEY, [])):
        try:
            fn(outcome)
        except Exception as exc:  # noqa: BLE001 - metrics must never break clinical answers; logged, not silenced
            log.error("observer %r failed: %s", getattr(fn, "__name__", fn), type(exc).__name__)
