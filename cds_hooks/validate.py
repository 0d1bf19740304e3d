"""A strict validator of CDS Hooks 2.0 service responses, written from the specification's rules.

``validate_cds_response(body)`` returns a list of problems, each naming the JSON path
(``cards[0].source.topic.display: …``); an empty list means valid. It checks required fields,
enumerations, the 140-character summary, conditional fields (suggestions ⇒ selectionBehavior,
delete ⇒ resourceId, appContext only on smart links, override reasons need display), unknown
fields, and that no element is null or empty (the one exception: ``"cards": []``).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

__all__ = ["validate_cds_response"]

INDICATORS = frozenset({"info", "warning", "critical"})
SELECTION_BEHAVIORS = frozenset({"at-most-one", "any"})
ACTION_TYPES = frozenset({"create", "update", "delete"})
LINK_TYPES = frozenset({"absolute", "smart"})

_CARD_FIELDS = frozenset({"uuid", "summary", "detail", "indicator", "source", "suggestions", "selectionBehavior",
                          "overrideReasons", "links", "extension"})
_SOURCE_FIELDS = frozenset({"label", "url", "icon", "topic", "extension"})
_SUGGESTION_FIELDS = frozenset({"label", "uuid", "isRecommended", "actions", "extension"})
_ACTION_FIELDS = frozenset({"type", "description", "resource", "resourceId", "extension"})
_LINK_FIELDS = frozenset({"label", "url", "type", "appContext", "autolaunchable", "extension"})
_CODING_FIELDS = frozenset({"system", "code", "display", "extension"})
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_RELATIVE_REFERENCE = re.compile(r"^[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}$")


def _no_empty(value: Any, path: str, out: list[str]) -> None:
    """Report null and empty values anywhere below ``value`` (JSON rule of CDS Hooks)."""
    if value is None:
        out.append(f"{path}: null is not allowed; omit the element")
    elif isinstance(value, str | list | dict) and len(value) == 0:
        out.append(f"{path}: empty values are not allowed; omit the element")
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_empty(item, f"{path}.{key}", out)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _no_empty(item, f"{path}[{i}]", out)


def _unknown(obj: dict[str, Any], allowed: frozenset[str], path: str, out: list[str]) -> None:
    for key in obj:
        if key not in allowed:
            out.append(f"{path}.{key}: not a CDS Hooks 2.0 field")
    if "extension" in obj and not isinstance(obj["extension"], dict):
        out.append(f"{path}.extension: must be an object")


def _string(obj: dict[str, Any], key: str, path: str, out: list[str], *, required: bool) -> str | None:
    if key not in obj:
        if required:
            out.append(f"{path}.{key}: required")
        return None
    value = obj[key]
    if not isinstance(value, str):
        out.append(f"{path}.{key}: must be a string")
        return None
    return value


def _absolute_url(value: str, path: str, out: list[str]) -> None:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        out.append(f"{path}: must be an absolute http(s) URL")


def _coding(value: Any, path: str, out: list[str], *, display_required: bool) -> None:
    if not isinstance(value, dict):
        out.append(f"{path}: must be a Coding object")
        return
    _unknown(value, _CODING_FIELDS, path, out)
    _string(value, "system", path, out, required=True)
    _string(value, "code", path, out, required=True)
    _string(value, "display", path, out, required=display_required)


def _resource(value: Any, path: str, out: list[str]) -> None:
    if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
        out.append(f"{path}: must be a FHIR resource with resourceType")


def _action(action: Any, path: str, out: list[str]) -> None:
    if not isinstance(action, dict):
        out.append(f"{path}: must be an object")
        return
    _unknown(action, _ACTION_FIELDS, path, out)
    kind = _string(action, "type", path, out, required=True)
    if kind is not None and kind not in ACTION_TYPES:
        out.append(f"{path}.type: {kind!r} is not one of create, update, delete")
    _string(action, "description", path, out, required=True)
    if kind in {"create", "update"}:
        if "resource" not in action:
            out.append(f"{path}.resource: required for {kind}")
        else:
            _resource(action["resource"], f"{path}.resource", out)
    if kind == "delete":
        if "resourceId" not in action:
            out.append(f"{path}.resourceId: required for delete (cds-resp-2; id-in-resource is deprecated)")
        if "resource" in action:
            out.append(f"{path}.resource: a delete names the resource with resourceId only")
    if "resourceId" in action:
        ids = action["resourceId"]
        values = ids if isinstance(ids, list) else [ids]
        for i, ref in enumerate(values):
            if not isinstance(ref, str) or not _RELATIVE_REFERENCE.match(ref):
                where = f"{path}.resourceId" + (f"[{i}]" if isinstance(ids, list) else "")
                out.append(f"{where}: must be a relative reference like ServiceRequest/123")


def _suggestion(suggestion: Any, path: str, out: list[str]) -> None:
    if not isinstance(suggestion, dict):
        out.append(f"{path}: must be an object")
        return
    _unknown(suggestion, _SUGGESTION_FIELDS, path, out)
    _string(suggestion, "label", path, out, required=True)
    uuid = _string(suggestion, "uuid", path, out, required=False)
    if uuid is not None and not _UUID.match(uuid):
        out.append(f"{path}.uuid: must be a UUID")
    if "isRecommended" in suggestion and not isinstance(suggestion["isRecommended"], bool):
        out.append(f"{path}.isRecommended: must be a boolean")
    actions = suggestion.get("actions")
    if actions is not None:
        if not isinstance(actions, list):
            out.append(f"{path}.actions: must be an array")
        else:
            for i, action in enumerate(actions):
                _action(action, f"{path}.actions[{i}]", out)


def _link(link: Any, path: str, out: list[str]) -> None:
    if not isinstance(link, dict):
        out.append(f"{path}: must be an object")
        return
    _unknown(link, _LINK_FIELDS, path, out)
    _string(link, "label", path, out, required=True)
    url = _string(link, "url", path, out, required=True)
    if url is not None:
        _absolute_url(url, f"{path}.url", out)
    kind = _string(link, "type", path, out, required=True)
    if kind is not None and kind not in LINK_TYPES:
        out.append(f"{path}.type: {kind!r} is not absolute or smart")
    if "appContext" in link:
        if kind != "smart":
            out.append(f"{path}.appContext: only allowed on smart links (cds-resp-3)")
        if not isinstance(link["appContext"], str):
            out.append(f"{path}.appContext: must be a string")
    if "autolaunchable" in link and not isinstance(link["autolaunchable"], bool):
        out.append(f"{path}.autolaunchable: must be a boolean")


def _source(source: Any, path: str, out: list[str]) -> None:
    if not isinstance(source, dict):
        out.append(f"{path}: must be an object")
        return
    _unknown(source, _SOURCE_FIELDS, path, out)
    _string(source, "label", path, out, required=True)
    for key in ("url", "icon"):
        value = _string(source, key, path, out, required=False)
        if value is not None:
            _absolute_url(value, f"{path}.{key}", out)
    if "topic" in source:
        _coding(source["topic"], f"{path}.topic", out, display_required=False)


def _card(card: Any, path: str, out: list[str], seen_uuids: set[str]) -> None:
    if not isinstance(card, dict):
        out.append(f"{path}: must be an object")
        return
    _unknown(card, _CARD_FIELDS, path, out)
    uuid = _string(card, "uuid", path, out, required=False)
    if uuid is not None:
        if not _UUID.match(uuid):
            out.append(f"{path}.uuid: must be a UUID")
        elif uuid in seen_uuids:
            out.append(f"{path}.uuid: duplicate card uuid")
        seen_uuids.add(uuid)
    summary = _string(card, "summary", path, out, required=True)
    if summary is not None and len(summary) >= 140:
        out.append(f"{path}.summary: {len(summary)} characters; must be under 140")
    if summary is not None and "\n" in summary:
        out.append(f"{path}.summary: must be one sentence on one line")
    _string(card, "detail", path, out, required=False)
    indicator = _string(card, "indicator", path, out, required=True)
    if indicator is not None and indicator not in INDICATORS:
        out.append(f"{path}.indicator: {indicator!r} is not info, warning or critical")
    if "source" not in card:
        out.append(f"{path}.source: required")
    else:
        _source(card["source"], f"{path}.source", out)
    suggestions = card.get("suggestions")
    if suggestions is not None:
        if not isinstance(suggestions, list):
            out.append(f"{path}.suggestions: must be an array")
        else:
            for i, suggestion in enumerate(suggestions):
                _suggestion(suggestion, f"{path}.suggestions[{i}]", out)
            if suggestions and "selectionBehavior" not in card:
                out.append(f"{path}.selectionBehavior: required when there are suggestions (cds-resp-6)")
    behavior = _string(card, "selectionBehavior", path, out, required=False)
    if behavior is not None:
        if behavior not in SELECTION_BEHAVIORS:
            out.append(f"{path}.selectionBehavior: {behavior!r} is not at-most-one or any")
        if not suggestions:
            out.append(f"{path}.selectionBehavior: only meaningful with suggestions")
    reasons = card.get("overrideReasons")
    if reasons is not None:
        if not isinstance(reasons, list):
            out.append(f"{path}.overrideReasons: must be an array")
        else:
            for i, reason in enumerate(reasons):
                _coding(reason, f"{path}.overrideReasons[{i}]", out, display_required=True)
    links = card.get("links")
    if links is not None:
        if not isinstance(links, list):
            out.append(f"{path}.links: must be an array")
        else:
            for i, link in enumerate(links):
                _link(link, f"{path}.links[{i}]", out)


def validate_cds_response(body: Any) -> list[str]:
    """Return the problems of a CDS Hooks 2.0 response body; an empty list means it is valid."""
    out: list[str] = []
    if not isinstance(body, dict):
        return ["$: the response must be a JSON object"]
    for key in body:
        if key not in {"cards", "systemActions", "extension"}:
            out.append(f"$.{key}: not a CDS Hooks 2.0 response field")
    if "cards" not in body:
        out.append("$.cards: required (send [] when there is no guidance)")
    elif not isinstance(body["cards"], list):
        out.append("$.cards: must be an array")
    else:
        seen: set[str] = set()
        for i, card in enumerate(body["cards"]):
            _no_empty(card, f"cards[{i}]", out)
            _card(card, f"cards[{i}]", out, seen)
    if "systemActions" in body:
        actions = body["systemActions"]
        _no_empty(actions, "systemActions", out)
        if isinstance(actions, list):
            for i, action in enumerate(actions):
                _action(action, f"systemActions[{i}]", out)
        else:
            out.append("systemActions: must be an array")
    if "extension" in body:
        _no_empty(body["extension"], "extension", out)
        if not isinstance(body["extension"], dict):
            out.append("extension: must be an object")
    return out
