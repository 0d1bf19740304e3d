"""The disease course (PATHWAY.md B12) and the age of the grading specimen (A.6). Pure.

``read_course`` gives months stable and progression from mCODE CancerDiseaseStatus
(LOINC 97509-4) assessments; ``ki67_staleness`` says when a Ki-67 specimen is too old to rate
grade-dependent options (a configurable engineering default, not a rule of the review).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from nelm_fhir.model import DiseaseTrend, NelmProfile
from nelm_fhir.pathways.gaps import PROGRESSION_RULE, Staleness

__all__ = [
    "Course",
    "Freshness",
    "GradingDate",
    "grading_dates",
    "ki67_before_progression",
    "ki67_staleness",
    "months_between",
    "read_course",
]

Freshness = Callable[[str, dt.date | None, str | None, str], bool]
"""Records and answers whether an element dated ``date`` is fresh for its input class (B24)."""


def months_between(start: dt.date, end: dt.date) -> int:
    """Return the whole calendar months from ``start`` to ``end`` (0 when end precedes start)."""
    months = (end.year - start.year) * 12 + end.month - start.month - (1 if end.day < start.day else 0)
    return max(months, 0)


# On one date, the most pessimistic assessment counts as the newest (a worsened result wins a tie).
_TIE = {DiseaseTrend.WORSENED: 3, DiseaseTrend.UNDETERMINED: 2, DiseaseTrend.STABLE: 1, DiseaseTrend.IMPROVED: 0}


@dataclass(frozen=True, slots=True, kw_only=True)
class Course:
    """B12: the disease course at the evaluation date, with the assessments it was read from."""

    months_stable: int | None  # None: not recorded, stale, undated or the latest is undetermined
    progressive: bool | None
    sources: tuple[str, ...]
    note: str  # what a clinician reads, e.g. "stable 8 months since 2026-03-01"
    last_progression: dt.date | None = None


def read_course(profile: NelmProfile, now: dt.date, fresh: Freshness) -> Course:
    """B12: months of the current unbroken stable/improved run up to the evaluation date.

    The run starts at the earliest assessment after the newest result that is not stable or
    improved: a worsened result is progression, and an undetermined one also breaks the run
    (stability is only counted while it is documented). Ties on a date: the worse result wins.
    """
    statuses = sorted(
        (s for s in profile.disease_status if s.date is None or s.date <= now),
        key=lambda s: (s.date or dt.date.min, _TIE[s.trend], s.source),
        reverse=True,
    )
    worsened = [s.date for s in statuses if s.trend is DiseaseTrend.WORSENED and s.date is not None]
    last_progression = max(worsened, default=None)
    if not statuses:
        return Course(months_stable=None, progressive=None, sources=(), note="disease course not recorded")
    newest = statuses[0]
    if not fresh("monthsStable", newest.date, newest.source, "imaging"):
        when = newest.date.isoformat() if newest.date else "undated"
        return Course(
            months_stable=None,
            progressive=None,
            sources=(newest.source,),
            note=f"latest disease status ({when}) is stale",
            last_progression=last_progression,
        )
    if newest.trend is DiseaseTrend.WORSENED:
        return Course(
            months_stable=0,
            progressive=True,
            sources=(newest.source,),
            note="progressive disease",
            last_progression=last_progression,
        )
    if newest.trend is DiseaseTrend.UNDETERMINED:
        return Course(
            months_stable=None,
            progressive=None,
            sources=(newest.source,),
            note="latest disease status undetermined: consider restaging",
            last_progression=last_progression,
        )
    run = []
    for status in statuses:
        if status.trend not in (DiseaseTrend.STABLE, DiseaseTrend.IMPROVED):
            break
        run.append(status)
    start = run[-1].date
    if start is None:
        return Course(
            months_stable=None,
            progressive=False,
            sources=tuple(s.source for s in run),
            note="stable, but the start of the stable run is undated",
            last_progression=last_progression,
        )
    months = months_between(start, now)
    return Course(
        months_stable=months,
        progressive=False,
        sources=tuple(s.source for s in run),
        note=f"stable {months} months (since {start.isoformat()})",
        last_progression=last_progression,
    )


def _months_before(date: dt.date, months: int) -> dt.date:
    """Return the same day ``months`` calendar months earlier (clamped to the month's last day)."""
    year, index = divmod(date.year * 12 + date.month - 1 - months, 12)
    return dt.date(year, index + 1, min(date.day, calendar.monthrange(year, index + 1)[1]))


GradingDate = tuple[dt.date, str]


def grading_dates(profile: NelmProfile) -> list[GradingDate]:
    """Return (date, source) of every dated fact that grades the tumour: Ki-67, mitoses, a stated grade (B37)."""
    if profile.grade is None and profile.stated_grade is None:
        return []
    dated = [(k.date, k.source) for k in profile.ki67 if k.date is not None]
    for fact in (profile.mitotic_count, profile.stated_grade):
        if fact is not None and fact.date is not None:
            dated.append((fact.date, fact.source))
    return dated


def ki67_staleness(dated: list[GradingDate], now: dt.date, limit: int) -> Staleness | None:
    """B36(c): the grade is current when its newest specimen was taken at most ``limit`` months ago."""
    if not dated:
        return None
    newest, source = max(dated)
    if newest >= _months_before(now, limit):
        return None
    return Staleness(
        last_seen=newest,
        last_source=source,
        max_age_days=(now - _months_before(now, limit)).days,
        window=f"{limit} months",
        rule="B36",
    )


def ki67_before_progression(dated: list[GradingDate], last_progression: dt.date | None) -> Staleness | None:
    """B36(c): the newest grading specimen predates the latest progression (re-biopsy advised [41])."""
    if not dated or last_progression is None:
        return None
    newest, source = max(dated)
    if newest >= last_progression:
        return None
    return Staleness(
        last_seen=newest,
        last_source=source,
        max_age_days=0,
        window=f"the latest progression ({last_progression.isoformat()})",
        rule=PROGRESSION_RULE,
        engineering_default=False,
    )
