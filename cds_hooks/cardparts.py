"""Building blocks shared by patient-view and order cards: context, labels, Markdown, source, links."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from nelm_fhir.pathways.result import MODALITY_SYSTEM, Criterion, Modality, ModalityResult

__all__ = [
    "MODALITY_LABELS",
    "CardContext",
    "coding_of",
    "criterion_line",
    "evidence_line",
    "label_of",
    "link_to_app",
    "md",
    "new_uuid",
    "short",
    "source_of",
]

MODALITY_LABELS: dict[Modality, str] = {
    Modality.CURATIVE_RESECTION: "Curative liver resection",
    Modality.SIMULTANEOUS_RESECTION: "Simultaneous resection of primary and NELM",
    Modality.PORTAL_VEIN_EMBOLIZATION: "Portal vein embolization then resection",
    Modality.TWO_STAGE_HEPATECTOMY: "Two-stage hepatectomy",
    Modality.ALPPS: "ALPPS",
    Modality.CYTOREDUCTIVE_SURGERY: "Cytoreductive (debulking) surgery",
    Modality.LIVER_TRANSPLANTATION: "Liver transplantation",
    Modality.REPEAT_RESECTION: "Repeat liver resection",
    Modality.RFA: "Radiofrequency ablation",
    Modality.STEREOTACTIC_RFA: "Stereotactic RFA",
    Modality.MWA: "Microwave ablation",
    Modality.TAE: "TAE (bland embolization)",
    Modality.TACE: "TACE",
    Modality.RADIOEMBOLIZATION: "Radioembolization (Y-90 SIRT)",
    Modality.PRRT: "PRRT",
    Modality.PRRT_PLUS_RADIOEMBOLIZATION: "PRRT with radioembolization",
    Modality.SOMATOSTATIN_ANALOGUE: "Somatostatin analogue",
    Modality.EVEROLIMUS: "Everolimus",
    Modality.SUNITINIB: "Sunitinib",
    Modality.CHEMOTHERAPY: "Chemotherapy",
    Modality.INTERFERON_ALPHA: "Interferon alpha",
}

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
    """Return one Markdown list line: mark, label, note, sources and evidence labels of a criterion."""
    mark = {True: "✓", False: "✗", None: "?"}[criterion.met]
    parts = [f"- {mark} {md(criterion.label)}"]
    if criterion.note:
        parts.append(f": {md(criterion.note)}")
    if criterion.sources:
        parts.append(f" ({', '.join(md(s) for s in criterion.sources)})")
    if criterion.evidence:
        parts.append(f" {' '.join(md(e) for e in criterion.evidence)}")
    labels = []
    if criterion.engineering_default:
        labels.append("engineering default, configurable")
    if criterion.beyond_source_review:
        labels.append("beyond the source review")
    if labels:
        parts.append(f" _({'; '.join(labels)})_")
    return "".join(parts)


def evidence_line(result: ModalityResult) -> str:
    """Return the evidence references of ``result`` with the "beyond the source review" label if it applies."""
    refs = " ".join(md(e) for e in result.evidence)
    if result.beyond_source_review:
        refs = (refs + " " if refs else "") + "_(beyond the source review: ENETS guidance from memory)_"
    return refs


def source_of(ctx: CardContext, modality: Modality | None, *, label: str) -> dict[str, Any]:
    """Return a card source: label, a link to the evidence page, and the modality topic when there is one."""
    source: dict[str, Any] = {"label": label}
    if modality is not None:
        source["url"] = f"{ctx.base_url}/evidence/{modality.value}"
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
