"""Orderable codes for the orders our cards suggest, so that an EHR can turn a suggestion into a real order.

A suggestion that creates a ServiceRequest or MedicationRequest ("Replace with TAE", "Order: Full blood
count") must carry a code the EHR's order catalogue knows: SNOMED CT procedure codes (and CPT, which
US sites order by) for procedures, the lab's orderable LOINC (an order panel or a test whose LOINC
ORDER_OBS is Order or Both, never an observation-only code) for labs. Our own code (the modality, or
the NELM finding a data-gap order should produce) follows as an extra coding, so that feedback and
the next hook call still know what the order stands for.

The codes live in ``orderables.json`` next to this module (reviewed data, each coding with its
status and source). Only VERIFIED codings are put into orders; UNVERIFIED ones stay in the file for
a site's review. The file is checked when first read: a malformed entry raises ``OrderablesError``
naming it, so a bad edit stops the service at start-up rather than producing wrong orders.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nelm_fhir.pathways.result import MODALITY_SYSTEM, Modality

__all__ = [
    "DRUG_MODALITIES",
    "ORDERABLES_FILE",
    "Orderables",
    "OrderablesError",
    "gap_order_codings",
    "load_orderables",
    "modality_order",
]

ORDERABLES_FILE = Path(__file__).resolve().parent / "orderables.json"
LOINC = "http://loinc.org"
# Modalities ordered as drugs (MedicationRequest); every other modality is a procedure (ServiceRequest).
DRUG_MODALITIES = frozenset({Modality.SOMATOSTATIN_ANALOGUE, Modality.EVEROLIMUS, Modality.SUNITINIB,
                             Modality.CHEMOTHERAPY, Modality.INTERFERON_ALPHA})
_STATUSES = frozenset({"VERIFIED", "UNVERIFIED"})
_ORDER_OBS = frozenset({"Order", "Both"})


class OrderablesError(ValueError):
    """``orderables.json`` is malformed; the message names the entry."""


@dataclass(frozen=True, slots=True)
class Orderables:
    """The VERIFIED orderable codings per modality id and per data-gap element."""

    modalities: Mapping[str, tuple[dict[str, str], ...]]
    gaps: Mapping[str, tuple[dict[str, str], ...]]


def _codings(where: str, items: Any, *, lab: bool) -> tuple[dict[str, str], ...]:
    if not isinstance(items, list) or not items:
        raise OrderablesError(f"{where}: a non-empty list of codings is required")
    out: list[dict[str, str]] = []
    for index, item in enumerate(items):
        here = f"{where}[{index}]"
        if not isinstance(item, dict):
            raise OrderablesError(f"{here}: must be an object")
        for key in ("system", "code", "display"):
            if not isinstance(item.get(key), str) or not item[key].strip():
                raise OrderablesError(f"{here}: {key} is required")
        if item.get("status") not in _STATUSES:
            raise OrderablesError(f"{here}: status must be VERIFIED or UNVERIFIED")
        if item["status"] == "VERIFIED" and not item.get("evidence"):
            raise OrderablesError(f"{here}: a VERIFIED coding names its evidence")
        if lab and item["system"] == LOINC and item.get("orderObs") not in _ORDER_OBS:
            raise OrderablesError(f"{here}: a LOINC order code states its ORDER_OBS (Order or Both), "
                                  "observation-only codes cannot be ordered")
        if item["status"] == "VERIFIED":
            out.append({"system": item["system"], "code": item["code"], "display": item["display"]})
    return tuple(out)


def parse_orderables(data: Any) -> Orderables:
    """Return the orderables of a parsed ``orderables.json``; raises OrderablesError naming a bad entry."""
    if not isinstance(data, dict):
        raise OrderablesError("orderables: must be a JSON object")
    for key in ("title", "source", "release"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise OrderablesError(f"orderables: {key} is required (each data file states its source and release)")
    modalities, gaps = data.get("modalities", {}), data.get("gaps", {})
    if not isinstance(modalities, dict) or not isinstance(gaps, dict):
        raise OrderablesError("orderables: modalities and gaps must be objects")
    unknown = sorted(set(modalities) - set(Modality._value2member_map_))
    if unknown:
        raise OrderablesError(f"orderables.modalities: unknown modality id(s) {', '.join(unknown)}")
    return Orderables(
        modalities={m: _codings(f"modalities.{m}", v, lab=False) for m, v in modalities.items()},
        gaps={g: _codings(f"gaps.{g}", v, lab=True) for g, v in gaps.items()},
    )


@functools.cache
def load_orderables(path: Path = ORDERABLES_FILE) -> Orderables:
    """Return the orderables of ``path`` (read once per process)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise OrderablesError(f"{path.name}: cannot be read ({exc})") from None
    return parse_orderables(data)


def modality_order(modality: Modality, display: str) -> tuple[str, list[dict[str, str]]]:
    """Return (resource type, codings) of an order for ``modality``: orderable codes, then our modality code."""
    kind = "MedicationRequest" if modality in DRUG_MODALITIES else "ServiceRequest"
    own = {"system": MODALITY_SYSTEM, "code": modality.value, "display": display}
    return kind, [*load_orderables().modalities.get(modality.value, ()), own]


def gap_order_codings(element: str, own: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    """Return the codings of the order filling data-gap ``element``: orderable codes, then ``own``.

    ``own`` is what the card knew so far (our finding code, or the code of the observation wanted).
    A LOINC observation code is dropped when it is not itself orderable: an EHR would otherwise try
    to order a result. Our own codes (not LOINC) stay as the extra coding.
    """
    orderable = list(load_orderables().gaps.get(element, ()))
    keys = {(c["system"], c["code"]) for c in orderable}
    extra = [c for c in own if c.get("system") != LOINC and (c.get("system"), c.get("code")) not in keys]
    return orderable + extra
