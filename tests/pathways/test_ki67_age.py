"""Ki-67 specimen age, B36(c): current when taken at most 12 months ago (configurable); a specimen taken
before the latest progression only adds "re-biopsy after progression advised [41]" and an advisory gap for
liver transplantation, ALPPS and PRRT (statuses unchanged). Before B36 this was an A.6 engineering default
under which a specimen taken since the last progression stayed current at any age; B36 replaced that.

An old grading specimen never supports a grade-dependent option (it becomes insufficient-data with a
stale gap naming the specimen), but it still counts against one (G3 contraindications stand), and it
leaves grade-independent options alone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from nelm_fhir.model import (
    Differentiation,
    DiseaseStatus,
    DiseaseTrend,
    Fact,
    FrillingType,
    Ki67Result,
    NelmProfile,
    SpecimenSite,
)
from nelm_fhir.model.grading import assess_grade
from nelm_fhir.pathways import Evaluation, Modality, evaluate, load_config
from tests.pathways.builder import NOW, make_profile, months_ago

CONFIG = load_config()
M = Modality
UNRESECTABLE: dict[str, Any] = {"frilling": FrillingType.III, "r0": False, "flr": None, "lesions": (4.0, 3.0, 2.0),
                                "progressive": True}


def _aged(profile: NelmProfile, when: dt.date, *, value: float | None = None,
          mitoses: tuple[float, dt.date] | None = None) -> NelmProfile:
    ki = tuple(dataclasses.replace(k, date=when, value=value if value is not None else k.value) for k in profile.ki67)
    mito = Fact(value=mitoses[0], source="Observation/mitoses", date=mitoses[1]) if mitoses else None
    return dataclasses.replace(profile, ki67=ki, mitotic_count=mito, grade=assess_grade(ki, mito))


def _run(profile: NelmProfile, config: Any = CONFIG) -> Evaluation:
    return evaluate(profile, now=NOW, config=config)


def test_threshold_is_the_b36_limit_and_configurable() -> None:
    t = CONFIG.threshold("staleness.ki67-months")
    assert (t.value, t.unit, t.rule, t.engineering_default, t.configurable) == (12, "mo", "B36", False, True)


@pytest.mark.parametrize(("when", "stale"), [
    (months_ago(11), False), (months_ago(12), False), (months_ago(12) - dt.timedelta(days=1), True),
    (months_ago(36), True),
])
def test_specimen_older_than_12_months_blocks_positive_grade_dependent_options(when: dt.date, stale: bool) -> None:
    ev = _run(_aged(make_profile(), when))
    assert (ev.result(M.CURATIVE_RESECTION).status.value == "insufficient-data") is stale
    ids = {c.id: c for c in ev.result(M.CURATIVE_RESECTION).criteria}
    assert ("ki67-current" in ids) is stale
    if stale:
        c = ids["ki67-current"].to_json()
        assert not c.get("engineeringDefault") and c["met"] is None and "B36" in c["note"]
        assert when.isoformat() in c["note"] and "consider a repeat biopsy" in c["note"]
        gap = next(g.to_json() for g in ev.data_gaps if g.element == "ki67Percent")
        assert gap["stale"] is True and gap["lastSeen"] == when.isoformat() and gap["lastSource"] == "Observation/ki67"
        assert "12 months" in gap["why"] and "B36" in gap["why"] and "curative-resection" in gap["blocks"]
        assert ev.profile_summary["grade"] == "G1"  # the old value is still shown


def test_grade_independent_options_and_exclusions_are_unchanged() -> None:
    old = months_ago(30)
    ev = _run(_aged(make_profile(**UNRESECTABLE), old))
    fresh = _run(make_profile(**UNRESECTABLE))
    assert ev.result(M.PRRT).status.value == "insufficient-data" and fresh.result(M.PRRT).status.value == "recommended"
    for modality in (M.TAE, M.TACE, M.RADIOEMBOLIZATION, M.SOMATOSTATIN_ANALOGUE, M.INTERFERON_ALPHA):
        assert ev.result(modality).status is fresh.result(modality).status, modality
    # Curative resection is excluded anyway (not resectable): the old specimen does not matter there.
    assert ev.result(M.CURATIVE_RESECTION).status.value == "not-recommended"
    assert M.CURATIVE_RESECTION not in next(g for g in ev.data_gaps if g.element == "ki67Percent").blocks


def test_an_old_g3_still_contraindicates() -> None:
    ev = _run(_aged(make_profile(flr=25.0, frilling=FrillingType.II, lesions=(3.0, 2.0)), months_ago(30), value=25.0))
    assert ev.result(M.ALPPS).status.value == "contraindicated"
    assert ev.result(M.LIVER_TRANSPLANTATION).status.value == "contraindicated"
    assert ev.result(M.PORTAL_VEIN_EMBOLIZATION).status.value == "insufficient-data"


def test_b36_an_old_specimen_is_stale_even_when_taken_since_the_last_progression() -> None:
    # B36(c) replaced A.6's "or since the last progression": 12 months is the only limit.
    profile = _aged(make_profile(**UNRESECTABLE), months_ago(20))
    statuses = (DiseaseStatus(trend=DiseaseTrend.STABLE, source="Observation/s-now", date=months_ago(1)),
                DiseaseStatus(trend=DiseaseTrend.WORSENED, source="Observation/s-prog", date=months_ago(22)))
    after = dataclasses.replace(profile, disease_status=statuses)
    assert _run(after).result(M.PRRT).status.value == "insufficient-data"
    assert any(g.element == "ki67Percent" and g.stale for g in _run(after).data_gaps)


def test_b36_a_current_specimen_before_the_latest_progression_adds_a_rebiopsy_note_only() -> None:
    # Both sides: progression one month ago; a current specimen taken before it (note + advisory gap) or after it.
    progression = (DiseaseStatus(trend=DiseaseTrend.WORSENED, source="Observation/s-prog", date=months_ago(1)),)
    before = _run(dataclasses.replace(_aged(make_profile(**UNRESECTABLE), months_ago(5)), disease_status=progression))
    since = _run(dataclasses.replace(_aged(make_profile(**UNRESECTABLE), NOW - dt.timedelta(days=7)),
                                     disease_status=progression))
    assert before.result(M.PRRT).status is since.result(M.PRRT).status  # statuses unchanged
    assert before.result(M.PRRT).status.value == "recommended"
    gap = next(g for g in before.data_gaps if g.element == "ki67AfterProgression")
    assert gap.blocks == () and "re-biopsy after progression advised [41]" in gap.why and "prrt" in gap.why
    assert "curative-resection" not in gap.why
    assert any("re-biopsy after progression advised [41]" in n for n in before.notes)
    assert "re-biopsy after progression advised [41]" in before.result(M.PRRT).notes
    assert "re-biopsy after progression advised [41]" not in before.result(M.TAE).notes
    assert not any(g.element == "ki67AfterProgression" for g in since.data_gaps)
    assert not any("re-biopsy" in n for n in since.notes)


def test_a_recent_mitotic_count_or_any_recent_ki67_keeps_the_grade_current() -> None:
    mitoses = _aged(make_profile(), months_ago(30), mitoses=(1.0, months_ago(2)))
    assert _run(mitoses).result(M.CURATIVE_RESECTION).status.value == "recommended"
    base = make_profile()
    ki = (Ki67Result(value=5.0, specimen=SpecimenSite.PRIMARY, source="Observation/ki67-old", date=months_ago(40)),
          Ki67Result(value=2.0, specimen=SpecimenSite.LIVER, source="Observation/ki67-new", date=months_ago(2)))
    both = dataclasses.replace(base, ki67=ki, grade=assess_grade(ki, None))
    assert _run(both).result(M.CURATIVE_RESECTION).status.value == "recommended"


def test_nec_decisions_do_not_depend_on_specimen_age() -> None:
    ev = _run(_aged(make_profile(differentiation=Differentiation.POOR, **UNRESECTABLE), months_ago(30), value=70.0))
    assert ev.result(M.CHEMOTHERAPY).status.value == "recommended"
    assert ev.result(M.CURATIVE_RESECTION).status.value == "contraindicated"
    assert not any(g.element == "ki67Percent" for g in ev.data_gaps)


def test_site_can_change_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "site.json"
    path.write_text(json.dumps({"name": "qa", "thresholds": {"staleness.ki67-months": 36}}), encoding="utf-8")
    profile = _aged(make_profile(), months_ago(24))
    assert _run(profile).result(M.CURATIVE_RESECTION).status.value == "insufficient-data"
    assert _run(profile, load_config(path)).result(M.CURATIVE_RESECTION).status.value == "recommended"
