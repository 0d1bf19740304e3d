"""What the engine may read of a profile: unreadable results (B28), bounds (B27) and derived eGFR (B33).

``readable_view`` returns the profile the rules see, and the elements that an unreadable result
blocked:

- B28: when the newest result of a kind could not be read (value, unit or date), the older readable
  results of that kind do not decide: they are dropped from the view and the element becomes a data
  gap naming the unreadable record, unless readable data already gives the worst case (G3 or NEC
  for the grade).
- B27: a lab value reported as a bound on the worse side ("eGFR < 45") decides only when the bound
  lies beyond the most extreme threshold of that lab ("< 30" is below 30 whatever the value); a
  bound that could fall on either side of a threshold is unreadable (B28).
- B33: with no current eGFR or creatinine clearance, an eGFR is computed from a current serum
  creatinine with CKD-EPI 2021 (age and sex from Patient).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping

from nelm_fhir.model import Differentiation, Fact, Grade, LabKind, LabResult, NelmProfile, UnreadableResult
from nelm_fhir.model.renal import ckd_epi_2021
from nelm_fhir.pathways.config import PathwayConfig

__all__ = ["LAB_ELEMENTS", "readable_view"]

LAB_ELEMENTS: Mapping[LabKind, str] = {
    LabKind.PLATELETS: "platelets",
    LabKind.HAEMOGLOBIN: "haemoglobin",
    LabKind.LEUKOCYTES: "leukocytes",
    LabKind.BILIRUBIN: "bilirubin",
    LabKind.ALBUMIN: "albumin",
    LabKind.INR: "inr",
    LabKind.EGFR: "renalFunction",
    LabKind.CRCL: "renalFunction",
}

# Profile field of a single-fact kind, and the input element it fills.
_FACT_FIELDS: Mapping[str, tuple[str, str]] = {
    "ecog": ("ecog", "fitness"),
    "karnofsky": ("karnofsky", "fitness"),
    "fit-for-major-surgery": ("fit_for_major_surgery", "fitness"),
    "flr-percent": ("flr_percent", "flrPercent"),
    "liver-involvement-percent": ("liver_involvement_percent", "liverInvolvementPercent"),
    "achievable-debulking-percent": ("achievable_debulking_percent", "achievableDebulkingPercent"),
    "krenning-score": ("krenning_score", "krenningScore"),
    "fdg-pet-positive": ("fdg_pet_positive", "fdgPetPositive"),
    "resectable-r0": ("resectable_r0", "resectableR0"),
    "frilling-type": ("frilling_type", "frillingType"),
}

# B27: a bound open towards the worse side decides only beyond the most extreme threshold of its lab.
_WORSE_BOUND: Mapping[LabKind, tuple[frozenset[str], str]] = {
    LabKind.EGFR: (frozenset({"<", "<="}), "prrt.contraindicated-renal-below-ml-min"),
    LabKind.CRCL: (frozenset({"<", "<="}), "prrt.contraindicated-renal-below-ml-min"),
    LabKind.PLATELETS: (frozenset({"<", "<="}), "prrt.min-platelets"),
    LabKind.HAEMOGLOBIN: (frozenset({"<", "<="}), "prrt.min-haemoglobin-g-dl"),
    LabKind.LEUKOCYTES: (frozenset({"<", "<="}), "prrt.min-leukocytes"),
    LabKind.ALBUMIN: (frozenset({"<", "<="}), "hepatic.min-albumin-g-dl"),
    LabKind.BILIRUBIN: (frozenset({">", ">="}), "hepatic.max-bilirubin-mg-dl"),
    LabKind.INR: (frozenset({">", ">="}), "hepatic.max-inr"),
}

_MIN = dt.date.min
_MAX = dt.date.max


def _newer_or_same(unreadable: UnreadableResult, readable: dt.date | None) -> bool:
    """Return True when an unreadable result may be the newest (undated ones may always be)."""
    return readable is None or (unreadable.date or _MAX) >= readable


def _newest(results: list[UnreadableResult]) -> UnreadableResult | None:
    return max(results, key=lambda u: (u.date or _MAX, u.source), default=None)


def _ambiguous_bounds(profile: NelmProfile, config: PathwayConfig) -> list[UnreadableResult]:
    """B27: lab bounds on the worse side that do not lie beyond the lab's most extreme threshold."""
    found = []
    for lab in profile.labs:
        rule = _WORSE_BOUND.get(lab.kind)
        if rule is None or lab.comparator not in rule[0]:
            continue
        limit = config.value(rule[1])
        decisive = lab.value < limit if lab.comparator in {"<", "<="} else lab.value > limit
        if not decisive:
            reason = f"reported only as a bound ('{lab.comparator}'), which may lie on either side of {limit:g}"
            found.append(UnreadableResult(kind=lab.kind.value, source=lab.source, reason=reason, date=lab.date))
    return found


def _derived_egfr(profile: NelmProfile, now: dt.date, config: PathwayConfig) -> LabResult | None:
    """B33: an eGFR from the newest current creatinine when no eGFR or CrCl is current."""
    days = int(config.value("staleness.labs-days"))

    def current(lab: LabResult | None) -> bool:
        return lab is not None and lab.date is not None and (now - lab.date).days <= days

    if current(profile.latest_lab(LabKind.EGFR)) or current(profile.latest_lab(LabKind.CRCL)):
        return None
    creatinine = profile.latest_lab(LabKind.CREATININE)
    age, sex = profile.age_years, profile.sex
    if creatinine is None or not current(creatinine) or age is None or sex is None or creatinine.unit != "mg/dL":
        return None
    egfr = ckd_epi_2021(creatinine.value, age.value, sex)
    if egfr is None:
        return None
    comparator = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(creatinine.comparator or "")
    shown = f"{creatinine.comparator + ' ' if creatinine.comparator else ''}{creatinine.value:.2g} mg/dL"
    date = creatinine.date.isoformat() if creatinine.date else "an unknown date"
    return LabResult(
        kind=LabKind.EGFR,
        value=round(egfr, 1),
        unit="mL/min/{1.73_m2}",
        source=creatinine.source,
        date=creatinine.date,
        comparator=comparator,
        derivation=f"computed from creatinine {shown} on {date} (CKD-EPI 2021, age {age.value}, {sex})",
    )


def readable_view(
    profile: NelmProfile, now: dt.date, config: PathwayConfig
) -> tuple[NelmProfile, dict[str, UnreadableResult]]:
    """Return the profile the rules may read and, per input element, the unreadable result that blocked it."""
    undated_status = [  # B29: an undated assessment may be the newest; the course is then unknown
        UnreadableResult(kind="disease-status", source=s.source, reason="no date (B29)")
        for s in profile.disease_status
        if s.date is None
    ]
    unreadable = [*profile.unreadable, *_ambiguous_bounds(profile, config), *undated_status]
    if not unreadable:
        derived = _derived_egfr(profile, now, config)
        if derived is None:
            return profile, {}
        return dataclasses.replace(profile, labs=(*profile.labs, derived)), {}
    blocked: dict[str, UnreadableResult] = {}
    changes: dict[str, object] = {}
    by_kind: dict[str, list[UnreadableResult]] = {}
    for result in unreadable:
        by_kind.setdefault(result.kind, []).append(result)
    labs = list(profile.labs)
    for kind in LabKind:
        newest = _newest(by_kind.get(kind.value, []))
        if newest is None:
            continue
        readable = [lab for lab in labs if lab.kind is kind and lab.source != newest.source]
        latest = max((lab.date or _MIN for lab in readable), default=None)
        if _newer_or_same(newest, latest):
            labs = [lab for lab in labs if lab.kind is not kind]
            blocked[LAB_ELEMENTS.get(kind, kind.value)] = newest
    changes["labs"] = tuple(labs)
    for fact_kind, (name, element) in _FACT_FIELDS.items():
        newest = _newest(by_kind.get(fact_kind, []))
        fact = getattr(profile, name)
        if newest is not None and _newer_or_same(newest, fact.date if fact is not None else None):
            changes[name] = None
            blocked.setdefault(element, newest)
    grading = _newest(by_kind.get("ki67", []) + by_kind.get("mitotic-count", []) + by_kind.get("who-grade", []))
    if grading is not None and not _worst_grade(profile):
        dates = [k.date for k in profile.ki67] + ([profile.mitotic_count.date] if profile.mitotic_count else [])
        newest_readable = max((d or _MIN for d in dates), default=None)
        if _newer_or_same(grading, newest_readable):
            changes.update(grade=None, ki67=(), mitotic_count=None)
            if getattr(profile, "stated_grade", None) is not None:
                changes["stated_grade"] = None
            blocked["ki67Percent"] = grading
    extent = _newest(by_kind.get("resection-extent", []))
    recorded = getattr(profile, "resection_extent", None)
    if extent is not None and _newer_or_same(extent, recorded.date if recorded is not None else None):
        # B38/B28: an unreadable resection extent is not "none recorded" (which may read as minor): major.
        changes["resection_extent"] = Fact(value="major", source=extent.source, date=extent.date)
    primary = _newest(by_kind.get("primary", []))
    if primary is not None and profile.primary is None:
        blocked["primaryTumour"] = primary  # B28/B30: a primary named only by text is not "no primary"
    status = _newest(by_kind.get("disease-status", []))
    if status is not None and _newer_or_same(
        status, max((s.date or _MIN for s in profile.disease_status), default=None)
    ):
        changes["disease_status"] = ()
        blocked["monthsStable"] = status
    size = _newest(by_kind.get("tumour-size", []))
    if size is not None:
        blocked["lesionSize"] = size  # a lesion of unknown size: the largest lesion is unknown
    view = dataclasses.replace(profile, **changes)  # type: ignore[arg-type]
    derived = _derived_egfr(view, now, config)
    if derived is not None and "renalFunction" not in blocked:
        view = dataclasses.replace(view, labs=(*view.labs, derived))
    return view, blocked


def _worst_grade(profile: NelmProfile) -> bool:
    """Return True when readable data already gives the worst grade case: G3 or NEC (B28)."""
    poor = profile.differentiation is not None and profile.differentiation.value is Differentiation.POOR
    return poor or (profile.grade is not None and profile.grade.grade is Grade.G3)


def lab_note(profile: NelmProfile, kind: LabKind) -> str:
    """Return how the newest ``kind`` result was reported when not as a plain number (B27 bound, B33 derived)."""
    latest = profile.latest_lab(kind)
    if latest is None:
        return ""
    parts = []
    if latest.comparator is not None:
        parts.append(f"reported as '{latest.comparator} {latest.value:g}'")
    if latest.derivation is not None:
        parts.append(latest.derivation)
    return f" ({'; '.join(parts)})" if parts else ""


def uncertain_elements(ctx_unreadable: Mapping[str, UnreadableResult], stale: Mapping[str, object]) -> set[str]:
    """Return the input elements that an unreadable (B28) or undated (B29) record left unknown."""
    undated = {e for e, s in stale.items() if getattr(s, "last_seen", dt.date.min) is None}
    return set(ctx_unreadable) | undated
