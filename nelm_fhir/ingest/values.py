"""Reading the value of a validated Observation (or component) as the fact its code needs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from nelm_fhir.ingest.common import Ctx, model_codings
from nelm_fhir.terminology.systems import UCUM

__all__ = ["bool_value", "coded_value", "int_value", "quantity_value"]

_YES_NO = {"Y": True, "N": False, "y": True, "n": False, "373066001": True, "373067005": False}


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return float(value)
    return None


def quantity_value(
    holder: Any, path: str, quantity: str, ctx: Ctx, *, bounds_ok: bool = False
) -> tuple[float, str] | None:
    """Return ``(value, canonical unit)`` of ``holder.valueQuantity``, or None after recording why not."""
    q = getattr(holder, "valueQuantity", None)
    if q is None:
        integer = getattr(holder, "valueInteger", None)
        if integer is not None and quantity in {"percent"}:
            return float(integer), "%"
        _no_value(holder, path, "valueQuantity", ctx)
        return None
    value = _number(q.value)
    if value is None:
        ctx.problem(f"{path}.valueQuantity.value", "quantity has no numeric value")
        return None
    if q.comparator is not None:
        if q.comparator in {"<", "<="} and bounds_ok:
            ctx.problem(
                f"{path}.valueQuantity.comparator",
                f"value reported as '{q.comparator} {value:g}': the bound {value:g} is used",
                severity="warning",
            )
        else:
            ctx.problem(
                f"{path}.valueQuantity.comparator", f"value reported as '{q.comparator} {value:g}': not a usable value"
            )
            return None
    unit = q.code if (q.system in (None, UCUM) and q.code is not None) else None
    if unit is None:
        unit = q.unit if q.unit is not None else q.code
    unit_path = f"{path}.valueQuantity.{'code' if q.code is not None else 'unit'}"
    return ctx.convert(quantity, value, unit, unit_path)


def int_value(holder: Any, path: str, ctx: Ctx, *, low: int, high: int) -> int | None:
    """Return an integer score from valueInteger (or a whole valueQuantity) within [low, high], else None."""
    value: float | None = None
    where = f"{path}.valueInteger"
    if getattr(holder, "valueInteger", None) is not None:
        value = float(holder.valueInteger)
    elif getattr(holder, "valueQuantity", None) is not None:
        where = f"{path}.valueQuantity.value"
        value = _number(holder.valueQuantity.value)
    if value is None:
        _no_value(holder, path, "valueInteger", ctx)
        return None
    if value != int(value) or not low <= value <= high:
        ctx.problem(where, f"{value:g} is not a whole number from {low} to {high}")
        return None
    return int(value)


def bool_value(holder: Any, path: str, ctx: Ctx) -> bool | None:
    """Return valueBoolean (or a yes/no valueCodeableConcept), else None after recording why not."""
    if getattr(holder, "valueBoolean", None) is not None:
        return bool(holder.valueBoolean)
    for _system, code in model_codings(getattr(holder, "valueCodeableConcept", None)):
        if code in _YES_NO:
            return _YES_NO[code]
    _no_value(holder, path, "valueBoolean", ctx)
    return None


def coded_value(holder: Any, path: str, namespace: str, ctx: Ctx) -> str | None:
    """Return the concept name (in ``namespace``) of valueCodeableConcept, else None after recording why not."""
    concept = getattr(holder, "valueCodeableConcept", None)
    if concept is None:
        _no_value(holder, path, "valueCodeableConcept", ctx)
        return None
    found = ctx.term.first(model_codings(concept), namespace)
    if found is None:
        shown = ", ".join(f"{s}|{c}" for s, c in model_codings(concept)) or "no coding"
        ctx.problem(f"{path}.valueCodeableConcept", f"value {shown} is not a recognised {namespace} code")
        return None
    return found.name


def _no_value(holder: Any, path: str, expected: str, ctx: Ctx) -> None:
    absent = getattr(holder, "dataAbsentReason", None)
    if absent is not None:
        reason = ", ".join(c for _s, c in model_codings(absent) if c) or "given"
        ctx.problem(f"{path}.dataAbsentReason", f"no value (data absent reason: {reason})", severity="warning")
    else:
        ctx.problem(f"{path}.{expected}", f"missing {expected}")
