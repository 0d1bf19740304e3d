"""CDS Hooks 2.0 request bodies parsed into typed, immutable objects.

Unlike wire models that type ``context`` per hook and drop what they do not know, ``HookRequest``
keeps the whole ``context`` object as sent, and exposes the fields the service reads
(``patientId``, ``userId``, ``encounterId``, ``selections``, ``draftOrders``) as typed properties.
Every check raises ``RequestError`` (400) naming the field, e.g. ``context.draftOrders``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from cds_hooks.draftshape import check_draft_order
from cds_hooks.errors import RequestError

__all__ = ["FhirAuthorization", "HookRequest", "parse_hook_request"]

# A FHIR id: [A-Za-z0-9\-\.]{1,64}. Used for patientId (also inside prefetch URLs: no injection).
_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_REFERENCE = re.compile(r"^[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}$")

_REQUIRED_CONTEXT: dict[str, tuple[str, ...]] = {
    "patient-view": ("userId", "patientId"),
    "order-select": ("userId", "patientId", "selections", "draftOrders"),
    "order-sign": ("userId", "patientId", "draftOrders"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class FhirAuthorization:
    """The ``fhirAuthorization`` object; ``repr`` never shows the token."""

    access_token: str = field(repr=False)
    token_type: str
    scope: str
    subject: str
    expires_in: int | None = None
    patient: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class HookRequest:
    """One hook call as sent: every field kept, context untouched."""

    hook: str
    hook_instance: str
    context: Mapping[str, Any]
    fhir_server: str | None = None
    fhir_authorization: FhirAuthorization | None = field(default=None, repr=False)
    prefetch: Mapping[str, Any] = field(default_factory=dict, repr=False)
    extension: Mapping[str, Any] | None = None

    @property
    def patient_id(self) -> str:
        """Return ``context.patientId`` (validated at parse time)."""
        return str(self.context["patientId"])

    @property
    def user_id(self) -> str | None:
        """Return ``context.userId`` when sent."""
        value = self.context.get("userId")
        return value if isinstance(value, str) else None

    @property
    def encounter_id(self) -> str | None:
        """Return ``context.encounterId`` when sent."""
        value = self.context.get("encounterId")
        return value if isinstance(value, str) else None

    @property
    def selections(self) -> tuple[str, ...]:
        """Return ``context.selections`` (order-select), empty for other hooks."""
        value = self.context.get("selections")
        return tuple(value) if isinstance(value, list) else ()

    @property
    def draft_orders(self) -> Mapping[str, Any] | None:
        """Return the ``context.draftOrders`` Bundle when sent."""
        value = self.context.get("draftOrders")
        return value if isinstance(value, dict) else None

    def draft_order_resources(self) -> list[dict[str, Any]]:
        """Return the resources of ``context.draftOrders``, in Bundle order."""
        bundle = self.draft_orders
        if bundle is None:
            return []
        out: list[dict[str, Any]] = []
        for entry in bundle.get("entry") or []:
            if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                out.append(entry["resource"])
        return out


def _string(body: Mapping[str, Any], name: str, where: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise RequestError(f"{where}{name} is required", expression=f"{where}{name}")
        return None
    if not isinstance(value, str) or not value.strip():
        raise RequestError(f"{where}{name} must be a non-empty string", expression=f"{where}{name}")
    return value


def _authorization(value: Any) -> FhirAuthorization:
    if not isinstance(value, dict):
        raise RequestError("fhirAuthorization must be an object", expression="fhirAuthorization")
    token = _string(value, "access_token", "fhirAuthorization.")
    token_type = _string(value, "token_type", "fhirAuthorization.")
    if token_type is None or token_type.lower() != "bearer":
        raise RequestError("fhirAuthorization.token_type must be Bearer", expression="fhirAuthorization.token_type")
    expires = value.get("expires_in")
    if expires is not None and (not isinstance(expires, int) or isinstance(expires, bool) or expires < 0):
        raise RequestError("fhirAuthorization.expires_in must be a non-negative integer",
                           expression="fhirAuthorization.expires_in")
    # scope and subject are REQUIRED by the spec, but clients in the wild omit them; we only need the token.
    scope = value.get("scope") if isinstance(value.get("scope"), str) else ""
    subject = value.get("subject") if isinstance(value.get("subject"), str) else ""
    patient = value.get("patient") if isinstance(value.get("patient"), str) else None
    return FhirAuthorization(access_token=str(token), token_type="Bearer",  # noqa: S106 - a token type, not a secret
                             scope=str(scope), subject=str(subject), expires_in=expires, patient=patient)


def _check_context(hook: str, context: Mapping[str, Any]) -> None:
    for name in _REQUIRED_CONTEXT.get(hook, ("patientId",)):
        if name not in context or context[name] is None:
            raise RequestError(f"context.{name} is required for {hook}", expression=f"context.{name}")
    patient = context.get("patientId")
    if not isinstance(patient, str) or not _FHIR_ID.match(patient):
        raise RequestError("context.patientId must be a FHIR id (letters, digits, '-', '.'; at most 64)",
                           expression="context.patientId")
    for name in ("userId", "encounterId"):
        if name in context and (not isinstance(context[name], str) or not context[name]):
            raise RequestError(f"context.{name} must be a non-empty string", expression=f"context.{name}")
    if "selections" in context:
        selections = context["selections"]
        if not isinstance(selections, list) or not all(isinstance(s, str) and _REFERENCE.match(s) for s in selections):
            raise RequestError("context.selections must be an array of references like ServiceRequest/123",
                               expression="context.selections")
    if "draftOrders" in context:
        bundle = context["draftOrders"]
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            raise RequestError("context.draftOrders must be a FHIR Bundle", expression="context.draftOrders")
        entries = bundle.get("entry", [])
        if not isinstance(entries, list):
            raise RequestError("context.draftOrders.entry must be an array", expression="context.draftOrders.entry")
        for i, entry in enumerate(entries):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
                raise RequestError(f"context.draftOrders.entry[{i}].resource must be a FHIR resource",
                                   expression=f"context.draftOrders.entry[{i}].resource")
            check_draft_order(resource, f"context.draftOrders.entry[{i}].resource")
            # Refuse to mix patients: a draft order must be for context.patientId (security review, issue 5).
            for element in ("subject", "patient"):
                ref = resource.get(element)
                target = ref.get("reference") if isinstance(ref, dict) else None
                if isinstance(target, str) and target != f"Patient/{patient}" \
                        and not target.endswith(f"/Patient/{patient}"):
                    raise RequestError(f"context.draftOrders.entry[{i}].resource.{element} names another patient "
                                       "than context.patientId",
                                       expression=f"context.draftOrders.entry[{i}].resource.{element}")


def parse_hook_request(body: Mapping[str, Any], *, expected_hook: str) -> HookRequest:
    """Return the typed request; raises RequestError (400) naming the first bad field."""
    hook = _string(body, "hook", "")
    if hook != expected_hook:
        raise RequestError(f"this service answers the {expected_hook} hook, not {hook}", expression="hook")
    hook_instance = _string(body, "hookInstance", "")
    context = body.get("context")
    if context is None:
        raise RequestError("context is required", expression="context")
    if not isinstance(context, dict):
        raise RequestError("context must be an object", expression="context")
    _check_context(str(hook), context)

    fhir_server = _string(body, "fhirServer", "", required=False)
    if fhir_server is not None:
        parts = urlsplit(fhir_server)
        if parts.scheme not in {"http", "https"} or not parts.netloc or parts.username or parts.password:
            raise RequestError("fhirServer must be an absolute http(s) URL without credentials",
                               expression="fhirServer")
    authorization = None
    if body.get("fhirAuthorization") is not None:
        if fhir_server is None:
            raise RequestError("fhirServer is required when fhirAuthorization is sent (cds-r-1)",
                               expression="fhirServer")
        authorization = _authorization(body["fhirAuthorization"])
        if authorization.patient is not None and authorization.patient != context.get("patientId"):
            raise RequestError("fhirAuthorization.patient names another patient than context.patientId",
                               expression="fhirAuthorization.patient")
    prefetch = body.get("prefetch")
    if prefetch is None:
        prefetch = {}
    if not isinstance(prefetch, dict):
        raise RequestError("prefetch must be an object", expression="prefetch")
    for key, value in prefetch.items():
        if value is not None and not (isinstance(value, dict) and isinstance(value.get("resourceType"), str)):
            raise RequestError(f"prefetch.{key} must be a FHIR resource or null", expression=f"prefetch.{key}")
    extension = body.get("extension")
    if extension is not None and not isinstance(extension, dict):
        raise RequestError("extension must be an object", expression="extension")
    return HookRequest(
        hook=str(hook),
        hook_instance=str(hook_instance),
        context=context,
        fhir_server=fhir_server.rstrip("/") if fhir_server else None,
        fhir_authorization=authorization,
        prefetch=prefetch,
        extension=extension,
    )
