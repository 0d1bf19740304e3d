"""Unit conversion tables (mappings/units.json)."""

from __future__ import annotations

import pytest

from nelm_fhir.terminology import UnitError, default_terminology

CONVERSIONS = [
    ("bilirubin", 1.0, "mg/dL", 1.0, "mg/dL"),
    ("bilirubin", 51.3, "umol/L", 3.0, "mg/dL"),
    ("bilirubin", 53.01, "μmol/L", 3.1, "mg/dL"),
    ("albumin", 29, "g/L", 2.9, "g/dL"),
    ("albumin", 3.0, "g/dl", 3.0, "g/dL"),
    ("haemoglobin", 79, "g/L", 7.9, "g/dL"),
    ("haemoglobin", 5.0, "mmol/L", 8.055, "g/dL"),
    ("platelets", 75, "10*9/L", 75.0, "10*9/L"),
    ("platelets", 74, "10^3/µL", 74.0, "10*9/L"),
    ("platelets", 74000, "/uL", 74.0, "10*9/L"),
    ("leukocytes", 1.9, "10*3/uL", 1.9, "10*9/L"),
    ("leukocytes", 2000, "/mm3", 2.0, "10*9/L"),
    ("egfr", 50, "mL/min/{1.73_m2}", 50.0, "mL/min/{1.73_m2}"),
    ("egfr", 49, "mL/min/1.73m2", 49.0, "mL/min/{1.73_m2}"),
    ("egfr", 29, "ml/min/1.73 m2", 29.0, "mL/min/{1.73_m2}"),
    ("crcl", 47, "mL/min", 47.0, "mL/min"),
    ("crcl", 0.8, "mL/s", 48.0, "mL/min"),
    ("creatinine", 88.4, "umol/L", 1.0, "mg/dL"),
    ("size", 49, "mm", 4.9, "cm"),
    ("size", 5.1, "cm", 5.1, "cm"),
    ("percent", 30, "%", 30.0, "%"),
    ("inr", 1.6, None, 1.6, "{INR}"),
    ("chromogranin-a", 3.1, "nmol/L", 3.1, "nmol/L"),
]


@pytest.mark.parametrize(("quantity", "value", "unit", "expected", "canonical"), CONVERSIONS)
def test_conversion_table(quantity: str, value: float, unit: str | None, expected: float, canonical: str) -> None:
    converted, unit_out = default_terminology().units.convert(quantity, value, unit)
    assert converted == pytest.approx(expected) and unit_out == canonical


@pytest.mark.parametrize(
    ("quantity", "unit"),
    [
        ("bilirubin", "mmol/L"),
        ("egfr", "mL/min"),
        ("haemoglobin", "%"),
        ("size", "in"),
        ("platelets", None),
        ("nope", "g"),
    ],
)
def test_unknown_units_raise(quantity: str, unit: str | None) -> None:
    with pytest.raises(UnitError):
        default_terminology().units.convert(quantity, 1.0, unit)


def test_every_lab_kind_has_a_unit_table() -> None:
    from nelm_fhir.model import LabKind

    quantities = set(default_terminology().units.quantities())
    assert {k.value for k in LabKind} <= quantities
    assert {"size", "percent", "mitoses"} <= quantities
