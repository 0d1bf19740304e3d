"""Every public vignette of VIGNETTES.md, as a FHIR R4 Bundle, through ingest + evaluate."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from nelm_fhir.ingest import ingest
from nelm_fhir.pathways import Modality, evaluate, load_config
from tests.vignettes.build import build, dump
from tests.vignettes.specs import SPECS, expected_json

HERE = Path(__file__).resolve().parent
EXPECTED: dict[str, Any] = json.loads((HERE / "expected.json").read_text(encoding="utf-8"))
NOW = dt.date(2026, 11, 26)
CONFIG = load_config()


def _evaluate(vid: str) -> dict[str, Any]:
    bundle = json.loads((HERE / EXPECTED[vid]["file"]).read_text(encoding="utf-8"))
    profile = ingest(bundle, as_of=NOW)
    return evaluate(profile, now=NOW, config=CONFIG).to_json()


@pytest.mark.parametrize("vid", sorted(EXPECTED))
def test_vignette_statuses(vid: str) -> None:
    expected = EXPECTED[vid]
    out = _evaluate(vid)
    assert out["patient"] == expected["patient"]
    got = {r["modality"]: r["status"] for r in out["recommendations"]}
    wrong = {m: (got[m], ok) for m, ok in expected["statuses"].items() if got[m] not in ok}
    assert not wrong, f"{vid} {expected['title']}: {wrong}"
    assert out["profile"].get("grade") == expected.get("grade")
    gaps = {g["element"] for g in out["dataGaps"]}
    assert set(expected.get("dataGaps", [])) <= gaps
    assert out["notes"][0].startswith("Review by the NEN multidisciplinary tumour board")  # B25
    for where, texts in expected.get("mustMention", {}).items():
        shown = _shown(out, where)
        missing = [t for t in texts if t not in shown]
        assert not missing, f"{vid} {where} does not mention {missing}"


def _shown(out: dict[str, Any], where: str) -> str:
    """Return all text a user sees for one modality (or the patient-level notes)."""
    if where == "notes":
        return "\n".join(out["notes"])
    r = next(r for r in out["recommendations"] if r["modality"] == where)
    parts = [r["summary"], *r.get("warnings", []), *r.get("notes", []), *r.get("outcomes", []), *r["evidence"]]
    parts += [f"{c['label']} {c.get('note', '')}" for c in r["criteria"]]
    return "\n".join(parts)


@pytest.mark.parametrize("vid", sorted(EXPECTED))
def test_vignette_every_modality_once_with_reasons(vid: str) -> None:
    out = _evaluate(vid)
    assert [r["modality"] for r in out["recommendations"]] == [m.value for m in Modality]
    for r in out["recommendations"]:
        assert r["summary"] and len(r["summary"]) < 140
        assert r["criteria"], r["modality"]
        if r["status"] == "contraindicated":
            assert any(c["met"] is False for c in r["criteria"]), r
        if r["status"] == "insufficient-data":
            assert any(r["modality"] in g["blocks"] for g in out["dataGaps"]), r


def test_v23_names_ki67_gap_with_loinc_and_no_grade_from_morphology() -> None:
    out = _evaluate("V23")
    assert "grade" not in out["profile"]
    gap = next(g for g in out["dataGaps"] if g["element"] == "ki67Percent")
    assert "http://loinc.org|29593-1" in gap["codes"]
    assert {"liver-transplantation", "alpps", "prrt"} <= set(gap["blocks"])
    assert gap["orderLabel"]


def test_v08_liver_biopsy_note_and_draft_order() -> None:
    out = _evaluate("V08")
    assert any("pre-operative liver biopsy recommended" in n for n in out["notes"])
    order = EXPECTED["V08"]["draftOrders"]["entry"][0]["resource"]
    assert order["code"]["coding"][0] == {"system": "https://nelm-cds.org/fhir/CodeSystem/modality", "code": "alpps",
                                          "display": "ALPPS stage 1"}
    assert EXPECTED["V08"]["hook"] == "order-sign"


def test_sources_point_into_the_bundle() -> None:
    bundle = json.loads((HERE / "V14.json").read_text(encoding="utf-8"))
    refs = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]}
    out = _evaluate("V14")
    tae = next(r for r in out["recommendations"] if r["modality"] == "tae")
    pvt = next(c for c in tae["criteria"] if c["id"] == "no-portal-vein-thrombosis")
    assert pvt["met"] is False and pvt["sources"] == ["Condition/v14-pvt"]
    used = {s for r in out["recommendations"] for c in r["criteria"] for s in c["sources"]}
    assert used and used <= refs


def test_committed_files_match_the_generator() -> None:
    for spec in SPECS:
        assert (HERE / f"{spec.vid}.json").read_text(encoding="utf-8") == dump(build(spec)), spec.vid
    assert (HERE / "expected.json").read_text(encoding="utf-8") == dump(expected_json())


def test_bundles_are_valid_r4_with_unique_ids() -> None:
    seen: set[str] = set()
    for spec in SPECS:
        data = json.loads((HERE / f"{spec.vid}.json").read_text(encoding="utf-8"))
        Bundle.model_validate(data)
        assert data["entry"][0]["resource"] == {**data["entry"][0]["resource"], "id": spec.vid.lower()}
        for entry in data["entry"]:
            key = f"{entry['resource']['resourceType']}/{entry['resource']['id']}"
            assert key not in seen, key
            seen.add(key)
            subject = entry["resource"].get("subject")
            if subject is not None:
                assert subject == {"reference": f"Patient/{spec.vid.lower()}"}
