"""CDS Hooks 2.0 feedback bodies: validation into records (cds-fb-1/2/3) for idempotent storage."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from cds_hooks.errors import RequestError
from cds_hooks.store import FeedbackRecord

__all__ = ["MAX_ITEMS", "parse_feedback"]

MAX_ITEMS = 200
OUTCOMES = frozenset({"accepted", "overridden"})
# RFC 3339 date-time: a time zone is mandatory (Z or ±hh:mm).
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_ITEM_FIELDS = frozenset({"card", "outcome", "acceptedSuggestions", "overrideReason", "outcomeTimestamp", "extension"})


def _timestamp(value: Any, where: str) -> dt.datetime:
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise RequestError(f"{where} must be an RFC 3339 date-time with a time zone, e.g. 2026-11-26T10:00:00Z",
                           expression=where)
    try:
        parsed = dt.datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    except ValueError:
        raise RequestError(f"{where} is not a valid date-time", expression=where) from None
    return parsed.astimezone(dt.UTC)


def _text(value: Any, where: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RequestError(f"{where} must be a non-empty string", expression=where)
    if len(value) > limit:
        raise RequestError(f"{where} is longer than {limit} characters", expression=where)
    return value


def _item(service_id: str, item: Any, where: str) -> FeedbackRecord:
    if not isinstance(item, dict):
        raise RequestError(f"{where} must be an object", expression=where)
    unknown = sorted(set(item) - _ITEM_FIELDS)
    if unknown:
        raise RequestError(f"{where}.{unknown[0]} is not a feedback field", expression=f"{where}.{unknown[0]}")
    card = _text(item.get("card"), f"{where}.card", 64)
    outcome = item.get("outcome")
    if outcome not in OUTCOMES:
        raise RequestError(f"{where}.outcome must be accepted or overridden", expression=f"{where}.outcome")
    timestamp = _timestamp(item.get("outcomeTimestamp"), f"{where}.outcomeTimestamp")
    accepted: list[str] = []
    suggestions = item.get("acceptedSuggestions")
    if outcome == "accepted":
        if not isinstance(suggestions, list) or not suggestions:
            raise RequestError(f"{where}.acceptedSuggestions is required when the outcome is accepted (cds-fb-1)",
                               expression=f"{where}.acceptedSuggestions")
        for i, s in enumerate(suggestions):
            if not isinstance(s, dict):
                raise RequestError(f"{where}.acceptedSuggestions[{i}] must be an object",
                                   expression=f"{where}.acceptedSuggestions[{i}]")
            accepted.append(_text(s.get("id"), f"{where}.acceptedSuggestions[{i}].id", 64))
    elif suggestions is not None:
        raise RequestError(f"{where}.acceptedSuggestions is only allowed when the outcome is accepted (cds-fb-2)",
                           expression=f"{where}.acceptedSuggestions")
    system = code = display = comment = None
    reason = item.get("overrideReason")
    if reason is not None:
        if outcome != "overridden":
            raise RequestError(f"{where}.overrideReason is only allowed when the outcome is overridden (cds-fb-3)",
                               expression=f"{where}.overrideReason")
        if not isinstance(reason, dict):
            raise RequestError(f"{where}.overrideReason must be an object", expression=f"{where}.overrideReason")
        coding = reason.get("reason")
        if coding is not None:
            if not isinstance(coding, dict):
                raise RequestError(f"{where}.overrideReason.reason must be a Coding",
                                   expression=f"{where}.overrideReason.reason")
            system = _text(coding.get("system"), f"{where}.overrideReason.reason.system", 255)
            code = _text(coding.get("code"), f"{where}.overrideReason.reason.code", 128)
            if coding.get("display") is not None:
                display = _text(coding.get("display"), f"{where}.overrideReason.reason.display", 512)
        if reason.get("userComment") is not None:
            comment = _text(reason.get("userComment"), f"{where}.overrideReason.userComment", 4000)
    return FeedbackRecord(
        service_id=service_id, card_uuid=card, outcome=str(outcome), outcome_timestamp=timestamp,
        accepted_suggestions=tuple(accepted), override_reason_system=system, override_reason_code=code,
        override_reason_display=display, user_comment=comment,
    )


def parse_feedback(service_id: str, body: Mapping[str, Any]) -> list[FeedbackRecord]:
    """Return the feedback items of ``body``; raises RequestError (400) naming the first bad field."""
    items = body.get("feedback")
    if not isinstance(items, list) or not items:
        raise RequestError("feedback must be a non-empty array of feedback items", expression="feedback")
    if len(items) > MAX_ITEMS:
        raise RequestError(f"at most {MAX_ITEMS} feedback items per request", expression="feedback")
    return [_item(service_id, item, f"feedback[{i}]") for i, item in enumerate(items)]
