"""eGFR from serum creatinine with the race-free CKD-EPI 2021 equation (PATHWAY.md B33). Pure.

eGFR = 142 × min(Scr/κ, 1)^α × max(Scr/κ, 1)^−1.200 × 0.9938^age × 1.012 [female],
κ = 0.7 (female) / 0.9 (male), α = −0.241 (female) / −0.302 (male); Scr in mg/dL, age in years,
result in mL/min/1.73 m² (Inker et al., N Engl J Med 2021;385:1737-49).
"""

from __future__ import annotations

__all__ = ["ckd_epi_2021"]


def ckd_epi_2021(creatinine_mg_dl: float, age_years: int, sex: str) -> float | None:
    """Return the CKD-EPI 2021 eGFR, or None when sex is neither female nor male, or an input is out of range."""
    if sex not in {"female", "male"} or creatinine_mg_dl <= 0 or age_years < 18:
        return None  # the adult equation only; "other"/"unknown" sex has no coefficient
    female = sex == "female"
    kappa = 0.7 if female else 0.9
    alpha = -0.241 if female else -0.302
    ratio = creatinine_mg_dl / kappa
    egfr: float = 142.0 * min(ratio, 1.0) ** alpha * max(ratio, 1.0) ** -1.200 * 0.9938**age_years
    return egfr * 1.012 if female else egfr
