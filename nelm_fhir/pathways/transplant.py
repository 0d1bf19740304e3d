"""Liver transplantation by the Milan criteria (PATHWAY.md B11, A.5.5, A.5.6, A.7 #7–#8).

Never ``recommended``: at best ``consider`` for highly selected patients [59,67].
"""

from __future__ import annotations

from nelm_fhir.model import Grade, PrimarySite, PrimaryStatus
from nelm_fhir.pathways.criteria import (
    IN_SITU_BY_DEFAULT,
    carcinoid_heart_disease,
    fit_for_surgery,
    no_distant_disease,
    not_nec,
    not_resectable,
)
from nelm_fhir.pathways.gates import Context
from nelm_fhir.pathways.result import Criterion, Modality, Status
from nelm_fhir.pathways.verdict import Rated, Verdict

__all__ = ["liver_transplantation"]

_MILAN = ("[59]", "[67]")


def _primary_criteria(v: Verdict, ctx: Context) -> None:
    primary = ctx.profile.primary
    if primary is None:
        v.indication(
            Criterion(
                id="primary-portal-drained",
                label="primary drained by the portal system",
                met=None,
                note="no primary tumour recorded (B30)",
                evidence=_MILAN,
            ),
            "",
            needs=("primaryTumour",),
        )
        return
    site = ctx.primary_site
    portal = primary.portal_drained if site is not PrimarySite.UNKNOWN else False
    note = "unknown primary" if site is PrimarySite.UNKNOWN else f"primary site {primary.site.value}"
    v.contraindication(
        Criterion(
            id="primary-portal-drained",
            label="primary drained by the portal system",
            met=portal,
            note=note,
            sources=(primary.source,),
            evidence=_MILAN,
        ),
        "unknown or non-portal-drained primary (B11, B22)",
        needs=("primarySite",),
    )
    if site is PrimarySite.UNKNOWN:
        return
    status = primary.status
    resected = status is PrimaryStatus.RESECTED  # B30: no resection recorded reads as in situ
    v.indication(
        Criterion(
            id="primary-resected",
            label="primary removed by curative resection",
            met=resected,
            note=IN_SITU_BY_DEFAULT if status is None else f"primary {status.value}",
            sources=(primary.status_source or primary.source,),
            evidence=_MILAN,
        ),
        "primary not yet resected",
        needs=("primaryStatus",),
    )


def liver_transplantation(ctx: Context) -> Rated:
    """Rate orthotopic liver transplantation (B11): C when every Milan criterion is met."""
    v = Verdict(Modality.LIVER_TRANSPLANTATION, ctx, grade_dependent=True)
    v.contraindication(not_nec(ctx), "poorly differentiated neuroendocrine carcinoma (B11)")
    grade = ctx.grade
    if grade is not None:
        v.contraindication(
            Criterion(
                id="low-grade",
                label="well-differentiated low-grade NET (not G3)",
                met=grade.grade is not Grade.G3,
                note=f"grade {grade.grade.value}",
                sources=grade.sources,
                evidence=_MILAN,
            ),
            "G3 tumour (B6, B11)",
        )
    v.contraindication(no_distant_disease(ctx), "distant extrahepatic disease (B9, B11)")
    v.contraindication(fit_for_surgery(ctx), f"not fit for major surgery ({ctx.fitness_note}, B7)", needs=("fitness",))
    v.caution(carcinoid_heart_disease(ctx), "carcinoid heart disease")
    _primary_criteria(v, ctx)
    if ctx.regional:
        # B11 asks for no extrahepatic disease at all: regional nodes are not distant (no X) but unmet (N).
        v.indication(
            Criterion(
                id="milan-no-extrahepatic-disease",
                label="no extrahepatic disease (regional nodes included)",
                met=False,
                note="regional lymph node disease recorded",
                sources=tuple(f.source for f in ctx.regional),
                evidence=_MILAN,
            ),
            "regional nodal disease: Milan needs no extrahepatic disease (B11)",
        )

    ki_limit = ctx.threshold("milan.max-ki67-percent")
    ki67 = ctx.ki67.value
    if grade is not None:
        ki_note = "Ki-67 not measured (grade from mitotic count)" if ki67 is None else f"Ki-67 {ki67:g} %"
        if ki67 is not None and ki_limit <= ki67 <= 20:
            ki_note += ": some centres accept G2 ≤ 20 %; the MDT may override (A.7 #7)"
        stated_g1 = ki67 is None and grade.grade is Grade.G1 and ctx.profile.stated_grade is not None
        if stated_g1:
            ki_note = "stated WHO G1 (Ki-67 below 3 %), no number recorded (B37)"
        v.indication(
            Criterion(
                id="milan-ki67",
                label=f"Ki-67 below {ki_limit:g} %",
                met=True if stated_g1 else (None if ki67 is None else ki67 < ki_limit),
                note=ki_note,
                sources=ctx.ki67.sources,
                evidence=_MILAN,
                engineering_default=ki_limit != 10,
            ),
            f"Ki-67 {ki67:g} % is not below {ki_limit:g} % (B11)" if ki67 is not None else "",
            needs=("ki67Percent",),
        )

    inv_limit = ctx.threshold("milan.max-involvement-percent")
    inv = ctx.involvement
    v.indication(
        Criterion(
            id="milan-involvement",
            label=f"liver involvement at most {inv_limit:g} %",
            met=None if inv.value is None else inv.value <= inv_limit,
            note="not recorded" if inv.value is None else f"involvement {inv.value:g} %",
            sources=inv.sources,
            evidence=_MILAN,
        ),
        f"liver involvement above {inv_limit:g} %",
        needs=("liverInvolvementPercent",),
    )

    need = ctx.threshold("milan.min-stable-months")
    months = ctx.months_stable
    v.indication(
        Criterion(
            id="milan-stable",
            label=f"stable disease or response for at least {need:g} months",
            met=None if months is None else months >= need,
            note=ctx.course_note if months is None or ctx.progressive else f"{ctx.course_note} (re-check date)",
            sources=ctx.course_sources,
            evidence=_MILAN,
        ),
        f"not stable for {need:g} months",
        needs=("monthsStable",),
    )

    age_limit = ctx.threshold("milan.max-age-years")
    age = ctx.age.value
    age_note = "age not recorded" if age is None else f"age {age}"
    if age is not None and ctx.threshold("milan.original-age-years") < age <= age_limit:
        age_note += f" (outside the original 2007 Milan limit of {ctx.threshold('milan.original-age-years'):g})"
    v.indication(
        Criterion(
            id="milan-age",
            label=f"within Milan age limit (≤ {age_limit:g})",
            met=None if age is None else age <= age_limit,
            note=age_note,
            sources=ctx.age.sources,
            evidence=_MILAN,
            engineering_default=True,
        ),
        f"age above the Milan limit of {age_limit:g}",
        needs=("ageYears",),
    )

    v.indication(not_resectable(ctx), "resectable disease: resection preferred", needs=("resectableR0",))

    if age is not None and age > ctx.threshold("eltr.risk-age-years"):
        v.warnings.append("ELTR: age > 45 is a poor-prognosis factor after transplantation [58]")
    if ctx.profile.active(ctx.profile.hepatomegaly):
        v.warnings.append("ELTR: hepatomegaly is a poor-prognosis factor after transplantation [58]")
    v.notes.append("living-donor transplantation: same criteria, when a donor is available [54,70]")
    return v.decide(Status.CONSIDER, "Consider at MDT: all Milan criteria met (highly selected patients) [59,67].")
