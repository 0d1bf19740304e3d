"""Unit conversion to the canonical unit of each quantity, driven by ``mappings/units.json``.

An unknown unit is an error on that fact (``UnitError``), never a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["Conversion", "UnitError", "UnitTable", "normalise_unit"]


class UnitError(ValueError):
    """A quantity's unit is missing or not one the mappings know for that quantity."""


@lru_cache(maxsize=1024)
def normalise_unit(unit: str) -> str:
    """Return ``unit`` as matched: no spaces, micro sign as ``u``, lower case."""
    return unit.replace(" ", "").replace("µ", "u").replace("μ", "u").lower()


@dataclass(frozen=True, slots=True)
class Conversion:
    """Multiply by ``factor`` to reach ``unit`` (the canonical unit, or the kept unit of an assay)."""

    factor: float
    unit: str


@dataclass(frozen=True, slots=True)
class UnitTable:
    """Conversions per quantity (``egfr``, ``bilirubin``, ``size``, ``percent`` ...)."""

    canonical: Mapping[str, str]
    conversions: Mapping[str, Mapping[str, Conversion]]  # quantity -> normalised unit -> conversion

    def quantities(self) -> tuple[str, ...]:
        """Return the quantities this table converts."""
        return tuple(sorted(self.canonical))

    def convert(self, quantity: str, value: float, unit: str | None) -> tuple[float, str]:
        """Return ``(value, unit)`` in the canonical unit of ``quantity``; raises UnitError otherwise."""
        table = self.conversions.get(quantity)
        if table is None:
            raise UnitError(f"no unit table for {quantity!r}")
        key = normalise_unit(unit) if unit is not None else ""
        conversion = table.get(key)
        if conversion is None:
            shown = "no unit" if unit is None or not unit.strip() else f"unit {unit!r}"
            raise UnitError(f"{shown} is not a known unit for {quantity} (expected e.g. {self.canonical[quantity]})")
        if conversion.factor == 1.0:
            return value, conversion.unit
        return round(value * conversion.factor, 6), conversion.unit
