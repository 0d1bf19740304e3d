"""The public vignettes (tests/vignettes) as hook requests, and a normal form of responses for comparison."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

VIGNETTES = Path(__file__).resolve().parent.parent / "vignettes"
EXPECTED: dict[str, dict[str, Any]] = json.loads((VIGNETTES / "expected.json").read_text(encoding="utf-8"))
MODALITY = "https://nelm-cds.org/fhir/CodeSystem/modality"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def bundle(vid: str) -> dict[str, Any]:
    """Return the FHIR Bundle of vignette ``vid``."""
    data: dict[str, Any] = json.loads((VIGNETTES / EXPECTED[vid]["file"]).read_text(encoding="utf-8"))
    return data


def patient_id(vid: str) -> str:
    """Return the patient id of vignette ``vid`` (e.g. ``v01``)."""
    return str(EXPECTED[vid]["patient"]).split("/", 1)[1]


def statuses_of(response: dict[str, Any]) -> dict[str, str]:
    """Return the modality statuses the summary card carries in its extension."""
    for card in response["cards"]:
        pathway = card.get("extension", {}).get("org.nelm-cds.pathway")
        if pathway:
            return dict(pathway["statuses"])
    raise AssertionError("no summary card with statuses")


def _path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def normal_form(response: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the cards without uuids and host names: what must not change between two equal answers."""
    out = []
    for card in response["cards"]:
        item: dict[str, Any] = {
            "indicator": card["indicator"],
            "summary": card["summary"],
            "source": {**card["source"], "url": _path(card["source"].get("url", ""))},
        }
        for key in ("selectionBehavior", "extension"):
            if key in card:
                item[key] = card[key]
        if "overrideReasons" in card:
            item["overrideReasons"] = [r["code"] for r in card["overrideReasons"]]
        if "suggestions" in card:
            item["suggestions"] = [
                {"label": s["label"], "actions": [
                    {"type": a["type"], "resourceId": a.get("resourceId"),
                     "code": (a.get("resource", {}).get("code") or a.get("resource", {}).get(
                         "medicationCodeableConcept") or {}).get("coding")}
                    for a in s.get("actions", [])]}
                for s in card["suggestions"]]
        item["links"] = [{"type": link["type"], "url": _path(link["url"]), "appContext": link.get("appContext")}
                         for link in card.get("links", [])]
        item["detailHasFacts"] = bool(card.get("detail"))
        out.append(item)
    text = json.dumps(out, sort_keys=True)
    assert not _UUID.search(text), "uuids must be normalised away"
    return out


def draft_order(vid: str, modality: str) -> dict[str, Any]:
    """Return a draft ServiceRequest (or MedicationRequest for drugs) coded with our modality code."""
    pid = patient_id(vid)
    coding = {"system": MODALITY, "code": modality}
    if modality in {"somatostatin-analogue", "everolimus", "sunitinib", "chemotherapy", "interferon-alpha"}:
        return {"resourceType": "MedicationRequest", "id": f"{pid}-draft-{modality}", "status": "draft",
                "intent": "order", "medicationCodeableConcept": {"coding": [coding], "text": modality},
                "subject": {"reference": f"Patient/{pid}"}}
    return {"resourceType": "ServiceRequest", "id": f"{pid}-draft-{modality}", "status": "draft", "intent": "order",
            "code": {"coding": [coding], "text": modality}, "subject": {"reference": f"Patient/{pid}"}}
