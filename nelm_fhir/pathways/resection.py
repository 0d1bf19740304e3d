"""Liver resection options: curative, simultaneous with the primary, repeat, cytoreductive.

PATHWAY.md B5–B10, B13, B16, B21, B22; A.5.1, A.5.2, A.5.4, A.5.7.
"""

from __future__ import annotations

import datetime as dt

from nelm_fhir.model import FrillingType
from nelm_fhir.pathways.criteria import (
    IN_SITU_BY_DEFAULT,
    carcinoid_heart_disease,
    fit_for_surgery,
    hepatic_function,
    no_distant_disease,
    not_nec,
    r0_feasible,
)
from nelm_fhir.pathways.gates import Context
from nelm_fhir.pathways.result import Criterion, Modality, Status
from nelm_fhir.pathways.verdict import Rated, Verdict

__all__ = [
    "curative_resection",
    "cytoreductive_surgery",
    "flr_adequate",
    "hepatectomy_safe",
    "repeat_resection",
    "simultaneous_resection",
]


def flr_adequate(ctx: Context) -> Criterion:
    """B8: future liver remnant at least the configured minimum (30 %, inclusive) [10]."""
    limit = ctx.threshold("flr.min-percent")
    flr = ctx.flr
    label = f"future liver remnant at least {limit:g} %"
    if flr.value is None and not ctx.major_resection:
        # B38: FLR is required only for a major resection; a recorded FLR < 30 % still applies (below).
        return Criterion(
            id="flr-adequate",
            label=label,
            met=True,
            note=f"FLR not required: {ctx.resection_extent_note}",
            sources=ctx.resection_extent_sources,
            evidence=("[10]",),
            engineering_default=ctx.profile.resection_extent is None,
        )
    if flr.value is None:
        note = "FLR volumetry stale" if flr.stale else "FLR not recorded"
        if ctx.major_resection:
            note += f" ({ctx.resection_extent_note})"
        return Criterion(id="flr-adequate", label=label, met=None, note=note, sources=flr.sources, evidence=("[10]",))
    note = f"FLR {flr.value:g} %"
    if flr.value == limit:
        note += " (at threshold: confirm volumetry and liver function)"
    return Criterion(
        id="flr-adequate",
        label=label,
        met=flr.value >= limit,
        note=note,
        sources=flr.sources,
        evidence=("[10]",),
        engineering_default=limit != 30,
    )


def _surgical_gates(v: Verdict, ctx: Context) -> None:
    v.contraindication(not_nec(ctx), "poorly differentiated neuroendocrine carcinoma [2]")
    v.contraindication(fit_for_surgery(ctx), f"not fit for major surgery ({ctx.fitness_note}, B7)", needs=("fitness",))
    v.caution(carcinoid_heart_disease(ctx), "carcinoid heart disease")


def hepatectomy_safe(v: Verdict, ctx: Context) -> None:
    """B16 and B35 on every hepatectomy: hepatic insufficiency excludes it; stale abnormal liver tests cap it at C."""
    hep, _ = hepatic_function(ctx)
    v.contraindication(hep, "hepatic insufficiency (B16)")
    unread = [e for e in ("bilirubin", "albumin", "inr") if e in ctx.unreadable]
    if unread and hep.met is not False:
        # B28 on B16/B35: the newest liver test could not be read; a hepatectomy, which it could exclude,
        # cannot be rated until it is repeated or corrected (a missing test stays no gap, A.6).
        v.require(*unread)
    stale = ctx.stale_liver_function
    if stale and hep.met is not False:
        last = max(lab.date or dt.date.min for lab in stale)
        names = ", ".join(f"{lab.kind.value} {lab.value:g} {lab.unit}" for lab in stale)
        v.caution(
            Criterion(
                id="liver-function-current",
                label="current liver function",
                met=False,
                note=f"liver function last abnormal on {last.isoformat()}: repeat before deciding ({names})",
                sources=tuple(lab.source for lab in stale),
                engineering_default=True,
            ),
            "stale abnormal liver function (B35)",
        )


def _g3_cap(v: Verdict, ctx: Context) -> None:
    if ctx.g3_net:
        v.criterion(
            Criterion(
                id="grade-g1-g2",
                label="grade G1/G2",
                met=False,
                note="G3 NET: surgery only after MDT discussion (B6)",
                sources=ctx.grade.sources if ctx.grade else (),
                evidence=("[2]",),
            )
        )
        v.cap("G3 NET (B6)")


def curative_resection(ctx: Context) -> Rated:
    """Rate curative-intent liver resection (B5, B7, B8, B9, B16, B21, B22)."""
    v = Verdict(Modality.CURATIVE_RESECTION, ctx, grade_dependent=True)
    _surgical_gates(v, ctx)
    hepatectomy_safe(v, ctx)
    v.indication(no_distant_disease(ctx), "distant extrahepatic disease (B9)")
    v.indication(
        Criterion(
            id="not-recurrence",
            label="first presentation (not recurrence)",
            met=not ctx.recurrent,
            note="recurrent NELM: see repeat resection (B21)" if ctx.recurrent else "",
            evidence=("[71]", "[72]"),
        ),
        "recurrent NELM: repeat resection applies (B21)",
    )
    v.indication(
        Criterion(
            id="primary-not-in-situ",
            label="primary resected or unknown",
            met=None if ctx.profile.primary is None else not ctx.primary_in_situ,
            note=(IN_SITU_BY_DEFAULT if ctx.primary_in_situ_by_default else "primary in situ")
            + ": see simultaneous or staged resection"
            if ctx.primary_in_situ
            else "",
            sources=(ctx.profile.primary.source,) if ctx.profile.primary else (),
        ),
        "primary still in situ: see simultaneous resection",
    )
    v.indication(r0_feasible(ctx), "R0 resection not feasible", needs=("resectableR0",))
    v.indication(
        flr_adequate(ctx), "FLR below the one-stage minimum: see PVE / staged options (B8)", needs=("flrPercent",)
    )
    _g3_cap(v, ctx)
    if ctx.unknown_primary:
        v.criterion(
            Criterion(
                id="primary-known",
                label="primary tumour known",
                met=False,
                note="unknown primary: consider continuing the search (SSTR-PET), MDT (B22)",
                sources=(ctx.profile.primary.source,) if ctx.profile.primary else (),
            )
        )
        v.cap("unknown primary (B22)")
    flr = ctx.flr.value
    if flr is not None and flr == ctx.threshold("flr.min-percent"):
        v.notes.append("FLR exactly at threshold: confirm volumetry and liver function")
    v.notes.append("intensified imaging follow-up after resection: recurrence 65–90 % [2,71,72]")
    return v.decide(Status.RECOMMENDED, "Recommended: resectable well-differentiated NELM, adequate FLR [10,26].")


def _limited_liver_disease(ctx: Context) -> Criterion:
    frilling = ctx.profile.frilling_type
    label = "limited liver disease (Frilling I, no major/staged hepatectomy)"
    if frilling is not None:
        met = frilling.value is FrillingType.I
        note = f"Frilling {frilling.value.value}" + ("" if met else ": needs major or staged hepatectomy (B10)")
        return Criterion(
            id="limited-liver-disease",
            label=label,
            met=met,
            note=note,
            sources=(frilling.source,),
            evidence=("[13]", "[47]"),
        )
    if ctx.lesion_count == 1:
        return Criterion(
            id="limited-liver-disease", label=label, met=True, note="single NELM", evidence=("[13]", "[47]")
        )
    return Criterion(
        id="limited-liver-disease", label=label, met=None, note="Frilling type not recorded", evidence=("[13]", "[47]")
    )


def simultaneous_resection(ctx: Context) -> Rated:
    """Rate resection of the primary together with synchronous NELM (B10)."""
    v = Verdict(Modality.SIMULTANEOUS_RESECTION, ctx, grade_dependent=True)
    _surgical_gates(v, ctx)
    hepatectomy_safe(v, ctx)
    primary = ctx.profile.primary
    if primary is None:
        in_situ = Criterion(
            id="synchronous-primary-in-situ",
            label="synchronous primary in situ",
            met=None,
            note="no primary tumour recorded (B30)",
        )
    else:
        note = "primary in situ" if ctx.primary_in_situ else "primary resected or unknown"
        in_situ = Criterion(
            id="synchronous-primary-in-situ",
            label="synchronous primary in situ",
            met=ctx.primary_in_situ,
            note=IN_SITU_BY_DEFAULT if ctx.primary_in_situ_by_default else note,
            sources=(primary.status_source or primary.source,),
        )
    v.indication(in_situ, "no primary in situ to resect", needs=("primaryTumour",))
    v.indication(no_distant_disease(ctx), "distant extrahepatic disease (B9)")
    v.indication(_limited_liver_disease(ctx), "needs a major or staged hepatectomy (B10)", needs=("frillingType",))
    v.indication(r0_feasible(ctx), "R0 resection not feasible", needs=("resectableR0",))
    v.indication(
        flr_adequate(ctx), "FLR below the one-stage minimum: staged approach needed (B8, B10)", needs=("flrPercent",)
    )
    _g3_cap(v, ctx)
    return v.decide(
        Status.RECOMMENDED, "Recommended: synchronous primary with limited NELM, fit, no major hepatectomy [22,45,47]."
    )


def repeat_resection(ctx: Context) -> Rated:
    """Rate re-resection of recurrent NELM (B21)."""
    v = Verdict(Modality.REPEAT_RESECTION, ctx, grade_dependent=True)
    _surgical_gates(v, ctx)
    hepatectomy_safe(v, ctx)
    sources = tuple(n.source for n in ctx.profile.active(ctx.profile.nelm) if n.recurrence)
    if ctx.profile.recurrent_nelm is not None:
        sources = (ctx.profile.recurrent_nelm.source, *sources)
    v.indication(
        Criterion(
            id="recurrent-nelm",
            label="recurrent NELM after liver resection",
            met=ctx.recurrent,
            note="recurrence recorded" if ctx.recurrent else "no recurrence after liver resection recorded",
            sources=sources,
            evidence=("[71]", "[72]"),
        ),
        "no recurrence after liver resection recorded",
    )
    v.indication(no_distant_disease(ctx), "distant extrahepatic disease (B9)")
    v.indication(r0_feasible(ctx), "R0 re-resection not feasible", needs=("resectableR0",))
    v.indication(flr_adequate(ctx), "remnant after re-resection below the minimum", needs=("flrPercent",))
    _g3_cap(v, ctx)
    v.notes.append("intensified imaging follow-up: recurrence 65–90 % [2,71,72]")
    return v.decide(Status.RECOMMENDED, "Recommended: resectable recurrent NELM in a fit patient [71,72].")


def cytoreductive_surgery(ctx: Context, route: Status | None) -> Rated:
    """Rate palliative debulking (B13): ≥ 70 % achievable and a syndrome or burden indication."""
    v = Verdict(Modality.CYTOREDUCTIVE_SURGERY, ctx, grade_dependent=True)
    v.contraindication(fit_for_surgery(ctx), f"not fit for major surgery ({ctx.fitness_note}, B7)", needs=("fitness",))
    v.caution(carcinoid_heart_disease(ctx), "carcinoid heart disease")
    v.indication(not_nec(ctx), "poorly differentiated NEC (B5)")
    if route is Status.RECOMMENDED:
        v.indication(
            Criterion(
                id="no-curative-option",
                label="no curative resection option",
                met=False,
                note="a curative resection option is recommended",
            ),
            "curative resection is possible",
        )
    if ctx.refractory_syndrome:
        v.indication(
            Criterion(
                id="refractory-syndrome",
                label="functional syndrome refractory to SSA",
                met=True,
                sources=tuple(s.source for s in ctx.functional),
                evidence=("[2]", "[48]"),
            ),
            "",
        )
    elif ctx.functional and not _controlled(ctx):
        v.indication(
            Criterion(
                id="refractory-syndrome",
                label="functional syndrome refractory to SSA",
                met=False,
                note="syndrome not recorded as refractory to SSA",
                sources=tuple(s.source for s in ctx.functional),
                evidence=("[2]", "[48]"),
            ),
            "functional syndrome not refractory to SSA",
        )
    else:
        if ctx.functional:  # B36(b): a syndrome controlled by SSA may take the non-functional path
            v.criterion(
                Criterion(
                    id="syndrome-controlled",
                    label="functional syndrome controlled by SSA",
                    met=True,
                    note="syndrome controlled by SSA: non-functional indication applies (B36)",
                    sources=tuple(s.source for s in ctx.functional) + _refractory_source(ctx),
                )
            )
        burden = ctx.profile.tumour_burden_symptoms
        v.indication(
            Criterion(
                id="tumour-burden-symptoms",
                label="symptoms from tumour burden (non-functional)",
                met=ctx.burden_symptoms,
                note="" if ctx.burden_symptoms else "non-functional, no burden symptoms recorded",
                sources=(burden.source,) if burden else (),
                evidence=("[2]", "[48]"),
            ),
            "non-functional disease without tumour-burden symptoms",
        )
        months = ctx.months_stable
        need = ctx.threshold("cytoreduction.min-stable-months")
        v.indication(
            Criterion(
                id="stable-6-months",
                label=f"stable disease for at least {need:g} months",
                met=None if months is None else months >= need,
                note=ctx.course_note,
                sources=ctx.course_sources,
                evidence=("[2]",),
            ),
            f"stable for less than {need:g} months",
            needs=("monthsStable",),
        )
    limit = ctx.threshold("debulking.min-percent")
    debulk = ctx.profile.achievable_debulking_percent
    v.indication(
        Criterion(
            id="debulking-achievable",
            label=f"at least {limit:g} % of the NELM load removable",
            met=None if debulk is None else debulk.value >= limit,
            note="surgeon estimate not recorded"
            if debulk is None
            else f"achievable {debulk.value:g} % (classic threshold 90 %)",
            sources=(debulk.source,) if debulk else (),
            evidence=("[23]", "[52]", "[53]"),
        ),
        f"less than {limit:g} % debulking achievable",
        needs=("achievableDebulkingPercent",),
    )
    return v.decide(Status.CONSIDER, "Consider at MDT: ≥ 70 % debulking achievable with an accepted indication [2,48].")


def _controlled(ctx: Context) -> bool:
    """B36(b): the record says the syndrome is not refractory to SSA (controlled)."""
    fact = ctx.profile.syndrome_refractory_to_ssa
    return fact is not None and fact.value is False


def _refractory_source(ctx: Context) -> tuple[str, ...]:
    fact = ctx.profile.syndrome_refractory_to_ssa
    return (fact.source,) if fact is not None else ()
