"""Systemic therapy (PATHWAY.md B5, B23): beyond the source review (ENETS, from memory).

Every result here is flagged ``beyond_source_review`` so that cards can say so.
"""

from __future__ import annotations

from nelm_fhir.model import DrugClass, Grade, PrimarySite
from nelm_fhir.pathways.criteria import not_nec
from nelm_fhir.pathways.gates import Context
from nelm_fhir.pathways.result import Criterion, Modality, Status
from nelm_fhir.pathways.verdict import Rated, Verdict

__all__ = ["chemotherapy", "everolimus", "interferon_alpha", "somatostatin_analogue", "sunitinib"]

_ENETS = "ENETS guidance, beyond the source review"


def _verdict(modality: Modality, ctx: Context, *, grade_dependent: bool) -> Verdict:
    return Verdict(modality, ctx, grade_dependent=grade_dependent, beyond_source_review=True)


def _site(ctx: Context) -> Criterion:
    site = ctx.primary_site
    return Criterion(
        id="primary-site",
        label="primary site",
        met=None if site is None else True,
        note="not recorded" if site is None else site.value,
        sources=(ctx.profile.primary.source,) if ctx.profile.primary else (),
    )


def _progressive(v: Verdict, ctx: Context, reason: str) -> bool:
    v.indication(
        Criterion(
            id="progressive",
            label="progressive disease",
            met=ctx.progressive,
            note="course not recorded"
            if ctx.progressive is None
            else ("progressive" if ctx.progressive else "not progressive"),
            sources=ctx.course_sources,
            beyond_source_review=True,
        ),
        reason,
        needs=("monthsStable",),
    )
    return bool(ctx.progressive)


def _not_instead_of_resection(v: Verdict, route: Status | None) -> None:
    if route is Status.RECOMMENDED:
        v.indication(
            Criterion(
                id="not-resectable",
                label="disease not resectable",
                met=False,
                note="a resection option is recommended; no adjuvant role stated",
            ),
            "resectable disease: no adjuvant role stated",
        )


def somatostatin_analogue(ctx: Context, route: Status | None) -> Rated:
    """Rate SSA (B23): R for SSTR-positive unresectable G1/G2 disease and for any functional syndrome."""
    v = _verdict(Modality.SOMATOSTATIN_ANALOGUE, ctx, grade_dependent=False)
    v.indication(not_nec(ctx), "poorly differentiated NEC (B5)")
    if ctx.functional:
        v.criterion(
            Criterion(
                id="functional-syndrome",
                label="functional syndrome (symptom control)",
                met=True,
                note=syndrome_note(ctx),
                sources=tuple(s.source for s in ctx.functional),
                beyond_source_review=True,
            )
        )
        return v.decide(Status.RECOMMENDED, f"Recommended: symptom control of a functional syndrome ({_ENETS}).")
    sstr = ctx.sstr_positive
    v.indication(
        Criterion(
            id="sstr-positive",
            label="SSTR-positive (Krenning ≥ 2)",
            met=sstr,
            note="SSTR imaging not recorded" if sstr is None else f"Krenning {ctx.krenning.value}",
            sources=ctx.krenning.sources,
            beyond_source_review=True,
        ),
        "SSTR-negative and non-functional",
        needs=("krenningScore",),
    )
    _not_instead_of_resection(v, route)
    if ctx.grade is None:
        v.cap("grade unknown: SSA is first line for G1/G2 only (B4 caveat)")
    elif ctx.grade.grade is Grade.G3:
        v.cap("G3 NET")
    limit = ctx.threshold("ssa.pannet-max-ki67-percent")
    ki67 = ctx.ki67.value
    if ctx.primary_site is PrimarySite.PANCREAS and ki67 is not None and ki67 >= limit:
        v.criterion(
            Criterion(
                id="pannet-ki67",
                label=f"panNET Ki-67 below {limit:g} %",
                met=False,
                note=f"Ki-67 {ki67:g} %",
                sources=ctx.ki67.sources,
                beyond_source_review=True,
            )
        )
        v.cap(f"panNET with Ki-67 ≥ {limit:g} % (CLARINET)")
    if route is Status.CONSIDER:
        v.cap("surgical options under MDT discussion")
    on_ssa = ctx.profile.drugs_of(DrugClass.SSA, current_only=True)
    if on_ssa and (ctx.progressive or (ctx.progressive is None and "monthsStable" in ctx.unknown_by_record)):
        v.criterion(
            Criterion(
                id="progression-on-ssa",
                label="not progressing on SSA",
                met=False,
                note="progression under current SSA",
                sources=tuple(d.source for d in on_ssa),
                beyond_source_review=True,
            )
        )
        v.cap("progression on SSA: as add-on to the next line only")
    # Worded against the patient: the grade and resectability said are the patient's, never the rule's ideal.
    grade = "G1/G2" if ctx.grade is not None and ctx.grade.grade is not Grade.G3 else (
        "G3" if ctx.grade is not None else "grade-unknown")
    extent = "unresectable " if route is None and ctx.unresectable else ""
    first_line = ", first line" if grade == "G1/G2" else ""
    return v.decide(
        Status.RECOMMENDED, f"Recommended: SSTR-positive {extent}{grade} disease{first_line} ({_ENETS})."
    )


def everolimus(ctx: Context, route: Status | None) -> Rated:
    """Rate everolimus (B23): C for progressive panNET, SI or lung NET."""
    v = _verdict(Modality.EVEROLIMUS, ctx, grade_dependent=True)
    v.indication(not_nec(ctx), "poorly differentiated NEC (B5)")
    site = ctx.primary_site
    v.indication(
        Criterion(
            id="primary-site",
            label="pancreatic, small-intestinal or lung NET",
            met=None if site is None else site in (PrimarySite.PANCREAS, PrimarySite.SMALL_INTESTINE, PrimarySite.LUNG),
            note="not recorded" if site is None else site.value,
            sources=_site(ctx).sources,
            beyond_source_review=True,
        ),
        "primary site outside the everolimus trials",
        needs=("primarySite",),
    )
    if ctx.g3_net:
        v.indication(Criterion(id="grade-g1-g2", label="grade G1/G2", met=False, note="G3 NET"), "G3 NET")
    _not_instead_of_resection(v, route)
    _progressive(v, ctx, "disease not progressive")
    return v.decide(
        Status.CONSIDER, f"Consider at MDT: progressive NET of pancreas, small intestine or lung ({_ENETS})."
    )


def sunitinib(ctx: Context, route: Status | None) -> Rated:
    """Rate sunitinib (B23): panNET only; C for progressive G1/G2 panNET."""
    v = _verdict(Modality.SUNITINIB, ctx, grade_dependent=True)
    v.indication(not_nec(ctx), "poorly differentiated NEC (B5)")
    site = ctx.primary_site
    v.indication(
        Criterion(
            id="pancreatic-primary",
            label="pancreatic NET",
            met=None if site is None else site is PrimarySite.PANCREAS,
            note="not recorded" if site is None else site.value,
            sources=_site(ctx).sources,
            beyond_source_review=True,
        ),
        "not a pancreatic NET (sunitinib is for panNET only)",
        needs=("primarySite",),
    )
    if ctx.g3_net:
        v.indication(Criterion(id="grade-g1-g2", label="grade G1/G2", met=False, note="G3 NET"), "G3 NET")
    _not_instead_of_resection(v, route)
    _progressive(v, ctx, "pancreatic NET not progressive")
    return v.decide(Status.CONSIDER, f"Consider at MDT: progressive pancreatic NET ({_ENETS}).")


def chemotherapy(ctx: Context, route: Status | None) -> Rated:
    """Rate chemotherapy (B5, B23): R platinum–etoposide for NEC; C for progressive panNET or G3 NET."""
    v = _verdict(Modality.CHEMOTHERAPY, ctx, grade_dependent=not ctx.nec)
    if ctx.nec:
        v.criterion(not_nec(ctx))
        return v.decide(
            Status.RECOMMENDED, f"Recommended: platinum (cisplatin or carboplatin) + etoposide for NEC ({_ENETS})."
        )
    _not_instead_of_resection(v, route)
    if ctx.g3_net:
        v.criterion(
            Criterion(
                id="g3-net",
                label="G3 NET (higher Ki-67)",
                met=True,
                sources=ctx.grade.sources if ctx.grade else (),
                beyond_source_review=True,
            )
        )
        return v.decide(Status.CONSIDER, f"Consider at MDT: G3 NET, e.g. CAPTEM ({_ENETS}).")
    site = ctx.primary_site
    v.indication(
        Criterion(
            id="pancreatic-primary",
            label="pancreatic NET (STZ-based or CAPTEM)",
            met=None if site is None else site is PrimarySite.PANCREAS,
            note="not recorded" if site is None else site.value,
            sources=_site(ctx).sources,
            beyond_source_review=True,
        ),
        "not standard for G1/G2 NET outside the pancreas",
        needs=("primarySite",),
    )
    _progressive(v, ctx, "panNET not progressive")
    return v.decide(Status.CONSIDER, f"Consider at MDT: progressive pancreatic NET, STZ-based or CAPTEM ({_ENETS}).")


def interferon_alpha(ctx: Context, route: Status | None) -> Rated:
    """Rate IFN-α (B23): C as add-on for a syndrome refractory to SSA."""
    v = _verdict(Modality.INTERFERON_ALPHA, ctx, grade_dependent=False)
    v.indication(not_nec(ctx), "poorly differentiated NEC (B5)")
    refractory = ctx.profile.syndrome_refractory_to_ssa
    v.indication(
        Criterion(
            id="refractory-syndrome",
            label="functional syndrome refractory to SSA",
            met=ctx.refractory_syndrome,
            note="refractory syndrome recorded" if ctx.refractory_syndrome else "none recorded",
            sources=tuple(s.source for s in ctx.functional) + ((refractory.source,) if refractory else ()),
            evidence=("[2]",),
        ),
        "no syndrome refractory to SSA",
    )
    return v.decide(Status.CONSIDER, "Consider at MDT: add-on for a syndrome refractory to SSA (Fig. 2) [2].")


def syndrome_note(ctx: Context) -> str:
    """B40: name each active syndrome, marking those known only from a hormone-named tumour's morphology."""
    names = (f"{s.kind.value.replace('-', ' ')}" + (" (from morphology)" if s.from_morphology else "")
             for s in ctx.functional)
    return ", ".join(dict.fromkeys(names))
