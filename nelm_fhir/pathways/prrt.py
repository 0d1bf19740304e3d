"""PRRT and PRRT combined with radioembolization (PATHWAY.md B5, B6, B16, B19, B20; A.5.13, A.5.14).

Renal and marrow tiers are engineering defaults from a public PRRT trial page (S11), configurable.
"""

from __future__ import annotations

from nelm_fhir.model import Grade, LabKind
from nelm_fhir.pathways.criteria import hepatic_function, not_nec
from nelm_fhir.pathways.gates import Context
from nelm_fhir.pathways.readable import lab_note
from nelm_fhir.pathways.result import Criterion, Modality, ModalityResult, Status
from nelm_fhir.pathways.verdict import Rated, Verdict

__all__ = ["prrt", "prrt_plus_radioembolization"]

_NAMES = {Modality.PRRT: "PRRT", Modality.RADIOEMBOLIZATION: "radioembolization"}


def _reason(result: ModalityResult) -> str:
    """Return a part's summary without its status prefix and final full stop."""
    return result.summary.split(": ", 1)[-1].rstrip(".")


def _krenning(ctx: Context) -> Criterion:
    need = ctx.threshold("prrt.min-krenning")
    k = ctx.krenning
    label = "SSTR uptake at least that of normal liver (Krenning ≥ 2)"
    if k.value is None:
        return Criterion(
            id="sstr-uptake",
            label=label,
            met=None,
            note="SSTR imaging stale" if k.stale else "SSTR imaging not recorded",
            sources=k.sources,
            evidence=("[106]",),
        )
    return Criterion(
        id="sstr-uptake",
        label=label,
        met=k.value >= need,
        note=f"Krenning score {k.value}",
        sources=k.sources,
        evidence=("[106]",),
    )


def _renal(v: Verdict, ctx: Context) -> None:
    ok = ctx.threshold("prrt.min-renal-ml-min")
    floor = ctx.threshold("prrt.contraindicated-renal-below-ml-min")
    renal = ctx.renal
    if renal.value is None:
        v.criterion(
            Criterion(
                id="renal-function",
                label=f"eGFR or creatinine clearance at least {ok:g} mL/min",
                met=None,
                note="renal function missing or stale",
                engineering_default=True,
                evidence=("[106]",),
            )
        )
        v.require("renalFunction")
        return
    sources = tuple(s for r in (ctx.lab(LabKind.EGFR), ctx.lab(LabKind.CRCL)) for s in r.sources)
    values = ", ".join(
        f"{name} {r.value:g}{lab_note(ctx.profile, kind)}"
        for name, kind, r in (
            ("eGFR", LabKind.EGFR, ctx.lab(LabKind.EGFR)),
            ("CrCl", LabKind.CRCL, ctx.lab(LabKind.CRCL)),
        )
        if r.value is not None
    )
    v.contraindication(
        Criterion(
            id="renal-function-not-severe",
            label=f"eGFR or CrCl at least {floor:g} mL/min",
            met=renal.value >= floor,
            note=values,
            sources=sources,
            engineering_default=True,
            evidence=("[106]",),
        ),
        f"eGFR/CrCl below {floor:g} mL/min (B19)",
    )
    adequate = renal.value >= ok
    v.criterion(
        Criterion(
            id="renal-function",
            label=f"eGFR or creatinine clearance at least {ok:g} mL/min",
            met=adequate,
            note=values,
            sources=sources,
            engineering_default=True,
            evidence=("[106]",),
        )
    )
    if not adequate and renal.value >= floor:
        v.warnings.append(
            f"eGFR/CrCl below {ok:g} mL/min (NETTER-1-type exclusion, relative): consider measured "
            "GFR, renal scintigraphy and dosimetry"
        )
        v.cap(f"eGFR/CrCl {renal.value:g} mL/min, below {ok:g} (B19)")


def _marrow(v: Verdict, ctx: Context) -> None:
    for kind, key, label, unit in (
        (LabKind.PLATELETS, "prrt.min-platelets", "platelets", "×10⁹/L"),
        (LabKind.HAEMOGLOBIN, "prrt.min-haemoglobin-g-dl", "haemoglobin", "g/dL"),
        (LabKind.LEUKOCYTES, "prrt.min-leukocytes", "leukocytes", "×10⁹/L"),
    ):
        limit = ctx.threshold(key)
        reading = ctx.lab(kind)
        note = (
            (f"{label} stale" if reading.stale else f"{label} not recorded")
            if reading.value is None
            else f"{label} {reading.value:g} {unit}{lab_note(ctx.profile, kind)}"
        )
        v.indication(
            Criterion(
                id=f"{label}-adequate",
                label=f"{label} at least {limit:g} {unit}",
                met=None if reading.value is None else reading.value >= limit,
                note=note,
                sources=reading.sources,
                engineering_default=True,
                evidence=("[106]",),
            ),
            f"inadequate bone-marrow reserve: {note} (B19)",
            needs=(reading.element,),
        )


def _not_resectable(v: Verdict, ctx: Context, route: Status | None) -> None:
    """B19 "N when the disease is resectable": a recommended resection, or R0 feasible per MDT."""
    label = "disease not resectable"
    if route is Status.RECOMMENDED:
        v.indication(
            Criterion(
                id="not-resectable",
                label=label,
                met=False,
                note="a resection option is recommended",
                evidence=("[106]",),
            ),
            "resectable disease: not needed (B19)",
        )
        return
    settled = route is Status.CONSIDER or ctx.unresectable or bool(ctx.distant) or bool(ctx.unfit)
    r0 = ctx.resectable_r0
    if settled:
        v.criterion(
            Criterion(
                id="not-resectable",
                label=label,
                met=True,
                evidence=("[106]",),
                note="no resection option is recommended",
            )
        )
    elif r0 is not None and r0.value is True:
        v.indication(
            Criterion(
                id="not-resectable",
                label=label,
                met=False,
                sources=(r0.source,),
                note="MDT: R0 resection feasible (resection options await missing data)",
                evidence=("[106]",),
            ),
            "R0 resection feasible per MDT: not needed (B19)",
        )
    elif not ctx.multiple_or_advanced:
        v.indication(
            Criterion(
                id="not-resectable",
                label=label,
                met=None,
                evidence=("[106]",),
                note="limited NELM without a resectability judgement",
            ),
            "",
            needs=("resectableR0",),
        )


def prrt(ctx: Context, route: Status | None) -> Rated:
    """Rate PRRT (B19): Krenning ≥ 2, renal and marrow reserve; R for progressive or spread G1/G2 disease."""
    v = Verdict(Modality.PRRT, ctx, grade_dependent=True)
    v.contraindication(_krenning(ctx), "insufficient SSTR expression (Krenning < 2) [106]", needs=("krenningScore",))
    _renal(v, ctx)
    v.indication(not_nec(ctx), "poorly differentiated NEC: SSTR therapy only in exceptional dual-tracer cases [107]")
    hep, _ = hepatic_function(ctx)
    v.indication(hep, "hepatic insufficiency (B16)")
    _marrow(v, ctx)
    _not_resectable(v, ctx, route)
    if ctx.g3_net:
        fdg = ctx.fdg
        v.indication(
            Criterion(
                id="dual-tracer",
                label="FDG/SSTR dual-tracer information (G3)",
                met=None if fdg.value is None else True,
                note="FDG-PET not recorded"
                if fdg.value is None
                else f"FDG-PET {'positive' if fdg.value else 'negative'}",
                sources=fdg.sources,
                evidence=("[107]",),
            ),
            "",
            needs=("fdgPetPositive",),
        )
        v.cap("G3 NET: dual-tracer selection (B6) [107]")
    spread = bool(ctx.extrahepatic_any)
    v.criterion(
        Criterion(
            id="progressive-or-spread",
            label="progressive disease or extrahepatic spread",
            met=bool(ctx.progressive) or spread if (ctx.progressive is not None or spread) else None,
            note=("progressive" if ctx.progressive else "stable" if ctx.progressive is False else "course not recorded")
            + ("; extrahepatic disease" if spread else ""),
            sources=ctx.course_sources + tuple(f.source for f in ctx.extrahepatic_any),
            evidence=("[106]", "[108]"),
        )
    )
    if ctx.progressive or spread:
        return v.decide(
            Status.RECOMMENDED,
            f"Recommended: SSTR-positive {_grade_words(ctx)}disease, progressive or with extrahepatic spread "
            "[106,108].",
        )
    v.notes.append("indicated at progression (NETTER-1 setting) [108]")
    # Worded against the patient: "unresectable" only when the record says so (not when the MDT judged R0 feasible).
    extent = "unresectable " if ctx.unresectable else ""
    if ctx.progressive is None:
        return v.decide(
            Status.CONSIDER, f"Consider at MDT: SSTR-positive {extent}disease; {ctx.course_note} [106]."
        )
    return v.decide(Status.CONSIDER, f"Consider at MDT: SSTR-positive stable {extent}disease [106].")


def _grade_words(ctx: Context) -> str:
    """Return the patient's grade as summaries say it ("G1/G2 ", "G3 ", or nothing when unknown)."""
    if ctx.grade is None:
        return ""
    return "G3 " if ctx.grade.grade is Grade.G3 else "G1/G2 "


def prrt_plus_radioembolization(ctx: Context, prrt_rated: Rated, re_rated: Rated) -> Rated:
    """Rate PRRT combined with RE (B20): bulky liver-dominant disease with extrahepatic spread."""
    v = Verdict(Modality.PRRT_PLUS_RADIOEMBOLIZATION, ctx)
    parts: tuple[ModalityResult, ...] = (prrt_rated.result, re_rated.result)
    for part in parts:
        v.contraindication(
            Criterion(
                id=f"{part.modality.value}-not-contraindicated",
                label=f"{_NAMES[part.modality]} not contraindicated",
                met=part.status is not Status.CONTRAINDICATED,
                note=part.summary,
                sources=part.sources,
            ),
            f"{_NAMES[part.modality]}: {_reason(part)}",
        )
    v.indication(not_nec(ctx), "poorly differentiated NEC (B5)")
    for rated in (prrt_rated, re_rated):
        part = rated.result
        if part.status is Status.NOT_RECOMMENDED:
            v.indication(
                Criterion(
                    id=f"{part.modality.value}-indicated",
                    label=f"{_NAMES[part.modality]} indicated",
                    met=False,
                    note=part.summary,
                ),
                f"{_NAMES[part.modality]} not recommended ({_reason(part)})",
            )
        elif part.status is Status.INSUFFICIENT_DATA:
            v.criterion(
                Criterion(
                    id=f"{part.modality.value}-indicated",
                    label=f"{_NAMES[part.modality]} indicated",
                    met=None,
                    note=part.summary,
                )
            )
            v.require(*rated.blocking)
    size = ctx.largest_cm.value
    inv = ctx.involvement.value
    bulky_cm = ctx.threshold("bulky.min-lesion-cm")
    bulky_pct = ctx.threshold("bulky.min-involvement-percent")
    bulky = (size is not None and size >= bulky_cm) or (inv is not None and inv >= bulky_pct)
    known = size is not None or inv is not None
    v.indication(
        Criterion(
            id="bulky-liver-disease",
            label=f"bulky liver disease (lesion ≥ {bulky_cm:g} cm or involvement ≥ {bulky_pct:g} %)",
            met=bulky if (bulky or known) else None,
            note=", ".join(
                ([f"largest {size:g} cm"] if size is not None else ["lesion sizes not recorded"])
                + ([f"involvement {inv:g} %"] if inv is not None else [])
            ),
            sources=ctx.largest_cm.sources + ctx.involvement.sources,
            evidence=("[113]",),
        ),
        "no bulky liver disease",
        needs=("lesionSize",),
    )
    v.indication(
        Criterion(
            id="extrahepatic-disease",
            label="extrahepatic disease",
            met=bool(ctx.extrahepatic_any),
            note="none recorded" if not ctx.extrahepatic_any else "present",
            sources=tuple(f.source for f in ctx.extrahepatic_any),
            evidence=("[113]",),
        ),
        "no extrahepatic disease: liver-directed or PRRT alone",
    )
    return v.decide(
        Status.CONSIDER,
        "Consider at MDT: bulky liver-dominant disease with extrahepatic spread: PRRT then RE [113–115].",
    )
