"""How the record was read (issue 11, B27-B29): every resource, used or not, and why.

``explain_record(data, profile, terminology)`` lists each resource of the input with one verdict:

- ``used``        a fact the pathway reads came from it ("used as Ki-67 index 12 %");
- ``superseded``  it was read, but a newer result of the same kind is the one used;
- ``unreadable``  relevant, but its value, unit, date or code could not be read (B28), with the reason;
- ``unusable``    relevant, but not valid FHIR R4 or otherwise refused, with each problem's path;
- ``ignored``     nothing the pathway uses (no code of the mappings, or a code the rules do not read).

It re-reads only what ingestion already produced (the profile and its problems), so it costs
nothing on the evaluation path and never changes a decision.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from nelm_fhir.ingest.bundle import unpack
from nelm_fhir.ingest.common import Ctx, Item, coding_pairs
from nelm_fhir.model import LabResult, NelmProfile
from nelm_fhir.terminology import Terminology, default_terminology

__all__ = ["ResourceUse", "explain_record", "render_explanation"]

USES = ("used", "superseded", "unreadable", "unusable", "ignored")


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceUse:
    """What became of one resource of the record."""

    reference: str  # "Observation/ki67-1"
    resource_type: str
    use: str  # one of USES
    why: str
    problems: tuple[str, ...] = ()  # "path: message" of each problem found in it

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form (camelCase keys)."""
        out: dict[str, Any] = {
            "reference": self.reference,
            "resourceType": self.resource_type,
            "use": self.use,
            "why": self.why,
        }
        if self.problems:
            out["problems"] = list(self.problems)
        return out


_LABELS = {
    "birth_date": "date of birth (age)",
    "primary": "primary tumour",
    "differentiation": "tumour differentiation",
    "morphology_codes": "tumour morphology",
    "mitotic_count": "mitotic count",
    "stated_grade": "stated WHO grade",
    "syndromes": "functional syndrome",
    "syndrome_refractory_to_ssa": "syndrome refractory to SSA",
    "tumour_burden_symptoms": "tumour-burden symptoms",
    "carcinoid_heart_disease": "carcinoid heart disease",
    "nelm": "liver metastases (NELM)",
    "recurrent_nelm": "NELM recurrence",
    "lesions": "liver lesion",
    "lesion_count": "number of liver lesions",
    "liver_involvement_percent": "liver involvement",
    "flr_percent": "future liver remnant",
    "resection_extent": "planned resection extent",
    "frilling_type": "Frilling type",
    "resectable_r0": "MDT R0 resectability judgement",
    "achievable_debulking_percent": "achievable debulking",
    "hepatomegaly": "hepatomegaly",
    "portal_vein_thrombosis": "portal vein thrombosis",
    "hepatic_failure": "hepatic failure",
    "ecog": "ECOG performance status",
    "karnofsky": "Karnofsky performance status",
    "fit_for_major_surgery": "MDT fitness judgement",
    "extrahepatic": "extrahepatic disease",
    "disease_status": "disease status assessment",
    "krenning_score": "SSTR imaging (Krenning score)",
    "fdg_pet_positive": "FDG-PET",
    "drugs": "drug exposure",
    "procedures": "procedure",
    "pregnancy": "pregnancy record",
}


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(getattr(value, "value", value))


def _sources(profile: NelmProfile) -> dict[str, list[str]]:
    """Return source reference -> what it was used as, for every fact of the profile."""
    used: dict[str, list[str]] = {}

    def add(source: str | None, label: str) -> None:
        if source:
            used.setdefault(source, []).append(label)

    for field in dataclasses.fields(profile):
        name = field.name
        value = getattr(profile, name)
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            if item is None or not hasattr(item, "source") or name in {"labs", "ki67", "unreadable", "problems"}:
                continue
            label = _LABELS.get(name, name.replace("_", " "))
            fact_value = getattr(item, "value", None)
            detail = next((getattr(item, a) for a in _DETAIL if getattr(item, a, None) is not None), None)
            if name == "age_years":
                label = f"age {fact_value} years"
            elif fact_value is not None and not isinstance(fact_value, tuple):
                label = f"{label} {_shown(fact_value)}{' ' + item.unit if getattr(item, 'unit', None) else ''}"
            elif detail is not None:
                label = f"{label}: {_shown(detail)}"
            add(item.source, label)
    if profile.primary is not None and profile.primary.status is not None:
        add(profile.primary.status_source, f"primary tumour {profile.primary.status.value}")
    for result in profile.ki67:
        add(result.source, f"Ki-67 index {result.value:g} % ({result.specimen.value} specimen)")
    for lab in profile.labs:
        add(lab.source, _lab_label(lab, profile))
    return used


_DETAIL = ("kind", "ingredient", "site", "trend", "concept", "topic")


def _lab_label(lab: LabResult, profile: NelmProfile) -> str:
    latest = profile.latest_lab(lab.kind)
    shown = f"{lab.kind.value} {lab.value:g} {lab.unit}"
    if lab.derivation:
        shown = f"eGFR {lab.value:g} {lab.unit} {lab.derivation}"
    if latest is not None and latest.source != lab.source and (latest.date or dt.date.min) >= (lab.date or dt.date.min):
        return f"superseded:{lab.kind.value} by the newer result {latest.source}"
    unreadable = [
        u
        for u in profile.unreadable
        if u.kind == lab.kind.value and (u.date is None or lab.date is None or u.date >= lab.date)
    ]
    if unreadable:
        return (
            f"superseded:{lab.kind.value} by the newer result {unreadable[0].source}, which could not be read"
            " (B28: an older result is not used in its place)"
        )
    return shown


def _items(data: Any, terminology: Terminology, as_of: dt.date) -> Iterator[Item]:
    ctx = Ctx(term=terminology, as_of=as_of)
    seen: set[str] = set()
    for item in unpack(data, ctx):
        if item.ref not in seen:
            seen.add(item.ref)
            yield item


def explain_record(data: Any, profile: NelmProfile, terminology: Terminology | None = None) -> list[ResourceUse]:
    """Return what became of every resource of ``data`` (as ingested into ``profile``), in record order."""
    term = terminology if terminology is not None else default_terminology()
    used = _sources(profile)
    unreadable = {u.source: u for u in profile.unreadable}
    problems: dict[str, list[str]] = {}
    for problem in profile.problems:
        problems.setdefault(_owner(problem.path), []).append(f"{problem.path}: {problem.message}")
    out: list[ResourceUse] = []
    items = list(_items(data, term, profile.as_of))
    parts = _parts(items, used)
    for item in items:
        ref = item.ref
        rtype = str(item.raw.get("resourceType"))
        found = problems.get(ref, []) + [m for key, ms in problems.items() if key.startswith(ref + "#") for m in ms]
        labels = used.get(ref, []) + [lb for key, lbs in used.items() if key.startswith(ref + "#") for lb in lbs]
        current = [lb for lb in labels if not lb.startswith("superseded:")]
        if current:
            out.append(
                ResourceUse(
                    reference=ref,
                    resource_type=rtype,
                    use="used",
                    why="used as " + "; ".join(dict.fromkeys(current)),
                    problems=tuple(found),
                )
            )
        elif labels:
            why = labels[0].removeprefix("superseded:").split(" by ", 1)
            out.append(
                ResourceUse(
                    reference=ref,
                    resource_type=rtype,
                    use="superseded",
                    why=f"a {why[0]} result, superseded by {why[1]}",
                    problems=tuple(found),
                )
            )
        elif ref in unreadable or any(k.startswith(ref + "#") for k in unreadable):
            bad = unreadable.get(ref) or next(u for k, u in unreadable.items() if k.startswith(ref + "#"))
            out.append(
                ResourceUse(
                    reference=ref,
                    resource_type=rtype,
                    use="unreadable",
                    why=f"{bad.kind} result that could not be read: {bad.reason}",
                    problems=tuple(found),
                )
            )
        elif rtype == "Patient" and ref == profile.patient:
            out.append(ResourceUse(reference=ref, resource_type=rtype, use="used", why="used as the patient evaluated"))
        elif ref in parts:
            out.append(ResourceUse(reference=ref, resource_type=rtype, use="used", why=f"read as {parts[ref]}"))
        elif _errors(profile, ref):
            out.append(
                ResourceUse(
                    reference=ref,
                    resource_type=rtype,
                    use="unusable",
                    why="relevant, but could not be used (see problems)",
                    problems=tuple(found),
                )
            )
        else:
            out.append(
                ResourceUse(
                    reference=ref, resource_type=rtype, use="ignored", why=_ignored(item, term), problems=tuple(found)
                )
            )
    return out


def _parts(items: list[Item], used: dict[str, list[str]]) -> dict[str, str]:
    """Return Specimen/BodyStructure references -> "the specimen of Observation/x" for results that were used."""
    parts: dict[str, str] = {}
    for item in items:
        if item.ref not in used:
            continue
        raw = item.raw
        specimen = raw.get("specimen")
        targets = [("specimen", specimen.get("reference"))] if isinstance(specimen, dict) else []
        targets += [("lesion", f.get("reference")) for f in raw.get("focus") or () if isinstance(f, dict)]
        for what, reference in targets:
            if isinstance(reference, str) and "/" in reference:
                key = "/".join(reference.split("/")[-2:])
                parts.setdefault(key, f"the {what} of {item.ref}")
    return parts


def _errors(profile: NelmProfile, ref: str) -> bool:
    return any(_owner(p.path) == ref and p.severity == "error" for p in profile.problems)


def _owner(path: str) -> str:
    """Return the resource reference a problem path belongs to ("Observation/x.valueQuantity" -> "Observation/x")."""
    head, _dot, _rest = path.partition(".")
    return head.split("[", 1)[0] if not head.startswith("Bundle") else head


def _ignored(item: Item, term: Terminology) -> str:
    raw = item.raw
    rtype = raw.get("resourceType")
    concept = raw.get("code") or raw.get("medicationCodeableConcept")
    pairs = [(s, c) for s, c in coding_pairs(concept) if s and c]
    known = [term.entry(s, c) for s, c in pairs]
    if any(k is not None for k in known):
        return "ignored: its code is known but no rule reads it"
    if rtype in {"Observation", "Condition", "Procedure", "MedicationRequest", "MedicationStatement"}:
        shown = ", ".join(f"{s.rsplit('/', 1)[-1]}|{c}" for s, c in pairs[:2]) or "no coding"
        return f"ignored: not a code the pathway uses ({shown})"
    return f"ignored: the pathway reads no {rtype}"


def render_explanation(uses: list[ResourceUse]) -> str:
    """Return a readable table: reference, use, why (wrapped), problems indented below."""
    width = max((len(u.reference) for u in uses), default=10)
    lines = ["", "HOW THE RECORD WAS READ", f"{'resource'.ljust(width)}  {'use'.ljust(10)}  why"]
    for use in uses:
        lines.append(f"{use.reference.ljust(width)}  {use.use.ljust(10)}  {use.why}")
        lines.extend(f"{' ' * (width + 14)}- {p}" for p in use.problems)
    counts = {u: sum(1 for x in uses if x.use == u) for u in USES}
    lines.append("")
    lines.append(", ".join(f"{n} {u}" for u, n in counts.items() if n) + f" (of {len(uses)} resources)")
    return "\n".join(lines) + "\n"
