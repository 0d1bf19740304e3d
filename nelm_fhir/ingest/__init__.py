"""FHIR R4 → NelmProfile. The only package of ``nelm_fhir`` that imports ``fhir.resources`` (R4B).

``ingest(data, as_of=..., terminology=..., patient_id=...)`` accepts a Bundle (searchset,
collection, transaction, batch), a CDS Hooks ``prefetch`` object or a list of resources.
Raises ``NotABundleError`` (not one of those shapes) or ``PatientMismatchError`` (another
patient's resource); anything else wrong with a relevant resource becomes an ``IngestProblem``
in ``profile.problems`` and the rest of the record is still used.

Cost grows with relevant data: irrelevant resources are dropped on their raw codes (one cached
dictionary read per coding), and of each lab kind only the newest results are read
(``LAB_RESULTS_KEPT``): a chart holds years of monthly panels, the pathway reads only the newest
result of each kind (its value, and its date for staleness). Lab Observations are read newest first
by their ``effectiveDateTime`` as written; once ``LAB_RESULTS_KEPT`` results of a kind have been
read, the older ones (strictly older than the last of those) are left unread: they are not in
``profile.labs`` and a fault in them is not reported. Lab Observations without a full
``effectiveDateTime`` date are always read. Every other kind of fact (Ki-67, disease status for
months-stable, findings, conditions, drugs, procedures) is read in full.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from nelm_fhir.ingest.assemble import assemble
from nelm_fhir.ingest.bundle import check_patient, index_items, unpack
from nelm_fhir.ingest.clinical import text_only
from nelm_fhir.ingest.collected import Collected
from nelm_fhir.ingest.common import Ctx, Item, to_date
from nelm_fhir.ingest.condition import read_condition, relevant_condition
from nelm_fhir.ingest.errors import NotABundleError, PatientMismatchError
from nelm_fhir.ingest.fastpath import DATE_TIME, matches
from nelm_fhir.ingest.medication import MEDICATION_TYPES, read_medication, relevant_medication
from nelm_fhir.ingest.observation import FINAL, IGNORED, read_observation, relevant_observation
from nelm_fhir.ingest.patient import read_patient
from nelm_fhir.ingest.procedure import read_procedure, relevant_procedure
from nelm_fhir.ingest.report import link_report_dates, read_report, relevant_panel, relevant_report
from nelm_fhir.ingest.textonly import text_only_condition, text_only_result
from nelm_fhir.model import NelmProfile
from nelm_fhir.terminology import MappingEntry, Terminology, default_terminology

__all__ = ["LAB_RESULTS_KEPT", "NotABundleError", "PatientMismatchError", "ingest"]

Reader = Callable[[Item, MappingEntry, Ctx, Collected], None]

_UNKNOWN_PATIENT = "Patient/unknown"
_TEXT_ONLY_TYPES = frozenset({"Condition", "Procedure"})

# Results of each lab kind read, newest first; the pathway uses the newest (and the profile shows a short trend).
LAB_RESULTS_KEPT = 3
_ALWAYS_READ = dt.date.max


def ingest(
    data: Any,
    *,
    as_of: dt.date,
    terminology: Terminology | None = None,
    patient_id: str | None = None,
) -> NelmProfile:
    """Return one patient's NELM profile at ``as_of``; raises NotABundleError or PatientMismatchError."""
    ctx = Ctx(term=terminology if terminology is not None else default_terminology(), as_of=as_of)
    items = index_items(unpack(data, ctx), ctx)
    patient = check_patient(items, patient_id, ctx)
    link_report_dates(items, ctx)
    out = Collected()
    relevant: list[tuple[Item, MappingEntry, Reader]] = []
    found: tuple[MappingEntry, Reader] | None
    for item in items:
        raw = item.raw
        rtype = raw.get("resourceType")
        if rtype == "Observation":  # most of a chart: looked up here without a further call
            entry = relevant_observation(raw, ctx)
            if entry is None and "component" in raw:
                entry = relevant_panel(raw, ctx)  # a panel or synoptic report with relevant components (B27)
            if entry is None:
                code = raw.get("code")
                if isinstance(code, dict) and "coding" not in code:
                    text_only_result(item, ctx, out)  # B28: a result named only by text is unreadable, not absent
                continue
            found = (entry, read_observation)
        elif rtype == "Patient":
            read_patient(item, ctx, out)
            continue
        else:
            found = _relevant(item, rtype, ctx)
        if found is None:
            if rtype in _TEXT_ONLY_TYPES:
                text_only(item, ctx, out)  # B28: a decisive finding written only as text
            if rtype == "Condition":
                text_only_condition(item, ctx, out)  # B28: the NELM or the primary written only as text
            continue
        if raw.get("modifierExtension"):
            ctx.problem(f"{item.ref}.modifierExtension", "carries a modifier extension the product does not understand")
            continue
        if rtype in _TEXT_ONLY_TYPES:
            item = _without_unreadable_dates(item, ctx)  # B28: a bad date never drops the record
        relevant.append((item, *found))
    labs: dict[str, list[tuple[dt.date, Item, MappingEntry]]] = {}
    for item, entry, reader in _drop_superseded_preliminary(relevant):
        if reader is read_observation and entry.namespace == "lab":
            labs.setdefault(entry.name, []).append((lab_date_hint(item.raw), item, entry))
        else:
            reader(item, entry, ctx, out)
    for candidates in labs.values():
        _read_newest_labs(candidates, ctx, out)
    return assemble(out, ctx, patient or out.patient_ref or _UNKNOWN_PATIENT)


def lab_date_hint(raw: dict[str, Any]) -> dt.date:
    """Return the date a lab Observation will have when read (its full ``effectiveDateTime``), else date.max."""
    effective = raw.get("effectiveDateTime")
    if not isinstance(effective, str) or len(effective) < 10 or not matches(DATE_TIME, effective):
        return _ALWAYS_READ
    if not _OTHER_EFFECTIVE.isdisjoint(raw):
        return _ALWAYS_READ  # several effective[x]: validation reports it
    return to_date(effective) or _ALWAYS_READ


_OTHER_EFFECTIVE = frozenset({"effectivePeriod", "effectiveInstant", "effectiveTiming", "_effectiveDateTime"})


def _read_newest_labs(candidates: list[tuple[dt.date, Item, MappingEntry]], ctx: Ctx, out: Collected) -> None:
    """Read one kind's lab Observations newest first until LAB_RESULTS_KEPT results are read (ties all read)."""
    candidates.sort(key=lambda c: (c[0], c[1].ref), reverse=True)
    read_dates: list[dt.date] = []
    for hint, item, entry in candidates:
        if len(read_dates) >= LAB_RESULTS_KEPT and hint < read_dates[LAB_RESULTS_KEPT - 1]:
            return  # this and every later candidate is older than the results kept
        before = len(out.labs)
        read_observation(item, entry, ctx, out)
        if len(out.labs) > before:
            read_dates.append(out.labs[-1].date or dt.date.min)
            read_dates.sort(reverse=True)


def _relevant(item: Item, rtype: Any, ctx: Ctx) -> tuple[MappingEntry, Reader] | None:
    """Return the entry and reader of a relevant resource, looking only at raw codes (cheap)."""
    entry: MappingEntry | None
    reader: Reader
    if rtype == "Observation":
        entry, reader = relevant_observation(item.raw, ctx), read_observation
    elif rtype == "Condition":
        entry, reader = relevant_condition(item.raw, ctx), read_condition
    elif rtype == "Procedure":
        entry, reader = relevant_procedure(item.raw, ctx), read_procedure
    elif rtype in MEDICATION_TYPES:
        entry, reader = relevant_medication(item.raw, ctx, item), read_medication
    elif rtype == "DiagnosticReport":
        entry, reader = relevant_report(item.raw, ctx), read_report
    else:
        return None
    return (entry, reader) if entry is not None else None


_DATE_KEYS = ("onsetDateTime", "recordedDate", "abatementDateTime", "performedDateTime")


def _without_unreadable_dates(item: Item, ctx: Ctx) -> Item:
    """Return a Condition/Procedure without the dates that are not FHIR dates, each listed as a problem (B28).

    The record still says what it says (its code is readable); only its date is unknown, so it is
    read undated rather than dropped, which would read as "none recorded" (B26).
    """
    raw = item.raw
    bad = [k for k in _DATE_KEYS if isinstance(raw.get(k), str) and not matches(DATE_TIME, raw[k])]
    if not bad:
        return item
    for key in bad:
        ctx.problem(f"{item.ref}.{key}", f"{raw[key][:40]!r} is not a FHIR date: read without this date (B28)")
    return Item({k: v for k, v in raw.items() if k not in bad}, item.ref, item.full_url)


def _drop_superseded_preliminary(
    relevant: list[tuple[Item, MappingEntry, Reader]],
) -> list[tuple[Item, MappingEntry, Reader]]:
    """Drop preliminary/registered Observations of a concept that also has a final/amended/corrected one."""
    statuses: list[str | None] = []  # an Observation's status ("" when not a string); None: not an Observation
    final_concepts: set[str] = set()
    for item, entry, reader in relevant:
        if reader is read_observation:
            status = item.raw.get("status")
            status = status if isinstance(status, str) else ""
            if status in FINAL:
                final_concepts.add(entry.concept)
            statuses.append(status)
        else:
            statuses.append(None)
    kept = []
    for (item, entry, reader), status in zip(relevant, statuses, strict=True):
        if status is not None and (status in IGNORED or (status not in FINAL and entry.concept in final_concepts)):
            continue
        kept.append((item, entry, reader))
    return kept
