"""Intra-arterial therapy: TAE, TACE and radioembolization (PATHWAY.md B15–B18; A.5.11, A.5.12).

TAE/TACE: contraindicated by bilio-enteric anastomosis, hepatic insufficiency or portal vein
thrombosis; RE only by hepatic insufficiency, with warnings for the other two (A.7 #10).
"""

from __future__ import annotations

from nelm_fhir.pathways.criteria import hepatic_function, no_bilio_enteric_anastomosis, no_pvt, not_nec
from nelm_fhir.pathways.gates import Context
from nelm_fhir.pathways.result import Criterion, Modality, Status
from nelm_fhir.pathways.verdict import Rated, Verdict

__all__ = ["liver_directed_setting", "radioembolization", "tace", "tae"]


def liver_directed_setting(v: Verdict, ctx: Context, route: Status | None) -> str:
    """B18: multiple unresectable NELM or advanced burden → indicated; resectable disease → not; returns why."""
    if route is Status.RECOMMENDED:
        v.indication(
            Criterion(
                id="not-resectable",
                label="NELM not amenable to resection",
                met=False,
                note="a resection option is recommended",
                evidence=("[2]",),
            ),
            "resectable disease: resection preferred (B18)",
        )
        return ""
    reasons = []
    if ctx.unresectable:
        reasons.append("not resectable")
    if ctx.unfit:
        reasons.append("surgery unsafe")
    if ctx.multiple_or_advanced:
        reasons.append("multiple NELM or advanced liver burden")
    if route is Status.CONSIDER:
        reasons.append("surgical options only after MDT")
    if reasons:
        facts = [
            ctx.resectable_r0.source if ctx.resectable_r0 else None,
            ctx.profile.frilling_type.source if ctx.profile.frilling_type else None,
            *ctx.involvement.sources,
            *(lesion.source for lesion in ctx.lesions),
            *(ctx.fitness_sources if ctx.unfit else ()),
        ]
        # Met: the label says only what holds for this patient (the note names which reasons); "unresectable"
        # is never claimed for a patient whose R0 resection the MDT judged feasible.
        label = "indication for liver-directed therapy" + (" (unresectable NELM)" if ctx.unresectable else "")
        v.indication(
            Criterion(
                id="liver-directed-indication",
                label=label,
                met=True,
                note=", ".join(reasons),
                sources=tuple(dict.fromkeys(f for f in facts if f)),
                evidence=("[2]",),
            ),
            "",
        )
        return ", ".join(reasons)
    r0 = ctx.resectable_r0
    if r0 is not None and r0.value is True:
        v.indication(
            Criterion(
                id="liver-directed-indication",
                label="multiple unresectable NELM or advanced burden",
                met=False,
                note="limited NELM, R0 resection feasible per MDT",
                sources=(r0.source,),
                evidence=("[2]",),
            ),
            "limited resectable NELM (B18)",
        )
        return ""
    v.indication(
        Criterion(
            id="liver-directed-indication",
            label="multiple unresectable NELM or advanced burden",
            met=None,
            note="single NELM without a resectability judgement",
            evidence=("[2]",),
        ),
        "",
        needs=("resectableR0",),
    )
    return ""


def _embolization(modality: Modality, ctx: Context, route: Status | None, refs: str) -> Rated:
    v = Verdict(modality, ctx)
    v.contraindication(no_bilio_enteric_anastomosis(ctx), "bilio-enteric anastomosis (B15)")
    hep, missing = hepatic_function(ctx)
    v.contraindication(hep, "hepatic insufficiency (B16)", needs=missing)
    v.contraindication(no_pvt(ctx), "portal vein thrombosis (B17)")
    v.indication(not_nec(ctx), "poorly differentiated NEC: no support in the review (B5)")
    why = liver_directed_setting(v, ctx, route)
    return v.decide(Status.CONSIDER, f"Consider at MDT: {why}; no contraindication found {refs}.")


def tae(ctx: Context, route: Status | None) -> Rated:
    """Rate transarterial bland embolization (B15–B18)."""
    return _embolization(Modality.TAE, ctx, route, "[2,96,97]")


def tace(ctx: Context, route: Status | None) -> Rated:
    """Rate transarterial chemoembolization (B15–B18)."""
    return _embolization(Modality.TACE, ctx, route, "[2,95–97]")


def radioembolization(ctx: Context, route: Status | None) -> Rated:
    """Rate Y-90 radioembolization (B16 contraindication; B15, B17 warnings, at most C)."""
    v = Verdict(Modality.RADIOEMBOLIZATION, ctx)
    hep, missing = hepatic_function(ctx)
    v.contraindication(hep, "hepatic insufficiency (B16)", needs=missing)
    for criterion, warning in (
        (no_pvt(ctx), "portal vein thrombosis: interventional radiology review before RE (A.7 #10)"),
        (no_bilio_enteric_anastomosis(ctx), "bilio-enteric anastomosis: interventional radiology review before RE"),
    ):
        v.criterion(criterion)
        if criterion.met is False:
            v.warnings.append(warning)
            v.cap(warning.split(":")[0])
    v.indication(not_nec(ctx), "poorly differentiated NEC: no support in the review (B5)")
    why = liver_directed_setting(v, ctx, route)
    if ctx.g3_net:
        v.cap("G3 NET (B6)")
    v.notes.append("consider re-evaluating resectability after RE [104]")
    return v.decide(Status.CONSIDER, f"Consider at MDT: NELM not amenable to resection ({why}) [2,92,100].")
