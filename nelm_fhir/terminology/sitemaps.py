"""Site mapping files: FHIR R4 ConceptMaps that add a hospital's local codes without code changes.

``group.source`` is the site's code system and ``element.code`` the local code. ``group.target`` is
either the modality CodeSystem (``target.code`` = a modality id: an order code) or a standard
system the mappings know (the local code is then read exactly like ``target.code``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nelm_fhir.terminology.loader import Report, nonblank, read_json
from nelm_fhir.terminology.systems import MODALITY
from nelm_fhir.terminology.tables import MappingEntry, Terminology

__all__ = ["validate_site_file"]


def validate_site_file(
    path: Path, base: Terminology, report: Report, taken: dict[tuple[str, str], str] | None = None
) -> tuple[list[MappingEntry], dict[tuple[str, str], str]]:
    """Read one site ConceptMap against ``base``; returns its derived entries and its order-code map."""
    taken = {} if taken is None else taken
    entries: list[MappingEntry] = []
    orders: dict[tuple[str, str], str] = {}
    doc = read_json(path, report)
    if doc is None:
        return entries, orders
    if not isinstance(doc, dict) or doc.get("resourceType") != "ConceptMap":
        report.add(path, None, "a site mapping file must be a FHIR ConceptMap (resourceType ConceptMap)")
        return entries, orders
    groups = doc.get("group")
    if not isinstance(groups, list) or not groups:
        report.add(path, None, "ConceptMap has no group")
        return entries, orders
    for gindex, group in enumerate(groups):
        gwhere = f"group[{gindex}]"
        if not isinstance(group, dict):
            report.add(path, gwhere, "must be a JSON object")
            continue
        source, target_system = nonblank(group.get("source")), nonblank(group.get("target"))
        if source is None or target_system is None:
            report.add(path, gwhere, "needs source (the site code system) and target (a system NELM Pathways knows)")
            continue
        target_system = base.canonical_system(target_system)
        elements = group.get("element")
        if not isinstance(elements, list) or not elements:
            report.add(path, gwhere, "has no element")
            continue
        for eindex, element in enumerate(elements):
            _site_element(
                path,
                f"{gwhere}.element[{eindex}]",
                element,
                source,
                target_system,
                base,
                report,
                taken,
                entries,
                orders,
            )
    return entries, orders


_NOT_MAPPED = frozenset({"unmatched", "disjoint", "not-related-to"})


def _site_element(
    path: Path,
    where: str,
    element: Any,
    source: str,
    target_system: str,
    base: Terminology,
    report: Report,
    taken: dict[tuple[str, str], str],
    entries: list[MappingEntry],
    orders: dict[tuple[str, str], str],
) -> None:
    if not isinstance(element, dict) or nonblank(element.get("code")) is None:
        report.add(path, where, "needs a code")
        return
    code = element["code"].strip()
    label = f'{where} "{code}"'
    targets = element.get("target")
    if not isinstance(targets, list) or not targets:
        report.add(path, label, "has no target")
        return
    mapped = [
        t
        for t in targets
        if isinstance(t, dict) and str(t.get("equivalence") or t.get("relationship")) not in _NOT_MAPPED
    ]
    codes = {t.get("code") for t in mapped}
    if not mapped:
        return
    if len(codes) != 1 or not isinstance(next(iter(codes)), str):
        report.add(path, label, "needs exactly one target code (several different targets are ambiguous)")
        return
    target_code = str(next(iter(codes))).strip()
    key = (source, code)
    if key in taken:
        report.add(path, label, f"duplicate: {source}|{code} is already mapped at {taken[key]}")
        return
    if base.entry(source, code) is not None:
        report.add(path, label, f"{source}|{code} is already a code of the standard mappings")
        return
    if target_system == MODALITY:
        if target_code not in base.modalities:
            report.add(
                path, label, f"target {target_code!r} is not a modality id ({', '.join(sorted(base.modalities))})"
            )
            return
        orders[key] = target_code
    else:
        found = base.entry(target_system, target_code)
        if found is None:
            report.add(path, label, f"target {target_system}|{target_code} is not a code NELM Pathways recognises")
            return
        entries.append(
            MappingEntry(
                system=source,
                code=code,
                concept=found.concept,
                display=nonblank(element.get("display")) or found.display,
                status="SITE",
                file=path.name,
                evidence=f"{target_system}|{target_code}",
                attributes=found.attributes,
            )
        )
    taken[key] = f"{path.name} {label}"
