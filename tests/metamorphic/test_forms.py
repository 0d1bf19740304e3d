"""Metamorphic relation of issue 11 (B27): the same record in another form gives the same statuses.

Every public vignette is rewritten by every generic rewrite of ``rewrite.py`` (value as text,
range, panel component, contained in or referenced by a DiagnosticReport, period or issued date,
molar units, local codes and text, another code system); all 21 statuses must stay the same.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from nelm_fhir.ingest import ingest
from nelm_fhir.pathways import evaluate, load_config
from tests.metamorphic.rewrite import REWRITES

VIGNETTES = Path(__file__).resolve().parents[1] / "vignettes"
# Every vignette: the public ones (VIGNETTES.md) and those of issue 11 (B27-B40).
FILES = sorted(p.name for p in VIGNETTES.glob("*.json") if p.name != "expected.json")
NOW = dt.date(2026, 11, 26)
CONFIG = load_config()


def _bundle(name: str) -> dict[str, Any]:
    return json.loads((VIGNETTES / name).read_text(encoding="utf-8"))


def _statuses(bundle: dict[str, Any]) -> dict[str, str]:
    evaluation = evaluate(ingest(bundle, as_of=NOW), now=NOW, config=CONFIG)
    return {r.modality.value: r.status.value for r in evaluation.results}


@pytest.mark.parametrize("rewrite", sorted(REWRITES))
@pytest.mark.parametrize("name", FILES)
def test_same_statuses_in_every_form(name: str, rewrite: str) -> None:
    original = _bundle(name)
    rewritten = REWRITES[rewrite](original)
    before, after = _statuses(original), _statuses(rewritten)
    assert len(before) == 21
    changed = {m: (before[m], after[m]) for m in before if before[m] != after[m]}
    assert not changed, f"{name} rewritten as {rewrite}: {changed}"


@pytest.mark.parametrize("rewrite", sorted(REWRITES))
def test_rewrites_stay_valid_fhir_r4(rewrite: str) -> None:
    # A rewrite that produced invalid FHIR would test the error path, not another form of the same record.
    for name in FILES[:6]:
        Bundle.model_validate(REWRITES[rewrite](_bundle(name)))


def test_rewrites_change_what_they_claim_to() -> None:
    v24 = _bundle("V24.json")
    text = json.dumps(REWRITES["contained-in-diagnostic-report"](v24))
    assert '"contained"' in text and '"#result"' in text
    assert '"valueString": "0.6 mg/dL"' in json.dumps(REWRITES["value-as-string-with-unit"](v24))
    assert '"14631-6"' in json.dumps(REWRITES["molar-units"](v24))
    assert '"effectiveDateTime"' not in json.dumps(
        [e for e in REWRITES["issued-only"](v24)["entry"] if e["resource"]["resourceType"] == "Observation"]
    )
