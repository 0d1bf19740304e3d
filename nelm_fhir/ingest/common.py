"""Shared plumbing of the per-resource readers: context, raw-JSON helpers, dates and validation."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple, TypeVar

from pydantic import BaseModel, ValidationError

from nelm_fhir.model import IngestProblem
from nelm_fhir.terminology import MappingEntry, Terminology, UnitError

__all__ = [
    "Ctx",
    "Item",
    "coding_pairs",
    "model_codings",
    "raw_entry",
    "raw_list",
    "ref_key",
    "to_date",
    "validated",
]

M = TypeVar("M", bound=BaseModel)

_MAX_ERRORS_PER_RESOURCE = 5


class Item(NamedTuple):
    """One resource of the input, with the name facts will cite (``Observation/o1``).

    A named tuple rather than a frozen dataclass: one is made per resource of the record, relevant or
    not, and a tuple is several times cheaper to build.
    """

    raw: dict[str, Any]
    ref: str
    full_url: str | None = None


@dataclass
class Ctx:
    """What every reader needs: terminology, evaluation date, other resources, collected problems."""

    term: Terminology
    as_of: dt.date
    index: dict[str, Item] = field(default_factory=dict)
    problems: list[IngestProblem] = field(default_factory=list)
    report_dates: dict[str, dt.date] = field(default_factory=dict)  # result ref -> its DiagnosticReport's date

    def problem(self, path: str, message: str, *, severity: str = "error") -> None:
        """Record that a relevant element could not be used (error) or was used with a caveat (warning)."""
        self.problems.append(IngestProblem(path=path, message=message, severity=severity))

    def resolve(self, reference: str | None, container: Item | None = None) -> Item | None:
        """Return the resource ``reference`` points at (contained ``#id``, ``Type/id``, absolute or urn), or None."""
        if not reference or not isinstance(reference, str):
            return None
        if reference.startswith("#"):
            if container is None:
                return None
            for contained in raw_list(container.raw, "contained"):
                if isinstance(contained, dict) and contained.get("id") == reference[1:]:
                    return Item(raw=contained, ref=f"{container.ref}{reference}")
            return None
        found = self.index.get(reference)
        if found is None:
            found = self.index.get(ref_key(reference))
        return found

    def after_evaluation_date(self, ref: str, date: dt.date | None) -> bool:
        """Return True (after recording a warning) when ``date`` lies after the evaluation date.

        The profile is the record as it stood on ``as_of``: later data would make an evaluation
        with a fixed date (``--now``) depend on when it was run.
        """
        if date is None or date <= self.as_of:
            return False
        self.problem(
            ref,
            f"dated {date.isoformat()}, after the evaluation date {self.as_of.isoformat()}: not used",
            severity="warning",
        )
        return True

    def convert(self, quantity: str, value: float, unit: str | None, path: str) -> tuple[float, str] | None:
        """Return the value in the canonical unit of ``quantity``, or None after recording a unit problem."""
        try:
            return self.term.units.convert(quantity, value, unit)
        except UnitError as exc:
            self.problem(path, str(exc))
            return None


def ref_key(reference: str) -> str:
    """Return ``Type/id`` of a reference (``http://x/fhir/Patient/1/_history/2`` → ``Patient/1``); urns unchanged."""
    reference = reference.strip()
    if reference.startswith(("urn:uuid:", "urn:oid:")):
        return reference
    parts = [p for p in reference.split("?")[0].split("/") if p]
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    if len(parts) >= 2:
        return f"{parts[-2]}/{parts[-1]}"
    return reference


def coding_pairs(concept: Any) -> list[tuple[str | None, str | None]]:
    """Return the (system, code) pairs of a raw CodeableConcept; [] when it is not one."""
    if not isinstance(concept, dict):
        return []
    codings = concept.get("coding")
    if not isinstance(codings, list):
        return []
    pairs: list[tuple[str | None, str | None]] = []
    for coding in codings:
        if isinstance(coding, dict):
            system, code = coding.get("system"), coding.get("code")
            pairs.append((system if isinstance(system, str) else None, code if isinstance(code, str) else None))
    return pairs


def raw_list(holder: dict[str, Any], key: str) -> list[Any]:
    """Return ``holder[key]`` when it is a JSON array, else [] (malformed input is not iterated)."""
    value = holder.get(key)
    return value if isinstance(value, list) else []


def raw_entry(term: Terminology, concept: Any, namespaces: frozenset[str]) -> MappingEntry | None:
    """Return the first mapped entry (in ``namespaces``) of a raw CodeableConcept; the hot path of relevance."""
    if not isinstance(concept, dict):
        return None
    codings = concept.get("coding")
    if not isinstance(codings, list):
        return None
    for coding in codings:
        if isinstance(coding, dict):
            found = term.entry(coding.get("system"), coding.get("code"))
            if found is not None and found.namespace in namespaces:
                return found
    return None


def model_codings(concept: Any) -> list[tuple[str | None, str | None]]:
    """Return the (system, code) pairs of a validated CodeableConcept model (or None)."""
    if concept is None or not getattr(concept, "coding", None):
        return []
    return [(c.system, c.code) for c in concept.coding]


def to_date(value: Any) -> dt.date | None:
    """Return the calendar date of a FHIR date/dateTime/instant value (partial dates: first day), or None."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        return _date_of_text(value)
    return None


@lru_cache(maxsize=4096)
def _date_of_text(value: str) -> dt.date | None:
    # The calendar date as written: a dateTime's own local date, not converted to UTC.
    text = value.strip()
    try:
        if len(text) == 4:
            return dt.date(int(text), 1, 1)
        if len(text) == 7:
            return dt.date(int(text[:4]), int(text[5:7]), 1)
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


def _loc_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}"
    return out


def validated(model: type[M], item: Item, ctx: Ctx) -> M | None:
    """Return ``item`` validated as the R4B ``model``, or None after recording each fault with its FHIR path."""
    try:
        return model.model_validate(item.raw)
    except ValidationError as exc:
        errors = exc.errors()
        for error in errors[:_MAX_ERRORS_PER_RESOURCE]:
            loc = tuple(p for p in error["loc"] if p != "__root__")
            ctx.problem(f"{item.ref}{_loc_path(loc)}", f"not a valid FHIR R4 {model.__name__}: {error['msg']}")
        if len(errors) > _MAX_ERRORS_PER_RESOURCE:
            ctx.problem(item.ref, f"{len(errors) - _MAX_ERRORS_PER_RESOURCE} more validation errors")
        return None
    except (TypeError, ValueError) as exc:  # a validator of the model library raising outside pydantic's wrapping
        ctx.problem(item.ref, f"not a valid FHIR R4 {model.__name__}: {exc}")
        return None
