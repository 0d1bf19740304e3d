"""Versioned pathway configuration: thresholds with their sources, evidence per modality.

The defaults ship as data (``data/rules-<version>.json``). A site file may override the
thresholds marked ``configurable`` and nothing else::

    {"name": "st-elsewhere", "thresholds": {"milan.max-age-years": 55}}

Errors: every problem with a site file raises ``ConfigError`` naming the offending key.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from nelm_fhir.pathways.result import Modality

__all__ = ["DEFAULT_RULES", "ConfigError", "ModalityEvidence", "PathwayConfig", "Threshold", "load_config"]

DEFAULT_RULES = Path(__file__).resolve().parent / "data" / "rules-2026.1.json"
_SITE_KEYS = frozenset({"name", "description", "thresholds"})


class ConfigError(ValueError):
    """A pathway configuration (defaults or site file) is unusable; the message names the key."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


@dataclass(frozen=True, slots=True, kw_only=True)
class Threshold:
    """One numeric threshold with where it comes from and whether a site may change it."""

    key: str
    value: float
    unit: str
    rule: str  # PATHWAY.md rule id, e.g. "B11"
    label: str
    evidence: tuple[str, ...] = ()
    engineering_default: bool = False  # not stated in the review
    configurable: bool = False
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ModalityEvidence:
    """Review reference numbers and outcome figures worth showing for one modality."""

    evidence: tuple[str, ...]
    outcomes: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class PathwayConfig:
    """The rules' data: version, thresholds (after site overrides) and evidence."""

    name: str
    rules_version: str
    thresholds: Mapping[str, Threshold]
    modalities: Mapping[Modality, ModalityEvidence]
    overrides: tuple[tuple[str, str], ...] = ()

    def value(self, key: str) -> float:
        """Return the threshold value for ``key``; raises ConfigError for an unknown key."""
        try:
            return self.thresholds[key].value
        except KeyError:
            raise ConfigError(key, "unknown threshold") from None

    def threshold(self, key: str) -> Threshold:
        """Return the threshold record for ``key``; raises ConfigError for an unknown key."""
        try:
            return self.thresholds[key]
        except KeyError:
            raise ConfigError(key, "unknown threshold") from None

    def evidence_for(self, modality: Modality) -> ModalityEvidence:
        """Return the evidence of ``modality`` (empty when the data holds none)."""
        return self.modalities.get(modality, ModalityEvidence(evidence=(), outcomes=()))


def _number(key: str, raw: object) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ConfigError(key, f"must be a number, got {json.dumps(raw)}")
    value = float(raw)
    if not math.isfinite(value):
        raise ConfigError(key, "must be a finite number")
    return value


def _strings(key: str, raw: object) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise ConfigError(key, "must be a list of strings")
    return tuple(raw)


def _threshold(key: str, raw: object) -> Threshold:
    if not isinstance(raw, dict):
        raise ConfigError(key, "must be an object")
    try:
        configurable = bool(raw.get("configurable", False))
        return Threshold(
            key=key,
            value=_number(f"{key}.value", raw["value"]),
            unit=str(raw["unit"]),
            rule=str(raw["rule"]),
            label=str(raw["label"]),
            evidence=_strings(f"{key}.evidence", raw.get("evidence", [])),
            engineering_default=bool(raw.get("engineeringDefault", False)),
            configurable=configurable,
            minimum=_number(f"{key}.min", raw["min"]) if configurable else None,
            maximum=_number(f"{key}.max", raw["max"]) if configurable else None,
        )
    except KeyError as exc:
        raise ConfigError(key, f"missing field {exc.args[0]!r}") from None


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read {what}: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), f"{what} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(str(path), f"{what} must be a JSON object")
    return data


def _defaults(path: Path) -> PathwayConfig:
    data = _read_json(path, "rules file")
    raw_thresholds = data.get("thresholds")
    raw_modalities = data.get("modalities")
    if not isinstance(raw_thresholds, dict) or not isinstance(raw_modalities, dict):
        raise ConfigError(str(path), "rules file needs 'thresholds' and 'modalities' objects")
    thresholds = {key: _threshold(key, raw) for key, raw in raw_thresholds.items()}
    modalities: dict[Modality, ModalityEvidence] = {}
    for key, raw in raw_modalities.items():
        try:
            modality = Modality(key)
        except ValueError:
            raise ConfigError(f"modalities.{key}", "not a modality of CONTRACT.md section 1") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"modalities.{key}", "must be an object")
        modalities[modality] = ModalityEvidence(
            evidence=_strings(f"modalities.{key}.evidence", raw.get("evidence", [])),
            outcomes=_strings(f"modalities.{key}.outcomes", raw.get("outcomes", [])),
        )
    return PathwayConfig(
        name=str(data.get("name", "nelm-default")),
        rules_version=str(data.get("rulesVersion", "unversioned")),
        thresholds=MappingProxyType(thresholds),
        modalities=MappingProxyType(modalities),
    )


def _override(base: PathwayConfig, site: dict[str, Any], path: Path) -> PathwayConfig:
    for key in site:
        if key not in _SITE_KEYS:
            raise ConfigError(key, f"unknown key in site configuration (allowed: {', '.join(sorted(_SITE_KEYS))})")
    name = site.get("name", path.stem)
    if not isinstance(name, str) or not name.strip():
        raise ConfigError("name", "must be a non-empty string")
    raw = site.get("thresholds", {})
    if not isinstance(raw, dict):
        raise ConfigError("thresholds", "must be an object of threshold key to number")
    thresholds = dict(base.thresholds)
    overrides: list[tuple[str, str]] = []
    for key, value in raw.items():
        current = thresholds.get(key)
        if current is None:
            raise ConfigError(f"thresholds.{key}", "unknown threshold")
        if not current.configurable:
            raise ConfigError(f"thresholds.{key}", f"not configurable (fixed by {current.rule})")
        number = _number(f"thresholds.{key}", value)
        low, high = current.minimum, current.maximum
        if (low is not None and number < low) or (high is not None and number > high):
            raise ConfigError(f"thresholds.{key}", f"{number:g} is outside the allowed range {low:g}–{high:g}")
        thresholds[key] = Threshold(
            key=key,
            value=number,
            unit=current.unit,
            rule=current.rule,
            label=current.label,
            evidence=current.evidence,
            engineering_default=current.engineering_default,
            configurable=True,
            minimum=low,
            maximum=high,
        )
        overrides.append((key, f"{number:g}"))
    renal_x = thresholds["prrt.contraindicated-renal-below-ml-min"].value
    if renal_x > thresholds["prrt.min-renal-ml-min"].value:
        raise ConfigError("thresholds.prrt.contraindicated-renal-below-ml-min", "must not exceed prrt.min-renal-ml-min")
    return PathwayConfig(
        name=f"{name.strip()} (site override of {base.name} {base.rules_version})",
        rules_version=base.rules_version,
        thresholds=MappingProxyType(thresholds),
        modalities=base.modalities,
        overrides=tuple(sorted(overrides)),
    )


def load_config(path: Path | None = None, *, rules: Path = DEFAULT_RULES) -> PathwayConfig:
    """Return the shipped defaults, overridden by the site file at ``path`` if given; raises ConfigError."""
    base = _defaults(rules)
    if path is None:
        return base
    return _override(base, _read_json(Path(path), "site configuration"), Path(path))
