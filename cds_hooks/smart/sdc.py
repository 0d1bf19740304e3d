"""FHIR SDC for the recording form: the Questionnaire, populate, and Observation-based extraction.

Follows the HL7 SDC implementation guide (R4):

- the :func:`questionnaire` carries ``item.code`` for every finding and ``sdc-questionnaire-observationExtract``
  at its root (Observation-based extraction: each answered item with a code becomes one Observation whose
  ``code`` is ``item.code`` and whose ``value[x]`` is the answer), plus ``sdc-questionnaire-observationLinkPeriod``
  (Observation-based population: a recent enough Observation with the item's code pre-fills it);
- :func:`populate` returns an ``in-progress`` QuestionnaireResponse from the record's current values and,
  for a finding the record lacks, from an affirmed text candidate. A proposal is never a value of the record:
  its answer carries the ``proposed-from`` extension (report reference, quoted sentence, report date);
- :func:`extract` turns a completed QuestionnaireResponse into Observations (``derivedFrom`` the response and,
  when the clinician kept a proposed value, the report it came from) and one Provenance naming the clinician.

Pure functions over raw JSON dicts; the routes are in :mod:`cds_hooks.smart.sdc_routes`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cds_hooks.smart.capture import CATEGORY_SYSTEM, FIELDS, UCUM, CaptureField
from nelm_fhir.pathways.result import FINDING_SYSTEM

__all__ = [
    "QUESTIONNAIRE_URL",
    "QUESTIONNAIRE_VERSION",
    "ExtractResult",
    "Proposal",
    "SdcItem",
    "extract",
    "populate",
    "provenance",
    "questionnaire",
]

QUESTIONNAIRE_ID = "nelm-findings"
QUESTIONNAIRE_URL = "https://nelm-cds.org/fhir/Questionnaire/nelm-findings"
QUESTIONNAIRE_VERSION = "1.0.0"
SDC = "http://hl7.org/fhir/uv/sdc/StructureDefinition"
OBSERVATION_EXTRACT = f"{SDC}/sdc-questionnaire-observationExtract"
OBSERVATION_LINK_PERIOD = f"{SDC}/sdc-questionnaire-observationLinkPeriod"
QUESTIONNAIRE_UNIT = "http://hl7.org/fhir/StructureDefinition/questionnaire-unit"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
PROPOSED_FROM = "https://nelm-cds.org/fhir/StructureDefinition/proposed-from"
OPEN_ITEM = "https://nelm-cds.org/fhir/StructureDefinition/open-item"
LOINC = "http://loinc.org"
EFFECTIVE_LINK_ID = "effective"
PROVENANCE_PARTICIPANT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
UNIT_LABELS = {"/2.mm2": "per 2 mm²"}  # what the form shows for a UCUM code that is not plain words
LINK_PERIOD_DAYS = 365  # engineering default: a finding older than a year is not offered as current


@dataclass(frozen=True, slots=True, kw_only=True)
class SdcItem:
    """One question: the capture field it mirrors and the code its Observation carries."""

    field: CaptureField
    system: str
    code: str
    display: str

    @property
    def link_id(self) -> str:
        """Return the item's linkId (the finding's code: stable across versions)."""
        return self.field.code


def _items() -> tuple[SdcItem, ...]:
    items = [SdcItem(field=f, system=FINDING_SYSTEM, code=f.code, display=f.label) for f in FIELDS]
    ki67 = CaptureField(code="ki67-percent", label="Ki-67 index", kind="percent", minimum=0, maximum=100, unit="%",
                        category="laboratory", help="Share of Ki-67 positive tumour cells, 0–100 %")
    items.append(SdcItem(field=ki67, system=LOINC, code="29593-1",
                         display="Cells.Ki-67 nuclear Ag/cells in Tissue by Immune stain"))
    return tuple(items)


ITEMS: tuple[SdcItem, ...] = _items()
ITEM_BY_LINK = {i.link_id: i for i in ITEMS}


def _item_type(f: CaptureField) -> str:
    return {"percent": "decimal", "quantity": "decimal", "integer": "integer", "boolean": "boolean"}.get(
        f.kind, "choice")


def _bound(url: str, f: CaptureField, value: float) -> dict[str, Any]:
    return {"url": url, "valueInteger" if f.kind == "integer" else "valueDecimal":
            int(value) if f.kind == "integer" else value}


def _question(item: SdcItem) -> dict[str, Any]:
    f = item.field
    q: dict[str, Any] = {
        "linkId": item.link_id,
        "code": [{"system": item.system, "code": item.code, "display": item.display}],
        "text": f.label,
        "type": _item_type(f),
        "required": False,
        "repeats": False,
    }
    extensions: list[dict[str, Any]] = [
        {"url": OBSERVATION_LINK_PERIOD, "valueDuration": {
            "value": LINK_PERIOD_DAYS, "unit": "days", "system": UCUM, "code": "d"}},
    ]
    if f.unit:
        unit = {"system": UCUM, "code": f.unit, "display": UNIT_LABELS.get(f.unit, f.unit)}
        extensions.append({"url": QUESTIONNAIRE_UNIT, "valueCoding": unit})
    if f.minimum is not None:
        extensions.append(_bound(MIN_VALUE, f, f.minimum))
    if f.maximum is not None:
        extensions.append(_bound(MAX_VALUE, f, f.maximum))
    q["extension"] = extensions
    if f.kind == "choice":
        q["answerOption"] = [{"valueCoding": {"system": FINDING_SYSTEM, "code": c, "display": label}}
                             for c, label in f.choices]
    q["item"] = [{"linkId": f"{item.link_id}.help", "type": "display", "text": f.help}]
    return q


def questionnaire(*, date: str = "2026-12-02") -> dict[str, Any]:
    """Return the published SDC Questionnaire of the findings the app can record."""
    return {
        "resourceType": "Questionnaire",
        "id": QUESTIONNAIRE_ID,
        "meta": {"profile": [f"{SDC}/sdc-questionnaire-extr-obsn", f"{SDC}/sdc-questionnaire-pop-obsn"]},
        "url": QUESTIONNAIRE_URL,
        "version": QUESTIONNAIRE_VERSION,
        "name": "NelmFindings",
        "title": "NELM findings the record lacks",
        "status": "active",
        "subjectType": ["Patient"],
        "date": date,
        "publisher": "NELM Pathways",
        "description": "Findings that decide NELM treatment options and are often only written in reports. "
                       "Each answered question becomes one Observation (SDC Observation-based extraction).",
        "extension": [{"url": OBSERVATION_EXTRACT, "valueBoolean": True}],
        "item": [
            *(_question(i) for i in ITEMS),
            {"linkId": EFFECTIVE_LINK_ID, "type": "date", "text": "Date of the findings (report or MDT date)",
             "required": False},
        ],
    }


# ---- populate -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Proposal:
    """A value proposed from report text: the answer and where it was read."""

    link_id: str
    answer: dict[str, Any]  # a QuestionnaireResponse answer: {"valueDecimal": 40.0} …
    document: str  # "DiagnosticReport/ct-1"
    sentence: str
    date: dt.date | None


def _codings(resource: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    code = resource.get("code")
    for c in (code.get("coding") if isinstance(code, Mapping) else None) or []:
        if isinstance(c, Mapping):
            yield str(c.get("system", "")), str(c.get("code", ""))


def _obs_date(obs: Mapping[str, Any]) -> str:
    for key in ("effectiveDateTime", "issued"):
        if isinstance(obs.get(key), str):
            return str(obs[key])[:10]
    period = obs.get("effectivePeriod")
    if isinstance(period, Mapping) and isinstance(period.get("start"), str):
        return str(period["start"])[:10]
    return ""


def answer_of(item: SdcItem, obs: Mapping[str, Any]) -> dict[str, Any] | None:
    """Return the QuestionnaireResponse answer an Observation's value gives this item, or None."""
    f = item.field
    kind = _item_type(f)
    if kind == "decimal":
        qty = obs.get("valueQuantity")
        if isinstance(qty, Mapping) and isinstance(qty.get("value"), int | float) and not qty.get("comparator"):
            unit = qty.get("code") or qty.get("unit")
            if unit in {f.unit, None}:
                return {"valueDecimal": float(qty["value"])}
        return None
    if kind == "integer":
        value = obs.get("valueInteger")
        return {"valueInteger": value} if isinstance(value, int) and not isinstance(value, bool) else None
    if kind == "boolean":
        value = obs.get("valueBoolean")
        return {"valueBoolean": value} if isinstance(value, bool) else None
    concept = obs.get("valueCodeableConcept")
    for c in (concept.get("coding") if isinstance(concept, Mapping) else None) or []:
        if isinstance(c, Mapping) and c.get("system") == FINDING_SYSTEM and c.get("code") in dict(f.choices):
            code = str(c["code"])
            return {"valueCoding": {"system": FINDING_SYSTEM, "code": code, "display": dict(f.choices)[code]}}
    return None


def current_answers(resources: Iterable[Mapping[str, Any]], *, as_of: dt.date) -> dict[str, dict[str, Any]]:
    """Return linkId → answer from the newest final Observation of each item within its link period."""
    cutoff = (as_of - dt.timedelta(days=LINK_PERIOD_DAYS)).isoformat()
    best: dict[str, tuple[str, dict[str, Any]]] = {}
    for res in resources:
        if res.get("resourceType") != "Observation" or res.get("status") not in {"final", "amended", "corrected"}:
            continue
        date = _obs_date(res)
        if date and date < cutoff:
            continue
        for system, code in _codings(res):
            item = next((i for i in ITEMS if i.system == system and i.code == code), None)
            if item is None:
                continue
            answer = answer_of(item, res)
            if answer is not None and (item.link_id not in best or date > best[item.link_id][0]):
                best[item.link_id] = (date, answer)
    return {k: v for k, (_, v) in best.items()}


def proposal_answer(item: SdcItem, value: Any) -> dict[str, Any] | None:
    """Return the answer a candidate's value (Quantity, bool or CodeValue of the text reader) gives, or None."""
    kind = _item_type(item.field)
    number = getattr(value, "value", None)
    if kind == "decimal" and isinstance(number, int | float) and not getattr(value, "comparator", None):
        if getattr(value, "unit", None) == item.field.unit and math.isfinite(number):
            return {"valueDecimal": float(number)}
        return None
    if kind == "integer" and isinstance(number, int | float) and not getattr(value, "comparator", None):
        return {"valueInteger": int(number)} if float(number).is_integer() else None
    if kind == "boolean":
        return {"valueBoolean": value} if isinstance(value, bool) else None
    code = getattr(value, "code", None)
    if kind == "choice" and code in dict(item.field.choices):
        return {"valueCoding": {"system": FINDING_SYSTEM, "code": code, "display": dict(item.field.choices)[code]}}
    return None


def proposals_from(candidates: Iterable[Any]) -> dict[str, Proposal]:
    """Return linkId → the newest affirmed candidate for each item (text reader Candidates in)."""
    out: dict[str, Proposal] = {}
    for c in candidates:
        if not getattr(c, "proposed", False):
            continue
        item = ITEM_BY_LINK.get(str(getattr(c.finding, "value", c.finding)))
        answer = proposal_answer(item, c.value) if item else None
        if item is None or answer is None:
            continue
        old = out.get(item.link_id)
        if old is None or (c.date or dt.date.min) > (old.date or dt.date.min):
            out[item.link_id] = Proposal(link_id=item.link_id, answer=answer, document=c.document,
                                         sentence=c.sentence, date=c.date)
    return out


def _proposed_from(p: Proposal) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [
        {"url": "source", "valueReference": {"reference": p.document}},
        {"url": "quote", "valueString": p.sentence},
    ]
    if p.date:
        parts.append({"url": "date", "valueDate": p.date.isoformat()})
    return {"url": PROPOSED_FROM, "extension": parts}


def populate(
    *,
    patient_id: str,
    resources: Iterable[Mapping[str, Any]],
    proposals: Mapping[str, Proposal],
    as_of: dt.date,
    authored: dt.datetime,
    open_items: Sequence[str] = (),
) -> dict[str, Any]:
    """Return an in-progress QuestionnaireResponse pre-filled from the record, then from text proposals.

    A recorded value wins over a proposal. A proposal's answer carries ``proposed-from`` (report, quoted
    sentence, date). ``open_items`` (from the launch's appContext gap) are kept as ``open-item`` extensions
    so the form opens at them.
    """
    current = current_answers(resources, as_of=as_of)
    items: list[dict[str, Any]] = []
    for item in ITEMS:
        answer = current.get(item.link_id)
        entry: dict[str, Any] = {"linkId": item.link_id, "text": item.field.label}
        if answer is not None:
            entry["answer"] = [answer]
        elif item.link_id in proposals:
            p = proposals[item.link_id]
            entry["answer"] = [{**p.answer, "extension": [_proposed_from(p)]}]
        else:
            continue
        items.append(entry)
    qr: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": f"{QUESTIONNAIRE_URL}|{QUESTIONNAIRE_VERSION}",
        "status": "in-progress",
        "subject": {"reference": f"Patient/{patient_id}"},
        "authored": _instant(authored),
    }
    opened = [link for link in open_items if link in ITEM_BY_LINK]
    if opened:
        qr["extension"] = [{"url": OPEN_ITEM, "valueString": link} for link in opened]
    if items:
        qr["item"] = items
    return qr


def with_sources(
    q: dict[str, Any], proposals: Mapping[str, Proposal], titles: Mapping[str, str]
) -> dict[str, Any]:
    """Return a copy of the Questionnaire whose proposed items show where the value was read (a display item).

    The display items carry no answer, so a response to this copy is a response to the published Questionnaire.
    """
    out = dict(q, item=[dict(i) for i in q["item"]])
    for item in out["item"]:
        p = proposals.get(item["linkId"])
        if p is None:
            continue
        when = f" {p.date.isoformat()}" if p.date else ""
        text = f"Proposed from {titles.get(p.document, 'a report')}{when}: “{p.sentence}” — check before submitting."
        item["item"] = [*item.get("item", []), {"linkId": f"{item['linkId']}.source", "type": "display",
                                                "text": text}]
    return out


def _instant(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# ---- extraction -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ExtractResult:
    """Observations (one per answered item) and per-item errors (linkId → message)."""

    observations: tuple[dict[str, Any], ...]
    errors: Mapping[str, str]
    effective: dt.date | None


def _walk(items: Any) -> Iterable[Mapping[str, Any]]:
    for it in items or []:
        if not isinstance(it, Mapping):
            continue
        yield it
        yield from _walk(it.get("item"))
        for ans in it.get("answer") or []:
            if isinstance(ans, Mapping):
                yield from _walk(ans.get("item"))


def _check(item: SdcItem, answer: Mapping[str, Any]) -> tuple[Any, str | None]:
    """Return (typed value, error) of one answer, with the Questionnaire's type and bounds."""
    f = item.field
    kind = _item_type(f)
    key = {"decimal": "valueDecimal", "integer": "valueInteger", "boolean": "valueBoolean"}.get(kind, "valueCoding")
    value = answer.get(key)
    if kind == "decimal" and value is None and isinstance(answer.get("valueQuantity"), Mapping):
        value = answer["valueQuantity"].get("value")  # some renderers send decimal+unit as a Quantity
    if kind == "decimal" and isinstance(answer.get("valueInteger"), int):
        value = answer["valueInteger"]
    if kind in {"decimal", "integer"}:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return None, f"{f.label}: enter a number"
        if kind == "integer" and not float(value).is_integer():
            return None, f"{f.label}: enter a whole number"
        if (f.minimum is not None and value < f.minimum) or (f.maximum is not None and value > f.maximum):
            return None, f"{f.label}: must be between {f.minimum:g} and {f.maximum:g}"
        return (int(value) if kind == "integer" else float(value)), None
    if kind == "boolean":
        return (value, None) if isinstance(value, bool) else (None, f"{f.label}: choose Yes or No")
    if isinstance(value, Mapping) and value.get("code") in dict(f.choices) and value.get("system") in {
            FINDING_SYSTEM, None}:
        return str(value["code"]), None
    return None, f"{f.label}: choose one of the listed values"


def _value(item: SdcItem, value: Any) -> dict[str, Any]:
    f = item.field
    kind = _item_type(f)
    if kind == "decimal":
        unit = f.unit or "1"
        return {"valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}}
    if kind == "integer":
        return {"valueInteger": value}
    if kind == "boolean":
        return {"valueBoolean": value}
    display = dict(f.choices)[value]
    return {"valueCodeableConcept": {"coding": [{"system": FINDING_SYSTEM, "code": value, "display": display}],
                                     "text": display}}


def extract(
    qr: Mapping[str, Any],
    *,
    qr_reference: str,
    patient_id: str,
    proposals: Mapping[str, Proposal],
    already: Mapping[str, dict[str, Any]],
    issued: dt.datetime,
    today: dt.date,
    author: str | None,
    encounter: str | None = None,
) -> ExtractResult:
    """Return the Observations of a completed response (SDC Observation-based extraction).

    ``qr_reference`` is how the Observations cite the response (``QuestionnaireResponse/id`` or a bundle
    ``urn:uuid:``). An answer equal to the record's current value (``already``) is not extracted again.
    An answer equal to the proposal for its item is ``derivedFrom`` the proposal's report too, and dated by
    it when the form gives no date.
    """
    errors: dict[str, str] = {}
    subject = qr.get("subject")
    if qr.get("resourceType") != "QuestionnaireResponse":
        errors["form"] = "Not a QuestionnaireResponse"
    elif str(qr.get("questionnaire", "")).split("|")[0] != QUESTIONNAIRE_URL:
        errors["form"] = "The response answers another questionnaire"
    elif not isinstance(subject, Mapping) or subject.get("reference") not in {f"Patient/{patient_id}", None}:
        errors["form"] = "The response is about another patient; nothing was written"
    effective = today
    dated = False
    answered: list[tuple[SdcItem, Any, dict[str, Any]]] = []
    for entry in _walk(qr.get("item")):
        link = str(entry.get("linkId", ""))
        answers = [a for a in entry.get("answer") or [] if isinstance(a, Mapping)]
        if link == EFFECTIVE_LINK_ID and answers:
            raw = answers[0].get("valueDate")
            try:
                effective = dt.date.fromisoformat(str(raw))
            except ValueError:
                errors[link] = "Date of the findings: use YYYY-MM-DD"
            else:
                dated = True
                if effective > today:
                    errors[link] = "Date of the findings: cannot be in the future"
            continue
        item = ITEM_BY_LINK.get(link)
        if item is None or not answers:
            continue
        if len(answers) > 1:
            errors[link] = f"{item.field.label}: one answer only"
            continue
        value, error = _check(item, answers[0])
        if error:
            errors[link] = error
            continue
        answer = _answer_for(item, value)
        if already.get(link) == answer:
            continue  # the record holds this value already
        answered.append((item, value, answer))
    if errors:
        return ExtractResult(observations=(), errors=errors, effective=None)
    observations: list[dict[str, Any]] = []
    for item, value, answer in answered:
        derived = [{"reference": qr_reference}]
        p = proposals.get(item.link_id)
        when = effective
        if p is not None and p.answer == answer:
            derived.append({"reference": p.document})
            if not dated and p.date:
                when = p.date  # the kept value is the report's finding: its date, unless the form gave one
        obs: dict[str, Any] = {
            "resourceType": "Observation",
            "status": "final",
            "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": item.field.category}]}],
            "code": {"coding": [{"system": item.system, "code": item.code, "display": item.display}],
                     "text": item.field.label},
            "subject": {"reference": f"Patient/{patient_id}"},
            "effectiveDateTime": when.isoformat(),
            "issued": _instant(issued),
            **_value(item, value),
            "derivedFrom": derived,
        }
        if encounter:
            obs["encounter"] = {"reference": encounter if "/" in encounter else f"Encounter/{encounter}"}
        if author:
            obs["performer"] = [{"reference": author}]
        observations.append(obs)
    return ExtractResult(observations=tuple(observations), errors={}, effective=effective)


def _answer_for(item: SdcItem, value: Any) -> dict[str, Any]:
    kind = _item_type(item.field)
    if kind == "decimal":
        return {"valueDecimal": float(value)}
    if kind == "integer":
        return {"valueInteger": int(value)}
    if kind == "boolean":
        return {"valueBoolean": value}
    return {"valueCoding": {"system": FINDING_SYSTEM, "code": value, "display": dict(item.field.choices)[value]}}


def provenance(
    *, targets: Sequence[str], sources: Sequence[str], author: str | None, recorded: dt.datetime,
) -> dict[str, Any]:
    """Return the Provenance of one submission: what was written, by whom, read from which reports."""
    who: dict[str, Any] = {"reference": author} if author else {
        "display": "Clinician using NELM Pathways (the launch named no user)"}
    prov: dict[str, Any] = {
        "resourceType": "Provenance",
        "target": [{"reference": t} for t in targets],
        "recorded": _instant(recorded),
        "activity": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation",
                                 "code": "CREATE"}]},
        "agent": [{"type": {"coding": [{"system": PROVENANCE_PARTICIPANT, "code": "author"}]}, "who": who}],
    }
    if sources:
        prov["entity"] = [{"role": "source", "what": {"reference": s}} for s in sources]
    return prov


def report_sources(observations: Iterable[Mapping[str, Any]]) -> list[str]:
    """Return the reports the Observations were derived from (not the QuestionnaireResponse), in order."""
    out: list[str] = []
    for obs in observations:
        for d in obs.get("derivedFrom") or []:
            ref = str(d.get("reference", ""))
            if not ref.startswith(("QuestionnaireResponse/", "urn:")) and ref not in out:
                out.append(ref)
    return out


def completed(qr: Mapping[str, Any], *, authored: dt.datetime, author: str | None) -> dict[str, Any]:
    """Return the submitted response as it is stored: completed, authored now, by the clinician."""
    out = dict(qr)
    out.pop("id", None)
    out["status"] = "completed"
    out["authored"] = _instant(authored)
    if author:
        out["author"] = {"reference": author}
    return out
