"""Observations: Ki-67, mitoses, ECOG/Karnofsky, TumorSize, disease status, labs and local findings."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fhir.resources.R4B.observation import Observation

from nelm_fhir.ingest.clinical import morphology_extras, pregnancy_status, read_extra_finding
from nelm_fhir.ingest.collected import Collected, LesionFlag
from nelm_fhir.ingest.common import (
    Ctx,
    Item,
    coding_pairs,
    model_codings,
    raw_list,
    ref_key,
    to_date,
    validated,
)
from nelm_fhir.ingest.fastpath import fast_observation
from nelm_fhir.ingest.values import HIGH, LOW, bool_value, coded_value, int_value, measured_value, quantity_value
from nelm_fhir.model import (
    Differentiation,
    DiseaseStatus,
    DiseaseTrend,
    Fact,
    FrillingType,
    Grade,
    Ki67Result,
    LabKind,
    LabResult,
    LiverLesion,
    PrimaryStatus,
    SpecimenSite,
    UnreadableResult,
)
from nelm_fhir.model.grading import grade_from_ki67
from nelm_fhir.terminology import MappingEntry

__all__ = [
    "COMPONENT_OBS",
    "FINAL",
    "IGNORED",
    "observation_date",
    "raw_result_date",
    "read_observation",
    "relevant_observation",
    "unreadable_kind",
]

FINAL = frozenset({"final", "amended", "corrected"})
IGNORED = frozenset({"entered-in-error", "cancelled"})
NAMESPACES = ("obs", "lab", "finding")
_NAMESPACE_SET = frozenset(NAMESPACES)
USED_OBS = frozenset(
    {
        "ki67",
        "ki67-breast",
        "ecog",
        "karnofsky",
        "tumour-size",
        "tumour-longest-dimension",
        "disease-status",
        "morphology",
        "pregnancy-status",
    }
)
PRIMARY_SITES = frozenset({"small-intestine", "pancreas", "stomach", "appendix", "colon", "rectum", "lung", "thymus"})

_PERCENT_FINDINGS = {"flr-percent", "liver-involvement-percent", "achievable-debulking-percent"}
# B27 valueRange / bounds: which end of a result is worse for the patient.
_WORSE_PERCENT = {"flr-percent": LOW, "liver-involvement-percent": HIGH, "achievable-debulking-percent": LOW}
_WORSE_LAB = {
    LabKind.EGFR: LOW,
    LabKind.CRCL: LOW,
    LabKind.CREATININE: HIGH,
    LabKind.PLATELETS: LOW,
    LabKind.HAEMOGLOBIN: LOW,
    LabKind.LEUKOCYTES: LOW,
    LabKind.NEUTROPHILS: LOW,
    LabKind.BILIRUBIN: HIGH,
    LabKind.ALBUMIN: LOW,
    LabKind.INR: HIGH,
    LabKind.CHROMOGRANIN_A: HIGH,
    LabKind.HIAA_5: HIGH,
}
_BOOL_FINDINGS = {
    "resectable-r0",
    "fit-for-major-surgery",
    "fdg-pet-positive",
    "syndrome-refractory-to-ssa",
    "tumour-burden-symptoms",
}


def relevant_observation(raw: dict[str, Any], ctx: Ctx) -> MappingEntry | None:
    """Return the mapping entry that makes a raw Observation relevant, or None (cheap: raw codes only)."""
    concept = raw.get("code")
    codings = concept.get("coding") if isinstance(concept, dict) else None
    if not isinstance(codings, list):
        return None
    entry = ctx.term.entry  # raw_entry inlined: this runs for every Observation of the chart
    for coding in codings:
        if isinstance(coding, dict):
            found = entry(coding.get("system"), coding.get("code"))
            if found is not None and found.namespace in _NAMESPACE_SET:
                return None if found.namespace == "obs" and found.name not in USED_OBS else found
    return None


def observation_date(obs: Any) -> dt.date | None:
    """Return the date of a result (B27): effectiveDateTime, else the end of effectivePeriod, else issued."""
    if obs.effectiveDateTime is not None:
        return to_date(obs.effectiveDateTime)
    if obs.effectivePeriod is not None:
        return to_date(obs.effectivePeriod.end) or to_date(obs.effectivePeriod.start)
    if obs.effectiveInstant is not None:
        return to_date(obs.effectiveInstant)
    return to_date(obs.issued)


def raw_result_date(raw: dict[str, Any]) -> dt.date | None:
    """Return the date of a raw (possibly invalid) result as B27 reads it, or None."""
    period = raw.get("effectivePeriod")
    for value in (
        raw.get("effectiveDateTime"),
        period.get("end") if isinstance(period, dict) else None,
        period.get("start") if isinstance(period, dict) else None,
        raw.get("effectiveInstant"),
        raw.get("issued"),
    ):
        found = to_date(value) if isinstance(value, str) else None
        if found is not None:
            return found
    return None


def unreadable_kind(entry: MappingEntry) -> str:
    """Return the ``UnreadableResult.kind`` of a result coded as ``entry``."""
    if entry.name in {"ki67", "ki67-breast"}:
        return "ki67"
    if entry.name in {"tumour-size", "tumour-longest-dimension"}:
        return "tumour-size"
    return entry.name


def fact_count(out: Collected) -> int:
    """Return how many result facts ``out`` holds (to tell whether a reader added one)."""
    return (
        len(out.labs)
        + len(out.ki67)
        + len(out.ecog)
        + len(out.karnofsky)
        + len(out.lesions)
        + len(out.lesion_flags)
        + len(out.disease_status)
        + len(out.morphology)
        + sum(len(v) for v in out.findings.values())
    )


def guard_unreadable(kind: str, item: Item, ctx: Ctx, out: Collected, before: tuple[int, int]) -> None:
    """B28: when reading a relevant result added no fact but an error (or no value), keep it as unreadable."""
    facts, problems = before
    if fact_count(out) != facts:
        return
    reasons = [
        f"{p.path}: {p.message}"
        for p in ctx.problems[problems:]
        if p.severity == "error" or p.message.startswith("no value (data absent reason")
    ]
    if reasons:
        reason = "; ".join(dict.fromkeys(reasons))
        date = raw_result_date(item.raw) or ctx.report_dates.get(item.ref)
        out.unreadable.append(UnreadableResult(kind=kind, source=item.ref, reason=reason, date=date))


def read_observation(item: Item, entry: MappingEntry, ctx: Ctx, out: Collected) -> None:
    """Validate one relevant Observation and add its fact to ``out`` (or a problem to ``ctx``).

    A relevant result that yields no fact because its value, unit or date cannot be read is kept
    in ``out.unreadable`` (B28), so that an older result never silently takes its place.
    """
    before = (fact_count(out), len(ctx.problems))
    _read(item, entry, ctx, out)
    if entry.namespace != "panel":
        guard_unreadable(unreadable_kind(entry), item, ctx, out, before)


def _read(item: Item, entry: MappingEntry, ctx: Ctx, out: Collected) -> None:
    obs: Any = fast_observation(item.raw)
    if obs is None:
        obs = validated(Observation, item, ctx)
    if obs is None or obs.status in IGNORED:
        return
    date = observation_date(obs) or ctx.report_dates.get(item.ref)
    if ctx.after_evaluation_date(item.ref, date):
        return
    if date is None and entry.name != "morphology":
        ctx.problem(
            item.ref,
            "no date (effective[x] or issued): its age is unknown, it counts as stale (B29)",
            severity="warning",
        )
    ref = item.ref
    if entry.namespace == "panel":
        _panel(obs, item, date, ctx, out)
    elif entry.namespace == "lab":
        _lab(obs, item, entry, date, ctx, out)
    elif entry.namespace == "finding":
        _finding(obs, item, entry.name, date, ctx, out)
    elif entry.name in {"ki67", "ki67-breast"}:
        _ki67(obs, item, entry, date, ctx, out)
    elif entry.name == "ecog":
        value = _ecog(obs, ref, ctx)
        if value is not None:
            out.ecog.append(Fact(value=value, source=ref, date=date))
    elif entry.name == "karnofsky":
        score = int_value(obs, ref, ctx, low=0, high=100)
        if score is not None:
            out.karnofsky.append(Fact(value=score, source=ref, date=date))
    elif entry.name in {"tumour-size", "tumour-longest-dimension"}:
        _tumour_size(obs, item, entry, date, ctx, out)
    elif entry.name == "disease-status":
        trend = coded_value(obs, ref, "trend", ctx)
        if trend is not None:
            out.disease_status.append(DiseaseStatus(trend=DiseaseTrend(trend), source=ref, date=date))
    elif entry.name == "morphology":
        matched = ctx.term.match(model_codings(obs.valueCodeableConcept), "morphology")
        if matched is None:
            ctx.problem(f"{ref}.valueCodeableConcept", "not a recognised ICD-O-3 / SNOMED CT morphology code")
            return
        found, sent = matched
        out.morphology.append((Fact(value=sent, source=ref, date=date), found.attributes.get("differentiation")))
        morphology_extras(found.attributes, ref, date, out)
    elif entry.name == "pregnancy-status":
        pregnancy_status(obs, ref, date, ctx, out)


def _panel(obs: Any, item: Item, date: dt.date | None, ctx: Ctx, out: Collected) -> None:
    """B27/B33: a panel or synoptic report; each component with a relevant code is read as that result."""
    for index, component in enumerate(obs.component or ()):
        found = ctx.term.first(model_codings(component.code), *NAMESPACES)
        if found is None or (found.namespace == "obs" and found.name not in COMPONENT_OBS):
            continue
        path = f"{item.ref}.component[{index}]"
        before = (fact_count(out), len(ctx.problems))
        if found.namespace == "lab":
            _lab(obs, item, found, date, ctx, out, holder=component, path=path)
        elif found.namespace == "finding":
            _finding(obs, item, found.name, date, ctx, out, holder=component, path=path)
        else:
            _ki67(obs, item, found, date, ctx, out, holder=component, path=path)
        guard_unreadable(unreadable_kind(found), item, ctx, out, before)


# Components of a panel read as results of their own (a TumorSize's own components are read with it).
COMPONENT_OBS = frozenset({"ki67", "ki67-breast"})


def _bound_note(ctx: Ctx, path: str, comparator: str | None, shown: str) -> None:
    if comparator is not None:
        ctx.problem(path, f"reported as '{comparator} {shown}': read as that bound (B27)", severity="warning")


def _lab(
    obs: Any,
    item: Item,
    entry: MappingEntry,
    date: dt.date | None,
    ctx: Ctx,
    out: Collected,
    *,
    holder: Any = None,
    path: str | None = None,
) -> None:
    kind = LabKind(entry.name)
    where = path or item.ref
    measured = measured_value(holder if holder is not None else obs, where, kind.value, ctx, worse=_WORSE_LAB[kind])
    if measured is None:
        return
    _bound_note(ctx, measured.path, measured.comparator, f"{measured.value:g} {measured.unit}")
    out.labs.append(
        LabResult(
            kind=kind,
            value=measured.value,
            unit=measured.unit,
            source=item.ref,
            date=date,
            loinc=entry.code,
            comparator=measured.comparator,
        )
    )


def _ecog(obs: Observation, ref: str, ctx: Ctx) -> int | None:
    if obs.valueCodeableConcept is not None:
        found = ctx.term.first(model_codings(obs.valueCodeableConcept), "ecog")
        if found is None:
            ctx.problem(f"{ref}.valueCodeableConcept", "not a recognised ECOG grade code")
            return None
        return int(found.name)
    return int_value(obs, ref, ctx, low=0, high=5)


def _sites(raw_concepts: list[Any], ctx: Ctx) -> tuple[list[str], list[str]]:
    """Return the recognised body-site concepts and the codes of coded sites that were not recognised."""
    names: list[str] = []
    unknown: list[str] = []
    for concept in raw_concepts:
        pairs = coding_pairs(concept)
        found = ctx.term.first(pairs, "site")
        if found is not None:
            names.append(found.name)
        elif pairs:
            unknown.extend(f"{s}|{c}" for s, c in pairs)
    return names, unknown


def _related_condition_site(structure: Item, ctx: Ctx) -> str | None:
    """Return the site a Tumor BodyStructure's mCODE related condition tells (liver for a NELM)."""
    for ext in raw_list(structure.raw, "extension"):
        if not isinstance(ext, dict) or not str(ext.get("url", "")).endswith("mcode-related-condition"):
            continue
        value = ext.get("valueReference")
        target = ctx.resolve(value.get("reference"), structure) if isinstance(value, dict) else None
        if target is None or target.raw.get("resourceType") != "Condition":
            continue
        found = ctx.term.first(coding_pairs(target.raw.get("code")), "metastasis", "primary")
        if found is not None and found.concept == "metastasis:liver":
            return "liver"
        if found is not None and found.namespace == "primary" and found.name in PRIMARY_SITES:
            return found.name
    return None


def _located_sites(obs: Observation, item: Item, ctx: Ctx) -> tuple[list[str], list[str], Item | None]:
    """Return the recognised and unrecognised sites of the Observation, its specimen and focus; and the focus."""
    concepts: list[Any] = []
    raw = item.raw
    if isinstance(raw.get("bodySite"), dict):
        concepts.append(raw["bodySite"])
    focus_item: Item | None = None
    related: list[str] = []
    specimen = ctx.resolve(obs.specimen.reference, item) if obs.specimen is not None else None
    if specimen is not None:
        collection = specimen.raw.get("collection")
        if isinstance(collection, dict):
            concepts.append(collection.get("bodySite"))
        concepts.append(specimen.raw.get("location"))  # a BodyStructure given as specimen
    for focus in obs.focus or ():
        target = ctx.resolve(focus.reference, item)
        if target is not None and target.raw.get("resourceType") == "BodyStructure":
            focus_item = focus_item or target
            concepts.append(target.raw.get("location"))
            site = _related_condition_site(target, ctx)
            if site is not None:
                related.append(site)
    names, unknown = _sites(concepts, ctx)
    return names + related, unknown, focus_item


def _ki67(
    obs: Observation,
    item: Item,
    entry: MappingEntry,
    date: dt.date | None,
    ctx: Ctx,
    out: Collected,
    *,
    holder: Any = None,
    path: str | None = None,
) -> None:
    where = path or item.ref
    measured = measured_value(holder if holder is not None else obs, where, "percent", ctx, worse=HIGH)
    if measured is None:
        return
    value = measured.value
    if not 0 <= value <= 100:
        ctx.problem(measured.path, f"Ki-67 {value:g} % is outside 0-100 %")
        return
    if measured.comparator in {">", ">="} and grade_from_ki67(value) is not Grade.G3:
        ctx.problem(
            measured.path,
            f"Ki-67 reported as '{measured.comparator} {value:g} %': the grade cannot be told (B27, B28)",
        )
        return
    _bound_note(ctx, measured.path, measured.comparator, f"{value:g} %")
    if entry.name == "ki67-breast":
        ctx.problem(
            f"{item.ref}.code",
            "LOINC 85330-9 is the breast-cancer Ki-67 code; read as the Ki-67 index of this NEN (use 29593-1)",
            severity="warning",
        )
    sites, unknown, _focus = _located_sites(obs, item, ctx)
    if unknown and not sites:
        ctx.problem(
            item.ref,
            f"specimen site {unknown[0]} is not recognised: Ki-67 specimen site unknown (map it in a site file)",
            severity="warning",
        )
    specimen = SpecimenSite.UNKNOWN
    if "liver" in sites:
        specimen = SpecimenSite.LIVER
    elif any(s in PRIMARY_SITES for s in sites):
        specimen = SpecimenSite.PRIMARY
    elif sites:
        specimen = SpecimenSite.OTHER
    out.ki67.append(
        Ki67Result(value=value, specimen=specimen, source=item.ref, date=date, comparator=measured.comparator)
    )


def _tumour_size(
    obs: Observation, item: Item, entry: MappingEntry, date: dt.date | None, ctx: Ctx, out: Collected
) -> None:
    ref = item.ref
    sites, unknown, focus_item = _located_sites(obs, item, ctx)
    if sites and "liver" not in sites:
        return  # the size of a primary or of an extrahepatic lesion: not a liver lesion
    if unknown and not sites:
        ctx.problem(
            ref,
            f"tumour location {unknown[0]} is not recognised: not read as a liver lesion (map it to SNOMED 10200004)",
            severity="warning",
        )
        return
    size: float | None = None
    near_hilum: bool | None = None
    subcapsular: bool | None = None
    if entry.name == "tumour-longest-dimension":
        converted = quantity_value(obs, ref, "size", ctx)
        if converted is None:
            return
        size = converted[0]
    for index, component in enumerate(obs.component or ()):
        found = ctx.term.first(model_codings(component.code), "obs", "finding")
        path = f"{ref}.component[{index}]"
        if found is None:
            continue
        if found.concept == "obs:tumour-longest-dimension":
            converted = quantity_value(component, path, "size", ctx)
            if converted is None:
                return
            size = converted[0]
        elif found.concept == "finding:lesion-near-hilum":
            near_hilum = bool_value(component, path, ctx)
        elif found.concept == "finding:lesion-subcapsular":
            subcapsular = bool_value(component, path, ctx)
    if size is None and entry.name == "tumour-size" and obs.valueQuantity is not None:
        converted = quantity_value(obs, ref, "size", ctx)
        if converted is None:
            return
        size = converted[0]
    if size is None and near_hilum is None and subcapsular is None:
        ctx.problem(f"{ref}.component", "TumorSize without a longest dimension (LOINC 33728-7) or location flag")
        return
    if size is not None and size <= 0:
        ctx.problem(f"{ref}.component", f"lesion size {size:g} cm is not positive")
        return
    if not sites:
        ctx.problem(ref, "tumour size without a body site or located focus: read as a liver lesion", severity="warning")
    label = _label(focus_item, item)
    focus_key = next((ref_key(f.reference) for f in obs.focus or () if f.reference), None)
    lesion = LiverLesion(
        source=ref, size_cm=size, near_hilum=near_hilum, subcapsular=subcapsular, date=date, label=label
    )
    out.lesions.append((lesion, focus_key))


def _label(focus: Item | None, item: Item) -> str | None:
    if focus is not None:
        for ident in raw_list(focus.raw, "identifier"):
            if isinstance(ident, dict) and isinstance(ident.get("value"), str):
                return str(ident["value"])
        description = focus.raw.get("description")
        if isinstance(description, str):
            return description
        return focus.ref
    body = item.raw.get("bodySite")
    if isinstance(body, dict) and isinstance(body.get("text"), str):
        return str(body["text"])
    return None


def _finding(
    obs: Observation,
    item: Item,
    code: str,
    date: dt.date | None,
    ctx: Ctx,
    out: Collected,
    *,
    holder: Any = None,
    path: str | None = None,
) -> None:
    ref = path or item.ref
    focus_refs = getattr(obs, "focus", None) or ()  # a component has no focus: its Observation's
    if holder is not None:
        obs = holder
    fact_value: object | None = None
    if code in _PERCENT_FINDINGS:
        measured = measured_value(obs, ref, "percent", ctx, worse=_WORSE_PERCENT[code])
        if measured is not None and measured.comparator is not None:
            ctx.problem(measured.path, f"reported as a bound ('{measured.comparator}'): not a usable value")
        elif measured is not None:
            if 0 <= measured.value <= 100:
                fact_value = measured.value
            else:
                ctx.problem(measured.path, f"{measured.value:g} % is outside 0-100 %")
    elif code in _BOOL_FINDINGS:
        fact_value = bool_value(obs, ref, ctx)
    elif code == "krenning-score":
        fact_value = int_value(obs, ref, ctx, low=0, high=4)
    elif code == "lesion-count":
        fact_value = int_value(obs, ref, ctx, low=0, high=10_000)
    elif code == "mitotic-count":
        converted = quantity_value(obs, ref, "mitoses", ctx)
        if converted is not None:
            if converted[1] != "/2.mm2":
                ctx.problem(f"{ref}.valueQuantity", f"mitotic count in {converted[1]} cannot be read per 2 mm2")
            elif converted[0] < 0:
                ctx.problem(f"{ref}.valueQuantity.value", "negative mitotic count")
            else:
                fact_value = converted[0]
    elif code == "frilling-type":
        name = coded_value(obs, ref, "frilling", ctx)
        fact_value = FrillingType(name) if name is not None else None
    elif code == "differentiation":
        name = coded_value(obs, ref, "differentiation", ctx)
        fact_value = Differentiation(name) if name is not None else None
    elif code == "primary-status":
        name = coded_value(obs, ref, "primary-status", ctx)
        fact_value = PrimaryStatus(name) if name is not None else None
    elif code in {"lesion-near-hilum", "lesion-subcapsular"}:
        flag = bool_value(obs, ref, ctx)
        if flag is not None:
            focus = next((ref_key(f.reference) for f in focus_refs if f.reference), None)
            which = "near_hilum" if code == "lesion-near-hilum" else "subcapsular"
            out.lesion_flags.append(LesionFlag(which=which, value=flag, source=item.ref, focus=focus, date=date))
        return
    elif code in {"who-grade", "resection-extent"}:
        fact_value = read_extra_finding(obs, item.ref, code, ctx)
    else:
        return
    if fact_value is not None:
        unit = "%" if code in _PERCENT_FINDINGS else ("/2.mm2" if code == "mitotic-count" else None)
        out.add_finding(code, Fact(value=fact_value, source=item.ref, date=date, unit=unit))
