"""``evaluate``: every modality rated for one patient, in CONTRACT.md order. Pure.

Surgical options are rated first because later ones depend on them: liver-directed, PRRT
and systemic options are "not recommended" when a resection is recommended (B18, B19).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from nelm_fhir.model import NelmProfile
from nelm_fhir.pathways import ablation, embolization, prrt, resection, staged, systemic, transplant
from nelm_fhir.pathways.config import PathwayConfig
from nelm_fhir.pathways.gaps import INPUTS, build_gaps
from nelm_fhir.pathways.gates import Context, build_context
from nelm_fhir.pathways.result import DataGap, Evaluation, Modality, Status
from nelm_fhir.pathways.summary import profile_summary
from nelm_fhir.pathways.verdict import CONFIRM_PREFIX, PREGNANCY_WARNING, REBIOPSY_NOTE, Rated

__all__ = ["TUMOUR_BOARD_NOTE", "evaluate"]

TUMOUR_BOARD_NOTE = "Review by the NEN multidisciplinary tumour board is advised for every patient [14,15]"

_ROUTE = (
    Modality.CURATIVE_RESECTION,
    Modality.SIMULTANEOUS_RESECTION,
    Modality.PORTAL_VEIN_EMBOLIZATION,
    Modality.TWO_STAGE_HEPATECTOMY,
    Modality.ALPPS,
    Modality.REPEAT_RESECTION,
)
_STAGED = (Modality.PORTAL_VEIN_EMBOLIZATION, Modality.TWO_STAGE_HEPATECTOMY, Modality.ALPPS)
_POSITIVE = (Status.RECOMMENDED, Status.CONSIDER)
_REBIOPSY = (Modality.LIVER_TRANSPLANTATION, Modality.ALPPS, Modality.PRRT)  # B36(c)


def _route(rated: dict[Modality, Rated]) -> Status | None:
    """Return the best status of the resection routes: R, C, or None when neither."""
    statuses = {rated[m].result.status for m in _ROUTE}
    for status in _POSITIVE:
        if status in statuses:
            return status
    return None


def _rate_all(ctx: Context, route_if: Status | None = None) -> dict[Modality, Rated]:
    rated: dict[Modality, Rated] = {
        Modality.CURATIVE_RESECTION: resection.curative_resection(ctx),
        Modality.SIMULTANEOUS_RESECTION: resection.simultaneous_resection(ctx),
        Modality.PORTAL_VEIN_EMBOLIZATION: staged.portal_vein_embolization(ctx),
        Modality.TWO_STAGE_HEPATECTOMY: staged.two_stage_hepatectomy(ctx),
        Modality.ALPPS: staged.alpps(ctx),
        Modality.REPEAT_RESECTION: resection.repeat_resection(ctx),
        Modality.LIVER_TRANSPLANTATION: transplant.liver_transplantation(ctx),
    }
    route = _route(rated) if route_if is None else route_if
    rated[Modality.CYTOREDUCTIVE_SURGERY] = resection.cytoreductive_surgery(ctx, route)
    cyto = rated[Modality.CYTOREDUCTIVE_SURGERY].result.status
    rated[Modality.RFA] = ablation.rfa(ctx, route, cyto)
    rated[Modality.STEREOTACTIC_RFA] = ablation.stereotactic_rfa(ctx, route, cyto)
    rated[Modality.MWA] = ablation.mwa(ctx, route, cyto)
    rated[Modality.TAE] = embolization.tae(ctx, route)
    rated[Modality.TACE] = embolization.tace(ctx, route)
    rated[Modality.RADIOEMBOLIZATION] = embolization.radioembolization(ctx, route)
    rated[Modality.PRRT] = prrt.prrt(ctx, route)
    rated[Modality.PRRT_PLUS_RADIOEMBOLIZATION] = prrt.prrt_plus_radioembolization(
        ctx, rated[Modality.PRRT], rated[Modality.RADIOEMBOLIZATION]
    )
    rated[Modality.SOMATOSTATIN_ANALOGUE] = systemic.somatostatin_analogue(ctx, route)
    rated[Modality.EVEROLIMUS] = systemic.everolimus(ctx, route)
    rated[Modality.SUNITINIB] = systemic.sunitinib(ctx, route)
    rated[Modality.CHEMOTHERAPY] = systemic.chemotherapy(ctx, route)
    rated[Modality.INTERFERON_ALPHA] = systemic.interferon_alpha(ctx, route)
    return rated


def _gaps(ctx: Context, rated: dict[Modality, Rated]) -> tuple[DataGap, ...]:
    blocked: dict[str, list[Modality]] = {}
    for modality in Modality:
        for element in rated[modality].blocking:
            blocked.setdefault(element, []).append(modality)
    extra: list[DataGap] = _confirm_gaps(ctx, blocked)
    before = ctx.ki67_before_progression
    rebiopsy = [m for m in _REBIOPSY if rated[m].result.status is not Status.CONTRAINDICATED]
    if before is not None and not ctx.nec and rebiopsy:
        spec = INPUTS["ki67AfterProgression"]
        seen = before.last_seen.isoformat() if before.last_seen else "undated"
        extra.append(
            DataGap(
                element=spec.element,
                why=f"the grading specimen of {seen} predates {before.window}: {REBIOPSY_NOTE} before "
                f"{', '.join(m.value for m in rebiopsy)} (B36)",
                codes=spec.codes,
                order_label=spec.order_label,
                last_seen=before.last_seen,
                last_source=before.last_source,
            )
        )
    stale = {k: v for k, v in ctx.stale.items() if k in blocked}
    staged_open = [m for m in _STAGED if rated[m].result.status in _POSITIVE]
    if staged.ki67_primary_only(ctx) and staged_open:
        spec = INPUTS["ki67LiverSpecimen"]
        extra.append(
            DataGap(
                element=spec.element,
                why=f"{staged.liver_biopsy_note(ctx)}; {', '.join(m.value for m in staged_open)} considered (B2)",
                codes=spec.codes,
                order_label=spec.order_label,
            )
        )
    gaps = build_gaps(blocked, stale, extra, ctx.unreadable)
    if ctx.grade is None and "ki67Percent" in blocked and "ki67Percent" not in ctx.unreadable:
        gaps = tuple(
            DataGap(
                element=g.element,
                codes=g.codes,
                blocks=g.blocks,
                order_label=g.order_label,
                why="no Ki-67 and no mitotic count: grade-dependent options cannot be rated (B4); "
                "ICD-O-3 8249/3 or 'well differentiated' never set a grade (B3)",
            )
            if g.element == "ki67Percent"
            else g
            for g in gaps
        )
    return gaps


def _confirm_gaps(ctx: Context, blocked: dict[str, list[Modality]]) -> list[DataGap]:
    """B28/B31: one gap per record to confirm, naming what it says and what it blocks (removed from ``blocked``)."""
    gaps: list[DataGap] = []
    records = {r.source: r for r in ctx.unconfirmed}
    for element in sorted(e for e in blocked if e.startswith(CONFIRM_PREFIX)):
        modalities = blocked.pop(element)
        record = records[element.removeprefix(CONFIRM_PREFIX)]
        coded = record.topic == "bilio-enteric-status"
        why = (
            f"confirm whether a bilio-enteric anastomosis exists: {record.text} ({record.source}) (B31)"
            if coded
            else f"confirm: {record.text} ({record.source}) (B28)"
        )
        gaps.append(
            DataGap(
                element="bilioEntericAnastomosis" if coded else "recordToConfirm",
                why=why,
                codes=(),
                blocks=tuple(m for m in Modality if m in set(modalities)),
                last_source=record.source,
                last_seen=record.date,
            )
        )
    return gaps


def _notes(ctx: Context, rated: dict[Modality, Rated]) -> tuple[str, ...]:
    notes = [TUMOUR_BOARD_NOTE]
    if ctx.grade is not None:
        notes.extend(ctx.grade.notes)
    if ctx.differentiation_unknown_high_grade:
        notes.append(
            "Ki-67 > 20 % without a recorded differentiation: pathology review of NET G3 vs NEC is advised (B3)"
        )
    if staged.ki67_primary_only(ctx) and any(rated[m].result.status in _POSITIVE for m in _STAGED):
        notes.append(staged.liver_biopsy_note(ctx))
    resected = (Modality.CURATIVE_RESECTION, Modality.SIMULTANEOUS_RESECTION, Modality.REPEAT_RESECTION)
    if any(rated[m].result.status in _POSITIVE for m in resected):
        notes.append("After resection: intensified imaging follow-up (recurrence 65–90 %) [2,71,72]")
    if ctx.ki67_before_progression is not None and not ctx.nec:
        notes.append(f"Grading specimen predates {ctx.ki67_before_progression.window}: {REBIOPSY_NOTE} (B36)")
    if ctx.pregnant:
        notes.append(f"Active pregnancy recorded: {PREGNANCY_WARNING} (B32; drug exclusions beyond the source review)")
    if ctx.unknown_primary:
        notes.append("Unknown primary: consider continuing the search for the primary (SSTR-PET) (B22)")
    return tuple(dict.fromkeys(notes))


def _hold_back(ctx: Context, rated: dict[Modality, Rated]) -> dict[Modality, Rated]:
    """B28/B29: an option is never better only because a resection could not be rated from an unreadable record.

    When the resection routes are insufficient-data because a record could not be read (or is
    undated), the options that defer to a resection are also rated as if the resection were
    recommended; where that is less favourable, the option is insufficient-data, blocked by the same
    records, instead of being promoted by the unreadable one.
    """
    if _route(rated) is Status.RECOMMENDED:
        return rated
    unknown = ctx.unknown_by_record
    if not unknown and not ctx.unconfirmed:
        return rated  # nothing unreadable, undated or to confirm: the rule book's reading of missing data (B26)
    # The route may be insufficient-data through another element that the damaged record decides
    # (an unreadable lesion size makes the planned resection "major", which then needs an FLR): every
    # element blocking a resection route counts.
    blocking = tuple(dict.fromkeys(e for m in _ROUTE if rated[m].result.status is _D for e in rated[m].blocking))
    if not blocking:
        return rated
    if_resected = _rate_all(ctx, Status.RECOMMENDED)
    held = dict(rated)
    for modality in Modality:
        if modality in _ROUTE or modality is Modality.LIVER_TRANSPLANTATION:
            continue
        now, then = rated[modality].result, if_resected[modality].result
        if _FAVOUR.get(then.status, 0) < _FAVOUR.get(now.status, 0):
            summary = "Insufficient data: whether a resection is preferred cannot be told from the record (B28)."
            held[modality] = Rated(
                result=dataclasses.replace(now, status=_D, summary=summary),
                blocking=(*rated[modality].blocking, *blocking),
            )
    return held


_D = Status.INSUFFICIENT_DATA
_FAVOUR = {Status.RECOMMENDED: 2, Status.CONSIDER: 1}


def evaluate(profile: NelmProfile, *, now: dt.date, config: PathwayConfig) -> Evaluation:
    """Return the evaluation of ``profile`` at ``now`` under ``config``: all 21 modalities, gaps and notes."""
    ctx = build_context(profile, now, config)
    rated = _hold_back(ctx, _rate_all(ctx))
    return Evaluation(
        patient=profile.patient,
        evaluated_at=now,
        rules_version=config.rules_version,
        config_name=config.name,
        config_overrides=config.overrides,
        profile_summary=profile_summary(ctx),
        results=tuple(rated[m].result for m in Modality),
        data_gaps=_gaps(ctx, rated),
        problems=tuple(f"{p.path}: {p.message}" for p in profile.problems),
        notes=_notes(ctx, rated),
    )
