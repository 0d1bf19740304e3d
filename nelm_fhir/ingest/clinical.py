"""Clinical facts of PATHWAY.md B28 (text only), B31, B32, B37 and B38 that the per-resource readers hand over.

- ``text_only``: a Condition or Procedure with no recognised code whose text names a finding of
  B15-B17, a pregnancy or an extrahepatic site becomes an ``UnconfirmedRecord`` ("confirm: <text>").
  The matcher is deliberately narrow (English clinical phrases, negations skipped): it exists so that
  an uncoded "Whipple 2019" can never leave an option recommended, not to read free text in general.
- ``pregnancy_status``: LOINC 82810-3 answered pregnant / not pregnant / unknown (B32).
- ``stated_grade`` / ``resection_extent``: the local findings ``who-grade`` (B37) and ``resection-extent`` (B38).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from nelm_fhir.ingest.collected import Collected
from nelm_fhir.ingest.common import Ctx, Item, coding_pairs, model_codings, to_date
from nelm_fhir.model import ConditionState, Fact, Grade, PregnancyRecord, UnconfirmedRecord

__all__ = [
    "PREGNANCY_MONTHS",
    "TOPICS",
    "morphology_extras",
    "pregnancy_status",
    "read_extra_finding",
    "text_only",
    "text_topics",
]

_SITE = (
    r"bones?|bony|osseous|skeletal|vertebra\w*|spine|spinal|lungs?|pulmonary|pleura\w*|peritone\w*|omentum|omental"
    r"|lymph[- ]?nodes?|nodal|brain|cerebral|adrenal|ovar\w*|breast|skin|mediastin\w*|orbit\w*"
)
# "secondary" only as a tumour word ("secondary malignant neoplasm of bone"), never "secondary to" / "infection".
_SECONDARY = r"secondary\s+(?:malignant\s+)?(?:neoplasm|tumou?r|cancer|carcinoma|malignancy|deposits?)"
_SPREAD = rf"metasta\w*|deposits?|disseminat\w*|carcinomatosis|{_SECONDARY}"
_SPREAD_AFTER = r"metasta\w*|deposits?|carcinomatosis"  # "bone metastases", "peritoneal carcinomatosis"

# topic -> pattern; each names one thing PATHWAY.md B15-B17, B32 or B9 turns into a contraindication.
TOPICS: dict[str, re.Pattern[str]] = {
    "bilio-enteric": re.compile(
        r"\bwhipple\b|pancreat(?:ic)?o-?duodenectom|duodeno-?pancreatectom|hepatico-?jejunostom"
        r"|choledocho-?(?:jejuno|duodeno|entero)stom|hepatico-?(?:duodeno|entero)stom"
        r"|\bbilio-?(?:enteric|digestive|jejunal)"
        r"|\bbiliary[- ](?:enteric[- ])?(?:bypass|anastomos)"
        r"|\bbile[- ]duct[- ](?:bypass|to[- ](?:bowel|jejunum|intestine))"
        # B28 (reading): a pancreatic resection or an anastomosis status named only by text may be a Whipple
        r"|\bexcision\s+of\s+(?:the\s+)?pancreas|\bpancreat\w*\s+(?:head\s+)?(?:excision|resection)|\bpancreatectom"
        r"|\bintestinal\s+bypass|\banastomosis\s+status|\bduodenectom"
        r"|\b(?:excision|resection)\s+of\s+(?:the\s+)?duodenum",
        re.IGNORECASE,
    ),
    "portal-vein-thrombosis": re.compile(
        r"portal[- ]ve(?:in|nous)[- ](?:thromb\w*|occlusion|tumou?r[- ]thromb\w*)"
        r"|thromb\w*\s+(?:of\s+)?(?:the\s+)?(?:main\s+|left\s+|right\s+)?portal[- ]vein|\bPVT\b",
        re.IGNORECASE,
    ),
    "hepatic-failure": re.compile(
        r"\b(?:hepatic|liver)[- ](?:failure|insufficiency|decompensation)"
        r"|\bdecompensated[- ](?:liver|cirrhosis|hepatic)"
        r"|\bhepatic[- ]encephalopathy|\bhepatorenal",
        re.IGNORECASE,
    ),
    "pregnancy": re.compile(
        r"\bpregnan(?:t|cy)\b|\bgravid\w*|\bintra-?uterine\s+(?:gestation|pregnancy)"
        r"|\b(?:first|second|third)\s+trimester",
        re.IGNORECASE,
    ),
    "extrahepatic": re.compile(
        rf"\b(?:{_SPREAD})\b[^.;]{{0,40}}?\b(?:{_SITE})\b|\b(?:{_SITE})\b[^.;]{{0,25}}?\b(?:{_SPREAD_AFTER})\b",
        re.IGNORECASE,
    ),
}
# A negation (or a past pregnancy) shortly before the match, in the same clause, means the record does not say it.
_NEGATED = re.compile(
    r"\b(?:no|not|non|without|denies|denied|negative\s+for|free\s+of|ruled\s+out|rule\s+out|r/o|excluded"
    r"|absence\s+of|resolved)\b[^.;,]{0,40}$",
    re.IGNORECASE,
)
_PAST = re.compile(r"\b(?:history\s+of|h/o|previous|prior|past)\b[^.;,]{0,25}$", re.IGNORECASE)
_NEGATED_AFTER = re.compile(r"^[^.;,]{0,20}\b(?:negative|excluded|ruled\s+out|not\s+seen|absent)\b", re.IGNORECASE)

_REFUTED = frozenset({"refuted", "entered-in-error"})
_OVER = frozenset({"inactive", "remission", "resolved"})
_PROCEDURE_DONE = frozenset({"completed", "in-progress", "unknown"})
_MAX_TEXT = 160
PREGNANCY_MONTHS = 10  # B32 (rules data "pregnancy.condition-months"; fixed there, not site-configurable)


def _months(start: dt.date, end: dt.date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month - (1 if end.day < start.day else 0)


def text_topics(text: str) -> list[str]:
    """Return the topics ``text`` names (in TOPICS order), skipping negated or past mentions."""
    found: list[str] = []
    for topic, pattern in TOPICS.items():
        for match in pattern.finditer(text):
            before, after = text[: match.start()], text[match.end() :]
            if _NEGATED.search(before) or _NEGATED_AFTER.search(after):
                continue
            if topic == "pregnancy" and _PAST.search(before):
                continue
            found.append(topic)
            break
    return found


def _texts(concept: Any) -> list[str]:
    if not isinstance(concept, dict):
        return []
    texts = [concept["text"]] if isinstance(concept.get("text"), str) else []
    codings = concept.get("coding")
    for coding in codings if isinstance(codings, list) else ():
        if isinstance(coding, dict) and isinstance(coding.get("display"), str):
            texts.append(coding["display"])
    return texts


def _codes(raw: dict[str, Any], keys: tuple[str, ...]) -> set[str]:
    return {c for key in keys for c in _status_codes(raw.get(key))}


def _status_codes(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [code for _system, code in coding_pairs(value) if code]


def _date(raw: dict[str, Any], keys: tuple[str, ...]) -> dt.date | None:
    for key in keys:
        value = raw.get(key)
        if isinstance(value, dict):
            value = value.get("start") or value.get("end")
        if isinstance(value, str):
            date = to_date(value)
            if date is not None:
                return date
    return None


def text_only(item: Item, ctx: Ctx, out: Collected) -> None:
    """B28: note a Condition/Procedure that no code makes relevant but whose text names a decisive finding."""
    raw = item.raw
    rtype = raw.get("resourceType")
    concept = raw.get("code")
    if any(ctx.term.entry(system, code) is not None for system, code in coding_pairs(concept)):
        return  # a recognised code decides (relevant or deliberately not)
    texts = _texts(concept)
    if not texts:
        return
    if rtype == "Condition":
        if _codes(raw, ("verificationStatus",)) & _REFUTED:
            return
        over = bool(_codes(raw, ("clinicalStatus",)) & _OVER)
        date = _date(raw, ("onsetDateTime", "onsetPeriod", "recordedDate"))
    elif rtype == "Procedure":
        if raw.get("status") not in _PROCEDURE_DONE:
            return
        over = False
        date = _date(raw, ("performedDateTime", "performedPeriod"))
    else:
        return
    if date is not None and date > ctx.as_of:
        return
    text = " / ".join(dict.fromkeys(t.strip() for t in texts if t.strip()))
    for topic in dict.fromkeys(t for one in texts for t in text_topics(one)):
        if over and topic != "bilio-enteric":  # a resolved condition no longer holds; an anastomosis stays
            continue
        if topic == "pregnancy" and date is not None and _months(date, ctx.as_of) >= PREGNANCY_MONTHS:
            continue  # B32: a pregnancy recorded 10 months ago or more is over
        out.unconfirmed.append(UnconfirmedRecord(topic=topic, text=text[:_MAX_TEXT], source=item.ref, date=date))
        ctx.problem(
            f"{item.ref}.code",
            f"coded only by text ({text[:_MAX_TEXT]!r}): read as a possible {topic.replace('-', ' ')} "
            "to confirm; the options it could contraindicate are not rated (B28)",
            severity="warning",
        )


def pregnancy_status(obs: Any, ref: str, date: dt.date | None, ctx: Ctx, out: Collected) -> None:
    """B32: LOINC 82810-3 pregnancy status (LA15173-0 / SNOMED 77386006 pregnant; LA26683-5 / 60001007 not)."""
    answer = None
    for system, code in model_codings(getattr(obs, "valueCodeableConcept", None)):
        found = ctx.term.entry(system, code)
        if found is None:
            continue
        if found.concept in {"pregnancy:pregnant", "condition:pregnancy"}:
            answer = "pregnant"
            break
        if found.concept in {"pregnancy:not-pregnant", "pregnancy:unknown"}:
            answer = found.name
    if answer is None:
        ctx.problem(f"{ref}.valueCodeableConcept", "pregnancy status answer not recognised (LA15173-0, LA26683-5)")
        return
    if answer == "unknown":
        return
    if date is None and answer == "pregnant":
        # B29 makes an undated result stale; "pregnant" of unknown age is neither current nor absent (B28).
        text = "pregnancy status 'pregnant' without a date"
        out.unconfirmed.append(UnconfirmedRecord(topic="pregnancy", text=text, source=ref))
        return
    out.pregnancy.append(
        PregnancyRecord(
            source=ref,
            code="http://loinc.org|82810-3",
            kind="observation",
            pregnant=answer == "pregnant",
            state=ConditionState.ACTIVE,
            date=date,
        )
    )


def read_extra_finding(obs: Any, ref: str, code: str, ctx: Ctx) -> object | None:
    """Return the value of the local findings ``who-grade`` (a Grade) and ``resection-extent`` ("minor"/"major")."""
    pairs = model_codings(getattr(obs, "valueCodeableConcept", None))
    for system, value in pairs:
        found = ctx.term.entry(system, value)
        if found is None:
            continue
        if code == "who-grade":
            grade = found.name if found.namespace == "who-grade" else found.attributes.get("grade")
            if grade is not None:
                return Grade(grade)
        elif code == "resection-extent" and found.namespace == "resection-extent":
            return found.name
    what = "a WHO grade G1/G2/G3" if code == "who-grade" else "minor or major"
    ctx.problem(f"{ref}.valueCodeableConcept", f"{code}: value is not {what}")
    return None


def morphology_extras(entry_attributes: Mapping[str, str], ref: str, date: dt.date | None, out: Collected) -> None:
    """B37: a morphology concept naming a WHO grade (SNOMED 1286769009 ...) is a stated grade."""
    grade = entry_attributes.get("grade")
    if grade is not None:
        out.add_finding("who-grade", Fact(value=Grade(grade), source=ref, date=date))
