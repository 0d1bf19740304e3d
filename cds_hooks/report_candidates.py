"""Candidate findings from the record's reports, shown on the data-gap card (issue 15, hook side).

:func:`read_reports` takes the ``reports`` and ``documents`` prefetch data (DiagnosticReport,
DocumentReference), fetches attachments given only by ``url`` with the hardened client (same FHIR server
only, size cap, deadline) and runs the text reader (``nelm_fhir.narrative``) within a time budget.
:func:`report_block` turns the result into what the data-gap card adds: one line per gap that a proposal
can fill (``CT liver 2026-11-02: "three lesions in segments 2, 3 and 6" — confirm``), a SMART link that opens
the app on that gap, and a machine-readable extension with the proposals.

Candidates never decide: the engine is evaluated before and without them, and ingest never sees the report
keys. Nothing here is fatal: an unreadable report, a failed fetch or a reader that is off, not installed or
too slow becomes a note on the card ("reports were not read: …"). With ``NELM_TEXT_READER=off`` (or without
medspaCy) the cards are those of the core service. Report text never reaches a log.
"""

from __future__ import annotations

import base64
import binascii
import concurrent.futures as cf
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import requests

from cds_hooks.bidi import BIDI_CONTROLS
from cds_hooks.cardparts import CardContext, link_to_app, md
from cds_hooks.prefetch import FetchFailure
from cds_hooks.security.http_client import safe_request
from cds_hooks.security.urlpath import under_base

if TYPE_CHECKING:
    import datetime as dt

    from nelm_fhir.narrative import Candidate, ReportText, ToFetch
    from nelm_fhir.pathways.result import DataGap

__all__ = ["EXTENSION", "FINDING_GAPS", "ReportBlock", "ReportReading", "read_reports", "report_block", "warm_up"]

log = logging.getLogger("nelm.cds.reports")

EXTENSION = "org.nelm-cds.report-candidates"
# Engineering defaults (not clinical): the reader's share of a hook call, and its fetches of url attachments.
DEFAULT_BUDGET_SECONDS = 3.0
MAX_FETCHES = 10
MAX_QUOTE_WORDS = 20

# Which data-gap element (``DataGap.element``, nelm_fhir/pathways/gaps.py) a finding of the reader can fill.
# Findings with no element of their own (stated grade, SSTR uptake without a Krenning score, extrahepatic
# sites, PVT, lesion count, distribution …) are kept in the extension but fill no gap line.
FINDING_GAPS: Mapping[str, str] = {
    "ki67-percent": "ki67Percent",
    "mitotic-count": "ki67Percent",
    "differentiation": "differentiation",
    "primary-status": "primaryStatus",
    "fit-for-major-surgery": "fitness",
    "resectable-r0": "resectableR0",
    "flr-percent": "flrPercent",
    "frilling-type": "frillingType",
    "liver-involvement-percent": "liverInvolvementPercent",
    "lesion-size": "lesionSize",
    "achievable-debulking-percent": "achievableDebulkingPercent",
    "krenning-score": "krenningScore",
    "fdg-pet-positive": "fdgPetPositive",
}
REPORT_KEYS = ("reports", "documents")
_KIND_LABEL = {"radiology": "Imaging report", "nuclear-medicine": "Nuclear medicine report",
               "pathology": "Pathology report", "tumour-board": "Tumour board note"}
_BIDI = re.compile(f"[{BIDI_CONTROLS}]")
_OFF = "the text reader is switched off"
_MEDIA_TYPE = re.compile(r"^[\w.+-]{1,64}/[\w.+-]{1,64}$")


def warm_up(environ: Mapping[str, str] | None = None) -> threading.Thread | None:
    """Build the reader's pipeline in the background (3–7 s once per process) so that the first hook call
    is not cut by the time budget; does nothing when the reader is off or not installed."""
    from nelm_fhir.narrative import text_reader_enabled

    if not text_reader_enabled(os.environ if environ is None else environ):
        return None

    def build() -> None:
        from nelm_fhir.narrative.extract import _pipeline

        try:
            _pipeline()
        except Exception as exc:  # noqa: BLE001 - a failed warm-up is retried by the first real read
            log.warning("text reader warm-up failed: %s", type(exc).__name__)

    thread = threading.Thread(target=build, name="nelm-reader-warm-up", daemon=True)
    thread.start()
    return thread


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportReading:
    """What the reader made of the record's reports: candidates (all assertions) and client-safe problems."""

    enabled: bool
    read: bool = False  # False: the reports could not be read at all (``problems`` say why)
    candidates: tuple[Candidate, ...] = ()
    titles: Mapping[str, str] = field(default_factory=dict)  # document reference → kind/title, for the card
    problems: tuple[str, ...] = ()
    texts: int = 0

    @property
    def proposals(self) -> tuple[Candidate, ...]:
        """Affirmed candidates only: the ones a clinician is asked to confirm."""
        return tuple(c for c in self.candidates if c.proposed)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportBlock:
    """What the data-gap card adds: detail lines, SMART links (one per gap) and the extension."""

    lines: tuple[str, ...]
    links: tuple[dict[str, Any], ...]
    extension: dict[str, Any]


def _resources(value: Any) -> Iterable[Mapping[str, Any]]:
    if not isinstance(value, Mapping):
        return
    if value.get("resourceType") == "Bundle":
        for entry in value.get("entry") or []:
            resource = entry.get("resource") if isinstance(entry, Mapping) else None
            if isinstance(resource, Mapping) and resource.get("resourceType") in {"DiagnosticReport",
                                                                                  "DocumentReference"}:
                yield resource
    elif value.get("resourceType") in {"DiagnosticReport", "DocumentReference"}:
        yield value


Fetch = Callable[["ToFetch"], "ReportText | str"]


def attachment_fetcher(*, base: str | None, token: str | None, session: requests.Session, timeout: float,
                       max_bytes: int) -> Fetch:
    """Return a function that fetches one url attachment from ``base`` only, or says why it could not."""
    from nelm_fhir.narrative import ReadProblem, fetched_text  # lazy: the reader is optional

    def fetch(item: ToFetch) -> ReportText | str:
        where = f"{item.document} {item.section}"
        if base is None:
            return f"{where}: attachment given by url and no fhirServer to read it from"
        url = urljoin(base.rstrip("/") + "/", item.url)
        if under_base(url, base) is None:
            return f"{where}: attachment url is not on fhirServer; not fetched"
        declared = item.content_type.split(";")[0].strip()
        wanted = declared if _MEDIA_TYPE.match(declared) else "text/plain"
        headers = {"Accept": f"{wanted}, application/fhir+json;q=0.5"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            response = safe_request("GET", url, stay_under=base, timeout=timeout, max_bytes=max_bytes,
                                    session=session, headers=headers)
        except requests.RequestException as exc:
            kind = "timed out" if isinstance(exc, requests.Timeout) else type(exc).__name__
            return f"{where}: attachment not fetched ({kind})"
        if response.status_code != 200:
            return f"{where}: attachment not fetched (HTTP {response.status_code})"
        ctype = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        data = response.content
        if ctype in {"application/fhir+json", "application/json"}:
            data, ctype = _binary_payload(data, item.content_type)
        read = fetched_text(item, data, ctype or item.content_type)
        return read if not isinstance(read, ReadProblem) else f"{where}: {read.message}"

    return fetch


def _binary_payload(body: bytes, declared: str) -> tuple[bytes, str]:
    """The bytes of a FHIR Binary answer (``data`` base64, ``contentType``); empty when it is something else."""
    try:
        binary = json.loads(body)
        if isinstance(binary, dict) and binary.get("resourceType") == "Binary":
            return base64.b64decode(str(binary.get("data") or ""), validate=True), str(
                binary.get("contentType") or declared)
    except (ValueError, RecursionError, binascii.Error):
        pass
    return b"", "application/octet-stream"


def read_reports(data: Mapping[str, Any], *, as_of: dt.date, fetch: Fetch | None = None,
                 not_had: Sequence[FetchFailure] = (), environ: Mapping[str, str] | None = None,
                 budget_seconds: float | None = None, patient_id: str | None = None) -> ReportReading:
    """Read the reports of ``data`` (the resolved prefetch) within the time budget; never raises for bad data.

    ``not_had`` are the report keys the prefetch could not obtain (said on the card). With ``patient_id``, a
    report whose subject is another patient is not read (and said so). The reader runs only when
    ``NELM_TEXT_READER`` is on and medspaCy is installed.
    """
    from nelm_fhir.narrative import text_reader_enabled

    env = os.environ if environ is None else environ
    if not text_reader_enabled(env):
        return ReportReading(enabled=False, problems=(_OFF,))
    budget = budget_seconds if budget_seconds is not None else _budget(env)
    problems = [f"{f.key}: {f.reason.split(': ', 1)[-1]}" for f in not_had]
    present = [k for k in REPORT_KEYS if data.get(k) is not None]
    if not present and not_had:
        return ReportReading(enabled=True, problems=tuple(problems))
    started = time.monotonic()
    pool = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="nelm-reports")
    future = pool.submit(_read, data, as_of, fetch, started + budget, patient_id)
    try:
        texts, candidates, titles, found = future.result(timeout=budget)
    except cf.TimeoutError:
        # The pipeline keeps building (or reading) in the background; the next call will be quicker.
        return ReportReading(enabled=True, problems=(*problems, f"not read within the time budget of {budget:g} s"))
    except Exception as exc:  # noqa: BLE001 - the optional reader must never break a hook answer
        log.warning("text reader failed: %s", type(exc).__name__)
        return ReportReading(enabled=True, problems=(*problems, "the text reader failed"))
    finally:
        pool.shutdown(wait=False)
    return ReportReading(enabled=True, read=True, candidates=candidates, titles=titles,
                         problems=(*problems, *found), texts=texts)


def _budget(env: Mapping[str, str]) -> float:
    try:
        value = float(env.get("NELM_TEXT_READER_SECONDS", DEFAULT_BUDGET_SECONDS))
    except ValueError:
        return DEFAULT_BUDGET_SECONDS
    return value if 0 < value <= 60 else DEFAULT_BUDGET_SECONDS


def _other_patient(resource: Mapping[str, Any], patient_id: str | None) -> bool:
    subject = resource.get("subject")
    ref = subject.get("reference") if isinstance(subject, Mapping) else None
    return patient_id is not None and isinstance(ref, str) and ref.startswith("Patient/") \
        and ref != f"Patient/{patient_id}"


def _read(data: Mapping[str, Any], as_of: dt.date, fetch: Fetch | None, deadline: float,
          patient_id: str | None) -> tuple[int, tuple[Candidate, ...], dict[str, str], list[str]]:
    from nelm_fhir.narrative import read_texts
    from nelm_fhir.narrative.extract import extract

    resources = [r for k in REPORT_KEYS for r in _resources(data.get(k))]
    problems = [f"{r.get('resourceType')}/{r.get('id')}: not read: its subject is another patient"
                for r in resources if _other_patient(r, patient_id)]
    reading = read_texts([r for r in resources if not _other_patient(r, patient_id)], as_of=as_of)
    texts = list(reading.texts)
    problems += [f"{p.document} {p.section}: {p.message}".replace(" :", ":") for p in reading.problems]
    for i, item in enumerate(reading.to_fetch):
        if fetch is None or i >= MAX_FETCHES or time.monotonic() > deadline:
            problems.append(f"{item.document} {item.section}: attachment given by url was not fetched")
            continue
        got = fetch(item)
        if isinstance(got, str):
            problems.append(got)
        else:
            texts.append(got)
    titles = {t.document: t.title for t in texts}
    kinds = {t.document: _KIND_LABEL.get(t.kind.value, "Report") for t in texts}
    candidates = extract(texts) if texts else ()  # no text: the pipeline is not even built
    return len(texts), candidates, {d: _label(titles[d], kinds[d]) for d in titles}, problems


def _label(title: str, fallback: str) -> str:
    """A short document label for the card: the report's own title when short, else its kind."""
    clean = " ".join(_BIDI.sub(" ", title).split())
    return clean if 0 < len(clean) <= 40 and clean.lower() not in {"radiology", "pathology"} else fallback


def _quote(sentence: str) -> str:
    words = " ".join(_BIDI.sub(" ", sentence).split()).split(" ")
    text = " ".join(words[:MAX_QUOTE_WORDS]) + (" …" if len(words) > MAX_QUOTE_WORDS else "")
    return text.replace('"', "'")


def _reason(problem: str) -> str:
    """A problem as a clinician reads it: the reason without the resource path (kept in the extension)."""
    where, sep, why = problem.partition(": ")
    if not sep:
        return problem
    kind = {"reports": "diagnostic reports", "documents": "clinical documents"}.get(where)
    return f"{kind}: {why}" if kind else why


def _value_json(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if hasattr(value, "unit"):
        out = {"value": value.value, "unit": value.unit}
        return out | ({"comparator": value.comparator} if value.comparator else {})
    return {"code": value.code, **({"system": value.system} if value.system else {})}


def _candidate_json(c: Candidate) -> dict[str, Any]:
    coding = c.coding
    return {
        "finding": c.finding.value,
        **({"coding": {"system": coding[0], "code": coding[1]}} if coding else {}),
        **({"gap": FINDING_GAPS[c.finding.value]} if c.finding.value in FINDING_GAPS else {}),
        "value": _value_json(c.value),
        "sentence": _BIDI.sub(" ", c.sentence),
        "span": {"start": c.start, "end": c.end},
        "document": c.document,
        "section": c.section,
        **({"date": c.date.isoformat()} if c.date else {}),
        "assertion": c.assertion.value,
    }


def report_block(gaps: Sequence[DataGap], reading: ReportReading | None, ctx: CardContext,
                 short_name: Callable[[str], str]) -> ReportBlock | None:
    """Return what the data-gap card adds for ``reading``: None when the reader is off (cards as before)."""
    if reading is None or not reading.enabled or (reading.read and not reading.texts and not reading.problems):
        return None  # reader off, or no report in the record: the card is the core one
    elements = [g.element for g in gaps]
    by_gap: dict[str, list[Candidate]] = {}
    for c in sorted(reading.proposals, key=lambda c: (c.date is None, -(c.date.toordinal() if c.date else 0))):
        element = FINDING_GAPS.get(c.finding.value)
        if element in elements:
            by_gap.setdefault(element, []).append(c)
    lines: list[str] = []
    links: list[dict[str, Any]] = []
    if by_gap:
        lines += ["", "**Found in the reports, to confirm** (not used until a clinician confirms it)", ""]
        for element in elements:
            found = by_gap.get(element)
            if not found:
                continue
            quotes = list(dict.fromkeys(
                f"{md(reading.titles.get(c.document, 'Report'))}"
                f"{' ' + c.date.isoformat() if c.date else ''}: \"{md(_quote(c.sentence))}\"" for c in found))
            lines.append(f"- {md(short_name(element))}: " + "; ".join(quotes[:2])
                         + (f" (+{len(quotes) - 2} more)" if len(quotes) > 2 else "") + " — confirm")
            link = link_to_app(ctx, {"gap": element})
            link["label"] = f"Confirm {short_name(element)} from the reports"[:80]
            links.append(link)
    reasons = list(dict.fromkeys(_reason(p) for p in reading.problems))
    if not reading.read:
        lines += ["", "The reports were not read, so nothing was proposed from them: " + md("; ".join(reasons)) + "."]
    elif reasons:
        lines += ["", f"Some report texts were not read ({len(reading.problems)}): {md('; '.join(reasons[:4]))}"
                  + (f" (+{len(reasons) - 4} more reasons)." if len(reasons) > 4 else ".")
                  + " The card's data lists each report."]
    data: dict[str, Any] = {"read": reading.read, "texts": reading.texts,
                            "proposals": [_candidate_json(c) for c in reading.proposals],
                            "problems": list(reading.problems)}
    # CDS Hooks 2.0: no empty values (the empty lists are simply left out).
    extension = {EXTENSION: {k: v for k, v in data.items() if v != []}}
    return ReportBlock(lines=tuple(lines), links=tuple(links), extension=extension)
