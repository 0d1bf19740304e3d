"""The strict CDS Hooks 2.0 response validator: a valid response passes, each broken rule is named."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from cds_hooks.validate import validate_cds_response

UUID1 = "0f7bd1a2-46c6-4a57-9b3b-3f3d2f0c7c11"
UUID2 = "5b0e5d2a-1f6e-4d1c-8a8e-2c8d0d4e6a22"


def _valid() -> dict[str, Any]:
    return {
        "cards": [
            {
                "uuid": UUID1,
                "summary": "Contraindicated: TACE (portal vein thrombosis)",
                "detail": "**Why** portal vein thrombosis",
                "indicator": "critical",
                "source": {
                    "label": "NELM Pathways",
                    "url": "https://cds.example.org/evidence/tace",
                    "topic": {"system": "https://nelm-cds.org/fhir/CodeSystem/modality", "code": "tace"},
                },
                "suggestions": [
                    {
                        "label": "Remove the draft order",
                        "uuid": UUID2,
                        "actions": [{"type": "delete", "description": "Remove", "resourceId": "ServiceRequest/1"}],
                    }
                ],
                "selectionBehavior": "at-most-one",
                "overrideReasons": [{"system": "urn:x", "code": "mdt", "display": "Tumour board decision"}],
                "links": [{"label": "Open", "url": "https://cds.example.org/smart/launch", "type": "smart",
                           "appContext": "{\"modality\":\"tace\"}"}],
            }
        ]
    }


def test_valid_response_and_empty_cards_pass() -> None:
    assert validate_cds_response(_valid()) == []
    assert validate_cds_response({"cards": []}) == []


def _broken(path: list[Any], value: Any, *, delete: bool = False) -> dict[str, Any]:
    body = copy.deepcopy(_valid())
    target: Any = body
    for step in path[:-1]:
        target = target[step]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


CARD = ["cards", 0]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, "$.cards: required"),
        ({"cards": {}}, "$.cards: must be an array"),
        ({"cards": [], "extra": 1}, "$.extra: not a CDS Hooks 2.0 response field"),
        (_broken([*CARD, "summary"], "x" * 140), "cards[0].summary: 140 characters"),
        (_broken([*CARD, "summary"], None, delete=True), "cards[0].summary: required"),
        (_broken([*CARD, "indicator"], "hard-stop"), "is not info, warning or critical"),
        (_broken([*CARD, "source"], None, delete=True), "cards[0].source: required"),
        (_broken([*CARD, "source", "label"], None, delete=True), "cards[0].source.label: required"),
        (_broken([*CARD, "source", "topic", "code"], None, delete=True), "cards[0].source.topic.code: required"),
        (_broken([*CARD, "selectionBehavior"], None, delete=True), "required when there are suggestions"),
        (_broken([*CARD, "selectionBehavior"], "all"), "is not at-most-one or any"),
        (_broken([*CARD, "overrideReasons", 0, "display"], None, delete=True), "overrideReasons[0].display: required"),
        (_broken([*CARD, "suggestions", 0, "actions", 0, "resourceId"], None, delete=True), "required for delete"),
        (_broken([*CARD, "suggestions", 0, "actions", 0, "type"], "remove"), "is not one of create, update, delete"),
        (_broken([*CARD, "suggestions", 0, "actions", 0], {"type": "create", "description": "x"}),
         "resource: required for create"),
        (_broken([*CARD, "suggestions", 0, "label"], None, delete=True), "suggestions[0].label: required"),
        (_broken([*CARD, "links", 0, "type"], "absolute"), "only allowed on smart links"),
        (_broken([*CARD, "links", 0, "url"], "/relative"), "must be an absolute http(s) URL"),
        (_broken([*CARD, "detail"], ""), "cards[0].detail: empty values are not allowed"),
        (_broken([*CARD, "links"], []), "cards[0].links: empty values are not allowed"),
        (_broken([*CARD, "uuid"], None), "cards[0].uuid: null is not allowed"),
        (_broken([*CARD, "uuid"], "not-a-uuid"), "cards[0].uuid: must be a UUID"),
        (_broken([*CARD, "colour"], "red"), "cards[0].colour: not a CDS Hooks 2.0 field"),
        (_broken([*CARD, "extension"], ["x"]), "cards[0].extension: must be an object"),
        ({"cards": [_valid()["cards"][0], _valid()["cards"][0]]}, "duplicate card uuid"),
    ],
)
def test_each_rule_is_enforced(body: dict[str, Any], expected: str) -> None:
    problems = validate_cds_response(body)
    assert any(expected in p for p in problems), problems


def test_non_object_response_is_invalid() -> None:
    assert validate_cds_response([]) == ["$: the response must be a JSON object"]
