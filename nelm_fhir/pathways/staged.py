"""Staged strategies for an insufficient future liver remnant: PVE, two-stage hepatectomy, ALPPS.

PATHWAY.md B2, B5–B9 and A.5.3: resectable-in-principle NELM with FLR < 30 % [38–41].
"""

from __future__ import annotations

from nelm_fhir.model import Grade, SpecimenSite
from nelm_fhir.pathways.criteria import (
    carcinoid_heart_disease,
    fit_for_surgery,
    no_distant_disease,
    not_nec,
    r0_feasible,
)
from nelm_fhir.pathways.gates import Context
from nelm_fhir.pathways.resection import hepatectomy_safe
from nelm_fhir.pathways.result import Criterion, Modality, Status
from nelm_fhir.pathways.verdict import Rated, Verdict

__all__ = [
    "LIVER_BIOPSY_NOTE",
    "alpps",
    "ki67_primary_only",
    "liver_biopsy_note",
    "portal_vein_embolization",
    "two_stage_hepatectomy",
]

LIVER_BIOPSY_NOTE = (
    "Ki-67 measured on the primary only: pre-operative liver biopsy recommended to exclude Ki-67 discordance [41]"
)
_UNKNOWN_SITE_NOTE = (
    "Ki-67 specimen site not recorded: pre-operative liver biopsy recommended to exclude Ki-67 discordance [41]"
)


def liver_biopsy_note(ctx: Context) -> str:
    """Return the B2 liver biopsy note, naming the primary only when the record says so."""
    on_primary = any(k.specimen is SpecimenSite.PRIMARY for k in ctx.profile.ki67)
    return LIVER_BIOPSY_NOTE if on_primary else _UNKNOWN_SITE_NOTE


def ki67_primary_only(ctx: Context) -> bool:
    """B2: True when Ki-67 results exist but none was measured on a liver specimen."""
    grade = ctx.grade
    if grade is None or grade.ki67_percent is None:
        return False
    # B36(d): never when a liver specimen result exists, whichever value set the grade.
    return not any(k.specimen is SpecimenSite.LIVER for k in ctx.profile.ki67)


def _flr_insufficient(ctx: Context) -> Criterion:
    limit = ctx.threshold("flr.min-percent")
    flr = ctx.flr
    label = f"FLR below {limit:g} % (one-stage resection not possible)"
    if flr.value is None:
        return Criterion(
            id="flr-insufficient",
            label=label,
            met=None,
            note="FLR volumetry stale" if flr.stale else "FLR not recorded",
            sources=flr.sources,
            evidence=("[10]", "[38]"),
        )
    return Criterion(
        id="flr-insufficient",
        label=label,
        met=flr.value < limit,
        note=f"FLR {flr.value:g} %" + ("" if flr.value < limit else ": not required"),
        sources=flr.sources,
        evidence=("[10]", "[38]"),
    )


def _staged(v: Verdict, ctx: Context) -> None:
    v.contraindication(not_nec(ctx), "poorly differentiated neuroendocrine carcinoma [2]")
    v.contraindication(fit_for_surgery(ctx), f"not fit for major surgery ({ctx.fitness_note}, B7)", needs=("fitness",))
    hepatectomy_safe(v, ctx)
    v.caution(carcinoid_heart_disease(ctx), "carcinoid heart disease")
    v.indication(no_distant_disease(ctx), "distant extrahepatic disease (B9)")
    v.indication(r0_feasible(ctx), "R0 resection not feasible even after staging", needs=("resectableR0",))
    v.indication(
        _flr_insufficient(ctx), "FLR adequate: one-stage resection possible (not required)", needs=("flrPercent",)
    )
    if ctx.g3_net:
        v.cap("G3 NET (B6)")
    if ki67_primary_only(ctx):
        v.notes.append(liver_biopsy_note(ctx))
        v.criterion(
            Criterion(
                id="ki67-liver-specimen",
                label="Ki-67 measured on a liver specimen",
                met=False,
                note="only the primary was measured (B2)"
                if liver_biopsy_note(ctx) == LIVER_BIOPSY_NOTE
                else "specimen site not recorded (B2)",
                sources=ctx.grade.sources if ctx.grade else (),
                evidence=("[41]",),
            )
        )


def portal_vein_embolization(ctx: Context) -> Rated:
    """Rate PVE to grow the remnant before resection (B8: R or C)."""
    v = Verdict(Modality.PORTAL_VEIN_EMBOLIZATION, ctx, grade_dependent=True)
    _staged(v, ctx)
    if ctx.primary_in_situ:
        v.cap("primary in situ: two-stage approach with primary resection at stage 1 [38]")
    if ctx.unknown_primary:
        v.cap("unknown primary (B22)")
    return v.decide(
        Status.RECOMMENDED, "Recommended: FLR below the minimum with R0 feasible: PVE, then resection [38–40]."
    )


def two_stage_hepatectomy(ctx: Context) -> Rated:
    """Rate two-stage hepatectomy with portal vein ligation (Clichy, B8: C)."""
    v = Verdict(Modality.TWO_STAGE_HEPATECTOMY, ctx, grade_dependent=True)
    _staged(v, ctx)
    v.notes.append("2-month observation after stage 1; completion only without progression [38]")
    return v.decide(Status.CONSIDER, "Consider at MDT: two-stage hepatectomy for FLR below the minimum [38].")


def alpps(ctx: Context) -> Rated:
    """Rate ALPPS (B6: G3 contraindicates it [41]; otherwise C as B8)."""
    v = Verdict(Modality.ALPPS, ctx, grade_dependent=True)
    grade = ctx.grade
    if grade is not None:
        g3 = grade.grade is Grade.G3
        v.contraindication(
            Criterion(
                id="not-g3",
                label="not G3 (Ki-67 ≤ 20 %)",
                met=not g3,
                note=f"grade {grade.grade.value}"
                + (": ALPPS registry authors consider G3 NEN a contraindication" if g3 else ""),
                sources=grade.sources,
                evidence=("[41]",),
            ),
            "G3 NEN: the ALPPS registry authors consider it a contraindication [41]",
        )
    _staged(v, ctx)
    return v.decide(Status.CONSIDER, "Consider at MDT: ALPPS for FLR below the minimum in G1/G2 disease [41,42].")
