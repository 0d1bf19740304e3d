"""Reading the patient's record from the EHR's FHIR server, and writing captured findings back.

Every call carries the user's bearer token and goes through the hardened client
(``security.http_client``): only to the launch's FHIR base (redirects and ``next`` links pointing
elsewhere are refused, dot segments resolved first: the token must not leak to another server), with a
timeout and a size cap; an answer that is not JSON is a ``FhirError`` (the app's error page).

Errors: ``FhirUnauthorized`` (401: the token expired or was revoked → launch again),
``FhirError`` (anything else that stops the page; ``str()`` is safe to show),
``WriteRefused`` (the server refused a create; carries its OperationOutcome text).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from cds_hooks.security.http_client import ResponseTooLarge, safe_request
from cds_hooks.security.urlpath import under_base

__all__ = [
    "FhirError",
    "FhirUnauthorized",
    "RecordFetch",
    "WriteRefused",
    "create_resource",
    "fetch_record",
]

# Resource types the pathway reads; the first two are required for a meaningful page.
SEARCHES: tuple[tuple[str, str], ...] = (
    ("Condition", "Condition?patient={pid}&_count=200"),
    ("Observation", "Observation?patient={pid}&_count=500"),
    ("Procedure", "Procedure?patient={pid}&_count=200"),
    ("MedicationRequest", "MedicationRequest?patient={pid}&_count=200"),
    ("MedicationStatement", "MedicationStatement?patient={pid}&_count=200"),
)
OPTIONAL_TYPES = frozenset({"Procedure", "MedicationRequest", "MedicationStatement"})
MAX_PAGES = 20
FHIR_JSON = "application/fhir+json"


class FhirError(Exception):
    """The FHIR server could not give what the page needs; ``str()`` is safe to show."""


class FhirUnauthorized(FhirError):
    """The FHIR server answered 401: the access token is no longer accepted."""


class WriteRefused(FhirError):
    """The FHIR server refused to store a resource."""

    def __init__(self, status: int, detail: str) -> None:
        """Keep the HTTP status and the server's explanation."""
        super().__init__(f"HTTP {status}: {detail}" if detail else f"HTTP {status}")
        self.status = status
        self.detail = detail


@dataclass(slots=True)
class RecordFetch:
    """The resources read for one patient, plus what could not be read (shown on the page)."""

    resources: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    queries: int = 0

    def bundle(self) -> dict[str, Any]:
        """Return the resources as a FHIR ``collection`` Bundle (the input of the evaluation)."""
        return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in self.resources]}


def _outcome_text(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return ""
    texts = []
    for issue in body.get("issue") or []:
        if isinstance(issue, dict):
            text = issue.get("diagnostics") or (issue.get("details") or {}).get("text") or issue.get("code")
            if isinstance(text, str):
                texts.append(text)
    return "; ".join(texts)[:500]


Getter = Callable[..., requests.Response]


def _json(response: requests.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise FhirError(f"{what}: the EHR's FHIR server answered with something that is not JSON") from None


def _get(url: str, token: str, timeout: float, get: Getter) -> requests.Response:
    try:
        response = get(url, headers={"Authorization": f"Bearer {token}", "Accept": FHIR_JSON}, timeout=timeout)
    except ResponseTooLarge:
        raise FhirError("the EHR's FHIR server sent an answer too large to read") from None
    except requests.RequestException as exc:
        raise FhirError(f"the EHR's FHIR server could not be reached ({type(exc).__name__})") from exc
    if response.status_code == 401:
        raise FhirUnauthorized("the EHR's FHIR server no longer accepts this session's access token")
    return response


def fetch_record(
    base: str, patient_id: str, token: str, *, timeout: float, deadline: float, get: Getter | None = None
) -> RecordFetch:
    """Return the patient's Patient, Condition, Observation, Procedure and medication resources."""
    base = base.rstrip("/")
    get = get or functools.partial(safe_request, "GET", stay_under=base)
    out = RecordFetch()
    started = time.monotonic()
    response = _get(f"{base}/Patient/{patient_id}", token, timeout, get)
    out.queries += 1
    if response.status_code == 404:
        raise FhirError("the launch's patient does not exist on the EHR's FHIR server")
    if response.status_code != 200:
        raise FhirError(f"reading the patient failed (HTTP {response.status_code})")
    patient = _json(response, "reading the patient")
    if not isinstance(patient, dict) or patient.get("resourceType") != "Patient":
        raise FhirError("the EHR's FHIR server did not return a Patient")
    out.resources.append(patient)
    for rtype, template in SEARCHES:
        url: str | None = f"{base}/{template.format(pid=patient_id)}"
        pages = 0
        while url is not None:
            if time.monotonic() - started > deadline:
                raise FhirError(f"the EHR's FHIR server was too slow (more than {deadline:g} s for the record)")
            response = _get(url, token, timeout, get)
            out.queries += 1
            pages += 1
            if response.status_code in {403, 404} and rtype in OPTIONAL_TYPES:
                out.warnings.append(
                    f"{rtype} could not be read (HTTP {response.status_code}); "
                    "options that depend on it may be incomplete."
                )
                break
            if response.status_code != 200:
                raise FhirError(f"searching {rtype} failed (HTTP {response.status_code})")
            bundle = _json(response, f"searching {rtype}")
            if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
                raise FhirError(f"searching {rtype} did not return a Bundle")
            for entry in bundle.get("entry") or []:
                resource = entry.get("resource") if isinstance(entry, dict) else None
                # Included OperationOutcomes and other types are not part of the record.
                if isinstance(resource, dict) and resource.get("resourceType") == rtype:
                    out.resources.append(resource)
            url = None
            for link in bundle.get("link") or []:
                if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
                    target = under_base(link["url"], base)
                    if target is None:
                        raise FhirError(f"the {rtype} search pointed to another server; not followed")
                    url = target if pages < MAX_PAGES else None
                    if pages >= MAX_PAGES:
                        out.warnings.append(f"{rtype}: more than {MAX_PAGES} pages; the rest was not read.")
    return out


def create_resource(
    base: str, resource: dict[str, Any], token: str, *, timeout: float, post: Getter | None = None
) -> dict[str, Any]:
    """POST ``resource`` and return what the server stored; raises WriteRefused or FhirUnauthorized."""
    url = f"{base.rstrip('/')}/{resource['resourceType']}"
    post = post or functools.partial(safe_request, "POST", stay_under=base.rstrip("/"))
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": FHIR_JSON,
        "Accept": FHIR_JSON,
        "Prefer": "return=representation",
    }
    try:
        response = post(url, json=resource, headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        raise FhirError(f"the EHR's FHIR server could not be reached ({type(exc).__name__})") from exc
    if response.status_code == 401:
        raise FhirUnauthorized("the EHR's FHIR server no longer accepts this session's access token")
    if response.status_code not in {200, 201}:
        raise WriteRefused(response.status_code, _outcome_text(response))
    try:
        stored = response.json()
    except ValueError:
        stored = None
    if isinstance(stored, dict) and stored.get("resourceType") == resource["resourceType"]:
        return stored
    # "Prefer: return=minimal" servers answer with a Location header only.
    location = response.headers.get("Location", "")
    stored = dict(resource)
    parts = [p for p in urlsplit(location).path.split("/") if p]
    if resource["resourceType"] in parts:
        idx = parts.index(resource["resourceType"])
        if idx + 1 < len(parts):
            stored["id"] = parts[idx + 1]
    return stored
