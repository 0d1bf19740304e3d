"""Unpacking the input (Bundle, CDS Hooks prefetch or list) into resources, and keeping to one patient."""

from __future__ import annotations

import json
from typing import Any

from nelm_fhir.ingest.common import Ctx, Item, ref_key
from nelm_fhir.ingest.errors import NotABundleError, PatientMismatchError

__all__ = ["check_patient", "index_items", "unpack"]

BUNDLE_TYPES = frozenset(
    {
        "searchset",
        "collection",
        "transaction",
        "batch",
        "transaction-response",
        "batch-response",
        "history",
        "document",
        "message",
    }
)
_MAX_NESTING = 3
# Where each resource type names its patient (raw JSON keys).
_PATIENT_KEYS = ("subject", "patient")


def unpack(data: Any, ctx: Ctx) -> list[Item]:
    """Return every resource of ``data``; raises NotABundleError when the top level is none of the accepted shapes."""
    items: list[Item] = []
    if isinstance(data, list):
        for index, resource in enumerate(data):
            _add(resource, None, f"[{index}]", items, ctx, depth=0)
        return items
    if not isinstance(data, dict):
        raise NotABundleError(f"expected a FHIR R4 Bundle (JSON object), got {type(data).__name__}")
    if "resourceType" in data:
        if data.get("resourceType") != "Bundle":
            raise NotABundleError(f"expected a FHIR R4 Bundle, got resourceType {data.get('resourceType')!r}")
        _bundle(data, "Bundle", items, ctx, depth=0)
        return items
    if "entry" in data and isinstance(data.get("entry"), list):
        raise NotABundleError("a Bundle needs resourceType 'Bundle' (this object has entries but no resourceType)")
    for key, value in data.items():
        if value is None:
            continue  # CDS Hooks: the EHR knows there is nothing for this prefetch key
        if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
            raise NotABundleError(f"prefetch key {key!r} is not a FHIR resource, Bundle or null")
        _add(value, None, f"prefetch.{key}", items, ctx, depth=0)
    return items


def _bundle(bundle: dict[str, Any], where: str, items: list[Item], ctx: Ctx, *, depth: int) -> None:
    kind = bundle.get("type")
    if not isinstance(kind, str) or kind not in BUNDLE_TYPES:
        raise NotABundleError(f"{where}.type {kind!r} is not a FHIR R4 Bundle type")
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        raise NotABundleError(f"{where}.entry is not a list")
    append = items.append
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            ctx.problem(f"{where}.entry[{index}]", "entry is not a JSON object")
            continue
        resource = entry.get("resource")
        if resource is None:
            continue  # e.g. a DELETE of a transaction, or a response entry
        full_url = entry.get("fullUrl")
        if not isinstance(full_url, str):
            full_url = None
        search = entry.get("search")
        rtype = resource.get("resourceType") if isinstance(resource, dict) else None
        if rtype == "OperationOutcome" or (isinstance(search, dict) and search.get("mode") == "outcome"):
            _outcome(resource, f"{where}.entry[{index}]", ctx, beside_data=True)
            continue
        if rtype is not None:
            rid = resource.get("id")
            if rid and isinstance(rid, str) and isinstance(rtype, str) and rtype != "Bundle":
                append(Item(resource, f"{rtype}/{rid}", full_url))  # the common case, without _add
                continue
        _add(resource, full_url, f"{where}.entry[{index}]", items, ctx, depth=depth)


def _add(resource: Any, full_url: str | None, path: str, items: list[Item], ctx: Ctx, *, depth: int) -> None:
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        ctx.problem(path, "not a FHIR resource (no resourceType)")
        return
    rtype = resource["resourceType"]
    if rtype == "Bundle":
        if depth >= _MAX_NESTING:
            ctx.problem(path, "Bundles nested too deeply")
            return
        try:
            _bundle(resource, path, items, ctx, depth=depth + 1)
        except NotABundleError as exc:
            if depth == 0 and path.startswith("prefetch."):
                raise
            ctx.problem(path, str(exc))
        return
    if rtype == "OperationOutcome":
        _outcome(resource, path, ctx)
        return
    rid = resource.get("id")
    if isinstance(rid, str) and rid:
        ref = f"{rtype}/{rid}"
    elif full_url:
        ref = full_url
    else:
        ref = f"{rtype}/({path})"
    items.append(Item(raw=resource, ref=ref, full_url=full_url))


# Issue types (FHIR R4 valueset issue-type) saying that results were left out: never harmless.
_INCOMPLETE_ISSUES = frozenset({"incomplete", "too-costly", "timeout", "throttled", "suppressed", "too-long"})


def _outcome(resource: Any, path: str, ctx: Ctx, *, beside_data: bool = False) -> None:
    """An OperationOutcome: where data was expected, or next to the data of a search.

    Alone (a prefetch key answered with an OperationOutcome) it means the data could not be had:
    reported, as an error when an issue is ``error``/``fatal``, else as a warning. Next to data (an
    entry of a Bundle, e.g. ``search.mode = outcome``, FHIR R4 search 3.1.1.4) only an ``error``/
    ``fatal`` issue means data is missing, and an issue whose type says results were left out
    (``incomplete``, ``too-costly``, ``suppressed``, …) means some may be: both reported. Other
    ``information``/``warning`` issues ("unknown _include ignored") are harmless and not reported.
    """
    texts: list[str] = []
    severity = "warning"
    partial = False
    issues = resource.get("issue") if isinstance(resource, dict) else None
    for issue in issues if isinstance(issues, list) else ():
        if not isinstance(issue, dict):
            continue
        if str(issue.get("severity")) in {"error", "fatal"}:
            severity = "error"
        partial = partial or issue.get("code") in _INCOMPLETE_ISSUES
        details: dict[str, Any] = issue["details"] if isinstance(issue.get("details"), dict) else {}
        text = issue.get("diagnostics") or details.get("text") or issue.get("code")
        if isinstance(text, str):
            texts.append(text)
    detail = "; ".join(texts) or "no details"
    if not beside_data or severity == "error":
        ctx.problem(path, "the EHR returned an OperationOutcome instead of data: " + detail, severity=severity)
    elif partial:
        ctx.problem(path, "the EHR says its search results may be incomplete: " + detail, severity="warning")


def index_items(items: list[Item], ctx: Ctx) -> list[Item]:
    """Index resources by ``Type/id`` and fullUrl; drop duplicates (same reference) keeping one deterministically."""
    chosen: dict[str, Item] = {}
    for item in items:
        current = chosen.get(item.ref)
        if current is None or _version_key(item) > _version_key(current):
            chosen[item.ref] = item
    unique = list(chosen.values())
    index = ctx.index
    index.update(chosen)  # Type/id keys win over fullUrl keys, as below
    for item in unique:
        full_url = item.full_url
        if full_url and full_url != item.ref:
            index.setdefault(full_url, item)
            if not full_url.endswith(item.ref) or full_url[-len(item.ref) - 1] != "/":
                index.setdefault(ref_key(full_url), item)
    return unique


def _version_key(item: Item) -> tuple[str, str, str]:
    meta: dict[str, Any] = item.raw["meta"] if isinstance(item.raw.get("meta"), dict) else {}
    return (
        str(meta.get("lastUpdated", "")),
        str(meta.get("versionId", "")),
        json.dumps(item.raw, sort_keys=True, default=str),
    )


def _patient_key(reference: str, ctx: Ctx) -> str | None:
    target = ctx.resolve(reference)
    if target is not None and target.raw.get("resourceType") == "Patient":
        return target.ref
    resolved = ref_key(reference)
    if resolved.startswith(("Patient/", "urn:")):
        return resolved
    return None  # e.g. a Group subject: not a patient reference


def check_patient(items: list[Item], patient_id: str | None, ctx: Ctx) -> str | None:
    """Return the one patient the data belong to; raises PatientMismatchError when another patient appears."""
    expected = None
    if patient_id:
        expected = patient_id if "/" in patient_id else f"Patient/{patient_id}"
        expected = ref_key(expected)
    seen: str | None = expected
    cache: dict[str, str | None] = {}
    for item in items:
        raw = item.raw
        patient: str | None = None
        named_by = ""  # the element naming the patient; "" for a Patient resource
        if raw.get("resourceType") == "Patient":
            patient = item.ref
        else:
            for named_by in _PATIENT_KEYS:
                holder = raw.get(named_by)
                if isinstance(holder, dict):
                    reference = holder.get("reference")
                    if isinstance(reference, str):
                        if reference not in cache:
                            cache[reference] = _patient_key(reference, ctx)
                        patient = cache[reference]
                        break
        if patient is None:
            continue
        if seen is None:
            seen = patient
        elif patient != seen:
            # The message names the resource, never the patients' ids (it may be logged).
            where = "a Patient resource" if not named_by else f"{item.ref}.{named_by}.reference"
            raise PatientMismatchError(
                f"{where} belongs to another patient than the one evaluated: records of two patients are never mixed"
            )
    return seen
