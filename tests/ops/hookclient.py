"""A small CDS client for ops and demo tests: builds hook requests from a demo Bundle like an EHR.

Prefetch is fulfilled from the record with the demo EHR's own code (``cds_hooks.demo.patients``)
against the templates the service publishes in discovery, so the tests send what the /demo page sends.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from cds_hooks.demo.patients import fulfil_prefetch, load_demo_bundle

REPO = Path(__file__).resolve().parents[2]
VIGNETTES = REPO / "tests" / "vignettes"
USER = "Practitioner/demo-clinician"


def vignette_paths() -> list[Path]:
    """Return the public vignette Bundles (the demo patients), failing loudly when there are none."""
    paths = sorted(p for p in VIGNETTES.glob("*.json") if p.name != "expected.json")
    if not paths:
        raise RuntimeError(f"no vignette bundles in {VIGNETTES}: the demo patients are missing")
    return paths


def patient_id(bundle: dict[str, Any]) -> str:
    """Return the id of the one Patient in ``bundle``."""
    ids = [e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    if len(ids) != 1:
        raise ValueError(f"expected one Patient, found {len(ids)}")
    return str(ids[0])


def hook_body(discovery: dict[str, Any], hook: str, bundle_path: Path, **context: Any) -> tuple[str, dict[str, Any]]:
    """Return (service id, request body) for ``hook`` on the patient of ``bundle_path``."""
    service = next(s for s in discovery["services"] if s["hook"] == hook)
    bundle = load_demo_bundle(bundle_path)
    ctx: dict[str, Any] = {"userId": USER, "patientId": patient_id(bundle), **context}
    body = {
        "hook": hook,
        "hookInstance": str(uuid.uuid4()),
        "context": ctx,
        "prefetch": fulfil_prefetch(bundle, service.get("prefetch", {}), ctx),
    }
    return str(service["id"]), body


def feedback_for(card: dict[str, Any], timestamp: str) -> dict[str, Any]:
    """Return a feedback item for ``card`` as an EHR sends it: accept its first suggestion, else override."""
    if card.get("suggestions"):
        return {"card": card["uuid"], "outcome": "accepted",
                "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}], "outcomeTimestamp": timestamp}
    item: dict[str, Any] = {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": timestamp}
    if card.get("overrideReasons"):
        item["overrideReason"] = {"reason": card["overrideReasons"][0], "userComment": "ops test"}
    return item


def dumps(body: dict[str, Any]) -> str:
    """Return compact JSON."""
    return json.dumps(body, separators=(",", ":"))
