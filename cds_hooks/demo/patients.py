"""Demo patients for the ``/demo`` EHR page: the public vignette Bundles, prefetch and draft orders.

The page plays the EHR, so this module does what an EHR does for a CDS service: it answers the
service's prefetch templates from the patient's record (a small, honest subset of FHIR search:
instance reads, ``patient``/``subject``, token parameters, dates, ``_sort`` and ``_count``) and
writes draft orders coded with our modality system.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from nelm_fhir.pathways.result import MODALITY_SYSTEM, Modality

__all__ = [
    "MEDICATION_MODALITIES",
    "MODALITY_GROUPS",
    "MODALITY_LABELS",
    "DemoDataError",
    "DemoPatient",
    "draft_order",
    "find_demo_bundle",
    "fulfil_prefetch",
    "list_demo_patients",
    "load_demo_bundle",
    "render_template",
]

MODALITY_LABELS: dict[str, str] = {
    "curative-resection": "Curative liver resection (± ablation)",
    "simultaneous-resection": "Simultaneous resection of primary and NELM",
    "portal-vein-embolization": "Portal vein embolization, then resection",
    "two-stage-hepatectomy": "Two-stage hepatectomy (portal vein ligation)",
    "alpps": "ALPPS",
    "cytoreductive-surgery": "Cytoreductive (debulking) surgery",
    "liver-transplantation": "Liver transplantation",
    "repeat-resection": "Repeat resection of recurrent NELM",
    "rfa": "Radiofrequency ablation",
    "stereotactic-rfa": "Stereotactic RFA",
    "mwa": "Microwave ablation",
    "tae": "Transarterial (bland) embolization",
    "tace": "Transarterial chemoembolization",
    "radioembolization": "Y-90 radioembolization (SIRT)",
    "prrt": "PRRT (177Lu-DOTATATE)",
    "prrt-plus-radioembolization": "PRRT combined with radioembolization",
    "somatostatin-analogue": "Somatostatin analogue (octreotide / lanreotide)",
    "everolimus": "Everolimus",
    "sunitinib": "Sunitinib",
    "chemotherapy": "Chemotherapy (CAPTEM / STZ / platinum-etoposide)",
    "interferon-alpha": "Interferon-α",
}
MODALITY_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Liver surgery", ("curative-resection", "simultaneous-resection", "portal-vein-embolization",
                       "two-stage-hepatectomy", "alpps", "cytoreductive-surgery", "repeat-resection",
                       "liver-transplantation")),
    ("Ablation", ("rfa", "stereotactic-rfa", "mwa")),
    ("Intra-arterial", ("tae", "tace", "radioembolization")),
    ("Radionuclide", ("prrt", "prrt-plus-radioembolization")),
    ("Systemic", ("somatostatin-analogue", "everolimus", "sunitinib", "chemotherapy", "interferon-alpha")),
)
MEDICATION_MODALITIES = frozenset({"somatostatin-analogue", "everolimus", "sunitinib", "chemotherapy",
                                   "interferon-alpha"})
_TOKEN_RE = re.compile(r"\{\{\s*([A-Za-z.]+)\s*\}\}")
_DATE_FIELDS = ("effectiveDateTime", "effectivePeriod", "issued", "recordedDate", "onsetDateTime",
                "performedDateTime", "performedPeriod", "authoredOn", "date", "birthDate")
# Which element a token search parameter looks at, per resource type (first match wins).
_TOKEN_ELEMENTS: dict[str, tuple[str, ...]] = {
    "code": ("code", "medicationCodeableConcept"),
    "category": ("category",),
    "clinical-status": ("clinicalStatus",),
    "verification-status": ("verificationStatus",),
    "status": ("status",),
    "intent": ("intent",),
    "body-site": ("bodySite",),
}


class DemoDataError(ValueError):
    """A demo bundle or prefetch template cannot be used; the message says which and why."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoPatient:
    """One demo patient: id (lowercase vignette id), a title and a one-line clinical description."""

    id: str
    title: str
    description: str
    path: Path


def load_demo_bundle(path: Path, *, as_of: dt.date | None = None) -> dict[str, Any]:
    """Return the FHIR Bundle in ``path``, its dates moved to ``as_of`` if given; raises DemoDataError.

    The vignettes are written as of their ``Bundle.timestamp``; a demo run months later would
    otherwise see every lab as stale. Moving every date by the same number of days keeps ages,
    intervals and "months stable" exactly as the vignette states them.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DemoDataError(f"{path.name}: not readable JSON ({exc})") from exc
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        raise DemoDataError(f"{path.name}: not a FHIR Bundle")
    stamp = data.get("timestamp")
    if as_of is not None and isinstance(stamp, str) and _ISO_DATE.match(stamp):
        days = (as_of - dt.date.fromisoformat(stamp[:10])).days
        if days:
            shifted: dict[str, Any] = _shift_dates(data, dt.timedelta(days=days))
            return shifted
    return data


_ISO_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(T.*)?$")
_SHIFTED_KEYS = frozenset({"date", "issued", "start", "end", "timestamp", "authoredOn", "dateAsserted",
                           "recorded", "lastUpdated"})


def _shift_dates(value: Any, delta: dt.timedelta, key: str = "") -> Any:
    """Return ``value`` with every full date in a date-typed element moved by ``delta``."""
    if isinstance(value, dict):
        return {k: _shift_dates(v, delta, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_shift_dates(v, delta, key) for v in value]
    if isinstance(value, str) and (key in _SHIFTED_KEYS or key.endswith(("Date", "DateTime"))):
        match = _ISO_DATE.match(value)
        if match:
            moved = dt.date.fromisoformat(match.group(1)) + delta
            return moved.isoformat() + (match.group(2) or "")
    return value


def _resources(bundle: Mapping[str, Any]) -> list[dict[str, Any]]:
    entries = bundle.get("entry", [])
    return [e["resource"] for e in entries if isinstance(e, dict) and isinstance(e.get("resource"), dict)]


def _display(concept: Any) -> str:
    if not isinstance(concept, dict):
        return ""
    if concept.get("text"):
        return str(concept["text"])
    for coding in concept.get("coding", []):
        if isinstance(coding, dict) and coding.get("display"):
            return str(coding["display"])
    return ""


def _age(birth: str | None, today: dt.date) -> str:
    if not birth or len(birth) < 4:
        return ""
    try:
        born = dt.date.fromisoformat(birth[:10]) if len(birth) >= 10 else dt.date(int(birth[:4]), 7, 1)
    except ValueError:
        return ""
    years = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    return f"{years} y"


def _describe(bundle: Mapping[str, Any], today: dt.date) -> tuple[str, str]:
    """Return (patient name, one-line description) built from the record itself."""
    resources = _resources(bundle)
    patient = next((r for r in resources if r.get("resourceType") == "Patient"), {})
    names = patient.get("name") or [{}]
    name = names[0].get("text") or " ".join([*names[0].get("given", []), names[0].get("family", "")]).strip()
    parts = [p for p in (_age(patient.get("birthDate"), today), patient.get("gender", "")) if p]
    conditions = [_display(r.get("code")) for r in resources if r.get("resourceType") == "Condition"]
    parts += [c for c in conditions if c][:2]
    return name or str(patient.get("id", "")), " · ".join(parts)


def _titles(demo_dir: Path) -> dict[str, str]:
    """Return vignette titles from ``expected.json`` when it carries them (``title``/``description``)."""
    path = demo_dir / "expected.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    out: dict[str, str] = {}
    items = data.get("vignettes", data) if isinstance(data, dict) else {}
    if isinstance(items, dict):
        for key, value in items.items():
            if isinstance(value, dict):
                title = value.get("title") or value.get("description")
                if isinstance(title, str):
                    out[key.lower()] = title
    return out


def _sort_key(path: Path) -> tuple[int, str]:
    digits = re.sub(r"\D", "", path.stem[:4])
    return (int(digits) if digits else 10_000, path.stem.lower())


_PATIENT_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def find_demo_bundle(demo_dir: Path, patient_id: str) -> Path | None:
    """Return the demo Bundle file of ``patient_id`` (file named after it, else the Patient inside), or None."""
    if not _PATIENT_ID.match(patient_id) or not demo_dir.is_dir():
        return None
    for path in sorted(demo_dir.glob("*.json")):
        if path.stem.lower() == patient_id.lower():
            return path
    for path in sorted(demo_dir.glob("*.json")):
        try:
            bundle = load_demo_bundle(path)
        except DemoDataError:
            continue
        if any(r.get("resourceType") == "Patient" and r.get("id") == patient_id for r in _resources(bundle)):
            return path
    return None


def list_demo_patients(demo_dir: Path, *, today: dt.date | None = None) -> list[DemoPatient]:
    """Return the demo patients found in ``demo_dir`` (each ``*.json`` FHIR Bundle), in vignette order."""
    today = today or dt.date.today()
    titles = _titles(demo_dir)
    out: list[DemoPatient] = []
    for path in sorted(demo_dir.glob("*.json"), key=_sort_key):
        if path.name == "expected.json":
            continue
        try:
            bundle = load_demo_bundle(path)
        except DemoDataError:
            continue  # not a patient record (e.g. a data file next to the bundles)
        patients = [r for r in _resources(bundle) if r.get("resourceType") == "Patient"]
        if len(patients) != 1 or not isinstance(patients[0].get("id"), str):
            continue
        name, description = _describe(bundle, today)
        pid = patients[0]["id"]
        title = titles.get(pid.lower()) or titles.get(path.stem.lower()) or name
        label = f"{path.stem[:1].upper()}{path.stem[1:]} — {title}"
        out.append(DemoPatient(id=pid, title=label, description=description, path=path))
    return out


def render_template(template: str, context: Mapping[str, Any]) -> str:
    """Return ``template`` with ``{{context.x}}`` and ``{{userPractitionerId}}``-style tokens filled."""
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("context."):
            value = context.get(name.removeprefix("context."))
        elif name.startswith("user"):
            user = str(context.get("userId", ""))
            kind = name.removeprefix("user").removesuffix("Id")
            value = user.split("/", 1)[1] if user.startswith(f"{kind}/") else None
        else:
            value = None
        if not isinstance(value, str) or not value:
            raise DemoDataError(f"prefetch token {match.group(0)} has no value in this context")
        return value

    return _TOKEN_RE.sub(fill, template)


def _codings(value: Any) -> Iterable[tuple[str | None, str | None]]:
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, str):
            yield (None, item)
        elif isinstance(item, dict):
            for coding in item.get("coding", []):
                if isinstance(coding, dict):
                    yield (coding.get("system"), coding.get("code"))


def _token_matches(resource: Mapping[str, Any], param: str, wanted: str) -> bool:
    elements = _TOKEN_ELEMENTS.get(param)
    if param == "component-code":  # B27: the codes of an Observation's components (panels, synoptic reports)
        components = resource.get("component")
        present = [c.get("code") for c in components if isinstance(c, dict)] if isinstance(components, list) else []
    elif elements is None:
        return True  # a parameter this small search does not know: return a superset
    else:
        present = [resource[e] for e in elements if e in resource]
    for alt in wanted.split(","):
        system, _, code = alt.rpartition("|") if "|" in alt else (None, "", alt)
        for value in present:
            for sys_, code_ in _codings(value):
                if code_ == code and (system is None or (system == "" and sys_ is None) or system == sys_):
                    return True
    return False


def _date_of(resource: Mapping[str, Any]) -> str:
    for name in _DATE_FIELDS:
        value = resource.get(name)
        if isinstance(value, dict):
            value = value.get("start") or value.get("end")
        if isinstance(value, str):
            return value
    return ""


def _date_matches(resource: Mapping[str, Any], wanted: str) -> bool:
    prefix, value = (wanted[:2], wanted[2:]) if wanted[:2] in {"eq", "ne", "gt", "lt", "ge", "le"} else ("eq", wanted)
    have = _date_of(resource)[: len(value)]
    if not have:
        return False
    return {"eq": have == value, "ne": have != value, "gt": have > value, "lt": have < value,
            "ge": have >= value, "le": have <= value}[prefix]


def _refers_to(resource: Mapping[str, Any], patient_id: str) -> bool:
    for key in ("subject", "patient", "beneficiary"):
        ref = resource.get(key)
        if isinstance(ref, dict) and ref.get("reference") in {f"Patient/{patient_id}", patient_id}:
            return True
    return resource.get("resourceType") == "Patient" and resource.get("id") == patient_id


def _search(resources: list[dict[str, Any]], rtype: str, query: str) -> dict[str, Any]:
    matches = [r for r in resources if r.get("resourceType") == rtype]
    sort: str | None = None
    count: int | None = None
    for raw_name, value in parse_qsl(query, keep_blank_values=True):
        name = raw_name.split(":", 1)[0]
        if name in {"patient", "subject"}:
            pid = value.removeprefix("Patient/")
            matches = [r for r in matches if _refers_to(r, pid)]
        elif name == "_id":
            matches = [r for r in matches if r.get("id") in value.split(",")]
        elif name == "_sort":
            sort = value
        elif name == "_count":
            count = int(value) if value.isdigit() else None
        elif name in {"date", "effective", "onset-date", "recorded-date", "authoredon"}:
            matches = [r for r in matches if _date_matches(r, value)]
        elif not name.startswith("_") and raw_name == name:
            matches = [r for r in matches if _token_matches(r, name, value)]
    if sort:
        for key in reversed(sort.split(",")):
            desc = key.startswith("-")
            if key.lstrip("-") in {"date", "effective", "onset-date", "recorded-date", "authoredon", "_lastUpdated"}:
                matches.sort(key=_date_of, reverse=desc)
    if count is not None:
        matches = matches[:count]
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(matches),
        "entry": [{"fullUrl": f"{r['resourceType']}/{r.get('id', '')}", "resource": r,
                   "search": {"mode": "match"}} for r in matches],
    }


def fulfil_prefetch(
    bundle: Mapping[str, Any], templates: Mapping[str, str], context: Mapping[str, Any]
) -> dict[str, Any]:
    """Return the prefetch an EHR holding ``bundle`` sends for ``templates`` (null = read found nothing)."""
    resources = _resources(bundle)
    out: dict[str, Any] = {}
    for key, template in templates.items():
        query = render_template(template, context)
        path, _, params = query.partition("?")
        parts = path.strip("/").split("/")
        if len(parts) == 2 and not params:
            rtype, rid = parts
            out[key] = next((r for r in resources if r.get("resourceType") == rtype and r.get("id") == rid), None)
        elif len(parts) == 1 and parts[0]:
            out[key] = _search(resources, parts[0], params)
        else:
            raise DemoDataError(f"prefetch template {key!r} is neither a read nor a type search: {template}")
    return out


def draft_order(modality: str, patient_id: str, *, today: dt.date | None = None) -> dict[str, Any]:
    """Return a draft ServiceRequest (procedures) or MedicationRequest (drugs) for ``modality``."""
    if modality not in {m.value for m in Modality}:
        raise DemoDataError(f"unknown modality {modality!r}")
    today = today or dt.date.today()
    concept = {"coding": [{"system": MODALITY_SYSTEM, "code": modality, "display": MODALITY_LABELS[modality]}],
               "text": MODALITY_LABELS[modality]}
    common: dict[str, Any] = {
        "id": f"draft-{modality}-{uuid.uuid4().hex[:8]}",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{patient_id}"},
        "authoredOn": today.isoformat(),
        "requester": {"reference": "Practitioner/demo-clinician", "display": "Dr Demo (oncology)"},
    }
    if modality in MEDICATION_MODALITIES:
        return {"resourceType": "MedicationRequest", **common, "medicationCodeableConcept": concept}
    return {"resourceType": "ServiceRequest", **common, "code": concept,
            "reasonCode": [{"text": "Neuroendocrine liver metastases"}]}
