"""Building blocks shared by patient-view and order cards: context, labels, Markdown, source, links."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cds_hooks.clinical_text import MODALITY_LABELS, clinician_text, quantity_text
from nelm_fhir.model import (
    ConditionRecord,
    ConditionState,
    ExposureState,
    Fact,
    LabKind,
    NelmProfile,
    ProcedureKind,
    SpecimenSite,
)
from nelm_fhir.pathways.result import MODALITY_SYSTEM, Criterion, Modality, ModalityResult

__all__ = [
    "DETAIL_WORD_BUDGET",
    "MODALITY_LABELS",
    "NONE_RECORDED",
    "CardContext",
    "FactLine",
    "coding_of",
    "criterion_line",
    "evidence_line",
    "evidence_links",
    "facts_behind",
    "facts_by_source",
    "label_of",
    "link_to_app",
    "md",
    "new_uuid",
    "phrase",
    "profile_facts",
    "prose",
    "reason_of",
    "ref_numbers",
    "ref_text",
    "sentence",
    "short",
    "source_of",
    "words",
]

# What a clinician reads on one card's detail, at most (about 120 words: read in ten seconds on a ward round).
DETAIL_WORD_BUDGET = 120

_MD_SPECIAL = re.compile(r"([\\`*_{}<>|])")


@dataclass(frozen=True, slots=True, kw_only=True)
class CardContext:
    """What every card needs besides the evaluation: where we are served, who and what it is for."""

    base_url: str  # e.g. https://cds.example.org (no trailing slash)
    service_id: str
    patient_id: str
    user_id: str | None = None
    encounter_id: str | None = None


def label_of(modality: Modality) -> str:
    """Return the human name of ``modality``."""
    return MODALITY_LABELS.get(modality, modality.value)


def md(value: object) -> str:
    """Return ``value`` as text safe inside GitHub-flavoured Markdown (no HTML, no stray emphasis)."""
    # Reference labels like [106] stay readable; only a link form "](" is defused.
    return _MD_SPECIAL.sub(r"\\\1", str(value)).replace("\n", " ").replace("](", "]\\(")


def short(text: str, limit: int = 139) -> str:
    """Return ``text`` on one line and under ``limit`` + 1 characters, cut at a word with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:(")
    return cut + "…"


def words(text: str) -> int:
    """Return the number of words a reader sees in Markdown ``text`` (a link counts as its label)."""
    shown = re.sub(r"\[([^\]]*(?:\[[^\]]*\])?[^\]]*)\]\([^)]*\)", r"\1", text)
    return len([w for w in re.split(r"\s+", shown) if any(ch.isalnum() for ch in w)])


def new_uuid() -> str:
    """Return a fresh random UUID string (cards and suggestions; feedback refers to them)."""
    return str(uuid.uuid4())


def coding_of(token: str) -> dict[str, str] | None:
    """Return a Coding for ``"system|code"``, or None when the token has no system."""
    system, sep, code = token.partition("|")
    if not sep or not system or not code:
        return None
    return {"system": system, "code": code}


def criterion_line(criterion: Criterion) -> str:
    """Return one Markdown list line as a clinician reads it: mark, label and note (no ids, no references).

    The FHIR references behind a criterion travel in the card's ``org.nelm-cds.basedOn`` extension.
    """
    mark = {True: "✓", False: "✗", None: "?"}[criterion.met]
    text = clinician_text(criterion.label)
    note = clinician_text(criterion.note) if criterion.note else ""
    line = f"- {mark} {md(text)}" + (f": {md(note)}" if note and note.lower() != text.lower() else "")
    if criterion.engineering_default:
        line += " _(configurable threshold)_"
    return line


_REFS = re.compile(r"\s*\[[0-9,\s–-]+\]")  # bracketed seed-review references in prose (cards link them instead)
_STATUS_PREFIX = re.compile(r"^(Recommended|Contraindicated|Not recommended|Insufficient data|Consider at MDT)"
                            r"(\s*\([^)]*\))?:\s*")


def prose(text: str) -> str:
    """Return engine prose as a card shows it: clinician wording, bracketed references dropped (cards link them)."""
    return _REFS.sub("", clinician_text(text)).strip()


def phrase(text: str) -> str:
    """Return engine prose as a phrase: clinician wording, no status prefix, no references, no final full stop."""
    return _STATUS_PREFIX.sub("", prose(text)).rstrip(". ")


def reason_of(result: ModalityResult) -> str:
    """Return the summary of ``result`` without its status prefix and references, as a clinician reads it."""
    return phrase(result.summary)


def sentence(text: str) -> str:
    """Return ``text`` with a capital first letter (a phrase that starts a sentence)."""
    return text[:1].upper() + text[1:]


def ref_numbers(labels: Sequence[str]) -> list[str]:
    """Return the seed-review reference numbers in labels such as ``[10]``, ``[2,96,97]``, ``[38–41]``, once each."""
    out: list[str] = []
    for label in labels:
        for group in re.findall(r"\[([0-9,\s–-]+)\]", label) or [label.strip("[]")]:
            for part in group.split(","):
                part = part.strip()
                lo, dash, hi = part.replace("–", "-").partition("-")
                if dash and lo.isdigit() and hi.isdigit() and int(hi) - int(lo) < 50:
                    out.extend(str(n) for n in range(int(lo), int(hi) + 1))
                elif part.isdigit():
                    out.append(part)
    return list(dict.fromkeys(out))


def evidence_links(ctx: CardContext, modality: Modality | None, labels: Sequence[str], *, limit: int = 6) -> str:
    """Return Markdown links to the evidence page's references (``/evidence/<option>#ref-41``), at most ``limit``."""
    page = f"{ctx.base_url}/evidence" + (f"/{modality.value}" if modality is not None else "")
    numbers = ref_numbers(labels)
    links = [f"[[{n}]]({page}#ref-{n})" for n in numbers[:limit]]
    if len(numbers) > limit:
        links.append(f"(+{len(numbers) - limit} on the evidence page)")
    return " ".join(links)


def evidence_line(result: ModalityResult) -> str:
    """Return the evidence references of ``result`` with the "beyond the source review" label if it applies."""
    refs = " ".join(md(e) for e in result.evidence)
    if result.beyond_source_review:
        refs = (refs + " " if refs else "") + "_(beyond the source review: ENETS guidance from memory)_"
    return refs


def source_of(ctx: CardContext, modality: Modality | None, *, label: str, topic: bool = True) -> dict[str, Any]:
    """Return a card source: label, the most specific evidence page, and the modality topic unless ``topic`` is off.

    A card about exactly one modality carries it in ``source.topic`` (CONTRACT.md section 5); a card grouping
    several passes the first with ``topic=False``: its url is that modality's evidence page.
    """
    source: dict[str, Any] = {"label": label}
    if modality is not None:
        source["url"] = f"{ctx.base_url}/evidence/{modality.value}"
        if topic:
            source["topic"] = {"system": MODALITY_SYSTEM, "code": modality.value, "display": label_of(modality)}
    else:
        source["url"] = f"{ctx.base_url}/evidence"
    return source


def link_to_app(ctx: CardContext, app_context: dict[str, str]) -> dict[str, Any]:
    """Return the SMART link that opens the NELM Pathways app; the EHR appends iss and launch."""
    label = "Open NELM Pathways"
    if "modality" in app_context:
        try:
            label = f"Open NELM Pathways: {label_of(Modality(app_context['modality']))}"
        except ValueError:
            label = "Open NELM Pathways"
    return {
        "label": label,
        "url": f"{ctx.base_url}/smart/launch",
        "type": "smart",
        "appContext": json.dumps(app_context, separators=(",", ":"), sort_keys=True),
    }


# --- Facts used, as a clinician reads them (issue 4: "naming the facts used, with dates and values") ---

_SPECIMEN_TEXT = {
    SpecimenSite.LIVER: "on liver biopsy", SpecimenSite.PRIMARY: "on the primary tumour",
    SpecimenSite.OTHER: "on another specimen", SpecimenSite.UNKNOWN: "specimen not stated",
}
_LAB_LABEL = {
    LabKind.EGFR: "eGFR", LabKind.CRCL: "Creatinine clearance", LabKind.CREATININE: "Creatinine",
    LabKind.PLATELETS: "Platelets", LabKind.HAEMOGLOBIN: "Haemoglobin", LabKind.LEUKOCYTES: "Leukocytes",
    LabKind.NEUTROPHILS: "Neutrophils", LabKind.BILIRUBIN: "Bilirubin (total)", LabKind.ALBUMIN: "Albumin",
    LabKind.INR: "INR", LabKind.CHROMOGRANIN_A: "Chromogranin A", LabKind.HIAA_5: "5-HIAA",
}
_REF = re.compile(r"^[A-Za-z]{1,64}/[A-Za-z0-9\-.]{1,64}(#[A-Za-z0-9\-.]{1,64})?$")  # "#id": a contained result
NONE_RECORDED = "none recorded"


@dataclass(frozen=True, slots=True, kw_only=True)
class FactLine:
    """One fact as a clinician reads it: label, value with unit, date and the FHIR references it came from."""

    key: str  # stable element key, e.g. "ki67", "lab:platelets", "pvt"
    label: str
    value: str
    date: dt.date | None = None
    sources: tuple[str, ...] = ()

    def markdown(self, *, stale: bool = False) -> str:
        """Return the fact as one Markdown list line: **label** value · date · `Reference`."""
        parts = [f"- **{md(self.label)}** {md(self.value)}" + (" _(stale)_" if stale else "")]
        if self.date is not None:
            parts.append(self.date.isoformat())
        if self.sources:
            parts.append(", ".join(ref_text(s) for s in self.sources))
        return " · ".join(parts)


    def brief(self) -> str:
        """Return the fact in one short phrase: label, value and date (no references)."""
        return f"{md(self.label)}: {md(self.value)}" + (f" ({self.date.isoformat()})" if self.date else "")

    def to_json(self) -> dict[str, Any]:
        """Return the fact for a card's ``org.nelm-cds.basedOn`` extension, with its FHIR references."""
        out: dict[str, Any] = {"fact": self.label, "value": self.value, "references": list(self.sources)}
        if self.date is not None:
            out["date"] = self.date.isoformat()
        return out


def ref_text(reference: str) -> str:
    """Return a FHIR reference as a Markdown code span (escaped text when it is not a plain reference)."""
    return f"`{reference}`" if _REF.match(reference) else md(reference)


def _number(value: float) -> str:
    return f"{value:g}"


def _quantity(value: float, unit: str | None) -> str:
    return quantity_text(value, unit)


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def _fact(key: str, label: str, fact: Fact[Any] | None, text: str | None = None) -> list[FactLine]:
    if fact is None:
        return []
    value = fact.value
    shown = text if text is not None else (
        _yes_no(value) if isinstance(value, bool) else _quantity(value, fact.unit) if isinstance(value, int | float)
        else str(getattr(value, "value", value)))
    return [FactLine(key=key, label=label, value=shown, date=fact.date, sources=(fact.source,))]


def _records(key: str, label: str, records: Sequence[ConditionRecord], *, absent_meaningful: bool) -> list[FactLine]:
    if not records:
        return [FactLine(key=key, label=label, value=NONE_RECORDED)] if absent_meaningful else []
    active = [r for r in records if r.state is ConditionState.ACTIVE]
    shown = active or list(records)
    state = "active" if active else "history only"
    dates = [d for r in shown for d in (r.onset or r.recorded,) if d is not None]
    return [FactLine(key=key, label=label, value=state, date=max(dates) if dates else None,
                     sources=tuple(r.source for r in shown))]


def _tumour_facts(profile: NelmProfile) -> list[FactLine]:
    lines: list[FactLine] = []
    primary = profile.primary
    if primary is not None:
        text = primary.site.value.replace("-", " ")
        if primary.status is not None:
            text += f", {primary.status.value.replace('-', ' ')}"
        if primary.portal_drained is not None:
            text += ", portal-venous drainage" if primary.portal_drained else ", systemic venous drainage"
        if primary.synchronous:
            text += ", synchronous liver metastases"
        sources = tuple(dict.fromkeys(s for s in (primary.source, primary.status_source) if s))
        lines.append(FactLine(key="primary", label="Primary tumour", value=text,
                              date=primary.resection_date or primary.onset, sources=sources))
    lines += _fact("differentiation", "Differentiation", profile.differentiation)
    for k in profile.ki67:
        lines.append(FactLine(key="ki67", label="Ki-67", value=f"{_number(k.value)} % {_SPECIMEN_TEXT[k.specimen]}",
                              date=k.date, sources=(k.source,)))
    lines += _fact("mitoses", "Mitotic count", profile.mitotic_count,
                   f"{_number(profile.mitotic_count.value)}/2 mm²" if profile.mitotic_count else None)
    if profile.grade is not None:
        lines.append(FactLine(key="grade", label="WHO grade", value=profile.grade.grade.value,
                              sources=profile.grade.sources))
    active = [s for s in profile.syndromes if s.state is ConditionState.ACTIVE]
    shown = active or list(profile.syndromes)
    kinds = ", ".join(sorted({s.kind.value for s in shown}))
    value = (kinds if active else f"history only: {kinds}") if shown else NONE_RECORDED
    lines.append(FactLine(key="syndrome", label="Functional syndrome", value=value,
                          sources=tuple(s.source for s in shown)))
    lines += _fact("refractory", "Syndrome refractory to SSA", profile.syndrome_refractory_to_ssa)
    return lines


def _liver_facts(profile: NelmProfile) -> list[FactLine]:
    lines = _records("nelm", "Liver metastases", profile.nelm, absent_meaningful=False)
    if profile.recurrent_nelm is not None and profile.recurrent_nelm.value:
        lines.append(FactLine(key="recurrent", label="Recurrent liver metastases", value="yes",
                              date=profile.recurrent_nelm.date, sources=(profile.recurrent_nelm.source,)))
    lines += _fact("lesion-count", "Liver lesions", profile.lesion_count)
    if profile.lesion_count is None and profile.lesions:
        lines.append(FactLine(key="lesion-count", label="Liver lesions", value=f"{len(profile.lesions)} measured",
                              sources=tuple(lesion.source for lesion in profile.lesions)))
    sized = [lesion for lesion in profile.lesions if lesion.size_cm is not None]
    if sized:
        big = max(sized, key=lambda lesion: lesion.size_cm or 0.0)
        where = f" ({big.label})" if big.label else ""
        lines.append(FactLine(key="largest-lesion", label="Largest lesion", value=f"{_number(big.size_cm or 0)} cm"
                              + where, date=big.date, sources=(big.source,)))
    lines += _fact("involvement", "Liver involvement", profile.liver_involvement_percent)
    lines += _fact("flr", "Future liver remnant", profile.flr_percent)
    lines += _fact("frilling", "Frilling type", profile.frilling_type)
    lines += _fact("r0", "R0 resection feasible", profile.resectable_r0)
    lines += _fact("debulking", "Achievable debulking", profile.achievable_debulking_percent)
    lines += _records("pvt", "Portal vein thrombosis", profile.portal_vein_thrombosis, absent_meaningful=True)
    lines += _records("hepatic-failure", "Hepatic failure", profile.hepatic_failure, absent_meaningful=True)
    bilio = profile.procedures_of(ProcedureKind.WHIPPLE, ProcedureKind.BILIO_ENTERIC_ANASTOMOSIS)
    dates = [p.date for p in bilio if p.date is not None]
    kinds = ", ".join(dict.fromkeys(p.kind.value.replace("-", " ") for p in bilio))
    lines.append(FactLine(key="bilio-enteric", label="Bilio-enteric anastomosis", value=kinds or NONE_RECORDED,
                          date=max(dates) if dates else None, sources=tuple(p.source for p in bilio)))
    active = [f for f in profile.extrahepatic if f.state is ConditionState.ACTIVE]
    found = active or list(profile.extrahepatic)
    sites = ", ".join(dict.fromkeys(f.site.value.replace("-", " ") + (
        "" if f.distant or f.site.value.startswith("regional") else " (regional)")
                                    for f in found))
    value = (sites if active else f"history only: {sites}") if found else NONE_RECORDED
    lines.append(FactLine(key="extrahepatic", label="Extrahepatic disease", value=value,
                          sources=tuple(f.source for f in found)))
    return lines


def _course_facts(profile: NelmProfile) -> list[FactLine]:
    lines = _fact("ecog", "ECOG performance status", profile.ecog)
    lines += _fact("karnofsky", "Karnofsky", profile.karnofsky, f"{profile.karnofsky.value} %"
                   if profile.karnofsky else None)
    lines += _fact("fit", "Fit for major surgery", profile.fit_for_major_surgery)
    lines += _fact("krenning", "Krenning score (SSTR imaging)", profile.krenning_score)
    lines += _fact("fdg", "FDG-PET positive", profile.fdg_pet_positive)
    if profile.disease_status:
        latest = profile.disease_status[0]
        lines.append(FactLine(key="disease-status", label="Disease status", value=latest.trend.value,
                              date=latest.date, sources=(latest.source,)))
    for kind in LabKind:
        lab = profile.latest_lab(kind)
        if lab is not None:
            lines.append(FactLine(key=f"lab:{kind.value}", label=_LAB_LABEL.get(kind, kind.value),
                                  value=_quantity(lab.value, lab.unit), date=lab.date, sources=(lab.source,)))
    current = [d for d in profile.drugs if d.state is ExposureState.CURRENT]
    if current:
        lines.append(FactLine(key="drugs", label="Current NELM drugs",
                              value=", ".join(dict.fromkeys(d.ingredient for d in current)),
                              sources=tuple(d.source for d in current)))
    done = profile.procedures_of(ProcedureKind.LIVER_RESECTION, ProcedureKind.LIVER_TRANSPLANT, ProcedureKind.ABLATION,
                                 ProcedureKind.EMBOLIZATION, ProcedureKind.RADIOEMBOLIZATION, ProcedureKind.PRRT)
    for p in done:
        lines.append(FactLine(key=f"procedure:{p.kind.value}", label="Previous treatment",
                              value=p.kind.value.replace("-", " "), date=p.date, sources=(p.source,)))
    return lines


def profile_facts(profile: NelmProfile) -> list[FactLine]:
    """Return the facts the pathway read from ``profile``, clinician-labelled; unknown elements are omitted.

    "none recorded" appears only where absence is meaningful (PATHWAY.md B26): extrahepatic disease, portal
    vein thrombosis, hepatic failure, bilio-enteric anastomosis and functional syndrome.
    """
    lines: list[FactLine] = []
    if profile.age_years is not None:
        lines += _fact("age", "Age", profile.age_years, f"{profile.age_years.value} years")
    return lines + _tumour_facts(profile) + _liver_facts(profile) + _course_facts(profile)


def facts_by_source(facts: Sequence[FactLine]) -> dict[str, list[FactLine]]:
    """Return the facts indexed by each FHIR reference they came from."""
    index: dict[str, list[FactLine]] = {}
    for fact in facts:
        for source in fact.sources:
            index.setdefault(source, []).append(fact)
    return index


def facts_behind(sources: Sequence[str], facts: Sequence[FactLine], stale: frozenset[str] = frozenset()) -> list[str]:
    """Return Markdown lines naming the facts (value, date, reference) behind ``sources``, each once."""
    index = facts_by_source(facts)
    lines: dict[str, None] = {}
    for source in dict.fromkeys(sources):
        found = index.get(source)
        if not found:
            lines.setdefault(f"- {ref_text(source)}", None)
        for fact in found or ():
            lines.setdefault(fact.markdown(stale=source in stale), None)
    return list(lines)
