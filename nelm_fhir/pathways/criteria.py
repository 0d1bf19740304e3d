"""Criteria shared by several modalities, each named as the guideline says it.

Each function returns a ``Criterion`` phrased positively ("no portal vein thrombosis"):
``met`` False means the contraindication or the unmet condition is present.
"""

from __future__ import annotations

from nelm_fhir.model import FrillingType, LabKind
from nelm_fhir.pathways.gates import Context
from nelm_fhir.pathways.result import Criterion

__all__ = [
    "IN_SITU_BY_DEFAULT",
    "carcinoid_heart_disease",
    "fit_for_surgery",
    "hepatic_function",
    "no_bilio_enteric_anastomosis",
    "no_distant_disease",
    "no_pvt",
    "not_nec",
    "not_resectable",
    "r0_feasible",
]


IN_SITU_BY_DEFAULT = "no resection of the primary and no primary status recorded: read as in situ (B30)"


def _fmt(value: float) -> str:
    return f"{value:g}"


def not_nec(ctx: Context) -> Criterion:
    """B3/B5: the tumour is not a poorly differentiated neuroendocrine carcinoma."""
    if ctx.nec:
        return Criterion(
            id="not-nec",
            label="not poorly differentiated (NEC)",
            met=False,
            note="poorly differentiated neuroendocrine carcinoma recorded",
            sources=ctx.nec_sources,
            evidence=("[2]",),
        )
    note = "no NEC morphology or poor differentiation recorded"
    if ctx.differentiation_unknown_high_grade:
        note += "; Ki-67 > 20 % with unknown differentiation"
    return Criterion(
        id="not-nec",
        label="not poorly differentiated (NEC)",
        met=True,
        note=note,
        sources=(ctx.profile.differentiation.source,) if ctx.profile.differentiation else (),
    )


def fit_for_surgery(ctx: Context) -> Criterion:
    """B7: fit for major surgery (not ECOG ≥ 3, not judged unfit)."""
    met = None if ctx.unfit is None else not ctx.unfit
    return Criterion(
        id="fit-for-major-surgery",
        label="fit for major surgery",
        met=met,
        note=ctx.fitness_note,
        sources=ctx.fitness_sources,
        evidence=("[2]",),
    )


def no_distant_disease(ctx: Context) -> Criterion:
    """B9/B26: no distant extrahepatic disease; regional resectable nodes are not distant."""
    if ctx.distant:
        sites = ", ".join(sorted({f.site.value for f in ctx.distant}))
        return Criterion(
            id="no-distant-extrahepatic-disease",
            label="no distant extrahepatic disease",
            met=False,
            note=f"distant disease: {sites}",
            sources=tuple(f.source for f in ctx.distant),
            evidence=("[2]", "[26]"),
        )
    note = "none recorded"
    if ctx.regional:
        note = "regional nodes only (not distant, A.7 #18)"
    return Criterion(
        id="no-distant-extrahepatic-disease",
        label="no distant extrahepatic disease",
        met=True,
        note=note,
        sources=tuple(f.source for f in ctx.regional),
        evidence=("[2]", "[26]"),
    )


def no_bilio_enteric_anastomosis(ctx: Context) -> Criterion:
    """B15: no Whipple or other bilio-enteric anastomosis in the record."""
    if ctx.bilio_enteric:
        return Criterion(
            id="no-bilio-enteric-anastomosis",
            label="no bilio-enteric anastomosis",
            met=False,
            note="previous Whipple / bilio-enteric anastomosis: risk of liver abscess",
            sources=tuple(p.source for p in ctx.bilio_enteric),
            evidence=("[78]", "[79]"),
        )
    return Criterion(
        id="no-bilio-enteric-anastomosis",
        label="no bilio-enteric anastomosis",
        met=True,
        note="none recorded",
        evidence=("[78]", "[79]"),
    )


def no_pvt(ctx: Context) -> Criterion:
    """B17: no active portal vein thrombosis."""
    if ctx.pvt:
        return Criterion(
            id="no-portal-vein-thrombosis",
            label="no portal vein thrombosis",
            met=False,
            note="active portal vein thrombosis",
            sources=tuple(c.source for c in ctx.pvt),
            evidence=("[2]",),
        )
    return Criterion(
        id="no-portal-vein-thrombosis",
        label="no portal vein thrombosis",
        met=True,
        note="none recorded",
        evidence=("[2]",),
    )


def hepatic_function(ctx: Context) -> tuple[Criterion, tuple[str, ...]]:
    """B16: no hepatic insufficiency; returns the criterion and the lab elements still missing."""
    bili = ctx.lab(LabKind.BILIRUBIN)
    alb = ctx.lab(LabKind.ALBUMIN)
    inr = ctx.lab(LabKind.INR)
    max_bili = ctx.threshold("hepatic.max-bilirubin-mg-dl")
    min_alb = ctx.threshold("hepatic.min-albumin-g-dl")
    max_inr = ctx.threshold("hepatic.max-inr")
    findings: list[str] = []
    sources: list[str] = []
    if ctx.hepatic_failure:
        findings.append("hepatic failure diagnosis")
        sources.extend(c.source for c in ctx.hepatic_failure)
    if bili.value is not None and bili.value > max_bili:
        findings.append(f"bilirubin {_fmt(bili.value)} mg/dL > {_fmt(max_bili)}")
        sources.extend(bili.sources)
    if alb.value is not None and alb.value < min_alb:
        findings.append(f"albumin {_fmt(alb.value)} g/dL < {_fmt(min_alb)}")
        sources.extend(alb.sources)
    if inr.value is not None and inr.value > max_inr:
        findings.append(f"INR {_fmt(inr.value)} > {_fmt(max_inr)}")
        sources.extend(inr.sources)
    label = "no hepatic insufficiency"
    if findings:
        return Criterion(
            id="no-hepatic-insufficiency",
            label=label,
            met=False,
            note="; ".join(findings),
            sources=tuple(sources),
            engineering_default=True,
        ), ()
    missing = tuple(r.element for r in (bili, alb, inr) if r.value is None)
    all_sources = bili.sources + alb.sources + inr.sources
    if missing:
        return Criterion(
            id="no-hepatic-insufficiency",
            label=label,
            met=None,
            note=f"not assessable: {', '.join(missing)} missing or stale",
            sources=all_sources,
            engineering_default=True,
        ), missing
    note = (
        f"bilirubin {_fmt(bili.value or 0)} mg/dL, albumin {_fmt(alb.value or 0)} g/dL, "
        f"INR {_fmt(inr.value or 0)}; no hepatic failure recorded"
    )
    return Criterion(
        id="no-hepatic-insufficiency", label=label, met=True, note=note, sources=all_sources, engineering_default=True
    ), ()


def r0_feasible(ctx: Context) -> Criterion:
    """B8: the MDT judges an R0 resection feasible (diffuse Frilling III never is)."""
    r0 = ctx.resectable_r0
    frilling = ctx.profile.frilling_type
    if frilling is not None and frilling.value is FrillingType.III:
        return Criterion(
            id="resectable-r0",
            label="R0 resection feasible (MDT)",
            met=False,
            note="diffuse NELM (Frilling type III): not resectable",
            sources=(frilling.source,),
            evidence=("[13]",),
        )
    if r0 is None:
        return Criterion(
            id="resectable-r0",
            label="R0 resection feasible (MDT)",
            met=None,
            note="no MDT resectability judgement recorded",
            evidence=("[2]", "[13]"),
        )
    return Criterion(
        id="resectable-r0",
        label="R0 resection feasible (MDT)",
        met=r0.value,
        note="MDT: R0 feasible" if r0.value else "MDT: R0 resection not feasible",
        sources=(r0.source,),
        evidence=("[2]", "[13]"),
    )


def not_resectable(ctx: Context) -> Criterion:
    """B11/B18: the disease is not resectable (the inverse of ``r0_feasible``)."""
    r0 = r0_feasible(ctx)
    met = None if r0.met is None else not r0.met
    return Criterion(
        id="disease-not-resectable",
        label="disease not resectable",
        met=met,
        note=r0.note,
        sources=r0.sources,
        evidence=r0.evidence,
    )


def carcinoid_heart_disease(ctx: Context) -> Criterion | None:
    """ENETS (beyond the review): active carcinoid heart disease needs cardiac work-up before surgery."""
    active = ctx.profile.active(ctx.profile.carcinoid_heart_disease)
    if not active:
        return None
    return Criterion(
        id="no-carcinoid-heart-disease",
        label="no carcinoid heart disease",
        met=False,
        note="carcinoid heart disease: cardiology assessment (right-heart function) before surgery",
        sources=tuple(c.source for c in active),
        beyond_source_review=True,
    )
