"""Reading the value of a validated Observation (or component) as the fact its code needs."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from nelm_fhir.ingest.common import Ctx, model_codings
from nelm_fhir.terminology.systems import UCUM

__all__ = ["HIGH", "LOW", "Measured", "bool_value", "coded_value", "int_value", "measured_value", "quantity_value"]

HIGH = "high"  # a higher value is worse for the patient (bilirubin, Ki-67)
LOW = "low"  # a lower value is worse for the patient (eGFR, platelets, FLR)

# A number written as text, as EHRs send it: "22 %", "22%", "22", "0.6 mg/dL", "> 20 %", "<=1,5 {INR}".
_NUMBER_TEXT = re.compile(r"\s*(<=|>=|≤|≥|<|>)?\s*([+-]?(?:\d+(?:[.,]\d+)?|[.,]\d+))\s*(.*?)\s*")
_COMPARATOR_TEXT = {"≤": "<=", "≥": ">="}

_YES_NO = {"Y": True, "N": False, "y": True, "n": False, "373066001": True, "373067005": False}


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return float(value)
    return None


@dataclass(frozen=True, slots=True)
class Measured:
    """A quantitative result in its canonical unit; ``comparator`` when it was reported as a bound (B27).

    For a strict bound ("> 20 %") ``value`` lies one floating-point step inside the reported
    interval (just above 20), so every threshold rule (> 20 → G3, < 30 → X) decides as the
    bound says; for "<=", ">=" and closed ranges it is the bound itself.
    """

    value: float
    unit: str
    comparator: str | None = None
    form: str = "valueQuantity"  # the element it was read from
    path: str = ""  # FHIR path of the number read, e.g. "Observation/k.valueQuantity.value"


def measured_value(holder: Any, path: str, quantity: str, ctx: Ctx, *, worse: str) -> Measured | None:
    """Return a quantitative result from any form B27 accepts, or None after recording why not.

    Forms: valueQuantity (with comparator), valueInteger, valueString holding a number with or
    without unit and comparator, valueRange (its end that is ``worse`` for the patient decides; a
    range open on that side reads as a bound).
    """
    if getattr(holder, "valueQuantity", None) is not None:
        q = holder.valueQuantity
        unit = q.code if (q.system in (None, UCUM) and q.code is not None) else None
        if unit is None:
            unit = q.unit if q.unit is not None else q.code
        where = f"{path}.valueQuantity"
        unit_path = f"{where}.{'code' if q.code is not None else 'unit'}"
        return _measured(_number(q.value), q.comparator, unit, quantity, where, ctx, "valueQuantity", unit_path)
    if getattr(holder, "valueInteger", None) is not None:
        where = f"{path}.valueInteger"
        return _measured(float(holder.valueInteger), None, None, quantity, where, ctx, "valueInteger", where)
    text = getattr(holder, "valueString", None)
    if text is not None:
        return _from_text(str(text), quantity, f"{path}.valueString", ctx)
    if getattr(holder, "valueRange", None) is not None:
        return _from_range(holder.valueRange, quantity, f"{path}.valueRange", ctx, worse)
    _no_value(holder, path, "valueQuantity", ctx)
    return None


def _from_text(text: str, quantity: str, where: str, ctx: Ctx) -> Measured | None:
    match = _NUMBER_TEXT.fullmatch(text)
    if match is None:
        ctx.problem(where, f"text {text[:40]!r} is not a number with an optional unit")
        return None
    comparator = _COMPARATOR_TEXT.get(match[1], match[1]) if match[1] else None
    value = float(match[2].replace(",", "."))
    return _measured(value, comparator, match[3] or None, quantity, where, ctx, "valueString", where)


def _from_range(rng: Any, quantity: str, where: str, ctx: Ctx, worse: str) -> Measured | None:
    low, high = getattr(rng, "low", None), getattr(rng, "high", None)
    end, other = (high, ">=") if worse == HIGH else (low, "<=")
    comparator = None
    if end is None or end.value is None:  # open towards the worse side: the other end is a bound
        end, comparator = (low, other) if worse == HIGH else (high, other)
    if end is None or end.value is None:
        ctx.problem(where, "range without a low or high value")
        return None
    unit = end.code if (end.system in (None, UCUM) and end.code is not None) else (end.unit or end.code)
    at = f"{where}.{'high' if end is high else 'low'}"
    return _measured(_number(end.value), comparator, unit, quantity, at, ctx, "valueRange", f"{at}.unit")


def _measured(
    value: float | None,
    comparator: str | None,
    unit: str | None,
    quantity: str,
    where: str,
    ctx: Ctx,
    form: str,
    unit_path: str,
) -> Measured | None:
    if value is None:
        ctx.problem(f"{where}.value", "quantity has no numeric value")
        return None
    if comparator is not None and comparator not in {"<", "<=", ">=", ">"}:
        ctx.problem(f"{where}.comparator", f"comparator {comparator!r} is not one FHIR defines")
        return None
    if unit is None and quantity == "percent":
        unit = "%"  # a bare number of a percentage result ("22") is a percentage
    converted = ctx.convert(quantity, value, unit, unit_path)
    if converted is None:
        return None
    number, canonical = converted
    if comparator == ">":
        number = math.nextafter(number, math.inf)
    elif comparator == "<":
        number = math.nextafter(number, -math.inf)
    at = f"{where}.value" if form in {"valueQuantity", "valueRange"} else where
    return Measured(value=number, unit=canonical, comparator=comparator, form=form, path=at)


def quantity_value(holder: Any, path: str, quantity: str, ctx: Ctx) -> tuple[float, str] | None:
    """Return ``(value, canonical unit)`` of an exact result in any B27 form; a bound is not usable here.

    For sizes and mitotic counts, whose rules have several thresholds in both directions, a value
    reported only as a bound ("> 3 cm") cannot be placed and is a problem (B28).
    """
    measured = measured_value(holder, path, quantity, ctx, worse=HIGH)
    if measured is None:
        return None
    if measured.comparator is not None:
        ctx.problem(measured.path, f"value reported as a bound ('{measured.comparator}'): not a usable value")
        return None
    return measured.value, measured.unit


def int_value(holder: Any, path: str, ctx: Ctx, *, low: int, high: int) -> int | None:
    """Return an integer score from valueInteger (or a whole valueQuantity) within [low, high], else None."""
    value: float | None = None
    where = f"{path}.valueInteger"
    text = getattr(holder, "valueString", None)
    if getattr(holder, "valueInteger", None) is not None:
        value = float(holder.valueInteger)
    elif text is not None and str(text).strip().isdigit():  # B27: "2" as text
        where, value = f"{path}.valueString", float(str(text).strip())
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
