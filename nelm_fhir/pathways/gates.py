"""The gates every modality shares, computed once per evaluation (PATHWAY.md A.4 steps 0–3).

Histology (B3, B5, B6), fitness (B7), extrahepatic disease (B9), bilio-enteric anastomosis (B15),
hepatic insufficiency (B16), portal vein thrombosis (B17), the disease course (B12) and
staleness (B24). Each is a named value with the FHIR references it was read from.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from nelm_fhir.model import (
    ConditionRecord,
    Differentiation,
    ExtrahepaticFinding,
    Fact,
    FrillingType,
    Grade,
    GradeAssessment,
    LabKind,
    LabResult,
    LiverLesion,
    NelmProfile,
    PregnancyRecord,
    PrimarySite,
    PrimaryStatus,
    ProcedureKind,
    ProcedureRecord,
    SyndromeFinding,
    UnconfirmedRecord,
    UnreadableResult,
)
from nelm_fhir.model.facts import ConditionState
from nelm_fhir.pathways.config import PathwayConfig
from nelm_fhir.pathways.course import (
    Course,
    grading_dates,
    ki67_before_progression,
    ki67_staleness,
    months_between,
    read_course,
)
from nelm_fhir.pathways.gaps import Staleness
from nelm_fhir.pathways.readable import readable_view, uncertain_elements

__all__ = ["NEC_CODES", "Context", "Course", "Reading", "build_context", "months_between"]

T = TypeVar("T")

# B3: poorly differentiated NEC from morphology or diagnosis codes (matched on code, never display).
NEC_CODES = frozenset(
    {
        "8246/3",
        "8013/3",
        "8041/3",  # ICD-O-3
        "C7A.1",  # ICD-10-CM
        "128628002",
        "719105002",
        "74364000",
        "253000007",
        "55937004",
        "123631000119103",  # SNOMED CT
        "721671006",
        "1186869002",
        "107811000119106",
        "135091000119106",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading(Generic[T]):
    """A value as the engine may use it: ``value`` is None when missing or stale."""

    element: str
    value: T | None
    source: str | None = None
    date: dt.date | None = None
    stale: bool = False

    @property
    def sources(self) -> tuple[str, ...]:
        """Return the FHIR reference as a tuple (empty when none)."""
        return (self.source,) if self.source else ()


def _code(system_code: str) -> str:
    return system_code.rsplit("|", 1)[-1].strip()


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    """Shared derived facts of one evaluation; built by ``build_context``."""

    profile: NelmProfile
    now: dt.date
    config: PathwayConfig
    grade: GradeAssessment | None
    nec: bool
    nec_sources: tuple[str, ...]
    differentiation_unknown_high_grade: bool  # Ki-67 > 20 % and no differentiation recorded
    ki67: Reading[float]
    unfit: bool | None
    fitness_sources: tuple[str, ...]
    fitness_note: str
    distant: tuple[ExtrahepaticFinding, ...]
    regional: tuple[ExtrahepaticFinding, ...]
    bilio_enteric: tuple[ProcedureRecord, ...]
    pvt: tuple[ConditionRecord, ...]
    hepatic_failure: tuple[ConditionRecord, ...]
    labs: dict[LabKind, Reading[float]]
    renal: Reading[float]
    krenning: Reading[int]
    fdg: Reading[bool]
    flr: Reading[float]
    involvement: Reading[float]
    lesions: tuple[LiverLesion, ...]  # fresh lesions with a known size
    largest_cm: Reading[float]
    lesion_count: int | None
    age: Reading[int]
    months_stable: int | None
    progressive: bool | None
    course_sources: tuple[str, ...]
    recurrent: bool
    syndromes: tuple[SyndromeFinding, ...]
    stale: dict[str, Staleness] = field(default_factory=dict)
    course_note: str = "disease course not recorded"
    ki67_stale: Staleness | None = None  # B36(c): the grading specimen is too old for grade-dependent options
    ki67_before_progression: Staleness | None = None  # B36(c): specimen taken before the latest progression
    unreadable: dict[str, UnreadableResult] = field(default_factory=dict)  # B28: element -> blocking record
    lesion_count_sources: tuple[str, ...] = ()  # B39: the facts the count came from
    major_resection: bool = True  # B38: planned resection counts as major (FLR required)
    resection_extent_note: str = ""
    resection_extent_sources: tuple[str, ...] = ()
    pregnancy: tuple[PregnancyRecord, ...] = ()  # B32: active pregnancy records
    unconfirmed: tuple[UnconfirmedRecord, ...] = ()  # B28/B31: records to confirm
    stale_liver_function: tuple[LabResult, ...] = ()  # B35: stale abnormal bilirubin/albumin/INR

    # Named intermediate results, read like the guideline.
    @property
    def g3_net(self) -> bool:
        """Return True for a well-differentiated (or not poorly differentiated) G3 tumour."""
        return self.grade is not None and self.grade.grade is Grade.G3 and not self.nec

    @property
    def primary_site(self) -> PrimarySite | None:
        """Return the primary site, UNKNOWN for an unknown primary, None when not recorded."""
        primary = self.profile.primary
        if primary is None:
            return None
        if primary.status is PrimaryStatus.UNKNOWN_PRIMARY:
            return PrimarySite.UNKNOWN
        return primary.site

    @property
    def unknown_primary(self) -> bool:
        """Return True when the record names an unknown primary (B22)."""
        return self.primary_site is PrimarySite.UNKNOWN

    @property
    def primary_in_situ(self) -> bool:
        """Return True when the primary is in place: recorded so, or recorded with no resection (B30)."""
        primary = self.profile.primary
        if primary is None or self.unknown_primary:
            return False
        return primary.status is PrimaryStatus.IN_SITU or primary.status is None

    @property
    def primary_in_situ_by_default(self) -> bool:
        """Return True when the primary is read as in situ only because no resection is recorded (B30)."""
        primary = self.profile.primary
        return primary is not None and primary.status is None and not self.unknown_primary

    @property
    def pregnant(self) -> bool:
        """Return True for an active pregnancy (B32)."""
        return bool(self.pregnancy)

    @property
    def frilling(self) -> FrillingType | None:
        """Return the recorded Frilling type, or None."""
        fact = self.profile.frilling_type
        return fact.value if fact else None

    @property
    def resectable_r0(self) -> Fact[bool] | None:
        """Return the MDT judgement on R0 resectability, or None."""
        return self.profile.resectable_r0

    @property
    def unresectable(self) -> bool:
        """Return True when the MDT says no R0 resection or the disease is diffuse (Frilling III)."""
        r0 = self.resectable_r0
        return (r0 is not None and r0.value is False) or self.frilling is FrillingType.III

    @property
    def multiple_or_advanced(self) -> bool:
        """Return True for multiple NELM or an advanced liver burden (B18)."""
        count = self.lesion_count or 0
        involvement = self.involvement.value
        return (
            count >= 2
            or self.frilling in (FrillingType.II, FrillingType.III)
            or (involvement is not None and involvement >= self.config.value("bulky.min-involvement-percent"))
        )

    @property
    def unknown_by_record(self) -> set[str]:
        """Return the input elements an unreadable (B28) or undated (B29) record left unknown."""
        return uncertain_elements(self.unreadable, self.stale)

    @property
    def sstr_positive(self) -> bool | None:
        """Return SSTR status from the Krenning score (≥ 2 positive), None when unknown."""
        if self.krenning.value is None:
            return None
        return self.krenning.value >= self.config.value("prrt.min-krenning")

    @property
    def functional(self) -> tuple[SyndromeFinding, ...]:
        """Return the active functional syndromes."""
        return tuple(s for s in self.syndromes if s.state is ConditionState.ACTIVE)

    @property
    def refractory_syndrome(self) -> bool:
        """Return True for an active syndrome recorded as refractory to SSA."""
        fact = self.profile.syndrome_refractory_to_ssa
        return bool(self.functional) and fact is not None and fact.value is True

    @property
    def burden_symptoms(self) -> bool:
        """Return True when symptoms attributable to tumour burden are recorded."""
        fact = self.profile.tumour_burden_symptoms
        return fact is not None and fact.value is True

    @property
    def extrahepatic_any(self) -> tuple[ExtrahepaticFinding, ...]:
        """Return every active extrahepatic finding, distant or regional."""
        return self.distant + self.regional

    def lab(self, kind: LabKind) -> Reading[float]:
        """Return the usable reading of a laboratory value."""
        return self.labs[kind]

    def threshold(self, key: str) -> float:
        """Return the configured threshold ``key``."""
        return self.config.value(key)


_LAB_ELEMENTS = {
    LabKind.PLATELETS: "platelets",
    LabKind.HAEMOGLOBIN: "haemoglobin",
    LabKind.LEUKOCYTES: "leukocytes",
    LabKind.BILIRUBIN: "bilirubin",
    LabKind.ALBUMIN: "albumin",
    LabKind.INR: "inr",
    LabKind.EGFR: "renalFunction",
    LabKind.CRCL: "renalFunction",
}


class _Builder:
    """Collects readings and their staleness while the context is built."""

    def __init__(self, now: dt.date, config: PathwayConfig) -> None:
        self.now = now
        self.config = config
        self.stale: dict[str, Staleness] = {}

    def window(self, kind: str) -> int:
        return int(self.config.value(f"staleness.{kind}-days"))

    def fresh(self, element: str, date: dt.date | None, source: str | None, kind: str) -> bool:
        days = self.window(kind)
        if date is not None and (self.now - date).days <= days:  # B29: an undated result is stale
            return True
        previous = self.stale.get(element)
        if previous is None or (previous.last_seen or dt.date.min, previous.last_source or "") < (
            date or dt.date.min,
            source or "",
        ):
            self.stale[element] = Staleness(last_seen=date, last_source=source, max_age_days=days)
        return False

    def fact(self, element: str, fact: Fact[T] | None, kind: str | None) -> Reading[T]:
        if fact is None:
            return Reading(element=element, value=None)
        ok = kind is None or self.fresh(element, fact.date, fact.source, kind)
        return Reading(
            element=element, value=fact.value if ok else None, source=fact.source, date=fact.date, stale=not ok
        )


def _nec(profile: NelmProfile) -> tuple[bool, tuple[str, ...]]:
    sources: list[str] = []
    if profile.differentiation is not None and profile.differentiation.value is Differentiation.POOR:
        sources.append(profile.differentiation.source)
    sources.extend(f.source for f in profile.morphology_codes if _code(f.value) in NEC_CODES)
    if profile.primary is not None and _code(profile.primary.code) in NEC_CODES:
        sources.append(profile.primary.source)
    return bool(sources), tuple(dict.fromkeys(sources))


def _fitness(profile: NelmProfile, b: _Builder) -> tuple[bool | None, tuple[str, ...], str]:
    """B7: unfit when fit-for-major-surgery is false, ECOG ≥ 3 (or Karnofsky ≤ 40)."""
    ecog = b.fact("fitness", profile.ecog, "performance-status")
    kps = b.fact("fitness", profile.karnofsky, "performance-status")
    flag_reading = b.fact("fitness", profile.fit_for_major_surgery, "performance-status")  # B34: current only
    flag = profile.fit_for_major_surgery if flag_reading.value is not None else None
    if flag is not None and flag.value is False:
        return True, (flag.source,), "MDT: not fit for major surgery"
    if ecog.value is not None and ecog.value >= 3:
        return True, ecog.sources, f"ECOG {ecog.value}"
    if ecog.value is None and kps.value is not None and kps.value <= 40:
        return True, kps.sources, f"Karnofsky {kps.value} %"
    if flag is not None or ecog.value is not None or kps.value is not None:
        parts = [f"ECOG {ecog.value}"] if ecog.value is not None else []
        if ecog.value is None and kps.value is not None:
            parts.append(f"Karnofsky {kps.value} %")
        if flag is not None:
            parts.append("MDT: fit for major surgery")
        sources = ecog.sources + (kps.sources if ecog.value is None else ()) + ((flag.source,) if flag else ())
        return False, sources, ", ".join(parts)
    return None, (), "performance status not recorded" + (" (stale)" if "fitness" in b.stale else "")


def build_context(profile: NelmProfile, now: dt.date, config: PathwayConfig) -> Context:
    """Return the shared gates of one evaluation; pure (reads only its arguments)."""
    b = _Builder(now, config)
    profile, unreadable = readable_view(profile, now, config)  # B27, B28, B33
    grade = _effective_grade(profile)
    nec, nec_sources = _nec(profile)
    diff = profile.differentiation.value if profile.differentiation else Differentiation.UNKNOWN
    high = grade is not None and grade.grade is Grade.G3
    ki67 = Reading(
        element="ki67Percent",
        value=grade.ki67_percent if grade else None,
        source=grade.sources[0] if grade and grade.sources else None,
    )
    unfit, fitness_sources, fitness_note = _fitness(profile, b)
    labs: dict[LabKind, Reading[float]] = {}
    for kind in LabKind:
        latest = profile.latest_lab(kind)
        element = _LAB_ELEMENTS.get(kind, kind.value)
        if latest is None:
            labs[kind] = Reading(element=element, value=None)
            continue
        ok = b.fresh(element, latest.date, latest.source, "labs")
        labs[kind] = Reading(
            element=element, value=latest.value if ok else None, source=latest.source, date=latest.date, stale=not ok
        )
    renal_candidates = [r for r in (labs[LabKind.EGFR], labs[LabKind.CRCL]) if r.value is not None]
    # B19 says "eGFR or creatinine clearance": either adequate value suffices (measured GFR confirms).
    renal = (
        max(renal_candidates, key=lambda r: r.value or 0.0)
        if renal_candidates
        else Reading(element="renalFunction", value=None)
    )
    fresh_lesions = tuple(
        lesion
        for lesion in profile.lesions
        if lesion.size_cm is not None and b.fresh("lesionSize", lesion.date, lesion.source, "imaging")
    )
    largest = max(fresh_lesions, key=lambda lesion: (lesion.size_cm or 0.0, lesion.source), default=None)
    largest = None if "lesionSize" in unreadable else largest  # B28: a lesion of unreadable size
    older = [lesion.size_cm for lesion in profile.lesions if lesion.size_cm is not None and lesion not in fresh_lesions]
    if largest is not None and older and max(older) > (largest.size_cm or 0.0):
        largest = None  # B24/B29: a larger lesion measured only on stale or undated imaging: the largest is unknown
    count, count_sources = _lesion_count(profile)
    course = read_course(profile, now, b.fresh)
    dates = grading_dates(profile)
    ki67_stale = ki67_staleness(dates, now, int(config.value("staleness.ki67-months")))
    if ki67_stale is not None:
        b.stale["ki67Percent"] = ki67_stale
    before_progression = None if ki67_stale else ki67_before_progression(dates, course.last_progression)
    major, extent_note, extent_sources = _major_resection(profile, count, fresh_lesions, config)
    age_fact = profile.age_years
    recurrent = profile.recurrent_nelm is not None and profile.recurrent_nelm.value is True
    recurrent = recurrent or any(n.recurrence for n in profile.active(profile.nelm))
    return Context(
        profile=profile,
        now=now,
        config=config,
        grade=grade,
        nec=nec,
        nec_sources=nec_sources,
        differentiation_unknown_high_grade=high and not nec and diff is Differentiation.UNKNOWN,
        ki67=ki67,
        unfit=unfit,
        fitness_sources=fitness_sources,
        fitness_note=fitness_note,
        distant=tuple(f for f in profile.extrahepatic if f.distant and f.state is ConditionState.ACTIVE),
        regional=tuple(f for f in profile.extrahepatic if not f.distant and f.state is ConditionState.ACTIVE),
        bilio_enteric=profile.procedures_of(ProcedureKind.WHIPPLE, ProcedureKind.BILIO_ENTERIC_ANASTOMOSIS),
        pvt=profile.active(profile.portal_vein_thrombosis),
        hepatic_failure=profile.active(profile.hepatic_failure),
        labs=labs,
        renal=renal,
        krenning=b.fact("krenningScore", profile.krenning_score, "imaging"),
        fdg=b.fact("fdgPetPositive", profile.fdg_pet_positive, "imaging"),
        flr=b.fact("flrPercent", profile.flr_percent, "imaging"),
        involvement=b.fact("liverInvolvementPercent", profile.liver_involvement_percent, "imaging"),
        lesions=fresh_lesions,
        largest_cm=Reading(element="lesionSize", value=largest.size_cm, source=largest.source, date=largest.date)
        if largest
        else Reading(element="lesionSize", value=None, stale="lesionSize" in b.stale),
        lesion_count=count,
        age=Reading(element="ageYears", value=age_fact.value, source=age_fact.source)
        if age_fact
        else Reading(element="ageYears", value=None),
        months_stable=course.months_stable,
        progressive=course.progressive,
        course_sources=course.sources,
        course_note=course.note,
        ki67_stale=ki67_stale,
        ki67_before_progression=before_progression,
        lesion_count_sources=count_sources,
        major_resection=major,
        resection_extent_note=extent_note,
        resection_extent_sources=extent_sources,
        pregnancy=_active_pregnancy(profile, now, config),
        unconfirmed=profile.unconfirmed,
        stale_liver_function=_stale_abnormal_liver_function(profile, labs, config),
        recurrent=recurrent,
        syndromes=profile.syndromes,
        stale=b.stale,
        unreadable=unreadable,
    )


_RANK = {Grade.G1: 1, Grade.G2: 2, Grade.G3: 3}


def _effective_grade(profile: NelmProfile) -> GradeAssessment | None:
    """B37: a stated WHO grade sets the grade when no number exists; with a number the higher grade wins."""
    measured, stated = profile.grade, profile.stated_grade
    if stated is None:
        return measured
    said = f"WHO grade {stated.value.value} stated by pathology without a number ({stated.source})"
    if measured is None:
        return GradeAssessment(
            grade=stated.value,
            ki67_percent=None,
            mitoses_per_2mm2=None,
            sources=(stated.source,),
            notes=(f"grade set by the {said}: no Ki-67 or mitotic count recorded (B37)",),
        )
    if _RANK[stated.value] <= _RANK[measured.grade]:
        return measured
    return dataclasses.replace(
        measured,
        grade=stated.value,
        sources=(stated.source, *measured.sources),
        notes=(*measured.notes, f"grade set by the {said}: higher than the measured {measured.grade.value} (B37)"),
    )


def _lesion_count(profile: NelmProfile) -> tuple[int | None, tuple[str, ...]]:
    """B39: the larger of the recorded lesion count and the number of distinct lesion-size records."""
    sized = [lesion for lesion in profile.lesions if lesion.size_cm is not None]
    recorded = profile.lesion_count
    if recorded is not None and recorded.value >= len(sized):
        return recorded.value, (recorded.source,)
    if sized:
        return len(sized), tuple(lesion.source for lesion in sized)
    return None, ()


def _major_resection(
    profile: NelmProfile, count: int | None, lesions: tuple[LiverLesion, ...], config: PathwayConfig
) -> tuple[bool, str, tuple[str, ...]]:
    """B38: the recorded resection extent; else minor only for Frilling I, one lesion < 5 cm (engineering default)."""
    extent = profile.resection_extent
    if extent is not None:
        return extent.value != "minor", f"planned resection {extent.value} (recorded)", (extent.source,)
    limit = config.value("resection.minor-max-lesion-cm")
    frilling = profile.frilling_type
    largest = max((lesion.size_cm or 0.0 for lesion in lesions), default=None)
    if (
        frilling is not None
        and frilling.value is FrillingType.I
        and count == 1
        and largest is not None
        and largest < limit
    ):
        sources = (frilling.source, *(lesion.source for lesion in lesions))
        note = f"minor resection assumed: Frilling type I, one lesion below {limit:g} cm (B38 engineering default)"
        return False, note, sources
    return True, "major resection assumed: no resection extent recorded (B38 engineering default)", ()


def _active_pregnancy(profile: NelmProfile, now: dt.date, config: PathwayConfig) -> tuple[PregnancyRecord, ...]:
    """B32: a pregnancy Condition within 10 months and not resolved, or 'pregnant' observed within 30 days.

    An undated pregnancy condition counts (its age cannot be shown to be over); a newer 'not pregnant'
    observation than every pregnancy record ends it.
    """
    months = int(config.value("pregnancy.condition-months"))
    days = int(config.value("pregnancy.observation-days"))
    active: list[PregnancyRecord] = []
    for record in profile.pregnancy:
        if not record.pregnant or record.state is not ConditionState.ACTIVE:
            continue
        if record.kind == "observation":
            if record.date is not None and (now - record.date).days <= days:
                active.append(record)
        elif record.date is None or months_between(record.date, now) < months or record.date == now:
            active.append(record)
    denials = [r.date for r in profile.pregnancy if not r.pregnant and r.date is not None]
    if active and denials:
        newest_denial = max(denials)
        if all(r.date is not None and r.date < newest_denial for r in active):
            return ()
    return tuple(active)


_ABNORMAL = {
    LabKind.BILIRUBIN: ("liver-function.abnormal-bilirubin-mg-dl", 1),
    LabKind.ALBUMIN: ("liver-function.abnormal-albumin-g-dl", -1),
    LabKind.INR: ("liver-function.abnormal-inr", 1),
}


def _stale_abnormal_liver_function(
    profile: NelmProfile, labs: dict[LabKind, Reading[float]], config: PathwayConfig
) -> tuple[LabResult, ...]:
    """B35: the newest bilirubin, albumin or INR is stale and outside its usual reference limit."""
    found: list[LabResult] = []
    for kind, (key, direction) in _ABNORMAL.items():
        latest = profile.latest_lab(kind)
        if latest is None or not labs[kind].stale:
            continue
        limit = config.value(key)
        if (latest.value > limit) if direction > 0 else (latest.value < limit):
            found.append(latest)
    return tuple(found)
