"""Which reports matter and what text they hold: pure functions over raw FHIR R4 JSON dicts.

Report kinds are recognised from ``DiagnosticReport.category``/``code`` and ``DocumentReference.type``/
``category`` (codes below, with their sources), then from the words of their ``text``/``display`` for
sites that send only text. Every text is bounded, cleaned of control characters and keeps its
resource reference, its section and its date.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from nelm_fhir.narrative.textclean import PdfTextError, html_to_text, looks_binary, neutralise, pdf_text

V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
LOINC = "http://loinc.org"


class ReportKind(StrEnum):
    """The report categories the text reader reads."""

    RADIOLOGY = "radiology"
    NUCLEAR_MEDICINE = "nuclear-medicine"
    PATHOLOGY = "pathology"
    TUMOUR_BOARD = "tumour-board"


# HL7 v2 table 0074 (Diagnostic Service Section ID), R4 code system v2-0074 — the R4 value set
# "diagnostic-service-sections" lists RAD, CT, NMR, RUS, NMS, SP, CP (R4 has no "PAT" code).
_V2_SECTIONS: dict[str, ReportKind] = {
    "RAD": ReportKind.RADIOLOGY,  # Radiology
    "CT": ReportKind.RADIOLOGY,  # CAT Scan
    "NMR": ReportKind.RADIOLOGY,  # Nuclear Magnetic Resonance
    "RUS": ReportKind.RADIOLOGY,  # Radiology Ultrasound
    "NMS": ReportKind.NUCLEAR_MEDICINE,  # Nuclear Medicine Scan
    "SP": ReportKind.PATHOLOGY,  # Surgical Pathology
    "CP": ReportKind.PATHOLOGY,  # Cytopathology
}
# LOINC report/document codes: LP29684-5 "Radiology" and LP7839-6 "Pathology" (LOINC parts used as
# DiagnosticReport.category by US Core and the HL7 Cancer Pathology Data Sharing IG); document codes
# from the C-CDA "LOINC Imaging Document Codes" value set and the pathology report codes of the
# HL7 cancer-reporting / IHE SDC-eCC IGs.
_LOINC_KINDS: dict[str, ReportKind] = {
    "LP29684-5": ReportKind.RADIOLOGY,
    "18748-4": ReportKind.RADIOLOGY,  # Diagnostic imaging study
    "24815-3": ReportKind.RADIOLOGY,  # CT Liver W contrast IV
    "LP7839-6": ReportKind.PATHOLOGY,
    "11526-1": ReportKind.PATHOLOGY,  # Pathology study
    "11529-5": ReportKind.PATHOLOGY,  # Surgical pathology study
    "60567-5": ReportKind.PATHOLOGY,  # Comprehensive pathology report
    "60568-3": ReportKind.PATHOLOGY,  # Pathology Synoptic report
    "22637-3": ReportKind.PATHOLOGY,  # Pathology report final diagnosis Narrative
}
# Words for sites that send only text (no tumour-board LOINC document code was found to verify).
_WORDS: tuple[tuple[re.Pattern[str], ReportKind], ...] = (
    (re.compile(r"tumou?r\s*board|multidisciplinary|\bmdt\b|\bmdm\b", re.I), ReportKind.TUMOUR_BOARD),
    (re.compile(r"\bpet\b|dotata|dotatoc|dotanoc|\bsstr|scintigraph|octreoscan|nuclear\s+med|\bfdg\b|spect", re.I),
     ReportKind.NUCLEAR_MEDICINE),
    (re.compile(r"patholog|histolog|biops|cytolog|synoptic", re.I), ReportKind.PATHOLOGY),
    (re.compile(r"radiolog|\bct\b|\bmri?\b|tomograph|magnetic\s+resonance|ultrasound|sonograph|imaging|volumetr", re.I),
     ReportKind.RADIOLOGY),
)
_SKIPPED_STATUS = frozenset({"entered-in-error", "cancelled", "registered", "superseded"})
_TEXT_TYPES = frozenset({"text/plain", "text/markdown"})
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_PDF_TYPES = frozenset({"application/pdf"})


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what is read. Engineering defaults, not clinical thresholds."""

    window_days: int = 730  # reports older than this (before the evaluation date) are not read
    max_documents: int = 40  # newest first
    max_attachment_bytes: int = 2_000_000  # decoded size of one attachment
    max_text_chars: int = 100_000  # characters kept of one text (the rest is cut, and said so)
    max_pdf_pages: int = 30


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportText:
    """One readable text of one report, cleaned and bounded."""

    document: str  # "DiagnosticReport/ct-1"
    section: str  # "conclusion", "presentedForm[0]", "content[1]"
    kind: ReportKind
    date: dt.date | None
    title: str
    text: str
    truncated: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ToFetch:
    """An attachment given only by URL: the service layer fetches it with its hardened client."""

    document: str
    section: str
    kind: ReportKind
    date: dt.date | None
    url: str
    content_type: str
    title: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadProblem:
    """Why a text could not be read (never the text itself)."""

    document: str
    section: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TextReading:
    """Everything read from a set of resources."""

    texts: tuple[ReportText, ...] = ()
    to_fetch: tuple[ToFetch, ...] = ()
    problems: tuple[ReadProblem, ...] = ()


def _codings(concepts: Any) -> Iterable[Mapping[str, Any]]:
    items = concepts if isinstance(concepts, list) else [concepts]
    for concept in items:
        if isinstance(concept, Mapping):
            for coding in concept.get("coding") or []:
                if isinstance(coding, Mapping):
                    yield coding


def _words(concepts: Any) -> str:
    items = concepts if isinstance(concepts, list) else [concepts]
    parts: list[str] = []
    for concept in items:
        if isinstance(concept, Mapping):
            if isinstance(concept.get("text"), str):
                parts.append(concept["text"])
            parts.extend(str(c.get("display")) for c in _codings(concept) if c.get("display"))
    return " ".join(parts)


def report_kind(resource: Mapping[str, Any]) -> ReportKind | None:
    """The kind of a DiagnosticReport or DocumentReference, or ``None`` when it is not one we read."""
    rtype = resource.get("resourceType")
    if rtype == "DiagnosticReport":
        fields = [resource.get("category"), resource.get("code")]
        extra = ""
    elif rtype == "DocumentReference":
        fields = [resource.get("type"), resource.get("category")]
        extra = str(resource.get("description") or "")
    else:
        return None
    words = " ".join(_words(f) for f in fields) + " " + extra
    coded: ReportKind | None = None
    sectioned = False  # a v2-0074 service section is given: it decides (e.g. CH = chemistry is not read)
    for field in fields:
        for coding in _codings(field):
            code = str(coding.get("code") or "")
            system = coding.get("system")
            sectioned = sectioned or system == V2_0074
            if coded is None and system == V2_0074 and code.upper() in _V2_SECTIONS:
                coded = _V2_SECTIONS[code.upper()]
            elif coded is None and system == LOINC and code in _LOINC_KINDS:
                coded = _LOINC_KINDS[code]
    if coded is None and sectioned:
        return None
    # Words refine what codes cannot tell apart: a PET under RAD, a tumour-board note under a generic type.
    for pattern, kind in _WORDS[:2]:
        if pattern.search(words) and coded in (None, ReportKind.RADIOLOGY):
            return kind
    if coded is not None:
        return coded
    for pattern, kind in _WORDS[2:]:
        if pattern.search(words):
            return kind
    return None


def _date(value: Any) -> dt.date | None:
    if not isinstance(value, str) or len(value) < 4:
        return None
    try:
        if len(value) >= 10:
            return dt.date.fromisoformat(value[:10])
        if len(value) == 7:
            return dt.date.fromisoformat(value + "-01")
        return dt.date(int(value[:4]), 1, 1)
    except ValueError:
        return None


def resource_date(resource: Mapping[str, Any]) -> dt.date | None:
    """Clinically relevant date: effective (or period start), else issued/date."""
    context = resource.get("context")
    period = resource.get("effectivePeriod") or (context.get("period") if isinstance(context, Mapping) else None) or {}
    for value in (resource.get("effectiveDateTime"), period.get("start") if isinstance(period, Mapping) else None,
                  resource.get("issued"), resource.get("date")):
        found = _date(value)
        if found is not None:
            return found
    return None


def _reference(resource: Mapping[str, Any]) -> str:
    return f"{resource.get('resourceType')}/{resource.get('id') or '(no id)'}"


def _attachment_text(att: Mapping[str, Any], limits: Limits) -> tuple[str | None, str | None]:
    """(text, problem) of an attachment holding inline ``data``."""
    ctype = str(att.get("contentType") or "").split(";")[0].strip().lower()
    charset_match = re.search(r"charset=([\w.-]+)", str(att.get("contentType") or ""), re.I)
    charset = charset_match.group(1) if charset_match else "utf-8"
    size = att.get("size")
    if isinstance(size, int) and size > limits.max_attachment_bytes:
        return None, f"attachment too large ({size} bytes; limit {limits.max_attachment_bytes})"
    raw = "".join(str(att.get("data") or "").split())  # some servers wrap base64 lines
    if len(raw) * 3 // 4 > limits.max_attachment_bytes + 3:
        return None, f"attachment too large (over {limits.max_attachment_bytes} bytes)"
    try:
        data = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return None, "attachment data is not valid base64"
    if ctype in _PDF_TYPES:
        try:
            return pdf_text(data, max_pages=limits.max_pdf_pages), None
        except PdfTextError as exc:
            return None, f"PDF: {exc}"
    if ctype not in _TEXT_TYPES and ctype not in _HTML_TYPES:
        return None, f"content type {ctype or '(none)'} is not read"
    if looks_binary(data):
        return None, "attachment declared as text holds binary data"
    try:
        decoded = data.decode(charset, errors="replace")
    except LookupError:
        decoded = data.decode("utf-8", errors="replace")
    return (html_to_text(decoded) if ctype in _HTML_TYPES else decoded), None


def fetched_text(item: ToFetch, data: bytes, content_type: str,
                 limits: Limits | None = None) -> ReportText | ReadProblem:
    """Return the text of an attachment the service fetched for ``item`` (bytes as served), or why not.

    The same checks as for inline data apply (size, type, binary-declared-as-text, PDF text layer).
    """
    limits = limits or Limits()
    if len(data) > limits.max_attachment_bytes:
        return ReadProblem(document=item.document, section=item.section,
                           message=f"attachment too large (over {limits.max_attachment_bytes} bytes)")
    att = {"contentType": content_type or item.content_type, "data": base64.b64encode(data).decode("ascii")}
    text, problem = _attachment_text(att, limits)
    if problem is not None or text is None:
        return ReadProblem(document=item.document, section=item.section, message=problem or "no text")
    cleaned = neutralise(text)
    truncated = len(cleaned) > limits.max_text_chars
    return ReportText(document=item.document, section=item.section, kind=item.kind, date=item.date,
                      title=item.title or item.kind.value, text=cleaned[: limits.max_text_chars], truncated=truncated)


def _pieces(resource: Mapping[str, Any]) -> Iterable[tuple[str, str | None, Any]]:
    """(section, conclusion text, attachment) of a resource; one of the last two is None."""
    if resource.get("resourceType") == "DiagnosticReport":
        if isinstance(resource.get("conclusion"), str):
            yield "conclusion", resource["conclusion"], None
        forms = resource.get("presentedForm")
        for i, att in enumerate(forms if isinstance(forms, list) else []):
            yield f"presentedForm[{i}]", None, att
    else:
        contents = resource.get("content")
        for i, content in enumerate(contents if isinstance(contents, list) else []):
            yield f"content[{i}]", None, content.get("attachment") if isinstance(content, Mapping) else None


def read_texts(resources: Iterable[Mapping[str, Any]], *, as_of: dt.date, limits: Limits | None = None) -> TextReading:
    """Read the texts of the relevant, recent reports among ``resources`` (newest first).

    Undated reports are read (and carry ``date=None``); reports dated before ``as_of - window_days``
    are skipped. Nothing raises for bad data: each unreadable part becomes a :class:`ReadProblem`.
    """
    limits = limits or Limits()
    earliest = as_of - dt.timedelta(days=limits.window_days)
    chosen: list[tuple[Mapping[str, Any], ReportKind, dt.date | None]] = []
    for resource in resources:
        if not isinstance(resource, Mapping) or str(resource.get("status")) in _SKIPPED_STATUS:
            continue
        kind = report_kind(resource)
        if kind is None:
            continue
        date = resource_date(resource)
        if date is not None and date < earliest:
            continue
        chosen.append((resource, kind, date))
    chosen.sort(key=lambda item: item[2] or dt.date.min, reverse=True)
    problems: list[ReadProblem] = []
    if len(chosen) > limits.max_documents:
        for resource, _, _ in chosen[limits.max_documents:]:
            problems.append(ReadProblem(document=_reference(resource), section="",
                                        message=f"not read: more than {limits.max_documents} reports"))
        chosen = chosen[: limits.max_documents]
    texts: list[ReportText] = []
    fetch: list[ToFetch] = []
    for resource, kind, date in chosen:
        ref = _reference(resource)
        title = _words(resource.get("code") if resource.get("resourceType") == "DiagnosticReport"
                       else resource.get("type")) or kind.value
        for section, conclusion, piece in _pieces(resource):
            text: str | None
            if conclusion is not None:
                text, problem = conclusion, None
            elif isinstance(piece, Mapping) and piece.get("data") is not None:
                text, problem = _attachment_text(piece, limits)
            elif isinstance(piece, Mapping) and isinstance(piece.get("url"), str):
                fetch.append(ToFetch(document=ref, section=section, kind=kind, date=date, url=piece["url"],
                                     content_type=str(piece.get("contentType") or ""), title=title))
                continue
            else:
                text, problem = None, ("attachment has neither data nor url" if isinstance(piece, Mapping)
                                       else "attachment is not a JSON object")
            if problem is not None or text is None:
                problems.append(ReadProblem(document=ref, section=section, message=problem or "no text"))
                continue
            cleaned = neutralise(text)
            truncated = len(cleaned) > limits.max_text_chars
            if truncated:
                cleaned = cleaned[: limits.max_text_chars]
                problems.append(ReadProblem(document=ref, section=section,
                                            message=f"text cut at {limits.max_text_chars} characters"))
            if cleaned:
                texts.append(ReportText(document=ref, section=section, kind=kind, date=date, title=title,
                                        text=cleaned, truncated=truncated))
    return TextReading(texts=tuple(texts), to_fetch=tuple(fetch), problems=tuple(problems))
