"""From collected facts to one immutable NelmProfile: choices between competing facts, derived values.

Every list is put in a fixed order (dates, then source references), so the order of resources in
the input never changes the profile.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TypeVar

from nelm_fhir.ingest.collected import Collected, PrimaryCandidate
from nelm_fhir.ingest.common import Ctx
from nelm_fhir.ingest.patient import age_on
from nelm_fhir.model import (
    ConditionRecord,
    ConditionState,
    Differentiation,
    Fact,
    FrillingType,
    Grade,
    LiverLesion,
    NelmProfile,
    PregnancyRecord,
    PrimarySite,
    PrimaryStatus,
    PrimaryTumour,
    ProcedureKind,
    ProcedureRecord,
)
from nelm_fhir.model.grading import assess_grade
from nelm_fhir.terminology.systems import FINDING

__all__ = ["SYNCHRONOUS_WINDOW_DAYS", "assemble"]

T = TypeVar("T")

# NELM diagnosed within ~6 months of the primary counts as synchronous (the primary's work-up);
# a common clinical convention, not a rule of the seed review.
SYNCHRONOUS_WINDOW_DAYS = 183

_PORTAL = {
    PrimarySite.SMALL_INTESTINE: True,
    PrimarySite.PANCREAS: True,
    PrimarySite.STOMACH: True,
    PrimarySite.APPENDIX: True,
    PrimarySite.COLON: True,
    PrimarySite.RECTUM: False,
    PrimarySite.LUNG: False,
    PrimarySite.THYMUS: False,
}
_SITE_OF_RESECTION = {"pancreas-resection": PrimarySite.PANCREAS, "small-bowel-resection": PrimarySite.SMALL_INTESTINE}

_MIN = dt.date.min


def _newest(facts: Sequence[Fact[T]]) -> Fact[T] | None:
    """Return the newest fact (ties: the greatest source reference, so input order never matters)."""
    if not facts:
        return None
    return max(facts, key=lambda f: (f.date or _MIN, f.source))


def _typed(facts: Iterable[Fact[object]], kind: type[T]) -> list[Fact[T]]:
    return [Fact(value=f.value, source=f.source, date=f.date, unit=f.unit) for f in facts if isinstance(f.value, kind)]


def _finding(out: Collected, code: str, kind: type[T]) -> Fact[T] | None:
    return _newest(_typed(out.findings.get(code, ()), kind))


def _records(records: Iterable[ConditionRecord]) -> tuple[ConditionRecord, ...]:
    return tuple(sorted(records, key=lambda r: (r.onset or r.recorded or _MIN, r.source), reverse=True))


def assemble(out: Collected, ctx: Ctx, patient: str) -> NelmProfile:
    """Return the profile of everything in ``out`` at ``ctx.as_of``."""
    ki67 = tuple(sorted(out.ki67, key=lambda r: (r.date or _MIN, r.source), reverse=True))
    mitoses = _finding(out, "mitotic-count", float)
    nelm = _records(out.nelm)
    primary = _primary(out, ctx, nelm)
    age = None
    if out.birth_date is not None:
        age = Fact(
            value=age_on(out.birth_date.value, ctx.as_of), source=out.birth_date.source, date=ctx.as_of, unit="a"
        )
    procedures = tuple(sorted(_all_procedures(out, primary), key=lambda p: (p.date or _MIN, p.source, p.kind.value)))
    liver_resections = [p for p in procedures if p.kind is ProcedureKind.LIVER_RESECTION]
    differentiation = _differentiation(out, ctx)  # may add a problem: computed before the problems are frozen
    lesions = _lesions(out)
    return NelmProfile(
        patient=patient,
        as_of=ctx.as_of,
        birth_date=out.birth_date,
        age_years=age,
        sex=out.sex,
        primary=primary,
        differentiation=differentiation,
        morphology_codes=tuple(
            sorted({f for f, _d in out.morphology}, key=lambda f: (f.date or _MIN, f.source, f.value))
        ),
        ki67=ki67,
        mitotic_count=mitoses,
        grade=assess_grade(ki67, mitoses),
        stated_grade=_finding(out, "who-grade", Grade),
        syndromes=tuple(sorted(out.syndromes, key=lambda s: (s.kind.value, s.source))),
        syndrome_refractory_to_ssa=_finding(out, "syndrome-refractory-to-ssa", bool),
        tumour_burden_symptoms=_finding(out, "tumour-burden-symptoms", bool),
        carcinoid_heart_disease=_records(out.conditions.get("carcinoid-heart-disease", ())),
        nelm=nelm,
        recurrent_nelm=_recurrence(nelm, liver_resections),
        lesions=lesions,
        lesion_count=_finding(out, "lesion-count", int),
        liver_involvement_percent=_finding(out, "liver-involvement-percent", float),
        flr_percent=_finding(out, "flr-percent", float),
        resection_extent=_finding(out, "resection-extent", str),
        frilling_type=_finding(out, "frilling-type", FrillingType),
        resectable_r0=_finding(out, "resectable-r0", bool),
        achievable_debulking_percent=_finding(out, "achievable-debulking-percent", float),
        hepatomegaly=_records(out.conditions.get("hepatomegaly", ())),
        portal_vein_thrombosis=_records(out.conditions.get("portal-vein-thrombosis", ())),
        hepatic_failure=_records(out.conditions.get("hepatic-failure", ())),
        ecog=_newest(out.ecog),
        karnofsky=_newest(out.karnofsky),
        fit_for_major_surgery=_finding(out, "fit-for-major-surgery", bool),
        extrahepatic=tuple(sorted(out.extrahepatic, key=lambda e: (e.date or _MIN, e.source), reverse=True)),
        disease_status=tuple(sorted(out.disease_status, key=lambda d: (d.date or _MIN, d.source), reverse=True)),
        krenning_score=_finding(out, "krenning-score", int),
        fdg_pet_positive=_finding(out, "fdg-pet-positive", bool),
        labs=tuple(sorted(out.labs, key=lambda lab: (str(lab.kind), _neg(lab.date), lab.source))),
        drugs=tuple(sorted(out.drugs, key=lambda d: (d.start or _MIN, d.source, d.ingredient))),
        procedures=procedures,
        pregnancy=_pregnancy(out),
        unconfirmed=tuple(sorted(out.unconfirmed, key=lambda u: (u.topic, u.source))),
        problems=tuple(sorted(set(ctx.problems), key=lambda p: (p.path, p.message))),
        unreadable=tuple(sorted(out.unreadable, key=lambda u: (u.kind, u.date or _MIN, u.source), reverse=True)),
    )


def _neg(date: dt.date | None) -> int:
    return -(date or _MIN).toordinal()


def _primary(out: Collected, ctx: Ctx, nelm: Sequence[ConditionRecord]) -> PrimaryTumour | None:
    if not out.primaries:
        status_fact = _finding(out, "primary-status", PrimaryStatus)
        if status_fact is not None and status_fact.value is PrimaryStatus.UNKNOWN_PRIMARY:
            return PrimaryTumour(
                site=PrimarySite.UNKNOWN,
                status=PrimaryStatus.UNKNOWN_PRIMARY,
                source=status_fact.source,
                code=f"{FINDING}|unknown-primary",
                portal_drained=None,
                status_source=status_fact.source,
            )
        return None
    chosen = max(out.primaries, key=_primary_rank)
    sites = {_site(c) for c in out.primaries if c.record.state is ConditionState.ACTIVE} - {
        PrimarySite.OTHER,
        PrimarySite.UNKNOWN,
    }
    if len(sites) > 1:
        ctx.problem(
            chosen.record.source,
            f"several primary sites recorded ({', '.join(sorted(s.value for s in sites))}): "
            f"{chosen.record.source} is used",
            severity="warning",
        )
    site = _site(chosen)
    status_fact = _finding(out, "primary-status", PrimaryStatus)
    status: PrimaryStatus | None = None
    status_source: str | None = None
    resection_date: dt.date | None = None
    resection = _primary_resection(out, chosen, site)
    if status_fact is not None:
        status, status_source = status_fact.value, status_fact.source
        if status is PrimaryStatus.UNKNOWN_PRIMARY:
            site = PrimarySite.UNKNOWN
    if resection is not None and status in (None, PrimaryStatus.RESECTED):
        status, status_source, resection_date = PrimaryStatus.RESECTED, status_source or resection[0], resection[1]
    if status is None and site is PrimarySite.UNKNOWN:
        status, status_source = PrimaryStatus.UNKNOWN_PRIMARY, chosen.record.source
    if chosen.site == "unspecified" and site is PrimarySite.OTHER:
        ctx.problem(
            f"{chosen.record.source}.code",
            f"primary site not coded ({chosen.record.code}) and no body site: "
            "treated as 'other', portal drainage unknown",
            severity="warning",
        )
    portal = chosen.portal_drained if chosen.portal_drained is not None else _PORTAL.get(site)
    onset = chosen.record.onset or chosen.record.recorded
    return PrimaryTumour(
        site=site,
        status=status,
        source=chosen.record.source,
        code=chosen.record.code,
        portal_drained=portal if site is not PrimarySite.UNKNOWN else None,
        synchronous=_synchronous(onset, nelm),
        onset=onset,
        status_source=status_source,
        resection_date=resection_date,
    )


def _primary_rank(c: PrimaryCandidate) -> tuple[int, int, dt.date, str]:
    known = 0 if c.site in {"unspecified", "other"} and c.body_site is None else 1
    return (
        1 if c.record.state is ConditionState.ACTIVE else 0,
        known,
        c.record.onset or c.record.recorded or _MIN,
        c.record.source,
    )


def _site(c: PrimaryCandidate) -> PrimarySite:
    if c.site == "unspecified":
        if c.body_site is not None and c.body_site in PrimarySite._value2member_map_:
            return PrimarySite(c.body_site)
        return PrimarySite.OTHER
    return PrimarySite(c.site)


def _primary_resection(
    out: Collected, chosen: PrimaryCandidate, site: PrimarySite
) -> tuple[str, dt.date | None] | None:
    """Return (source, date) of the newest procedure that removed the primary, or None."""
    found: list[tuple[dt.date, str, dt.date | None]] = []
    for note in out.procedure_notes:
        aimed = chosen.record.source in note.reasons or any(r.startswith("primary:") for r in note.reasons)
        by_site = _SITE_OF_RESECTION.get(note.concept) is site or (
            note.concept == "whipple" and site is PrimarySite.PANCREAS
        )
        if note.concept in {"pancreas-resection", "small-bowel-resection", "whipple", "surgical"} and (
            aimed or (by_site and not note.reasons)
        ):
            found.append((note.date or _MIN, note.source, note.date))
    if not found:
        return None
    best = max(found)
    return best[1], best[2]


def _pregnancy(out: Collected) -> tuple[PregnancyRecord, ...]:
    """B32: pregnancy Conditions (SNOMED, Z33.1, O00-O9A) and pregnancy-status Observations, newest first."""
    records = list(out.pregnancy) + [
        PregnancyRecord(
            source=c.source, code=c.code, kind="condition", pregnant=True, state=c.state, date=c.onset or c.recorded
        )
        for c in out.conditions.get("pregnancy", ())
    ]
    return tuple(sorted(records, key=lambda r: (r.date or _MIN, r.source), reverse=True))


_PCS_PANCREAS = ("0FBG", "0FTG")
_PCS_DUODENUM = ("0DB9", "0DT9")


def _pcs_whipple(out: Collected) -> list[ProcedureRecord]:
    """B31: an ICD-10-PCS pancreas resection and a duodenal resection on the same day are a Whipple."""
    def part(note_code: str) -> str:
        system, _, code = note_code.rpartition("|")
        return code.replace(".", "").upper() if "ICD10" in system.upper() or "10-PCS" in system.upper() else ""

    pancreas = [n for n in out.procedure_notes if part(n.code).startswith(_PCS_PANCREAS) and n.date is not None]
    duodenum = {n.date for n in out.procedure_notes if part(n.code).startswith(_PCS_DUODENUM)}
    undated = [n for n in out.procedure_notes if part(n.code).startswith(_PCS_PANCREAS) and n.date is None]
    # B28: a component whose date cannot be read may be of the same day: read as the Whipple it may be.
    return [
        ProcedureRecord(kind=ProcedureKind.WHIPPLE, code=n.code, source=n.source, date=n.date)
        for n in pancreas + undated
        if n.date in duodenum or (duodenum and (n.date is None or None in duodenum))
    ]


def _all_procedures(out: Collected, primary: PrimaryTumour | None) -> list[ProcedureRecord]:
    """Return the procedures read, plus generic surgical procedures classified by their reason."""
    records = list(out.procedures) + _pcs_whipple(out)
    nelm_sources = {r.source for r in out.nelm}
    for note in out.procedure_notes:
        if note.concept != "surgical":
            continue
        if primary is not None and primary.source in note.reasons:
            records.append(
                ProcedureRecord(
                    kind=ProcedureKind.PRIMARY_RESECTION, code=note.code, source=note.source, date=note.date
                )
            )
        elif nelm_sources.intersection(note.reasons) or "metastasis:liver" in note.reasons:
            records.append(
                ProcedureRecord(kind=ProcedureKind.LIVER_RESECTION, code=note.code, source=note.source, date=note.date)
            )
    return records


def _synchronous(primary_onset: dt.date | None, nelm: Sequence[ConditionRecord]) -> bool | None:
    dates = [r.onset or r.recorded for r in nelm if (r.onset or r.recorded) is not None]
    if primary_onset is None or not dates:
        return None
    first = min(d for d in dates if d is not None)
    return abs((first - primary_onset).days) <= SYNCHRONOUS_WINDOW_DAYS


def _recurrence(nelm: Sequence[ConditionRecord], liver_resections: Sequence[ProcedureRecord]) -> Fact[bool] | None:
    """B21: a NELM with clinicalStatus recurrence/relapse, or a NELM first recorded after a liver resection."""
    if not nelm:
        return None
    flagged = sorted(r.source for r in nelm if r.recurrence and r.state is ConditionState.ACTIVE)
    if flagged:
        return Fact(value=True, source=flagged[0])
    resected = [p.date for p in liver_resections if p.date is not None]
    if resected:
        first_resection = min(resected)
        after = sorted(
            r.source
            for r in nelm
            if r.state is ConditionState.ACTIVE
            and (r.onset or r.recorded) is not None
            and (r.onset or r.recorded or _MIN) > first_resection
        )
        if after:
            return Fact(value=True, source=after[0])
    return Fact(value=False, source=sorted(r.source for r in nelm)[0])


def _differentiation(out: Collected, ctx: Ctx) -> Fact[Differentiation] | None:
    """B3: the local finding when recorded; otherwise poor if any morphology says NEC, else well if any says NET."""
    explicit = _finding(out, "differentiation", Differentiation)
    coded = [(f, d) for f, d in out.morphology if d is not None]
    if explicit is not None:
        return explicit
    poor = sorted((f for f, d in coded if d == "poor"), key=lambda f: (f.date or _MIN, f.source), reverse=True)
    well = sorted((f for f, d in coded if d == "well"), key=lambda f: (f.date or _MIN, f.source), reverse=True)
    if poor and well:
        ctx.problem(
            poor[0].source,
            f"morphology codes disagree ({poor[0].value} poorly vs {well[0].value} well differentiated): "
            "poorly differentiated is used",
            severity="warning",
        )
    if poor:
        return Fact(value=Differentiation.POOR, source=poor[0].source, date=poor[0].date)
    if well:
        return Fact(value=Differentiation.WELL, source=well[0].source, date=well[0].date)
    return None


def _lesions(out: Collected) -> tuple[LiverLesion, ...]:
    """Newest measurement per lesion (focus), flags from stand-alone findings merged in; newest first."""
    newest: dict[str, LiverLesion] = {}
    for lesion, focus in out.lesions:
        key = focus or lesion.source
        current = newest.get(key)
        if current is None or (lesion.date or _MIN, lesion.source) > (current.date or _MIN, current.source):
            newest[key] = lesion
    by_key = dict(newest)
    for flag in sorted(out.lesion_flags, key=lambda f: (f.date or _MIN, f.source)):
        target_key = (
            flag.focus
            if flag.focus in by_key
            else (next(iter(by_key)) if len(by_key) == 1 and flag.focus is None else None)
        )
        if target_key is None:
            key = flag.focus or flag.source
            base = by_key.get(key) or LiverLesion(source=flag.source, date=flag.date)
            by_key[key] = _with_flag(base, flag.which, flag.value)
        else:
            by_key[target_key] = _with_flag(by_key[target_key], flag.which, flag.value)
    return tuple(sorted(by_key.values(), key=lambda lesion: (lesion.date or _MIN, lesion.source), reverse=True))


def _with_flag(lesion: LiverLesion, which: str, value: bool) -> LiverLesion:
    return LiverLesion(
        source=lesion.source,
        size_cm=lesion.size_cm,
        near_hilum=value if which == "near_hilum" else lesion.near_hilum,
        subcapsular=value if which == "subcapsular" else lesion.subcapsular,
        date=lesion.date,
        label=lesion.label,
    )
