"""Prefetch templates and their resolution (CDS Hooks 2.0 "Providing FHIR Resources…", STANDARDS.md 1.4).

Each template fetches only what the pathway reads, filtered by the codes of the loaded terminology
(site ConceptMaps included, ``prefetch_templates``) and newest first. Resolution
per key: a value sent by the client is used as is (``null`` = known empty, never re-queried); a
missing key, or an OperationOutcome (the client failed), is fetched from ``fhirServer`` with the
bearer token of ``fhirAuthorization``; a searchset with a ``next`` link is paged. All fetches run
in parallel, each with a timeout, the whole under one deadline. Required data that cannot be had
raises ``PreconditionError`` (412); other failures are reported so that a card can name them.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote

import requests

from cds_hooks.errors import PreconditionError
from cds_hooks.security.urlpath import under_base
from cds_hooks.wire import HookRequest
from nelm_fhir.ingest.observation import USED_OBS
from nelm_fhir.terminology import MappingEntry, Terminology, default_terminology

__all__ = [
    "MAX_PAGES",
    "MAX_TEMPLATE_CHARS",
    "OPTIONAL_KEYS",
    "PREFETCH_TEMPLATES",
    "REPORT_CATEGORIES",
    "REPORT_KEYS",
    "REQUIRED_KEYS",
    "FetchFailure",
    "ResolvedPrefetch",
    "prefetch_templates",
    "render_template",
    "resolve_prefetch",
    "with_report_window",
]

log = logging.getLogger("nelm.cds.prefetch")

LOINC = "http://loinc.org"
MAX_PAGES = 10
# One FHIR answer is read up to this size, and only until the deadline (security review, issue 5).
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
PAGE_SIZE = 100

# Code filters come from the loaded terminology (``mappings/`` plus site ConceptMaps), so a result coded
# only with a site-local code the site mapped is fetched too. Observation concepts read by ingestion:
_KI67_CONCEPTS = frozenset({"obs:ki67", "obs:ki67-breast"})
_FINDING_OBS = frozenset(f"obs:{name}" for name in USED_OBS) - _KI67_CONCEPTS
# A rendered template must stay under this length (STANDARDS.md 1.4: URLs of 2,000 characters or more are
# refused by some proxies); the check uses a 64-character patient id, percent-encoded as clients send it.
MAX_TEMPLATE_CHARS = 2000
_PROBE_CONTEXT = {"patientId": "p" * 64, "userId": "Practitioner/" + "u" * 64}


def _code_list(entries: list[MappingEntry]) -> list[str]:
    # Standard codes first (stable order), then site codes; each "system|code" once.
    ordered = sorted(entries, key=lambda e: (e.status == "SITE", e.system != LOINC, e.system, e.code))
    return list(dict.fromkeys(f"{e.system}|{e.code}" for e in ordered))


def _entries_of(terminology: Terminology, wanted: Callable[[MappingEntry], bool]) -> list[MappingEntry]:
    entries = (terminology.entry(system, code) for system, code in terminology.known_codes())
    return [e for e in entries if e is not None and wanted(e)]


def _fits(template: str) -> bool:
    rendered = render_template(template, _PROBE_CONTEXT)
    return rendered is not None and len(quote(rendered, safe="/?&=,")) < MAX_TEMPLATE_CHARS


def _split(key: str, codes: list[str], build: Callable[[str], str]) -> dict[str, str]:
    """Return ``key`` (then ``key2``, ``key3``…) with the codes spread so that each template fits."""
    out: dict[str, str] = {}
    chunk: list[str] = []
    for code in codes:
        if chunk and not _fits(build(",".join([*chunk, code]))):
            out[f"{key}{len(out) + 1 if out else ''}"] = build(",".join(chunk))
            chunk = []
        chunk.append(code)
        if not _fits(build(code)):
            raise ValueError(f"prefetch code {code!r} alone makes the {key} template too long")
    if chunk:
        out[f"{key}{len(out) + 1 if out else ''}"] = build(",".join(chunk))
    return out


_P = "patient={{context.patientId}}"
# DiagnosticReport categories read for report text: HL7 v2 table 0074 sections (radiology, CT, MR, ultrasound,
# nuclear medicine, surgical pathology, cytopathology) and the LOINC parts Radiology / Pathology used by
# US Core and the Cancer Pathology Data Sharing IG (the same codes as ``nelm_fhir.narrative.sources``).
_V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
REPORT_CATEGORIES: tuple[str, ...] = (
    *(f"{_V2_0074}|{c}" for c in ("RAD", "CT", "NMR", "RUS", "NMS", "SP", "CP")),
    f"{LOINC}|LP29684-5", f"{LOINC}|LP7839-6",
)
REPORT_COUNT = 40
REPORT_WINDOW_DAYS = 730  # engineering default, as the reader's ``Limits.window_days``


def prefetch_templates(terminology: Terminology) -> dict[str, str]:
    """Return the prefetch templates for ``terminology``: code filters list every standard and site code.

    A category too long for one URL is split over numbered keys (``labs``, ``labs2``…); the fallback
    fetcher resolves the same templates, so a client that prefetches nothing gets the same data.
    """
    ki67_entries = _entries_of(terminology, lambda e: e.concept in _KI67_CONCEPTS)
    lab_entries = _entries_of(terminology, lambda e: e.namespace == "lab")
    ki67, labs = _code_list(ki67_entries), _code_list(lab_entries)
    findings = _code_list(_entries_of(terminology, lambda e: e.namespace == "finding" or e.concept in _FINDING_OBS))
    templates: dict[str, str] = {
        "patient": "Patient/{{context.patientId}}",
        # Conditions of a patient are few; NEN, NELM, extrahepatic sites, PVT, hepatic failure and
        # syndromes span ICD-10-CM prefixes that token search cannot express, so no code filter here.
        "conditions": f"Condition?{_P}&_count={PAGE_SIZE}",
    }
    # Every Ki-67 is needed (B2: highest value, primary/liver discordance), newest first.
    # The specimen tells a liver biopsy from a primary-tumour sample (B2).
    templates |= _split("ki67", ki67, lambda codes: f"Observation?{_P}&code={codes}"
                        f"&_include=Observation:specimen&_sort=-date&_count={PAGE_SIZE}")
    templates |= _split("labs", labs, lambda codes: f"Observation?{_P}&code={codes}&_sort=-date&_count={PAGE_SIZE}")
    templates |= _split("findings", findings, lambda codes: f"Observation?{_P}&code={codes}"  # focus: the lesion
                        f"&_include=Observation:focus&_sort=-date&_count={PAGE_SIZE}")
    # B27: results EHRs send as panel components (blood counts, chemistry, synoptic pathology reports)
    # and DiagnosticReports (pathology and imaging: their contained results and the results they list).
    templates |= _split("panels", _code_list([*ki67_entries, *lab_entries]), lambda codes: f"Observation?{_P}"
                        f"&component-code={codes}&_sort=-date&_count={PAGE_SIZE}")
    templates["reports"] = f"DiagnosticReport?{_P}&_include=DiagnosticReport:result&_sort=-date&_count={PAGE_SIZE}"
    templates |= {
        "procedures": f"Procedure?{_P}&_count={PAGE_SIZE}",
        "medicationRequests": f"MedicationRequest?{_P}&_include=MedicationRequest:medication&_count={PAGE_SIZE}",
        "medicationStatements": f"MedicationStatement?{_P}&_include=MedicationStatement:medication&_count={PAGE_SIZE}",
    }
    # Clinical documents for the text reader (issue 15): optional, never a 412. Newest first, at most
    # REPORT_COUNT (the reader's own bound); the fallback fetcher adds a date window (``with_report_window``).
    # The reader also reads the texts (conclusion, presentedForm) of the DiagnosticReports of ``reports``,
    # keeping only radiology, nuclear-medicine and pathology ones (REPORT_CATEGORIES). Tumour-board notes have
    # no verified LOINC document code, so documents are not filtered by type here: the reader keeps only
    # radiology, nuclear-medicine, pathology and tumour-board documents.
    templates["documents"] = f"DocumentReference?{_P}&status=current&_sort=-date&_count={REPORT_COUNT}"
    return templates


# Without these the pathway cannot say anything: their absence is a 412, not a degraded answer.
REQUIRED_KEYS = frozenset({"patient", "conditions"})
# Report texts: read only to propose candidates (never to decide). Missing ones are noted, never a 412, and
# their failures are kept apart (``ResolvedPrefetch.optional_failures``) so that the core cards do not change.
REPORT_KEYS = frozenset({"documents"})  # ``reports`` serves ingest too (B27), so it is not optional
OPTIONAL_KEYS = REPORT_KEYS

_TOKEN = re.compile(r"\{\{\s*([A-Za-z.]+)\s*\}\}")
_USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}

FhirAllow = Callable[[str | None, str], bool]


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchFailure:
    """A prefetch key whose data could not be read, and why (client-safe text, no token)."""

    key: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolvedPrefetch:
    """Prefetch data after resolution: key → resource, Bundle or None (known empty)."""

    data: dict[str, Any]
    fetched: tuple[str, ...] = ()  # keys we read from fhirServer ourselves
    failures: tuple[FetchFailure, ...] = ()
    queries: int = 0  # HTTP requests sent to fhirServer (pages included)
    seconds: float = 0.0
    notes: tuple[str, ...] = field(default=())
    optional_failures: tuple[FetchFailure, ...] = ()  # report keys not had: said on the data-gap card only


def with_report_window(templates: Mapping[str, str], as_of: dt.date,
                       days: int = REPORT_WINDOW_DAYS) -> dict[str, str]:
    """Return ``templates`` with the report keys limited to ``days`` before ``as_of`` (fallback queries only).

    Prefetch tokens cannot compute a date, so discovery's templates bound reports by count; the queries this
    service sends itself also carry ``date=ge…``.
    """
    since = (as_of - dt.timedelta(days=days)).isoformat()
    return {k: (f"{v}&date=ge{since}" if k in REPORT_KEYS else v) for k, v in templates.items()}


def render_template(template: str, context: Mapping[str, Any]) -> str | None:
    """Return ``template`` with its tokens replaced, or None when a token has no primitive value."""
    missing = False

    def value_of(match: re.Match[str]) -> str:
        nonlocal missing
        name = match.group(1)
        if name.startswith("context."):
            value = context.get(name.removeprefix("context."))
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                missing = True
                return ""
            return str(value)
        if name in _USER_TOKENS:
            user = context.get("userId")
            prefix = _USER_TOKENS[name] + "/"
            if isinstance(user, str) and user.startswith(prefix):
                return user.removeprefix(prefix)
        missing = True
        return ""

    rendered = _TOKEN.sub(value_of, template)
    return None if missing else rendered


# The templates of the repository's own mappings (no site files); an app derives its own at start-up
# from its terminology (``services.init_app``).
PREFETCH_TEMPLATES: dict[str, str] = prefetch_templates(default_terminology())


def _is_operation_outcome(value: Any) -> bool:
    return isinstance(value, dict) and value.get("resourceType") == "OperationOutcome"


def _next_link(bundle: Mapping[str, Any]) -> str | None:
    for link in bundle.get("link") or []:
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return str(link["url"])
    return None


class _Fetcher:
    """Reads one key from fhirServer: the query, then every ``next`` page, within the deadline."""

    def __init__(self, *, session: requests.Session, base: str, token: str | None, timeout: float,
                 deadline: float) -> None:
        self.session = session
        self.base = base.rstrip("/")
        self.headers = {"Accept": "application/fhir+json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.timeout = timeout
        self.deadline = deadline
        self.queries = 0
        self.truncated: list[FetchFailure] = []

    def _get(self, url: str, params: list[tuple[str, str]] | None = None) -> requests.Response:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0.01:
            raise TimeoutError("deadline reached")
        self.queries += 1
        return self.session.get(url, params=params, headers=self.headers, timeout=min(self.timeout, remaining),
                                allow_redirects=False, stream=True)

    def _body(self, response: requests.Response, what: str) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            # read1: at most one socket read, so a server dripping bytes is checked against the deadline
            # between reads instead of holding this thread until 64 KiB have trickled in.
            chunk = response.raw.read1(65536, decode_content=True)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise _FetchError(f"{what}: fhirServer answer larger than {MAX_RESPONSE_BYTES // 2**20} MiB; not read")
            if time.monotonic() > self.deadline:
                raise TimeoutError("deadline reached")
            chunks.append(chunk)
        return b"".join(chunks)

    def _json(self, response: requests.Response, what: str) -> dict[str, Any]:
        try:
            if response.status_code != 200:
                raise _FetchError(f"{what}: fhirServer answered HTTP {response.status_code}")
            raw = self._body(response, what)
        finally:
            response.close()
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            raise _FetchError(f"{what}: fhirServer answered with a body that is not JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
            raise _FetchError(f"{what}: fhirServer answered with something that is not a FHIR resource")
        return body

    def read(self, query: str, key: str) -> Any:
        """Return the resource, Bundle (all pages merged) or None for a query relative to the base."""
        path, _, qs = query.partition("?")
        what = path.split("/")[0]
        response = self._get(f"{self.base}/{path}", parse_qsl(qs, keep_blank_values=True) if qs else None)
        if response.status_code in (404, 410) and "/" in path:
            response.close()
            return None  # a read of a resource that does not exist: known empty
        body = self._json(response, what)
        if body["resourceType"] == "Bundle":
            return self.complete(body, key)
        if body["resourceType"] == "OperationOutcome":
            raise _FetchError(f"{what}: fhirServer answered with an OperationOutcome")
        return body

    def complete(self, bundle: dict[str, Any], what: str) -> dict[str, Any]:
        """Return ``bundle`` with the entries of every ``next`` page appended (at most MAX_PAGES, then noted)."""
        entries = list(bundle.get("entry") or [])
        nxt = _next_link(bundle)
        pages = 1
        while nxt is not None:
            if pages >= MAX_PAGES:
                # Searches are newest first: keep what was read and say so.
                self.truncated.append(FetchFailure(key=what, reason=f"{what}: only the first {len(entries)} "
                                                   f"results ({MAX_PAGES} pages) were read"))
                break
            target = under_base(nxt, self.base)  # dot segments and %2e resolved before the check
            if target is None:
                # Keep the pages read and report the gap; the EHR's token never leaves its server.
                self.truncated.append(FetchFailure(key=what, reason=f"{what}: a next link points outside "
                                                   f"fhirServer and was not followed; only the first "
                                                   f"{len(entries)} results were read"))
                break
            page = self._json(self._get(target), what)
            entries.extend(page.get("entry") or [])
            nxt = _next_link(page)
            pages += 1
        merged = {k: v for k, v in bundle.items() if k not in {"link", "entry"}}
        merged["entry"] = entries
        merged["total"] = len(entries)
        return merged


class _FetchError(Exception):
    """A fetch failed with a client-safe reason."""


def _fetch_one(fetcher: _Fetcher, key: str, query: str | None, partial: dict[str, Any] | None) -> Any:
    if partial is not None:
        return fetcher.complete(partial, key)
    if query is None:  # pragma: no cover - guarded by the caller
        raise _FetchError(f"{key}: template could not be rendered")
    return fetcher.read(query, key)


def resolve_prefetch(
    req: HookRequest,
    templates: Mapping[str, str],
    *,
    session: requests.Session,
    timeout: float,
    deadline_seconds: float,
    allow: FhirAllow,
    issuer: str | None = None,
    required: frozenset[str] = REQUIRED_KEYS,
    optional: frozenset[str] = OPTIONAL_KEYS,
) -> ResolvedPrefetch:
    """Return every template's data; raises PreconditionError (412) when required data cannot be had."""
    start = time.monotonic()
    data: dict[str, Any] = {}
    failures: list[FetchFailure] = []
    notes: list[str] = []
    todo: dict[str, tuple[str | None, dict[str, Any] | None]] = {}
    for key, template in templates.items():
        query = render_template(template, req.context)
        if key in req.prefetch:
            value = req.prefetch[key]
            if value is None:
                data[key] = None
            elif _is_operation_outcome(value):
                notes.append(f"the EHR could not prefetch {key}")
                todo[key] = (query, None)
            elif value.get("resourceType") == "Bundle" and _next_link(value) is not None:
                todo[key] = (query, value)
            else:
                data[key] = value
        elif query is not None:
            todo[key] = (query, None)

    fetched: list[str] = []
    queries = 0
    if todo:
        can_fetch = req.fhir_server is not None and allow(issuer, req.fhir_server)
        if not can_fetch:
            why = ("no fhirServer was sent" if req.fhir_server is None
                   else "fhirServer is not allowed for this client")
            for key, (_, partial) in todo.items():
                if partial is not None:
                    data[key] = partial  # the first page is what we have
                    failures.append(FetchFailure(key=key, reason=f"{key}: further pages not read ({why})"))
                else:
                    failures.append(FetchFailure(key=key, reason=f"{key}: not prefetched and {why}"))
        else:
            token = req.fhir_authorization.access_token if req.fhir_authorization else None
            fetcher = _Fetcher(session=session, base=str(req.fhir_server), token=token, timeout=timeout,
                               deadline=start + deadline_seconds)
            pool = cf.ThreadPoolExecutor(max_workers=min(8, len(todo)), thread_name_prefix="nelm-prefetch")
            futures = {pool.submit(_fetch_one, fetcher, key, q, partial): key for key, (q, partial) in todo.items()}
            done, pending = cf.wait(futures, timeout=max(0.0, start + deadline_seconds - time.monotonic()))
            pool.shutdown(wait=False, cancel_futures=True)
            for future in done:
                key = futures[future]
                try:
                    data[key] = future.result()
                    fetched.append(key)
                except _FetchError as exc:
                    failures.append(FetchFailure(key=key, reason=str(exc)))
                except (requests.RequestException, TimeoutError) as exc:
                    kind = "timed out" if isinstance(exc, requests.Timeout | TimeoutError) else "failed"
                    failures.append(FetchFailure(key=key, reason=f"{key}: request to fhirServer {kind}"))
            for future in pending:
                failures.append(FetchFailure(key=futures[future], reason=f"{futures[future]}: deadline reached"))
            queries = fetcher.queries
            failures.extend(fetcher.truncated)
            if failures:
                log.info("prefetch: %d of %d fallback queries failed", len(failures), len(todo))

    missing_required = sorted(k for k in required if k in templates and k not in data)
    if missing_required:
        reasons = "; ".join(f.reason for f in failures if f.key in missing_required)
        raise PreconditionError(
            f"required data could not be obtained ({', '.join(missing_required)}): {reasons}. "
            "Send these prefetch keys, or fhirServer with fhirAuthorization."
        )
    if "patient" in templates and "patient" in data and data["patient"] is None:
        raise PreconditionError(f"Patient/{req.patient_id} does not exist on fhirServer or was prefetched as null")
    optional_failures = tuple(sorted((f for f in failures if f.key in optional), key=lambda f: f.key))
    failures = [f for f in failures if f.key not in optional]
    absent = sorted(f.key for f in failures if f.key not in req.prefetch)
    if req.fhir_server is None and absent:
        # Keys neither prefetched nor reported as failed, and no server to read them: the spec's 412.
        raise PreconditionError("prefetch keys missing and no fhirServer to read them from: " + ", ".join(absent))
    failures.sort(key=lambda f: f.key)
    return ResolvedPrefetch(data=data, fetched=tuple(sorted(fetched)), failures=tuple(failures), queries=queries,
                            seconds=time.monotonic() - start, notes=tuple(notes),
                            optional_failures=optional_failures)
