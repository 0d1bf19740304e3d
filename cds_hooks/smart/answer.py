"""The answer the pathway page leads with: options grouped by status, most relevant first, and the gaps.

Plain Python (no Flask). Every text is clinician wording (``cds_hooks.clinical_text``): no rule,
element or modality ids, no raw UCUM. A gap carries the capture fields that would fill it, so the
page can put a "Record …" button next to it that opens exactly that part of the recording form.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cds_hooks.clinical_text import MODALITY_NAMES, STATUS_LABELS, clinician_text, element_label
from cds_hooks.smart.capture import FIELDS, CaptureField
from nelm_fhir.pathways.result import FINDING_SYSTEM, DataGap, Evaluation, Status

__all__ = ["STATUS_ORDER", "AnswerGroup", "AnswerRow", "GapRow", "answer_groups", "gap_rows"]

# Most relevant first: what may be done, what needs a decision or data, then what is excluded.
STATUS_ORDER: tuple[Status, ...] = (
    Status.RECOMMENDED, Status.CONSIDER, Status.INSUFFICIENT_DATA, Status.CONTRAINDICATED, Status.NOT_RECOMMENDED,
)
_FIELD_BY_CODE = {f.code: f for f in FIELDS}


@dataclass(frozen=True, slots=True)
class AnswerRow:
    """One option: its id (for anchors only), clinician name and the one-sentence why."""

    modality: str
    name: str
    why: str


@dataclass(frozen=True, slots=True)
class AnswerGroup:
    """The options of one status."""

    status: str
    label: str
    rows: tuple[AnswerRow, ...]


@dataclass(frozen=True, slots=True)
class GapRow:
    """One data gap as a clinician reads it, with the capture fields that would fill it."""

    key: str  # html id fragment, never shown
    label: str
    why: str
    blocks: tuple[tuple[str, str], ...]  # (modality id, clinician name)
    fields: tuple[CaptureField, ...]
    order: str | None
    stale: bool
    last_seen: dt.date | None
    last_source: str | None


def answer_groups(evaluation: Evaluation) -> list[AnswerGroup]:
    """Return the options grouped by status, most relevant status first; empty groups are left out."""
    out = []
    for status in STATUS_ORDER:
        rows = tuple(AnswerRow(r.modality.value, MODALITY_NAMES[r.modality.value], clinician_text(r.summary))
                     for r in evaluation.results if r.status is status)
        if rows:
            out.append(AnswerGroup(status.value, STATUS_LABELS[status.value], rows))
    return out


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _fields_of(gap: DataGap) -> tuple[CaptureField, ...]:
    codes = [c.split("|", 1)[1] for c in gap.codes if c.startswith(FINDING_SYSTEM + "|")]
    return tuple(_FIELD_BY_CODE[c] for c in codes if c in _FIELD_BY_CODE)


def gap_rows(evaluation: Evaluation) -> list[GapRow]:
    """Return the data gaps in clinician wording, most blocking first, each with the fields that fill it."""
    rows = [
        GapRow(key=f"gap-{i}", label=_sentence(element_label(g.element)),
               why=_sentence(clinician_text(g.why)),
               blocks=tuple((m.value, MODALITY_NAMES[m.value]) for m in g.blocks), fields=_fields_of(g),
               order=g.order_label, stale=g.stale, last_seen=g.last_seen, last_source=g.last_source)
        for i, g in enumerate(evaluation.data_gaps, start=1)
    ]
    # The gap that blocks most options first (stable: the engine's order otherwise).
    return sorted(rows, key=lambda row: -len(row.blocks))
