"""Generic rewrites of a FHIR R4 Bundle into the other forms EHRs send the same facts in (PATHWAY.md B27).

Each rewrite is a pure function Bundle -> Bundle that knows nothing of any one vignette: it walks
the resources and changes the *form* of what they say, never the meaning. A record read correctly
must give the same statuses in every form (the metamorphic relation of issue 11).
"""

from __future__ import annotations

import copy
import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from nelm_fhir.terminology import default_terminology

Json = dict[str, Any]
Rewrite = Callable[[Json], Json]

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CPT = "http://www.ama-assn.org/go/cpt"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
LOCAL = "urn:oid:1.2.3.4.5.6.7.8.9"  # a site's local code system, unknown to the product

# Mass -> molar LOINC codes and units of the same analyte; factor from mass to molar value.
MOLAR = {
    "1975-2": ("14631-6", "umol/L", 17.1),  # bilirubin mg/dL -> umol/L
    "2160-0": ("14682-9", "umol/L", 88.4),  # creatinine mg/dL -> umol/L
    "718-7": ("59260-0", "mmol/L", 1 / 1.611),  # haemoglobin g/dL -> mmol/L (Fe)
}
ALBUMIN = "1751-7"  # mass in g/dL or g/L (no molar LOINC used in practice)


def resources(bundle: Json) -> Iterator[Json]:
    """Yield every top-level resource of ``bundle``."""
    for entry in bundle.get("entry", []):
        yield entry["resource"]


def _observations(bundle: Json) -> Iterator[Json]:
    return (r for r in resources(bundle) if r["resourceType"] == "Observation")


def _holders(obs: Json) -> Iterator[Json]:
    """Yield the Observation and each of its components (everything that can hold a value)."""
    yield obs
    yield from obs.get("component", [])


def _unit(q: Json) -> str:
    return str(q.get("code") or q.get("unit") or "")


def _num(value: float) -> str:
    return repr(float(value)).removesuffix(".0") if float(value).is_integer() else repr(float(value))


def value_as_string(with_unit: bool) -> Rewrite:
    """valueQuantity -> valueString "22 %" (with unit) or "22" (percentages only, where a bare number is read as %)."""

    def rewrite(bundle: Json) -> Json:
        out = copy.deepcopy(bundle)
        for obs in _observations(out):
            for holder in _holders(obs):
                q = holder.get("valueQuantity")
                if q is None or "comparator" in q:
                    continue
                unit = _unit(q)
                if with_unit:
                    holder["valueString"] = f"{_num(q['value'])} {unit}".strip()
                elif unit == "%":
                    holder["valueString"] = _num(q["value"])
                else:
                    continue
                del holder["valueQuantity"]
        return out

    return rewrite


def integer_as_string(bundle: Json) -> Json:
    """valueInteger 3 -> valueString "3" (scores and counts written as text)."""
    out = copy.deepcopy(bundle)
    for obs in _observations(out):
        for holder in _holders(obs):
            if "valueInteger" in holder:
                holder["valueString"] = str(holder.pop("valueInteger"))
    return out


def value_as_range(bundle: Json) -> Json:
    """valueQuantity -> valueRange with low = high = the value (a range that is one value)."""
    out = copy.deepcopy(bundle)
    for obs in _observations(out):
        for holder in _holders(obs):
            q = holder.get("valueQuantity")
            if q is None or "comparator" in q:
                continue
            end = {k: v for k, v in q.items() if k in {"value", "unit", "system", "code"}}
            holder["valueRange"] = {"low": dict(end), "high": dict(end)}
            del holder["valueQuantity"]
    return out


def _date_of(obs: Json) -> str | None:
    value = obs.get("effectiveDateTime")
    return value if isinstance(value, str) else None


def period_date(bundle: Json) -> Json:
    """effectiveDateTime -> effectivePeriod whose end is that date (and start a week earlier)."""
    out = copy.deepcopy(bundle)
    for obs in _observations(out):
        date = _date_of(obs)
        if date is None:
            continue
        start = (dt.date.fromisoformat(date[:10]) - dt.timedelta(days=7)).isoformat()
        obs["effectivePeriod"] = {"start": start, "end": date}
        del obs["effectiveDateTime"]
    return out


def issued_only(bundle: Json) -> Json:
    """effectiveDateTime -> issued only (an instant on that date)."""
    out = copy.deepcopy(bundle)
    for obs in _observations(out):
        date = _date_of(obs)
        if date is None:
            continue
        obs["issued"] = f"{date[:10]}T12:00:00Z"
        del obs["effectiveDateTime"]
    return out


def molar_units(bundle: Json) -> Json:
    """Mass results -> the molar LOINC code and unit of the same analyte (bilirubin, creatinine, Hb; albumin g/L)."""
    out = copy.deepcopy(bundle)
    for obs in _observations(out):
        for holder in _holders(obs):
            q = holder.get("valueQuantity")
            codings = holder.get("code", {}).get("coding", [])
            if q is None or not codings or "comparator" in q:
                continue
            coding = codings[0]
            if coding.get("system") != LOINC:
                continue
            if coding.get("code") in MOLAR and _unit(q) in {"mg/dL", "g/dL"}:
                code, unit, factor = MOLAR[coding["code"]]
                coding.update(code=code, display=f"{coding.get('display', '')} (molar)".strip())
                holder["valueQuantity"] = {"value": q["value"] * factor, "unit": unit, "system": UCUM, "code": unit}
            elif coding.get("code") == ALBUMIN and _unit(q) == "g/dL":
                holder["valueQuantity"] = {"value": q["value"] * 10, "unit": "g/L", "system": UCUM, "code": "g/L"}
    return out


def _relevant(obs: Json) -> bool:
    term = default_terminology()
    return any(term.entry(c.get("system"), c.get("code")) for c in obs.get("code", {}).get("coding", []))


def as_panels(bundle: Json) -> Json:
    """Laboratory results of one day -> one panel Observation with a component per result (code not mapped)."""
    out = copy.deepcopy(bundle)
    by_day: dict[str, list[Json]] = defaultdict(list)
    for obs in _observations(out):
        category = {c.get("code") for cat in obs.get("category", []) for c in cat.get("coding", [])}
        simple = "valueQuantity" in obs and "component" not in obs and "specimen" not in obs
        if "laboratory" in category and simple and _date_of(obs) is not None:
            by_day[_date_of(obs) or ""].append(obs)
    drop = {id(o) for group in by_day.values() for o in group}
    entries = [e for e in out["entry"] if id(e["resource"]) not in drop]
    for index, (day, group) in enumerate(sorted(by_day.items())):
        first = group[0]
        panel = {
            "resourceType": "Observation",
            "id": f"{first['id']}-panel-{index}",
            "status": "final",
            "category": first["category"],
            "code": {"coding": [{"system": LOCAL, "code": "LAB-PANEL"}], "text": "Laboratory panel"},
            "subject": first["subject"],
            "effectiveDateTime": day,
            "component": [{"code": o["code"], "valueQuantity": o["valueQuantity"]} for o in group],
        }
        entries.append({"fullUrl": f"urn:uuid:panel-{first['id']}-{index}", "resource": panel})
    out["entry"] = entries
    return out


def ki67_as_synoptic(bundle: Json) -> Json:
    """A Ki-67 result -> a synoptic pathology report whose component holds the Ki-67 value (same specimen)."""
    out = copy.deepcopy(bundle)
    for obs in _observations(out):
        codes = {c.get("code") for c in obs.get("code", {}).get("coding", [])}
        if "29593-1" in codes and "valueQuantity" in obs:
            obs["component"] = [{"code": obs["code"], "valueQuantity": obs.pop("valueQuantity")}]
            obs["code"] = {"coding": [{"system": LOCAL, "code": "SYNOPTIC-NET"}], "text": "NET synoptic report"}
    return out


def contained_in_report(bundle: Json) -> Json:
    """Each relevant Observation -> contained in a DiagnosticReport (result "#id"), dated by the report only."""
    out = copy.deepcopy(bundle)
    entries = []
    for entry in out["entry"]:
        obs = entry["resource"]
        if obs["resourceType"] != "Observation" or not _relevant(obs) or _date_of(obs) is None:
            entries.append(entry)
            continue
        date = obs.pop("effectiveDateTime")
        inner = {k: v for k, v in obs.items() if k != "subject"}
        inner["id"] = "result"
        report = {
            "resourceType": "DiagnosticReport",
            "id": f"{obs['id']}-report",
            "contained": [inner],
            "status": "final",
            "code": {"coding": [{"system": LOCAL, "code": "REPORT"}], "text": "Report"},
            "subject": obs["subject"],
            "effectiveDateTime": date,
            "issued": f"{date[:10]}T18:00:00Z",
            "result": [{"reference": "#result"}],
        }
        entries.append({"fullUrl": f"urn:uuid:report-{obs['id']}", "resource": report})
    out["entry"] = entries
    return out


def referenced_by_report(bundle: Json) -> Json:
    """Each relevant Observation loses its own date; a DiagnosticReport dated that day lists it in ``result``."""
    out = copy.deepcopy(bundle)
    reports = []
    for obs in _observations(out):
        if not _relevant(obs) or _date_of(obs) is None:
            continue
        date = obs.pop("effectiveDateTime")
        reports.append(
            {
                "resourceType": "DiagnosticReport",
                "id": f"{obs['id']}-report",
                "status": "final",
                "code": {"coding": [{"system": LOCAL, "code": "REPORT"}], "text": "Report"},
                "subject": obs["subject"],
                "effectivePeriod": {"start": date, "end": date},
                "result": [{"reference": f"Observation/{obs['id']}"}],
            }
        )
    out["entry"] += [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in reports]
    return out


def text_plus_local_code(bundle: Json) -> Json:
    """Every coded concept of a resource gets a site's local coding first and a free-text label."""
    out = copy.deepcopy(bundle)
    for resource in resources(out):
        for key in ("code", "medicationCodeableConcept"):
            concept = resource.get(key)
            if isinstance(concept, dict) and concept.get("coding"):
                concept["coding"].insert(0, {"system": LOCAL, "code": f"L-{key}", "display": "local"})
                concept.setdefault("text", "as written in the chart")
    return out


def _equivalent(system: str, code: str, prefer: tuple[str, ...]) -> tuple[str, str] | None:
    """Return a code of another system that the mappings give the same concept (and attributes), or None."""
    term = default_terminology()
    entry = term.entry(system, code)
    if entry is None:
        return None
    for other in sorted(term.codes_for(entry.concept), key=lambda e: (e.system not in prefer, e.system, e.code)):
        if other.system != system and not other.prefix and dict(other.attributes) == dict(entry.attributes):
            return other.system, other.code
    return None


def other_code_system(bundle: Json) -> Json:
    """Procedures -> an equivalent code of another system (CPT first); Conditions -> one of their codings only."""
    out = copy.deepcopy(bundle)
    for resource in resources(out):
        codings = resource.get("code", {}).get("coding", [])
        if resource["resourceType"] == "Procedure" and codings:
            found = _equivalent(codings[0]["system"], codings[0]["code"], (CPT,))
            if found is not None:
                resource["code"] = {"coding": [{"system": found[0], "code": found[1]}], "text": "procedure"}
        elif resource["resourceType"] == "Condition" and len(codings) > 1:
            resource["code"]["coding"] = [c for c in codings if c.get("system") == SNOMED] or codings[:1]
    return out


REWRITES: dict[str, Rewrite] = {
    "value-as-string-with-unit": value_as_string(with_unit=True),
    "percent-as-bare-number-string": value_as_string(with_unit=False),
    "integer-as-string": integer_as_string,
    "value-as-one-point-range": value_as_range,
    "period-end-date": period_date,
    "issued-only": issued_only,
    "molar-units": molar_units,
    "labs-as-panel-components": as_panels,
    "ki67-in-synoptic-report": ki67_as_synoptic,
    "contained-in-diagnostic-report": contained_in_report,
    "referenced-by-diagnostic-report": referenced_by_report,
    "text-plus-local-code": text_plus_local_code,
    "other-code-system": other_code_system,
}
