"""What the pathway page shows, computed from the record and the evaluation (no Flask here).

Kept apart from the routes so that the page's content (banner, profile, modality groups, sources,
changes) can be reasoned about on its own.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cds_hooks.clinical_text import MODALITY_NAMES, STATUS_LABELS, unit_text
from nelm_fhir.pathways.result import Evaluation, Modality, ModalityResult

__all__ = [
    "GROUPS",
    "MODALITY_NAMES",
    "STATUS_LABELS",
    "Banner",
    "SourceRow",
    "banner_of",
    "changes_between",
    "grouped_results",
    "humanise",
    "profile_rows",
    "source_rows",
    "statuses_of",
]

M = Modality
GROUPS: tuple[tuple[str, tuple[Modality, ...]], ...] = (
    ("Liver surgery", (M.CURATIVE_RESECTION, M.SIMULTANEOUS_RESECTION, M.PORTAL_VEIN_EMBOLIZATION,
                       M.TWO_STAGE_HEPATECTOMY, M.ALPPS, M.CYTOREDUCTIVE_SURGERY, M.REPEAT_RESECTION)),
    ("Transplantation", (M.LIVER_TRANSPLANTATION,)),
    ("Ablation", (M.RFA, M.STEREOTACTIC_RFA, M.MWA)),
    ("Intra-arterial therapy", (M.TAE, M.TACE, M.RADIOEMBOLIZATION)),
    ("Radionuclide therapy", (M.PRRT, M.PRRT_PLUS_RADIOEMBOLIZATION)),
    ("Systemic therapy", (M.SOMATOSTATIN_ANALOGUE, M.EVEROLIMUS, M.SUNITINIB, M.CHEMOTHERAPY, M.INTERFERON_ALPHA)),
)

_REF = re.compile(r"^[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Banner:
    """The patient banner: name, sex, birth date with age, identifier."""

    name: str
    sex: str
    birth_date: str
    age: str
    identifier: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceRow:
    """One FHIR resource a criterion used, summarised for the page."""

    ref: str
    anchor: str
    kind: str
    what: str
    value: str
    date: str
    captured: bool = False


@dataclass(slots=True)
class ProfileRow:
    """One line of the profile table: label, value text, and source references."""

    label: str
    value: str
    sources: list[str] = field(default_factory=list)


def anchor_of(ref: str) -> str:
    """Return the page anchor id of a FHIR reference (``Observation/x`` → ``src-Observation-x``)."""
    return "src-" + re.sub(r"[^A-Za-z0-9\-]", "-", ref)


def _display(concept: Any) -> str:
    if not isinstance(concept, dict):
        return ""
    if isinstance(concept.get("text"), str):
        return str(concept["text"])
    for coding in concept.get("coding") or []:
        if isinstance(coding, dict):
            if isinstance(coding.get("display"), str):
                return str(coding["display"])
            if isinstance(coding.get("code"), str):
                return str(coding["code"])
    return ""


def banner_of(patient: Mapping[str, Any] | None, today: dt.date) -> Banner | None:
    """Return the banner facts of a Patient resource, or None without one."""
    if not patient:
        return None
    name = ""
    for n in patient.get("name") or []:
        if isinstance(n, dict):
            name = n.get("text") or " ".join([*(n.get("given") or []), n.get("family") or ""]).strip()
            if name:
                break
    birth = str(patient.get("birthDate") or "")
    age = ""
    try:
        born = dt.date.fromisoformat(birth[:10])
        age = str(today.year - born.year - ((today.month, today.day) < (born.month, born.day)))
    except ValueError:
        pass
    ident = ""
    for i in patient.get("identifier") or []:
        if isinstance(i, dict) and i.get("value"):
            ident = str(i["value"])
            break
    return Banner(name=name or "(no name recorded)", sex=str(patient.get("gender") or "unknown"), birth_date=birth,
                  age=age, identifier=ident or f"id {patient.get('id', '?')}")


def _value_text(res: Mapping[str, Any]) -> str:
    if isinstance(res.get("valueQuantity"), dict):
        q = res["valueQuantity"]
        return f"{q.get('value', '')} {unit_text(q.get('unit') or q.get('code') or '')}".strip()
    if "valueBoolean" in res:
        return "yes" if res["valueBoolean"] else "no"
    for key in ("valueInteger", "valueString", "valueDecimal"):
        if key in res:
            return str(res[key])
    if isinstance(res.get("valueCodeableConcept"), dict):
        return _display(res["valueCodeableConcept"])
    if isinstance(res.get("clinicalStatus"), dict):
        return _display(res["clinicalStatus"])
    if isinstance(res.get("status"), str):
        return str(res["status"])
    return ""


def _date_text(res: Mapping[str, Any]) -> str:
    for key in ("effectiveDateTime", "onsetDateTime", "performedDateTime", "recordedDate", "authoredOn",
                "dateAsserted", "issued"):
        if isinstance(res.get(key), str):
            return str(res[key])[:10]
    for key in ("effectivePeriod", "performedPeriod", "onsetPeriod"):
        if isinstance(res.get(key), dict) and isinstance(res[key].get("start"), str):
            return str(res[key]["start"])[:10]
    return ""


def source_rows(
    refs: Iterable[str], resources: Mapping[str, Mapping[str, Any]], captured: frozenset[str] = frozenset()
) -> list[SourceRow]:
    """Return a summary row for each referenced resource (unknown ones say so)."""
    rows = []
    for ref in refs:
        res = resources.get(ref)
        kind = ref.split("/", 1)[0]
        if res is None:
            rows.append(SourceRow(ref=ref, anchor=anchor_of(ref), kind=kind, what="(not in the record read)",
                                  value="", date=""))
            continue
        what = _display(res.get("code")) or _display(res.get("medicationCodeableConcept")) or kind
        rows.append(SourceRow(ref=ref, anchor=anchor_of(ref), kind=kind, what=what, value=_value_text(res),
                              date=_date_text(res), captured=ref in captured))
    return rows


def humanise(key: str) -> str:
    """Return a label for a camelCase key (``ki67Percent`` → ``Ki-67 %``)."""
    special = {"ki67Percent": "Ki-67 %", "flrPercent": "FLR %", "liverInvolvementPercent": "Liver involvement %",
               "ecog": "ECOG", "egfr": "eGFR", "inr": "INR", "fdgPetPositive": "FDG-PET positive",
               "krenningScore": "Krenning score", "monthsStable": "Months stable"}
    if key in special:
        return special[key]
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key).replace("-", " ").replace("_", " ")
    return words[:1].upper() + words[1:].lower()


def _flatten(value: Any, sources: list[str]) -> str:
    if isinstance(value, dict):
        parts = []
        for k, v in value.items():
            if k in {"source", "sources"}:
                for s in v if isinstance(v, list) else [v]:
                    if isinstance(s, str) and _REF.match(s):
                        sources.append(s)
                continue
            text = _flatten(v, sources)
            if text:
                parts.append(f"{humanise(k).lower()} {text}" if k not in {"value"} else text)
        return ", ".join(parts)
    if isinstance(value, list):
        return "; ".join(t for t in (_flatten(v, sources) for v in value) if t)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return ""
    if isinstance(value, str) and _REF.match(value):
        sources.append(value)
        return ""
    return str(value)


LAB_NAMES: Mapping[str, str] = {
    "egfr": "eGFR", "crcl": "Creatinine clearance", "creatinine": "Creatinine", "platelets": "Platelets",
    "haemoglobin": "Haemoglobin", "leukocytes": "Leukocytes", "neutrophils": "Neutrophils", "bilirubin": "Bilirubin",
    "albumin": "Albumin", "inr": "INR", "chromogranin-a": "Chromogranin A", "5-hiaa": "5-HIAA",
}


def _yes_no(value: Any) -> str:
    return "yes" if value is True else "no" if value is False else str(value)


def _take(summary: dict[str, Any], *keys: str) -> list[Any]:
    return [summary.pop(k, None) for k in keys]


def profile_rows(summary: Mapping[str, Any]) -> list[ProfileRow]:
    """Return the profile as labelled rows (grade with its Ki-67, primary, liver, spread, fitness, labs...)."""
    rest = dict(summary)
    rows: list[ProfileRow] = []
    grade, ki67, specimen, ki_date, ki_src, mitoses = _take(
        rest, "grade", "ki67Percent", "ki67Specimen", "ki67Date", "ki67Source", "mitoticCount")
    parts = [str(grade) if grade else "unknown (no Ki-67 or mitotic count)"]
    if ki67 is not None:
        where = ", ".join(str(x) for x in (f"{specimen} specimen" if specimen else None, ki_date) if x)
        parts.append(f"from Ki-67 {ki67} %" + (f" ({where})" if where else ""))
    if mitoses is not None:
        parts.append(f"mitoses {mitoses} per 2 mm²")
    rows.append(ProfileRow(label="Grade (WHO 2019)", value=" ".join(parts),
                           sources=[ki_src] if isinstance(ki_src, str) else []))
    (diff,) = _take(rest, "differentiation")
    rows.append(ProfileRow(label="Differentiation", value=str(diff) if diff else "unknown"))
    site, pstatus, portal, sync = _take(rest, "primarySite", "primaryStatus", "portalDrained", "synchronous")
    if site or pstatus:
        bits = [str(site or "site unknown"), str(pstatus or "status unknown")]
        if portal is not None:
            bits.append(f"portal-drained: {_yes_no(portal)}")
        if sync is not None:
            bits.append("synchronous NELM" if sync else "metachronous NELM")
        rows.append(ProfileRow(label="Primary tumour", value=", ".join(bits)))
    count, largest, involvement, flr, frilling, r0 = _take(
        rest, "lesionCount", "largestLesionCm", "liverInvolvementPercent", "flrPercent", "frillingType", "resectableR0")
    liver = []
    if count is not None:
        liver.append(f"{count} lesion{'s' if count != 1 else ''}")
    if largest is not None:
        liver.append(f"largest {largest} cm")
    if involvement is not None:
        liver.append(f"involvement {involvement} %")
    if flr is not None:
        liver.append(f"FLR {flr} %")
    if frilling:
        liver.append(f"Frilling {frilling}")
    if r0 is not None:
        liver.append(f"R0 feasible: {_yes_no(r0)}")
    rows.append(ProfileRow(label="Liver burden", value=", ".join(liver) or "not recorded"))
    sites, distant = _take(rest, "extrahepaticSites", "distantExtrahepaticDisease")
    if sites:
        text = ", ".join(str(x) for x in sites) if isinstance(sites, list) else str(sites)
        rows.append(ProfileRow(label="Extrahepatic disease",
                               value=f"{text} ({'distant' if distant else 'regional only'})"))
    else:
        rows.append(ProfileRow(label="Extrahepatic disease", value="none recorded"))
    months, progressive = _take(rest, "monthsStable", "progressive")
    if months is not None or progressive is not None:
        stable = f"stable {months} months" if months is not None else "not progressive"
        course = "progressive" if progressive else stable
        rows.append(ProfileRow(label="Disease course", value=course))
    ecog, karnofsky, fit, age = _take(rest, "ecog", "karnofsky", "fitForMajorSurgery", "ageYears")
    fitness = [f"ECOG {ecog}" if ecog is not None else "", f"Karnofsky {karnofsky}" if karnofsky is not None else "",
               f"fit for major surgery: {_yes_no(fit)}" if fit is not None else "", f"age {age}" if age else ""]
    rows.append(ProfileRow(label="Fitness", value=", ".join(b for b in fitness if b) or "not recorded"))
    krenning, fdg = _take(rest, "krenningScore", "fdgPetPositive")
    imaging = [f"Krenning {krenning}" if krenning is not None else "",
               f"FDG-PET {'positive' if fdg else 'negative'}" if fdg is not None else ""]
    if any(imaging):
        rows.append(ProfileRow(label="Functional imaging", value=", ".join(b for b in imaging if b)))
    (labs,) = _take(rest, "labs")
    if isinstance(labs, dict):
        for kind, lab in labs.items():
            if isinstance(lab, dict):
                sources = [lab["source"]] if isinstance(lab.get("source"), str) else []
                date = f" ({lab['date']})" if lab.get("date") else ""
                rows.append(ProfileRow(label=LAB_NAMES.get(kind, humanise(kind)),
                                       value=f"{lab.get('value')} {unit_text(lab.get('unit'))}".strip() + date,
                                       sources=sources))
    for key in sorted(rest):
        sources = []
        text = _flatten(rest[key], sources)
        if text or sources:
            rows.append(ProfileRow(label=humanise(key), value=text or "recorded", sources=list(dict.fromkeys(sources))))
    return rows


def grouped_results(evaluation: Evaluation) -> list[tuple[str, list[ModalityResult]]]:
    """Return the results in display groups (every modality once)."""
    by = {r.modality: r for r in evaluation.results}
    out = []
    for title, members in GROUPS:
        items = [by[m] for m in members if m in by]
        if items:
            out.append((title, items))
    return out


def statuses_of(evaluation: Evaluation) -> dict[str, str]:
    """Return modality id → status id."""
    return {r.modality.value: r.status.value for r in evaluation.results}


def changes_between(before: Mapping[str, str], after: Mapping[str, str]) -> list[dict[str, str]]:
    """Return the modalities whose status changed, in contract order."""
    out = []
    for modality in Modality:
        old, new = before.get(modality.value), after.get(modality.value)
        if old is not None and new is not None and old != new:
            out.append({"modality": modality.value, "name": MODALITY_NAMES[modality.value], "before": old,
                        "after": new})
    return out
