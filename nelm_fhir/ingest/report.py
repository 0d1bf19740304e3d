"""Results as EHRs group them (B27): panels and synoptic reports, and DiagnosticReports.

A panel Observation (a blood count, a chemistry panel, a synoptic pathology report) is relevant
when one of its components carries a relevant code; each such component is read exactly as a
single result of that code (B33). A DiagnosticReport's ``contained`` Observations are read as
results of the report (dated by the report when they carry no date of their own), its ``result``
references to Observations elsewhere in the record lend them the report's date when they have
none, and its ``conclusionCode`` is read as a morphology when it is one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fhir.resources.R4B.diagnosticreport import DiagnosticReport

from nelm_fhir.ingest.collected import Collected
from nelm_fhir.ingest.common import Ctx, Item, coding_pairs, raw_entry, raw_list, to_date, validated
from nelm_fhir.ingest.observation import (
    COMPONENT_OBS,
    IGNORED,
    raw_result_date,
    read_observation,
    relevant_observation,
    unreadable_kind,
)
from nelm_fhir.model import Fact, UnreadableResult
from nelm_fhir.terminology import MappingEntry

__all__ = ["link_report_dates", "read_report", "relevant_panel", "relevant_report"]

_COMPONENT_NAMESPACES = frozenset({"lab", "obs", "finding"})


def _component_entries(raw: dict[str, Any], ctx: Ctx) -> list[MappingEntry]:
    found: list[MappingEntry] = []
    for component in raw_list(raw, "component"):
        if isinstance(component, dict):
            entry = raw_entry(ctx.term, component.get("code"), _COMPONENT_NAMESPACES)
            if entry is not None and (entry.namespace != "obs" or entry.name in COMPONENT_OBS):
                found.append(entry)
    return found


def relevant_panel(raw: dict[str, Any], ctx: Ctx) -> MappingEntry | None:
    """Return a ``panel:`` entry when an Observation's own code is not relevant but a component's is."""
    entries = _component_entries(raw, ctx)
    if not entries:
        return None
    concept = "panel:" + "+".join(sorted({e.concept for e in entries}))
    return MappingEntry(
        system="", code="", concept=concept, display="panel of results", status="LOCAL", file="(components)"
    )


def _contained_results(raw: dict[str, Any], ctx: Ctx) -> list[tuple[dict[str, Any], MappingEntry]]:
    found = []
    for contained in raw_list(raw, "contained"):
        if isinstance(contained, dict) and contained.get("resourceType") == "Observation":
            entry = relevant_observation(contained, ctx) or relevant_panel(contained, ctx)
            if entry is not None:
                found.append((contained, entry))
    return found


def relevant_report(raw: dict[str, Any], ctx: Ctx) -> MappingEntry | None:
    """Return a ``report:`` entry for a DiagnosticReport holding relevant results or a morphology conclusion."""
    conclusion = any(ctx.term.first(coding_pairs(c), "morphology") is not None for c in raw_list(raw, "conclusionCode"))
    if not conclusion and not _contained_results(raw, ctx):
        return None
    return MappingEntry(
        system="", code="", concept="report:diagnostic", display="diagnostic report", status="LOCAL", file="(report)"
    )


def report_date(raw: dict[str, Any]) -> dt.date | None:
    """Return a DiagnosticReport's date (B27): effectiveDateTime, else the end of effectivePeriod, else issued."""
    return raw_result_date(raw)


def link_report_dates(items: list[Item], ctx: Ctx) -> None:
    """Let the undated results a DiagnosticReport references take the report's date."""
    for item in items:
        if item.raw.get("resourceType") != "DiagnosticReport" or "result" not in item.raw:
            continue
        date = report_date(item.raw)
        if date is None:
            continue
        for result in raw_list(item.raw, "result"):
            reference = result.get("reference") if isinstance(result, dict) else None
            target = ctx.resolve(reference if isinstance(reference, str) else None, item)
            if target is not None:
                ctx.report_dates.setdefault(target.ref, date)


def read_report(item: Item, entry: MappingEntry, ctx: Ctx, out: Collected) -> None:
    """Read a DiagnosticReport's contained results and its morphology conclusion."""
    del entry
    results = _contained_results(item.raw, ctx)
    report: Any = validated(DiagnosticReport, item, ctx)
    if report is None:
        for raw, found in results:
            ref = f"{item.ref}#{raw.get('id')}"
            reason = f"{item.ref}: the DiagnosticReport holding it is not valid FHIR R4"
            out.unreadable.append(
                UnreadableResult(kind=unreadable_kind(found), source=ref, reason=reason, date=raw_result_date(raw))
            )
        return
    if report.status in IGNORED:
        return
    date = report_date(item.raw)
    if ctx.after_evaluation_date(item.ref, date):
        return
    for raw, found in results:
        sub = Item(raw=raw, ref=f"{item.ref}#{raw.get('id')}")
        if date is not None:
            ctx.report_dates.setdefault(sub.ref, date)
        read_observation(sub, found, ctx, out)
    for concept in report.conclusionCode or ():
        matched = ctx.term.match(((c.system, c.code) for c in concept.coding or ()), "morphology")
        if matched is not None:
            morphology, sent = matched
            fact = Fact(value=sent, source=item.ref, date=to_date(date))
            out.morphology.append((fact, morphology.attributes.get("differentiation")))
