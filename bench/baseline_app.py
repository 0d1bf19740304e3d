"""The throughput baseline: a trivial Flask app that does only what any hook service must do.

It reads the same request body with the same strict JSON parser as the product
(``cds_hooks.jsonbody.parse_json_object``) and returns one fixed, valid CDS Hooks card, so
``ours / baseline`` isolates the cost of ingest, evaluation and rendering. Served by gunicorn
with the same settings as the product: ``gunicorn bench.baseline_app:app``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request

from cds_hooks.jsonbody import BodyError, parse_json_object

__all__ = ["FIXED_CARD", "app", "create_baseline_app"]

FIXED_CARD: dict[str, Any] = {
    "uuid": "00000000-0000-4000-8000-000000000001",
    "summary": "Baseline: fixed card",
    "indicator": "info",
    "source": {"label": "NELM Pathways benchmark baseline"},
}


def create_baseline_app() -> Flask:
    """Return the baseline app: discovery, one hook endpoint per service id, and a health check."""
    baseline = Flask(__name__)

    @baseline.get("/cds-services")
    def discovery() -> Response:
        return jsonify({"services": [{"id": "baseline", "hook": "patient-view", "description": "baseline"}]})

    @baseline.post("/cds-services/<service_id>")
    def hook(service_id: str) -> tuple[Response, int]:
        try:
            body = parse_json_object(request.get_data(cache=False))
        except BodyError as exc:
            return jsonify({"resourceType": "OperationOutcome", "issue": [
                {"severity": "error", "code": "invalid", "diagnostics": str(exc)}]}), 400
        if not isinstance(body.get("hook"), str):
            return jsonify({"resourceType": "OperationOutcome", "issue": [
                {"severity": "error", "code": "required", "diagnostics": "hook is required"}]}), 400
        return jsonify({"cards": [FIXED_CARD]}), 200

    @baseline.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok"})

    return baseline


app = create_baseline_app()
