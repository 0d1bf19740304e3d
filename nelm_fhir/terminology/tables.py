"""The loaded terminology: (system, code) → concept key, order codes → modality, units.

Concept keys are ``namespace:name`` strings (see the package docstring). Lookups are plain
dictionary reads so that ingestion can filter raw JSON cheaply before any model validation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from nelm_fhir.terminology.systems import MODALITY, normalise_code
from nelm_fhir.terminology.units import UnitTable

__all__ = ["MappingEntry", "MappingFileInfo", "Terminology"]

_MISSING = object()
_CACHE_LIMIT = 50_000  # distinct (system, code) pairs remembered between clears


@dataclass(frozen=True, slots=True, kw_only=True)
class MappingEntry:
    """One reviewed code (or code prefix) of a mapping file and the concept it stands for."""

    system: str
    code: str  # as written in the file (a prefix when ``prefix`` is True)
    concept: str  # e.g. "lab:haemoglobin", "primary:small-intestine", "drug:octreotide"
    display: str
    status: str  # VERIFIED, UNVERIFIED, LOCAL (our own code systems) or SITE (a site ConceptMap)
    file: str
    evidence: str | None = None
    prefix: bool = False
    attributes: Mapping[str, str] = field(default_factory=dict)
    namespace: str = field(init=False)  # "lab" of "lab:inr"
    name: str = field(init=False)  # "inr" of "lab:inr"

    def __post_init__(self) -> None:
        namespace, _colon, name = self.concept.partition(":")
        object.__setattr__(self, "namespace", namespace)
        object.__setattr__(self, "name", name)


@dataclass(frozen=True, slots=True, kw_only=True)
class MappingFileInfo:
    """Provenance of one loaded mapping file: what it covers and what it was checked against."""

    path: str
    title: str
    system: str | None
    source: str
    release: str
    entries: int


class Terminology:
    """Every code the product recognises, with fast lookups for ingestion and order checks."""

    def __init__(
        self,
        *,
        entries: Iterable[MappingEntry],
        aliases: Mapping[str, str],
        icd_systems: Iterable[str],
        order_codes: Mapping[tuple[str, str], str],
        order_prefixes: Mapping[str, Mapping[str, str]],
        drug_class_modality: Mapping[str, str],
        site_orders: Mapping[tuple[str, str], str],
        modalities: Iterable[str],
        units: UnitTable,
        files: Iterable[MappingFileInfo],
    ) -> None:
        self._cache: dict[tuple[str, str], object] = {}
        self._aliases = dict(aliases)
        self._icd = frozenset(icd_systems)
        self._exact: dict[tuple[str, str], MappingEntry] = {}
        self._prefixes: dict[str, dict[str, MappingEntry]] = {}
        for entry in entries:
            system = self.canonical_system(entry.system)
            key = normalise_code(entry.code, icd=system in self._icd)
            if entry.prefix:
                self._prefixes.setdefault(system, {})[key] = entry
            else:
                self._exact[(system, key)] = entry
        self._prefix_lengths = {
            system: sorted({len(p) for p in prefixes}, reverse=True) for system, prefixes in self._prefixes.items()
        }
        self._order_codes = dict(order_codes)
        self._order_prefixes = {s: dict(p) for s, p in order_prefixes.items()}
        self._drug_class_modality = dict(drug_class_modality)
        self._site_orders = dict(site_orders)
        self.modalities: frozenset[str] = frozenset(modalities)
        self.units = units
        self.files: tuple[MappingFileInfo, ...] = tuple(files)

    def extended(
        self,
        *,
        entries: Iterable[MappingEntry],
        site_orders: Mapping[tuple[str, str], str],
        files: Iterable[MappingFileInfo],
    ) -> Terminology:
        """Return a copy with site entries and site order codes added (the site files' result)."""
        return Terminology(
            entries=[*self._exact.values(), *(e for p in self._prefixes.values() for e in p.values()), *entries],
            aliases=self._aliases,
            icd_systems=self._icd,
            order_codes=self._order_codes,
            order_prefixes=self._order_prefixes,
            drug_class_modality=self._drug_class_modality,
            site_orders={**self._site_orders, **site_orders},
            modalities=self.modalities,
            units=self.units,
            files=[*self.files, *files],
        )

    def canonical_system(self, system: str) -> str:
        """Return the system URI the mappings use for ``system`` (aliases resolved)."""
        system = system.strip()
        return self._aliases.get(system, system)

    def _key(self, system: str, code: str) -> tuple[str, str]:
        canonical = self.canonical_system(system)
        return canonical, normalise_code(code, icd=canonical in self._icd)

    def entry(self, system: str | None, code: str | None) -> MappingEntry | None:
        """Return the mapping entry of ``(system, code)`` (exact code first, then longest prefix), or None."""
        if not system or not code or not isinstance(system, str) or not isinstance(code, str):
            return None
        cached = self._cache.get((system, code), _MISSING)
        if cached is not _MISSING:
            return cached  # type: ignore[return-value]
        found = self._lookup(system, code)
        if len(self._cache) > _CACHE_LIMIT:
            self._cache.clear()
        self._cache[(system, code)] = found
        return found

    def _lookup(self, system: str, code: str) -> MappingEntry | None:
        key = self._key(system, code)
        found = self._exact.get(key)
        if found is not None:
            return found
        prefixes = self._prefixes.get(key[0])
        if prefixes:
            normalised = key[1]
            for length in self._prefix_lengths[key[0]]:
                if length <= len(normalised):
                    hit = prefixes.get(normalised[:length])
                    if hit is not None:
                        return hit
        return None

    def concept(self, system: str | None, code: str | None) -> str | None:
        """Return our concept key for ``(system, code)``, or None when the code is not recognised."""
        found = self.entry(system, code)
        return found.concept if found is not None else None

    def first(self, codings: Iterable[tuple[str | None, str | None]], *namespaces: str) -> MappingEntry | None:
        """Return the first entry among ``codings`` (in namespaces ``namespaces``, if given), or None."""
        for system, code in codings:
            found = self.entry(system, code)
            if found is not None and (not namespaces or found.namespace in namespaces):
                return found
        return None

    def match(
        self, codings: Iterable[tuple[str | None, str | None]], *namespaces: str
    ) -> tuple[MappingEntry, str] | None:
        """Return the first entry among ``codings`` with the coding as sent (``system|code``), or None."""
        for system, code in codings:
            found = self.entry(system, code)
            if found is not None and (not namespaces or found.namespace in namespaces):
                return found, f"{system}|{code}"
        return None

    def modality_for_order(self, codings: Iterable[tuple[str | None, str | None]]) -> str | None:
        """Return the modality id a draft order's codings stand for, or None when none is recognised."""
        for system, code in codings:
            if not system or not code or not isinstance(system, str) or not isinstance(code, str):
                continue
            canonical, normalised = self._key(system, code)
            if canonical == MODALITY and code.strip() in self.modalities:
                return code.strip()
            site = self._site_orders.get((canonical, code.strip()))
            if site is not None:
                return site
            direct = self._order_codes.get((canonical, normalised))
            if direct is not None:
                return direct
            prefixes = self._order_prefixes.get(canonical)
            if prefixes:
                for prefix, modality in sorted(prefixes.items(), key=lambda kv: -len(kv[0])):
                    if normalised.startswith(prefix):
                        return modality
            found = self.entry(canonical, code)
            if found is not None:
                if found.namespace == "modality":
                    return found.name
                drug_class = found.attributes.get("drugClass")
                if drug_class is not None and drug_class in self._drug_class_modality:
                    return self._drug_class_modality[drug_class]
        return None

    def codes_for(self, concept: str) -> tuple[MappingEntry, ...]:
        """Return every exact entry mapped to ``concept`` (e.g. for a data gap's "codes to look for")."""
        return tuple(e for e in self._exact.values() if e.concept == concept)

    def known_codes(self) -> frozenset[tuple[str, str]]:
        """Return every exact ``(system, normalised code)`` pair recognised."""
        return frozenset(self._exact)

    def __repr__(self) -> str:
        return f"<Terminology {len(self._exact)} codes, {sum(map(len, self._prefixes.values()))} prefixes>"
