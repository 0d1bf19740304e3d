"""Versioned rules data and site overrides (load_config) and what the evaluation records of them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nelm_fhir.pathways import ConfigError, Modality, evaluate, load_config
from tests.pathways.builder import NOW, make_profile

MILAN: dict[str, Any] = {"frilling": None, "r0": False, "involvement": 45.0, "stable_months": 8, "ki67": 2.0,
                         "lesions": (3.0, 2.5), "flr": None}


def _site(tmp_path: Path, content: object) -> Path:
    path = tmp_path / "site.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    return path


def test_defaults_are_versioned_with_sources_and_evidence() -> None:
    config = load_config()
    assert config.rules_version == "2026.1"
    assert config.overrides == ()
    age = config.threshold("milan.max-age-years")
    assert (age.value, age.rule, age.engineering_default, age.configurable) == (60, "B11", True, True)
    flr = config.threshold("flr.min-percent")
    assert flr.value == 30 and flr.evidence == ("[10]",) and not flr.engineering_default
    assert set(config.modalities) == set(Modality)
    assert any("70 %" in o and "[26]" in o for o in config.evidence_for(Modality.CURATIVE_RESECTION).outcomes)


def test_no_outcome_shows_what_a7_says_not_to_display() -> None:
    config = load_config()
    texts = [o for m in Modality for o in config.evidence_for(m).outcomes]
    assert not any("74" in t and "100" in t for t in texts)  # #15: not an objective response rate
    assert not any("[66]" in t for t in texts)  # #9: inverted Ki-67 OLT figures


def test_site_override_changes_the_decision_and_is_recorded(tmp_path: Path) -> None:
    profile = make_profile(age=58, **MILAN)
    default = evaluate(profile, now=NOW, config=load_config())
    assert default.result(Modality.LIVER_TRANSPLANTATION).status.value == "consider"
    site = load_config(_site(tmp_path, {"name": "st-elsewhere", "thresholds": {"milan.max-age-years": 55}}))
    ev = evaluate(profile, now=NOW, config=site)
    assert ev.result(Modality.LIVER_TRANSPLANTATION).status.value == "not-recommended"
    out = ev.to_json()
    assert out["configuration"]["overrides"] == {"milan.max-age-years": "55"}
    assert out["configuration"]["name"].startswith("st-elsewhere")
    crit = next(c for c in ev.result(Modality.LIVER_TRANSPLANTATION).criteria if c.id == "milan-age")
    assert crit.label == "within Milan age limit (≤ 55)"


def test_staleness_window_override(tmp_path: Path) -> None:
    profile = make_profile(frilling=None, r0=False, ki67=4.0, progressive=True, lesions=(4.0, 3.0), flr=None)
    assert evaluate(profile, now=NOW, config=load_config()).result(Modality.PRRT).status.value == "recommended"
    strict = load_config(_site(tmp_path, {"thresholds": {"staleness.labs-days": 7}}))
    ev = evaluate(profile, now=NOW, config=strict)
    assert ev.result(Modality.PRRT).status.value == "insufficient-data"
    gap = next(g for g in ev.data_gaps if g.element == "platelets")
    assert gap.stale and gap.last_source == "Observation/platelets" and Modality.PRRT in gap.blocks


@pytest.mark.parametrize(("content", "key"), [
    ({"thresholds": {"milan.max-age": 55}}, "thresholds.milan.max-age"),
    ({"thresholds": {"ablation.max-lesion-cm": 6}}, "thresholds.ablation.max-lesion-cm"),
    ({"thresholds": {"milan.max-age-years": 90}}, "thresholds.milan.max-age-years"),
    ({"thresholds": {"flr.min-percent": 20}}, "thresholds.flr.min-percent"),
    ({"thresholds": {"hepatic.max-inr": "1.5"}}, "thresholds.hepatic.max-inr"),
    ({"thresholds": {"hepatic.max-inr": True}}, "thresholds.hepatic.max-inr"),
    ({"thresholds": {"prrt.contraindicated-renal-below-ml-min": 40, "prrt.min-renal-ml-min": 40.0},
      "colour": "blue"}, "colour"),
    ({"thresholds": {"prrt.contraindicated-renal-below-ml-min": 40, "prrt.min-renal-ml-min": 45}}, None),
    ({"thresholds": {"prrt.contraindicated-renal-below-ml-min": 40, "prrt.min-renal-ml-min": 40}}, None),
    ({"thresholds": []}, "thresholds"),
    ({"name": ""}, "name"),
])
def test_bad_site_files_name_the_key(tmp_path: Path, content: dict[str, Any], key: str | None) -> None:
    path = _site(tmp_path, content)
    if key is None:
        assert load_config(path).overrides
        return
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.key == key
    assert key in str(err.value)


def test_unreadable_or_invalid_site_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(bad)
