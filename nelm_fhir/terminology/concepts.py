"""The vocabulary of concept keys that mapping files may use, and the attributes an entry may carry.

A concept key is ``namespace:name``. Ingestion dispatches on the namespace:

- ``obs:*`` LOINC observations read by the ingest (Ki-67, ECOG, TumorSize, disease status ...)
- ``lab:<LabKind>`` laboratory results, converted to the LabKind's canonical unit
- ``finding:<code>`` local findings of CONTRACT.md section 3; their coded values are
  ``frilling:*``, ``differentiation:*``, ``primary-status:*``
- ``primary:<PrimarySite | unspecified>`` primary NEN conditions; ``metastasis:<site>`` secondaries
- ``condition:*`` liver conditions, ``syndrome:<SyndromeKind>``, ``history:*`` status codes
- ``morphology:*`` ICD-O-3 / SNOMED morphology, with a ``differentiation`` attribute
- ``procedure:<ProcedureKind | extra>``, ``drug:<ingredient>`` (attribute ``drugClass``)
- ``trend:<DiseaseTrend>``, ``site:*`` body sites, ``ecog:<0-5>`` coded ECOG answers
- ``modality:<id>`` the modality CodeSystem; ``known:*`` and ``excluded:*`` are recognised but unused
"""

from __future__ import annotations

from collections.abc import Mapping

from nelm_fhir.model import (
    DiseaseTrend,
    DrugClass,
    FrillingType,
    Grade,
    LabKind,
    PrimarySite,
    PrimaryStatus,
    ProcedureKind,
    SyndromeKind,
)

__all__ = ["ATTRIBUTES", "NAMESPACES", "STATUSES", "check_attributes", "check_concept"]

STATUSES = frozenset({"VERIFIED", "UNVERIFIED", "LOCAL"})

_ANY: frozenset[str] = frozenset()

# namespace -> allowed names (empty set: any name of the right shape)
NAMESPACES: Mapping[str, frozenset[str]] = {
    "obs": frozenset(
        {
            "ki67",
            "ki67-breast",
            "ecog",
            "ecog-interpretation",
            "karnofsky",
            "karnofsky-interpretation",
            "tumour-size",
            "tumour-longest-dimension",
            "tumour-other-dimension",
            "disease-status",
            "morphology",
            "pregnancy-status",
        }
    ),
    "lab": frozenset(k.value for k in LabKind),
    "finding": _ANY,
    "frilling": frozenset(k.value for k in FrillingType),
    "differentiation": frozenset({"well", "poor"}),
    "primary-status": frozenset(k.value for k in PrimaryStatus),
    "resection-extent": frozenset({"minor", "major"}),
    "who-grade": frozenset(k.value for k in Grade),
    "pregnancy": frozenset({"pregnant", "not-pregnant", "unknown"}),
    "primary": frozenset({*(k.value for k in PrimarySite), "unspecified"}),
    "metastasis": frozenset(
        {
            "liver",
            "bone",
            "lung",
            "peritoneum",
            "pleura",
            "pancreas",
            "distant-nodes",
            "regional-nodes",
            "lymph-nodes",
            "other",
            "unspecified",
        }
    ),
    "condition": frozenset(
        {
            "portal-vein-thrombosis",
            "hepatic-failure",
            "hepatomegaly",
            "carcinoid-heart-disease",
            "cirrhosis",
            "portal-hypertension",
            "pregnancy",
        }
    ),
    "syndrome": frozenset(k.value for k in SyndromeKind),
    "history": _ANY,
    "morphology": frozenset({"well", "well-ungraded", "nec", "mixed"}),
    "procedure": frozenset(
        {
            *(k.value for k in ProcedureKind),
            "pancreas-resection",
            "small-bowel-resection",
            "radiotherapy-course",
            "surgical",
        }
    ),
    "drug": _ANY,
    "trend": frozenset(k.value for k in DiseaseTrend),
    "site": frozenset(
        {
            *(k.value for k in PrimarySite),
            "liver",
            "portal-vein",
            "bone",
            "peritoneum",
            "lymph-nodes",
            "regional-nodes",
            "pleura",
        }
    ),
    "ecog": frozenset({"0", "1", "2", "3", "4", "5"}),
    "modality": _ANY,
    "known": _ANY,
    "excluded": _ANY,
}

ATTRIBUTES: Mapping[str, frozenset[str]] = {
    "differentiation": frozenset({"well", "poor"}),
    "syndrome": frozenset(k.value for k in SyndromeKind),
    "portalDrained": frozenset({"true", "false"}),
    "drugClass": frozenset(k.value for k in DrugClass),
    "grade": frozenset(k.value for k in Grade),
}


def _shape_ok(name: str) -> bool:
    return bool(name) and all(ch.isalnum() or ch in "-._" for ch in name)


def check_concept(concept: str) -> str | None:
    """Return why ``concept`` is not a valid concept key, or None when it is."""
    namespace, colon, name = concept.partition(":")
    if not colon or not _shape_ok(name):
        return f"concept {concept!r} is not of the form namespace:name"
    allowed = NAMESPACES.get(namespace)
    if allowed is None:
        return f"concept {concept!r}: unknown namespace {namespace!r} (known: {', '.join(sorted(NAMESPACES))})"
    if allowed and name not in allowed:
        return f"concept {concept!r}: {name!r} is not one of {', '.join(sorted(allowed))}"
    return None


def check_attributes(concept: str, attributes: Mapping[str, str]) -> str | None:
    """Return why ``attributes`` are invalid for ``concept``, or None when they are valid."""
    for key, value in attributes.items():
        allowed = ATTRIBUTES.get(key)
        if allowed is None:
            return f"unknown attribute {key!r} (known: {', '.join(sorted(ATTRIBUTES))})"
        if value not in allowed:
            return f"attribute {key}={value!r} is not one of {', '.join(sorted(allowed))}"
    if concept.startswith("drug:") and "drugClass" not in attributes:
        return "a drug entry needs the attribute drugClass"
    return None
