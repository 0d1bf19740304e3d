"""Thermal ablation: RFA, stereotactic RFA, microwave ablation (PATHWAY.md B5, B14, B15; A.5.8–A.5.10).

RFA needs every target lesion strictly below 5 cm; 5.0 cm counts as ≥ 5 (A.7 #5).
"""

from __future__ import annotations

from nelm_fhir.model import FrillingType
from nelm_fhir.pathways.criteria import no_bilio_enteric_anastomosis, not_nec
from nelm_fhir.pathways.gates import Context
from nelm_fhir.pathways.result import Criterion, Modality, Status
from nelm_fhir.pathways.verdict import Rated, Verdict

__all__ = ["mwa", "rfa", "stereotactic_rfa"]


def _location(ctx: Context, flag: str, label: str, note: str) -> Criterion:
    hits = [lesion for lesion in ctx.profile.lesions if getattr(lesion, flag) is True]
    if hits:
        return Criterion(
            id=f"no-lesion-{flag.replace('_', '-')}",
            label=label,
            met=False,
            note=note + "".join(f" ({h.label})" for h in hits[:1] if h.label),
            sources=tuple(h.source for h in hits),
            evidence=("[78]",),
        )
    return Criterion(
        id=f"no-lesion-{flag.replace('_', '-')}", label=label, met=True, note="none recorded", evidence=("[78]",)
    )


def _hilum(ctx: Context) -> Criterion:
    return _location(ctx, "near_hilum", "no lesion near the liver hilum", "lesion abuts vital hilar structures")


def _subcapsular(ctx: Context) -> Criterion:
    return _location(ctx, "subcapsular", "no superficial (subcapsular) lesion", "superficial lesion")


def _size(ctx: Context, *, small: bool) -> Criterion:
    limit = ctx.threshold("ablation.max-lesion-cm")
    largest = ctx.largest_cm
    label = f"every lesion below {limit:g} cm" if small else f"a lesion of {limit:g} cm or more"
    if largest.value is None:
        return Criterion(
            id="lesion-size",
            label=label,
            met=None,
            note="lesion sizes stale" if largest.stale else "lesion sizes not recorded",
            evidence=("[78]", "[86]"),
        )
    below = largest.value < limit
    note = f"largest lesion {largest.value:g} cm"
    if largest.value == limit:
        note += " (exactly the limit counts as not below it, A.7 #5)"
    return Criterion(
        id="lesion-size",
        label=label,
        met=below if small else not below,
        note=note,
        sources=largest.sources,
        evidence=("[78]", "[86]"),
    )


def _setting(v: Verdict, ctx: Context, route: Status | None, cyto: Status | None, *, allow_diffuse: bool) -> None:
    """Ablation's place: surgery unsafe, recurrence, or adjunct to cytoreduction; not instead of resection."""
    adjunct = cyto in (Status.RECOMMENDED, Status.CONSIDER)
    if ctx.unfit:
        v.indication(
            Criterion(
                id="surgery-unsafe",
                label="surgery unsafe or declined",
                met=True,
                note=ctx.fitness_note,
                sources=ctx.fitness_sources,
                evidence=("[2]",),
            ),
            "",
        )
    elif adjunct:
        v.indication(
            Criterion(
                id="adjunct-to-cytoreduction", label="adjunct to cytoreductive surgery", met=True, evidence=("[18]",)
            ),
            "",
        )
    elif ctx.recurrent:
        v.indication(
            Criterion(
                id="recurrence-alternative",
                label="alternative to re-resection of recurrence",
                met=True,
                evidence=("[71]", "[72]"),
            ),
            "",
        )
    elif route is Status.RECOMMENDED:
        v.indication(
            Criterion(
                id="surgery-unsafe",
                label="surgery unsafe or declined",
                met=False,
                note="resection recommended: ablation only when surgery is contraindicated or combined",
                sources=ctx.fitness_sources,
                evidence=("[2]",),
            ),
            "resection is recommended; ablation only if surgery is unsafe or combined",
        )
    elif ctx.frilling is FrillingType.III and not allow_diffuse:
        v.indication(
            Criterion(
                id="limited-disease",
                label="limited liver disease",
                met=False,
                note="diffuse NELM (Frilling III)",
                evidence=("[13]",),
            ),
            "diffuse NELM (Frilling III)",
        )
    elif ctx.unfit is None:
        v.indication(
            Criterion(id="surgery-unsafe", label="surgery unsafe or declined", met=None, note=ctx.fitness_note),
            "",
            needs=("fitness",),
        )
    else:
        v.indication(
            Criterion(
                id="surgery-unsafe",
                label="surgery unsafe or declined",
                met=False,
                note="fit for surgery and no recurrence: ablation is for limited NELM when surgery is unsafe",
                sources=ctx.fitness_sources,
                evidence=("[2]",),
            ),
            "fit for surgery; ablation is reserved for when surgery is unsafe",
        )
    if ctx.g3_net:
        v.cap("G3 NET: liver-directed therapy after MDT (B6)")


def rfa(ctx: Context, route: Status | None, cyto: Status | None) -> Rated:
    """Rate radiofrequency ablation (B14): R when surgery is unsafe and every lesion is < 5 cm."""
    v = Verdict(Modality.RFA, ctx)
    v.contraindication(_hilum(ctx), "lesion near the liver hilum [78]")
    v.contraindication(_subcapsular(ctx), "superficial (subcapsular) lesion [78]")
    v.contraindication(no_bilio_enteric_anastomosis(ctx), "previous Whipple / bilio-enteric anastomosis [78] (B15)")
    v.indication(not_nec(ctx), "poorly differentiated NEC (B5)")
    v.indication(
        _size(ctx, small=True), "a lesion of 5 cm or more: consider stereotactic RFA or MWA", needs=("lesionSize",)
    )
    _setting(v, ctx, route, cyto, allow_diffuse=False)
    positive = Status.RECOMMENDED if ctx.unfit else Status.CONSIDER
    return v.decide(
        positive,
        "Recommended: every lesion below 5 cm and surgery unsafe [76–78]."
        if positive is Status.RECOMMENDED
        else "Consider at MDT: ablation of lesions below 5 cm [78,83].",
    )


def stereotactic_rfa(ctx: Context, route: Status | None, cyto: Status | None) -> Rated:
    """Rate stereotactic RFA for lesions ≥ 5 cm (B14: C; evidence from tumours ≥ 8 cm [86])."""
    v = Verdict(Modality.STEREOTACTIC_RFA, ctx)
    v.contraindication(_hilum(ctx), "lesion near the liver hilum [78]")
    v.contraindication(_subcapsular(ctx), "superficial (subcapsular) lesion [78]")
    v.contraindication(no_bilio_enteric_anastomosis(ctx), "previous Whipple / bilio-enteric anastomosis [78] (B15)")
    v.indication(not_nec(ctx), "poorly differentiated NEC (B5)")
    v.indication(_size(ctx, small=False), "every lesion below 5 cm: standard RFA suffices", needs=("lesionSize",))
    _setting(v, ctx, route, cyto, allow_diffuse=False)
    v.notes.append("stereotactic RFA evidence comes from tumours ≥ 8 cm [86]")
    return v.decide(Status.CONSIDER, "Consider at MDT: stereotactic RFA for a lesion of 5 cm or more [86].")


def mwa(ctx: Context, route: Status | None, cyto: Status | None) -> Rated:
    """Rate microwave ablation (C; RFA's anatomical caveats applied by analogy, A.5.10)."""
    v = Verdict(Modality.MWA, ctx)
    v.contraindication(no_bilio_enteric_anastomosis(ctx), "previous Whipple / bilio-enteric anastomosis (B15)")
    for criterion in (_hilum(ctx), _subcapsular(ctx)):
        v.criterion(criterion)
        if criterion.met is False:
            v.warnings.append(f"{criterion.note}: caution, RFA contraindication applied by analogy (inferred)")
            v.cap("lesion location (inferred from RFA)")
    v.indication(not_nec(ctx), "poorly differentiated NEC (B5)")
    v.criterion(_size(ctx, small=True))
    if ctx.largest_cm.value is None:
        v.require("lesionSize")
    _setting(v, ctx, route, cyto, allow_diffuse=False)
    return v.decide(Status.CONSIDER, "Consider at MDT: microwave ablation as an alternative or adjunct [88–91].")
