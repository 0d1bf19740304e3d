"""A tiny in-memory FHIR search over a Bundle, for the subset our prefetch templates use.

Golden tests build the ``prefetch`` object a client would send by running each rendered template
against the vignette Bundle: resource type, ``patient``/``subject`` reference, ``code`` token lists
(``system|code``), ``_sort=-date``. Reads (``Patient/{id}``) return the resource or None.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from cds_hooks.prefetch import render_template

_DATE_FIELDS = ("effectiveDateTime", "issued", "recordedDate", "onsetDateTime", "performedDateTime", "authoredOn",
                "dateAsserted")
_PATIENT_FIELDS = ("subject", "patient")


def _codings(resource: dict[str, Any]) -> list[tuple[str, str]]:
    concept = resource.get("code") or resource.get("medicationCodeableConcept") or {}
    return [(c.get("system", ""), c.get("code", "")) for c in concept.get("coding", [])]


def _date(resource: dict[str, Any]) -> str:
    for name in _DATE_FIELDS:
        if isinstance(resource.get(name), str):
            return str(resource[name])
    period = resource.get("effectivePeriod") or resource.get("performedPeriod") or {}
    return str(period.get("start", ""))


def _matches(resource: dict[str, Any], name: str, value: str) -> bool:
    if name == "patient":
        refs = [(resource.get(f) or {}).get("reference") for f in _PATIENT_FIELDS]
        return f"Patient/{value}" in refs
    if name == "code":
        wanted = set()
        for token in value.split(","):
            system, _, code = token.rpartition("|")
            wanted.add((system, code))
        return any((s, c) in wanted or ("", c) in wanted for s, c in _codings(resource))
    if name == "component-code":
        wanted = {tuple(token.rpartition("|")[::2]) for token in value.split(",")}
        found = [(c.get("system", ""), c.get("code", "")) for comp in resource.get("component", [])
                 for c in (comp.get("code") or {}).get("coding", [])]
        return any(pair in wanted for pair in found)
    if name.startswith("_"):
        return True  # _sort, _count, _include: handled by search()
    raise ValueError(f"search parameter {name} is not supported by this test helper")


def search(resources: list[dict[str, Any]], query: str) -> dict[str, Any] | None:
    """Return what a FHIR server would answer to ``query`` over ``resources``."""
    path, _, qs = query.partition("?")
    if "/" in path:
        kind, rid = path.split("/", 1)
        return next((r for r in resources if r["resourceType"] == kind and r.get("id") == rid), None)
    params = parse_qsl(qs)
    found = [r for r in resources if r["resourceType"] == path and all(_matches(r, k, v) for k, v in params)]
    if ("_sort", "-date") in params:
        found.sort(key=_date, reverse=True)
    entries = [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
               for r in found]
    included: dict[str, dict[str, Any]] = {}
    for name, value in params:
        if name != "_include":
            continue
        element = value.split(":", 1)[1]
        for r in found:
            targets = r.get(element)
            for target in targets if isinstance(targets, list) else [targets]:
                ref = (target or {}).get("reference") if isinstance(target, dict) else None
                hit = search(resources, ref) if isinstance(ref, str) and "/" in ref else None
                if isinstance(hit, dict) and hit.get("resourceType") != "Bundle":
                    included[ref] = hit
    entries += [{"fullUrl": ref, "resource": r, "search": {"mode": "include"}} for ref, r in included.items()]
    return {"resourceType": "Bundle", "type": "searchset", "total": len(found), "entry": entries}


def prefetch_for(bundle: dict[str, Any], templates: dict[str, str], context: dict[str, Any]) -> dict[str, Any]:
    """Return the prefetch object a conforming client sends for ``templates`` over ``bundle``."""
    resources = [e["resource"] for e in bundle.get("entry", []) if "resource" in e]
    out: dict[str, Any] = {}
    for key, template in templates.items():
        rendered = render_template(template, context)
        if rendered is not None:
            out[key] = search(resources, rendered)
    return out
