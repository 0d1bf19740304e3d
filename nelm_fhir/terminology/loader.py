"""Loading and validating ``mappings/``: code-system files, units, order codes and site ConceptMaps.

Every fault is collected as ``FILE: entry ...: message`` and reported together; loading fails
(``MappingError``) when there is any, so a broken mapping stops start-up rather than a request.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nelm_fhir.terminology.concepts import STATUSES, check_attributes, check_concept
from nelm_fhir.terminology.systems import normalise_code
from nelm_fhir.terminology.tables import MappingEntry, MappingFileInfo, Terminology
from nelm_fhir.terminology.units import Conversion, UnitTable, normalise_unit

__all__ = ["MappingError", "Report", "load_terminology", "read_mapping_dir"]


class MappingError(ValueError):
    """A mapping file is broken; ``problems`` lists each fault as ``FILE: entry ...: message``."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        more = f" (and {len(self.problems) - 1} more problem(s))" if len(self.problems) > 1 else ""
        super().__init__(f"{self.problems[0] if self.problems else 'mapping error'}{more}")


@dataclass
class Report:
    """Problems found so far, each naming its file and entry."""

    problems: list[str] = field(default_factory=list)

    def add(self, file: Path | str, entry: str | None, message: str) -> None:
        """Record one problem."""
        where = f"{file}: entry {entry}: " if entry else f"{file}: "
        self.problems.append(where + message)


@dataclass
class _Collected:
    entries: list[MappingEntry] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)
    icd_systems: set[str] = field(default_factory=set)
    order_codes: dict[tuple[str, str], str] = field(default_factory=dict)
    order_prefixes: dict[str, dict[str, str]] = field(default_factory=dict)
    drug_class_modality: dict[str, str] = field(default_factory=dict)
    modalities: set[str] = field(default_factory=set)
    units: UnitTable | None = None
    files: list[MappingFileInfo] = field(default_factory=list)
    seen: dict[tuple[str, str, bool], str] = field(default_factory=dict)  # (system, code, prefix) -> where


def read_json(path: Path, report: Report) -> Any:
    """Return the parsed JSON of ``path``, or None after reporting why it cannot be read."""
    try:
        with path.open(encoding="utf-8") as fh:
            return json.load(fh)
    except OSError as exc:
        report.add(path, None, f"cannot read: {exc.strerror or exc}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        report.add(path, None, f"not valid JSON: {exc}")
    return None


def nonblank(value: Any) -> str | None:
    """Return ``value`` when it is a non-blank string, else None."""
    return value if isinstance(value, str) and value.strip() else None


def _header(path: Path, doc: dict[str, Any], report: Report) -> tuple[str, str, str] | None:
    title, source, release = nonblank(doc.get("title")), nonblank(doc.get("source")), nonblank(doc.get("release"))
    missing = [n for n, v in (("title", title), ("source", source), ("release", release)) if v is None]
    if missing:
        report.add(
            path,
            None,
            f"missing {', '.join(missing)} (each file states its source and the release it was checked against)",
        )
        return None
    return title or "", source or "", release or ""


def _parse_code_file(path: Path, doc: dict[str, Any], out: _Collected, report: Report) -> None:
    header = _header(path, doc, report)
    system = nonblank(doc.get("system"))
    if system is None:
        report.add(path, None, "missing system (the code-system URI)")
        return
    icd = doc.get("matching") == "icd"
    if doc.get("matching") not in (None, "exact", "icd"):
        report.add(path, None, f"matching must be 'exact' or 'icd', not {doc.get('matching')!r}")
    if icd:
        out.icd_systems.add(system)
    aliases = doc.get("aliases", [])
    if not isinstance(aliases, list) or not all(nonblank(a) for a in aliases):
        report.add(path, None, "aliases must be a list of URIs")
        aliases = []
    for alias in aliases:
        out.aliases[alias] = system
        if icd:
            out.icd_systems.add(alias)
    count = 0
    for list_name, is_prefix in (("codes", False), ("prefixes", True)):
        items = doc.get(list_name, [])
        if not isinstance(items, list):
            report.add(path, None, f"{list_name} must be a list")
            continue
        for index, item in enumerate(items):
            entry = _parse_entry(path, f"{list_name}[{index}]", item, system, is_prefix, icd, out, report)
            if entry is not None:
                out.entries.append(entry)
                count += 1
                if entry.namespace == "modality":
                    out.modalities.add(entry.name)
    if header is not None:
        out.files.append(
            MappingFileInfo(
                path=str(path), title=header[0], system=system, source=header[1], release=header[2], entries=count
            )
        )


def _parse_entry(
    path: Path, where: str, item: Any, system: str, is_prefix: bool, icd: bool, out: _Collected, report: Report
) -> MappingEntry | None:
    key_name = "prefix" if is_prefix else "code"
    if not isinstance(item, dict):
        report.add(path, where, "must be a JSON object")
        return None
    code = nonblank(item.get(key_name))
    label = f'{where} "{code}"' if code else where
    if code is None:
        report.add(path, label, f"missing {key_name}")
        return None
    if code != code.strip() or any(ch.isspace() for ch in code):
        report.add(path, label, f"{key_name} contains white space")
        return None
    concept = nonblank(item.get("concept"))
    if concept is None:
        report.add(path, label, "missing concept")
        return None
    if (why := check_concept(concept)) is not None:
        report.add(path, label, why)
        return None
    status = item.get("status")
    if status not in STATUSES:
        report.add(path, label, f"status must be one of {', '.join(sorted(STATUSES))}, not {status!r}")
        return None
    attributes = item.get("attributes", {})
    if not isinstance(attributes, dict) or not all(isinstance(v, str) for v in attributes.values()):
        report.add(path, label, "attributes must be an object of strings")
        return None
    if (why := check_attributes(concept, attributes)) is not None:
        report.add(path, label, why)
        return None
    normalised = normalise_code(code, icd=icd)
    seen_key = (system, normalised, is_prefix)
    if seen_key in out.seen:
        report.add(path, label, f"duplicate {key_name}: already mapped at {out.seen[seen_key]}")
        return None
    out.seen[seen_key] = f"{path.name} {label}"
    return MappingEntry(
        system=system,
        code=code,
        concept=concept,
        display=nonblank(item.get("display")) or "",
        status=status,
        file=path.name,
        evidence=nonblank(item.get("evidence")),
        prefix=is_prefix,
        attributes=dict(attributes),
    )


def _parse_units(path: Path, doc: dict[str, Any], out: _Collected, report: Report) -> None:
    header = _header(path, doc, report)
    quantities = doc.get("quantities")
    if not isinstance(quantities, list):
        report.add(path, None, "quantities must be a list")
        return
    canonical: dict[str, str] = {}
    conversions: dict[str, dict[str, Conversion]] = {}
    pending_same: list[tuple[str, str, str]] = []
    for index, q in enumerate(quantities):
        where = f"quantities[{index}]"
        if not isinstance(q, dict) or nonblank(q.get("quantity")) is None or nonblank(q.get("canonical")) is None:
            report.add(path, where, "needs quantity and canonical")
            continue
        name, canon = q["quantity"], q["canonical"]
        where = f'{where} "{name}"'
        if name in canonical:
            report.add(path, where, "duplicate quantity")
            continue
        canonical[name] = canon
        if nonblank(q.get("same_as")) is not None:
            pending_same.append((name, q["same_as"], where))
            continue
        table: dict[str, Conversion] = {}
        units = q.get("units")
        if not isinstance(units, list) or not units:
            report.add(path, where, "units must be a non-empty list")
            continue
        for uindex, u in enumerate(units):
            uwhere = f"{where} units[{uindex}]"
            if not isinstance(u, dict) or not isinstance(u.get("unit"), str):
                report.add(path, uwhere, "needs a unit string")
                continue
            factor = _factor(u)
            if factor is None:
                report.add(path, f'{uwhere} "{u["unit"]}"', "needs exactly one positive number: factor or divide")
                continue
            key = normalise_unit(u["unit"])
            if key in table:
                report.add(
                    path, f'{uwhere} "{u["unit"]}"', "duplicate unit (after normalising spaces, micro sign and case)"
                )
                continue
            kept = nonblank(u.get("as")) or canon
            table[key] = Conversion(factor=factor, unit=kept)
        conversions[name] = table
    for name, other, where in pending_same:
        if other not in conversions:
            report.add(path, where, f"same_as {other!r} is not a quantity with units")
            continue
        conversions[name] = conversions[other]
    out.units = UnitTable(canonical=canonical, conversions=conversions)
    if header is not None:
        out.files.append(
            MappingFileInfo(
                path=str(path),
                title=header[0],
                system=None,
                source=header[1],
                release=header[2],
                entries=len(canonical),
            )
        )


def _factor(u: dict[str, Any]) -> float | None:
    has_factor, has_divide = "factor" in u, "divide" in u
    if has_factor == has_divide:
        return None
    raw = u["factor"] if has_factor else u["divide"]
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw <= 0:
        return None
    return float(raw) if has_factor else 1.0 / float(raw)


def _parse_orders(path: Path, doc: dict[str, Any], out: _Collected, report: Report) -> list[tuple[str, str]]:
    """Parse the orders file; returns (entry label, modality) pairs to check once modalities are known."""
    header = _header(path, doc, report)
    pending: list[tuple[str, str]] = []
    orders = doc.get("orders")
    if not isinstance(orders, list):
        report.add(path, None, "orders must be a list")
        return pending
    for index, o in enumerate(orders):
        where = f"orders[{index}]"
        if not isinstance(o, dict):
            report.add(path, where, "must be a JSON object")
            continue
        system, modality = nonblank(o.get("system")), nonblank(o.get("modality"))
        code, prefix = nonblank(o.get("code")), nonblank(o.get("prefix"))
        label = f'{where} "{code or prefix}"'
        if system is None or modality is None or (code is None) == (prefix is None):
            report.add(path, label, "needs system, modality and exactly one of code or prefix")
            continue
        if o.get("status") not in STATUSES:
            report.add(path, label, f"status must be one of {', '.join(sorted(STATUSES))}")
            continue
        canonical = out.aliases.get(system, system)
        icd = canonical in out.icd_systems
        if code is not None:
            key = (canonical, normalise_code(code, icd=icd))
            if key in out.order_codes:
                report.add(path, label, "duplicate order code")
                continue
            out.order_codes[key] = modality
        elif prefix is not None:
            norm = normalise_code(prefix, icd=icd)
            bucket = out.order_prefixes.setdefault(canonical, {})
            if norm in bucket:
                report.add(path, label, "duplicate order prefix")
                continue
            bucket[norm] = modality
        pending.append((label, modality))
    classes = doc.get("drugClasses", {})
    if not isinstance(classes, dict):
        report.add(path, "drugClasses", "must be an object")
    else:
        for drug_class, modality in classes.items():
            if not isinstance(modality, str):
                report.add(path, f"drugClasses.{drug_class}", "must name a modality id")
                continue
            out.drug_class_modality[drug_class] = modality
            pending.append((f"drugClasses.{drug_class}", modality))
    if header is not None:
        out.files.append(
            MappingFileInfo(
                path=str(path), title=header[0], system=None, source=header[1], release=header[2], entries=len(orders)
            )
        )
    return pending


def read_mapping_dir(mappings_dir: Path, report: Report) -> Terminology | None:
    """Read every ``*.json`` of ``mappings_dir``; problems go to ``report``; None when unusable."""
    out = _Collected()
    pending_orders: list[tuple[Path, str, str]] = []
    files = sorted(mappings_dir.glob("*.json")) if mappings_dir.is_dir() else []
    if not files:
        report.add(mappings_dir, None, "no mapping files (*.json) found")
        return None
    docs = [(path, read_json(path, report)) for path in files]
    # Code files first (they define aliases, ICD systems and modality ids), then units and orders.
    for path, doc in docs:
        if not isinstance(doc, dict):
            if doc is not None:
                report.add(path, None, "must be a JSON object")
            continue
        if "codes" in doc or "prefixes" in doc:
            _parse_code_file(path, doc, out, report)
        elif "quantities" not in doc and "orders" not in doc:
            report.add(path, None, "unknown kind of mapping file (expected codes, quantities or orders)")
    for path, doc in docs:
        if isinstance(doc, dict) and "quantities" in doc:
            _parse_units(path, doc, out, report)
        elif isinstance(doc, dict) and "orders" in doc:
            pending_orders.extend((path, label, m) for label, m in _parse_orders(path, doc, out, report))
    for path, label, modality in pending_orders:
        if modality not in out.modalities:
            report.add(path, label, f"modality {modality!r} is not in the modality code system")
    if out.units is None:
        report.add(mappings_dir, None, "no units file (a file with quantities)")
        return None
    return Terminology(
        entries=out.entries,
        aliases=out.aliases,
        icd_systems=out.icd_systems,
        order_codes=out.order_codes,
        order_prefixes=out.order_prefixes,
        drug_class_modality=out.drug_class_modality,
        site_orders={},
        modalities=out.modalities,
        units=out.units,
        files=out.files,
    )


def load_terminology(mappings_dir: Path, site_files: Sequence[Path] = ()) -> Terminology:
    """Return the terminology of ``mappings_dir`` plus site ConceptMaps; raises MappingError naming file and entry."""
    report = Report()
    base = read_mapping_dir(Path(mappings_dir), report)
    if base is None or report.problems:
        raise MappingError(report.problems)
    if not site_files:
        return base
    from nelm_fhir.terminology.sitemaps import validate_site_file

    site_entries: list[MappingEntry] = []
    site_orders: dict[tuple[str, str], str] = {}
    taken: dict[tuple[str, str], str] = {}
    for path in site_files:
        entries, orders = validate_site_file(Path(path), base, report, taken)
        site_entries.extend(entries)
        site_orders.update(orders)
    if report.problems:
        raise MappingError(report.problems)
    return _with_site(base, site_entries, site_orders, site_files)


def _with_site(
    base: Terminology, entries: Iterable[MappingEntry], orders: dict[tuple[str, str], str], files: Sequence[Path]
) -> Terminology:
    return base.extended(
        entries=entries,
        site_orders=orders,
        files=[
            MappingFileInfo(path=str(p), title="site ConceptMap", system=None, source="site", release="site", entries=0)
            for p in files
        ],
    )
