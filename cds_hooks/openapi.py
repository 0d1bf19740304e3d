"""The service's OpenAPI 3.0 description, served at ``/openapi.json``.

It describes what an integration engineer calls: discovery, the three hook services, feedback,
health, readiness and metrics, with the answers each can give (cards, OperationOutcome for 4xx
and 412, a 401 saying what is missing). The test suite runs schemathesis against the live app with it.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify

from cds_hooks.config import Settings

__all__ = ["SERVICE_IDS", "init_app", "openapi_document"]

SERVICE_IDS = ("nelm-pathway", "nelm-order-select", "nelm-order-sign")
_OO = {"$ref": "#/components/schemas/OperationOutcome"}
_HEALTH = {"$ref": "#/components/schemas/Health"}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _OO}}}


def _unauthorized() -> dict[str, Any]:
    return {
        "description": "The CDS client JWT is missing or refused; the OperationOutcome says which (as far as is "
        "safe: every trust failure reads the same).",
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}},
        "content": {"application/json": {"schema": _OO}},
    }


def _schemas() -> dict[str, Any]:
    coding = {
        "type": "object",
        "required": ["code", "system"],
        "properties": {"system": {"type": "string"}, "code": {"type": "string"}, "display": {"type": "string"}},
    }
    link = {
        "type": "object",
        "required": ["label", "url", "type"],
        "properties": {
            "label": {"type": "string"},
            "url": {"type": "string"},
            "type": {"type": "string", "enum": ["absolute", "smart"]},
            "appContext": {"type": "string"},
            "autolaunchable": {"type": "boolean"},
        },
    }
    action = {
        "type": "object",
        "required": ["type", "description"],
        "properties": {
            "type": {"type": "string", "enum": ["create", "update", "delete"]},
            "description": {"type": "string"},
            "resource": {"type": "object"},
            "resourceId": {"type": "string"},
        },
    }
    card = {
        "type": "object",
        "required": ["summary", "indicator", "source"],
        "properties": {
            "uuid": {"type": "string"},
            "summary": {"type": "string", "maxLength": 140},
            "detail": {"type": "string"},
            "indicator": {"type": "string", "enum": ["info", "warning", "critical"]},
            "source": {
                "type": "object",
                "required": ["label"],
                "properties": {
                    "label": {"type": "string"},
                    "url": {"type": "string"},
                    "icon": {"type": "string"},
                    "topic": {"$ref": "#/components/schemas/Coding"},
                },
            },
            "suggestions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["label"],
                    "properties": {
                        "label": {"type": "string"},
                        "uuid": {"type": "string"},
                        "isRecommended": {"type": "boolean"},
                        "actions": {"type": "array", "items": {"$ref": "#/components/schemas/Action"}},
                    },
                },
            },
            "selectionBehavior": {"type": "string", "enum": ["at-most-one", "any"]},
            "overrideReasons": {"type": "array", "items": {"$ref": "#/components/schemas/Coding"}},
            "links": {"type": "array", "items": {"$ref": "#/components/schemas/Link"}},
        },
    }
    hook_request = {
        "type": "object",
        "required": ["hook", "hookInstance", "context"],
        "properties": {
            "hook": {"type": "string", "enum": ["patient-view", "order-select", "order-sign"]},
            "hookInstance": {"type": "string", "format": "uuid"},
            "fhirServer": {"type": "string", "format": "uri"},
            "fhirAuthorization": {
                "type": "object",
                "required": ["access_token", "token_type", "expires_in", "scope", "subject"],
                "properties": {
                    "access_token": {"type": "string"},
                    "token_type": {"type": "string", "enum": ["Bearer"]},
                    "expires_in": {"type": "integer"},
                    "scope": {"type": "string"},
                    "subject": {"type": "string"},
                    "patient": {"type": "string"},
                },
            },
            "context": {
                "type": "object",
                "required": ["userId", "patientId"],
                "properties": {
                    "userId": {"type": "string"},
                    "patientId": {"type": "string", "pattern": "^[A-Za-z0-9\\-.]{1,64}$"},
                    "encounterId": {"type": "string"},
                    "selections": {"type": "array", "items": {"type": "string"}},
                    "draftOrders": {"type": "object", "description": "A FHIR R4 Bundle of draft orders"},
                },
            },
            "prefetch": {"type": "object", "additionalProperties": {"type": "object", "nullable": True}},
            "extension": {"type": "object"},
        },
    }
    return {
        "Coding": coding,
        "Link": link,
        "Action": action,
        "Card": card,
        "CdsResponse": {
            "type": "object",
            "required": ["cards"],
            "properties": {
                "cards": {"type": "array", "items": {"$ref": "#/components/schemas/Card"}},
                "systemActions": {"type": "array", "items": {"$ref": "#/components/schemas/Action"}},
            },
        },
        "HookRequest": hook_request,
        "Discovery": {
            "type": "object",
            "required": ["services"],
            "properties": {
                "services": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["hook", "description", "id"],
                        "properties": {
                            "hook": {"type": "string"},
                            "title": {"type": "string"},
                            "description": {"type": "string"},
                            "id": {"type": "string"},
                            "prefetch": {"type": "object", "additionalProperties": {"type": "string"}},
                            "usageRequirements": {"type": "string"},
                        },
                    },
                }
            },
        },
        "Feedback": {
            "type": "object",
            "required": ["feedback"],
            "properties": {
                "feedback": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["card", "outcome", "outcomeTimestamp"],
                        "properties": {
                            "card": {"type": "string"},
                            "outcome": {"type": "string", "enum": ["accepted", "overridden"]},
                            "acceptedSuggestions": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["id"],
                                    "properties": {"id": {"type": "string"}},
                                },
                            },
                            "overrideReason": {
                                "type": "object",
                                "properties": {
                                    "reason": {"$ref": "#/components/schemas/Coding"},
                                    "userComment": {"type": "string"},
                                },
                            },
                            "outcomeTimestamp": {"type": "string", "format": "date-time"},
                        },
                    },
                }
            },
        },
        "OperationOutcome": {
            "type": "object",
            "required": ["resourceType", "issue"],
            "properties": {
                "resourceType": {"type": "string", "enum": ["OperationOutcome"]},
                "issue": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["severity", "code"],
                        "properties": {
                            "severity": {"type": "string", "enum": ["fatal", "error", "warning", "information"]},
                            "code": {"type": "string"},
                            "diagnostics": {"type": "string"},
                            "expression": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                },
            },
        },
        "Health": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}},
    }


def openapi_document(settings: Settings) -> dict[str, Any]:
    """Return the OpenAPI 3.0.3 description of the service."""
    service_id = {
        "name": "service_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": list(SERVICE_IDS)},
    }
    hook_errors = {
        "400": _problem("Malformed request: JSON, a missing or mistyped field, mixed patients, wrong hook."),
        "401": _unauthorized(),
        "404": _problem("No CDS service with this id."),
        "412": _problem("Required FHIR data is neither prefetched nor obtainable from fhirServer."),
        "413": _problem("Request body over the configured size limit."),
        "415": _problem("The body is not JSON."),
        "503": _problem("The token replay check is unavailable; retry."),
    }
    security: list[dict[str, list[str]]] = [{"cdsClientJwt": []}]
    doc: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {
            "title": "NELM Pathways CDS Hooks service",
            "version": "2.0",
            "description": "CDS Hooks 2.0 services rating treatment options for neuroendocrine liver metastases. "
            "Every /cds-services call carries the CDS client's JWT (aud = the exact URL called).",
        },
        "paths": {
            "/cds-services": {
                "get": {
                    "summary": "CDS Hooks discovery",
                    "operationId": "discovery",
                    # open unless NELM_DISCOVERY_REQUIRE_JWT: {} means "no authentication"
                    "security": security if settings.discovery_require_jwt else [{}, *security],
                    "responses": {
                        "200": {
                            "description": "The services",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Discovery"}}},
                        },
                        "401": _unauthorized(),
                        "503": _problem("The token replay check is unavailable; retry."),
                    },
                }
            },
            "/cds-services/{service_id}": {
                "post": {
                    "summary": "Call a CDS service (patient-view, order-select, order-sign)",
                    "operationId": "callService",
                    "security": security,
                    "parameters": [service_id],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HookRequest"}}},
                    },
                    "responses": {
                        "200": {
                            "description": "Cards",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CdsResponse"}}},
                        },
                        **hook_errors,
                    },
                }
            },
            "/cds-services/{service_id}/feedback": {
                "post": {
                    "summary": "Report what the user did with cards",
                    "operationId": "feedback",
                    "security": security,
                    "parameters": [service_id],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Feedback"}}},
                    },
                    "responses": {
                        "200": _json("Feedback stored", {"type": "object"}),
                        **{k: v for k, v in hook_errors.items() if k != "412"},
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness",
                    "operationId": "healthz",
                    "responses": {"200": _json("Alive", _HEALTH)},
                }
            },
            "/readyz": {
                "get": {
                    "summary": "Readiness: store reachable, terminology and pathway configuration loaded",
                    "operationId": "readyz",
                    "responses": {
                        "200": _json("Ready", _HEALTH),
                        "503": _json("Not ready", _HEALTH),
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "operationId": "metrics",
                    "responses": {
                        "200": {"description": "Metrics", "content": {"text/plain": {"schema": {"type": "string"}}}}
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {
                "cdsClientJwt": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT (ES384 or RS384; iss, aud, exp, iat, jti)",
                }
            },
            "schemas": _schemas(),
        },
    }
    if settings.external_base_url:
        doc["servers"] = [{"url": settings.external_base_url}]
    return doc


def init_app(app: Flask, settings: Settings) -> None:
    """Serve the OpenAPI description at ``/openapi.json``."""
    document = openapi_document(settings)

    def _openapi() -> Response:
        return jsonify(document)

    app.add_url_rule("/openapi.json", endpoint="openapi", view_func=_openapi, methods=["GET"])
