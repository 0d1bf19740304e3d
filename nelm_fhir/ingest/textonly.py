"""B28: an Observation coded only by text that names a result the pathway reads is unreadable, never absent.

A result sent as ``code.text`` without any coding ("Ki-67 (MIB-1)", "ECOG", "total bilirubin")
cannot be used as a fact, but it must not let an older coded result of the same kind decide,
nor vanish: it becomes an ``UnreadableResult`` with a warning asking to confirm its code. The
matcher is deliberately narrow (English names and abbreviations of the results the rules read).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from nelm_fhir.ingest.collected import Collected
from nelm_fhir.ingest.common import Ctx, Item, to_date
from nelm_fhir.ingest.observation import raw_result_date
from nelm_fhir.model import UnconfirmedRecord, UnreadableResult

__all__ = ["text_only_condition", "text_only_result", "text_result_kind"]

_MAX_TEXT = 80
# First match wins: specific names before the general ones they contain.
_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        ("ki67", r"\bki[- ]?67\b|\bmib[- ]?1\b"),
        ("mitotic-count", r"\bmitos[ie]s\b|\bmitotic\b"),
        ("who-grade", r"\bwho[- ]grade\b|\bhistologic(al)? grade\b|\btumou?r grade\b"),
        ("karnofsky", r"\bkarnofsky\b|\bkps\b"),
        ("ecog", r"\becog\b|\bwho performance\b|\bperformance status\b"),
        ("fit-for-major-surgery", r"\bfit(ness)? for (major )?surgery\b"),
        ("crcl", r"\bcreatinine (renal )?clearance\b|\bcrcl\b|\bcockcroft"),
        ("egfr", r"\bglomerular filtration\b|\be?gfr\b"),
        ("creatinine", r"\bcreatinine\b"),
        ("bilirubin", r"\bbilirubin\b"),
        ("albumin", r"\balbumin\b"),
        ("inr", r"\binr\b|\binternational normali[sz]ed ratio\b"),
        ("platelets", r"\bplatelets?\b|\bthrombocytes?\b|\bplt\b"),
        ("haemoglobin", r"\bha?emoglobin\b|\bhgb\b|\bhb\b"),
        ("leukocytes", r"\bleu[ck]ocytes?\b|\bwhite (blood )?cells?\b|\bwbc\b"),
        ("flr-percent", r"\bfuture liver remnant\b|\bflr\b"),
        ("resectable-r0", r"\br0\b|\bresectab"),
        ("krenning-score", r"\bkrenning\b|\bsstr\b|\bsomatostatin receptor\b"),
        ("fdg-pet-positive", r"\bfdg\b"),
        ("liver-involvement-percent", r"\bliver (parenchyma )?(involvement|replaced)\b|\bshare of liver\b"),
        ("achievable-debulking-percent", r"\bdebulk|\bremovable\b"),
        ("disease-status", r"\bdisease (progression|status)\b|\bprogressive disease\b|\brestaging\b"),
        ("frilling-type", r"\bfrilling\b"),
        ("resection-extent", r"\bresection[- ]extent\b|\bextent of (the )?(planned )?resection\b"),
        ("tumour-size", r"\btumou?r size\b|\bsize tumou?r\b|\blesion size\b|\bsize of (the )?(tumou?r|lesion)\b"),
    )
)


def text_result_kind(text: str) -> str | None:
    """Return the result kind a free-text Observation name stands for, or None."""
    lowered = text.lower()
    return next((kind for kind, pattern in _KINDS if pattern.search(lowered)), None)


def text_only_result(item: Item, ctx: Ctx, out: Collected) -> None:
    """Keep an Observation coded only by text that names a relevant result as unreadable (B28)."""
    raw: dict[str, Any] = item.raw
    concept = raw.get("code")
    if not isinstance(concept, dict) or concept.get("coding") or not isinstance(concept.get("text"), str):
        return
    status = raw.get("status")
    if status in {"entered-in-error", "cancelled"}:
        return
    text = " ".join(concept["text"].split())[:_MAX_TEXT]
    kind = text_result_kind(text)
    if kind is None:
        return
    date = raw_result_date(raw)
    if date is not None and date > ctx.as_of:
        return
    reason = f"coded only by text ({text!r}): confirm its code (B28)"
    ctx.problem(f"{item.ref}.code", reason, severity="warning")
    out.unreadable.append(UnreadableResult(kind=kind, source=item.ref, reason=reason, date=date))


_LIVER_SPREAD = re.compile(
    r"\b(metasta\w*|secondar\w*|deposits?)\b.*\b(liver|hepatic)\b|\b(liver|hepatic)\b.*\bmetasta\w*|\bnelm\b"
)
_NEN = re.compile(r"\bneuroendocrine\b|\bcarcinoid\b|\bnet\b|\bnen\b|\bnec\b|\binsulinoma\b|\bgastrinoma\b")
_CONDITION_DATES = ("onsetDateTime", "recordedDate")


def text_only_condition(item: Item, ctx: Ctx, out: Collected) -> None:
    """B28: a Condition coded only by text naming the NELM or a neuroendocrine primary is a record to confirm.

    It never reads as "no NELM" or "no primary": the options that depend on it are not rated until
    its code is confirmed (``UnconfirmedRecord`` topics ``nelm`` and ``primary``).
    """
    raw: dict[str, Any] = item.raw
    concept = raw.get("code")
    if not isinstance(concept, dict) or concept.get("coding") or not isinstance(concept.get("text"), str):
        return
    text = " ".join(concept["text"].split())[:_MAX_TEXT]
    lowered = text.lower()
    topic = "nelm" if _LIVER_SPREAD.search(lowered) else ("primary" if _NEN.search(lowered) else None)
    if topic is None:
        return
    date = next((d for d in (_date(raw.get(k)) for k in _CONDITION_DATES) if d is not None), None)
    if date is not None and date > ctx.as_of:
        return
    ctx.problem(
        f"{item.ref}.code",
        f"coded only by text ({text!r}): read as a possible {'liver metastasis' if topic == 'nelm' else 'primary NEN'}"
        " to confirm; the options that depend on it are not rated (B28)",
        severity="warning",
    )
    out.unconfirmed.append(UnconfirmedRecord(topic=topic, text=text, source=item.ref, date=date))
    if topic == "primary":
        reason = f"coded only by text ({text!r}): confirm its code (B28)"
        out.unreadable.append(UnreadableResult(kind="primary", source=item.ref, reason=reason, date=date))


def _date(value: Any) -> dt.date | None:
    return to_date(value) if isinstance(value, str) else None
