"""The SVG flowchart: well-formed, every option once with its status, and the route the patient's facts take.

The route is checked against the facts, not against the statuses: one exit per decision on the route,
never a branch the facts exclude, and the same route whatever the options' statuses are.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from cds_hooks.smart.flowchart import render_flowchart
from nelm_fhir.ingest import ingest
from nelm_fhir.pathways import evaluate, load_config
from nelm_fhir.pathways.result import Evaluation, Modality, ModalityResult, Status

SVG = "{http://www.w3.org/2000/svg}"
CONFIG = load_config()
FLR_MIN = CONFIG.value("flr.min-percent")
NOW = dt.date(2026, 11, 26)
VIGNETTES = sorted((Path(__file__).resolve().parents[1] / "vignettes").glob("V*.json"))


def evaluation(statuses: dict[Modality, Status], profile: dict[str, object] | None = None) -> Evaluation:
    results = tuple(
        ModalityResult(modality=m, status=statuses.get(m, Status.NOT_RECOMMENDED), summary="s", criteria=())
        for m in Modality
    )
    return Evaluation(patient="Patient/p", evaluated_at=NOW, rules_version="t", config_name="t",
                      config_overrides=(), profile_summary=profile or {}, results=results, data_gaps=())


def render(ev: Evaluation) -> ET.Element:
    return ET.fromstring(render_flowchart(ev, flr_min_percent=FLR_MIN))


def chips(root: ET.Element) -> dict[str, str]:
    return {a.get("data-modality", ""): a.get("data-status", "") for a in root.iter(f"{SVG}a")}


def gates(root: ET.Element) -> dict[str, ET.Element]:
    return {(g.get("id") or "")[5:]: g for g in root.iter(f"{SVG}g") if g.get("class") == "gate"}


def lit_exits(root: ET.Element) -> dict[str, set[str]]:
    """Return gate key → the exits drawn lit from it."""
    out: dict[str, set[str]] = {}
    for path in root.iter(f"{SVG}path"):
        if "lit" in (path.get("class") or "").split():
            out.setdefault(path.get("data-gate", ""), set()).add(path.get("data-exit", ""))
    return out


def lit_leaves(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if "on-route" in (g.get("class") or "").split()]


def leaf_text(root: ET.Element) -> list[str]:
    return ["".join(g.itertext()) for g in lit_leaves(root)]


def vignette(path: Path) -> Evaluation:
    return evaluate(ingest(json.loads(path.read_text(encoding="utf-8")), as_of=NOW), now=NOW, config=CONFIG)


def test_every_modality_once_with_its_status() -> None:
    root = render(evaluation({Modality.TACE: Status.CONTRAINDICATED, Modality.PRRT: Status.RECOMMENDED}))
    shown = chips(root)
    assert set(shown) == {m.value for m in Modality}
    assert shown["tace"] == "contraindicated" and shown["prrt"] == "recommended"
    assert "TACE · Contraindicated" in ET.tostring(root, encoding="unicode")  # status in words, not colour alone


def test_route_follows_the_facts_to_one_stage_resection() -> None:
    root = render(evaluation({Modality.CURATIVE_RESECTION: Status.RECOMMENDED},
                             {"grade": "G1", "differentiation": "well", "ecog": 0, "resectableR0": True,
                              "flrPercent": 70}))
    assert lit_exits(root) == {"histology": {"net"}, "fitness": {"fit"}, "extrahepatic": {"none"},
                               "recurrence": {"first"}, "resectable": {"one-stage"}}
    assert len(lit_leaves(root)) == 1 and f"FLR ≥ {FLR_MIN:g} %" in leaf_text(root)[0]
    desc = root.find(f"{SVG}desc")
    assert desc is not None and "FLR 70 %" in (desc.text or "")
    text = ET.tostring(root, encoding="unicode")
    assert "Patient: well differentiated, grade G1" in text and "Patient: R0 feasible, FLR 70 %" in text


def test_route_stops_where_a_deciding_fact_is_missing() -> None:
    root = render(evaluation({Modality.CURATIVE_RESECTION: Status.RECOMMENDED}, {"grade": "G3"}))
    assert lit_exits(root) == {}
    g = gates(root)
    assert g["histology"].get("data-route") == "stopped"
    assert all(g[k].get("data-route") == "off" for k in g if k != "histology")
    assert "Route stops: grade G3, differentiation not recorded" in " ".join(g["histology"].itertext())
    assert not lit_leaves(root)


def test_unfit_patient_goes_to_the_non_surgical_options() -> None:
    root = render(evaluation({}, {"grade": "G1", "differentiation": "well", "ecog": 2,
                                  "fitForMajorSurgery": False, "resectableR0": True, "flrPercent": 70}))
    assert lit_exits(root) == {"histology": {"net"}, "fitness": {"unfit"}, "non-surgical": {"options"}}
    assert gates(root)["resectable"].get("data-route") == "off"


def test_text_is_escaped() -> None:
    svg = render_flowchart(evaluation({}, {"grade": "<script>", "differentiation": "well"}), flr_min_percent=FLR_MIN)
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    ET.fromstring(svg)


def _expected_exit(gate: str, p: dict[str, Any]) -> set[str]:
    """The exits the facts allow at each decision, written from the guideline (A.4), not from the code."""
    if gate == "histology":
        if p.get("differentiation") == "poor":
            return {"nec"}
        well = str(p.get("differentiation", "")).startswith("well")
        return {"net"} if well or p.get("grade") in ("G1", "G2") else set()
    if gate == "fitness":
        unfit = p.get("fitForMajorSurgery") is False or (p.get("ecog") or 0) >= 3
        return {"unfit"} if unfit else {"fit"}
    if gate == "extrahepatic":
        return {"distant"} if p.get("distantExtrahepaticDisease") else {"none"}
    if gate == "recurrence":
        return {"recurrent"} if p.get("recurrentNelm") else {"first"}
    if gate == "resectable":
        if p.get("resectableR0") is False or p.get("frillingType") == "type-III":
            return {"unresectable"}
        if p.get("resectableR0") is True and "flrPercent" in p:
            return {"one-stage"} if p["flrPercent"] >= FLR_MIN else {"staged"}
        return set()
    return {"options"}


@pytest.mark.parametrize("path", VIGNETTES, ids=lambda p: p.stem)
def test_every_vignette_one_exit_per_decision_and_the_facts_agree(path: Path) -> None:
    ev = vignette(path)
    p = ev.profile_summary
    root = render(ev)
    lit = lit_exits(root)
    on_route = {k: g for k, g in gates(root).items() if g.get("data-route") in {"on", "stopped"}}
    assert on_route, "the route starts at the histology gate"
    assert "histology" in on_route
    for key, gate in gates(root).items():
        exits = lit.get(key, set())
        if gate.get("data-route") == "off":
            assert not exits, f"{key}: an exit is lit on a gate the route does not reach"
        elif gate.get("data-route") == "stopped":
            assert not exits and _expected_exit(key, p) == set(), f"{key}: stopped although the facts decide it"
        elif gate.get("data-decision") == "true":
            assert len(exits) == 1, f"{key}: {len(exits)} exits lit"
            assert exits == _expected_exit(key, p), f"{key}: route {exits} but the facts say {_expected_exit(key, p)}"
    # Every lit leaf hangs from a lit exit; the NEC branch is lit only for a poorly differentiated tumour.
    for leaf in lit_leaves(root):
        assert any(leaf.get("data-exit") in exits for exits in lit.values()) or leaf.get("data-exit") == "functional"
    nec_lit = "nec" in lit.get("histology", set())
    assert nec_lit == (p.get("differentiation") == "poor")
    if p.get("differentiation") == "poor":
        assert set(lit) == {"histology"}


def test_g3_well_differentiated_resectable_patient_takes_one_branch() -> None:
    """The regression of issue 14: V08 (well-differentiated G3, FLR 22 %) lit the NEC branch and both exits."""
    root = render(vignette(next(p for p in VIGNETTES if p.stem == "V08")))
    lit = lit_exits(root)
    assert lit["histology"] == {"net"} and lit["resectable"] == {"staged"}
    assert "non-surgical" not in lit
    assert [leaf.get("data-exit") for leaf in lit_leaves(root)] == ["staged"]


@pytest.mark.parametrize("path", VIGNETTES[::4], ids=lambda p: p.stem)
def test_statuses_do_not_draw_the_route(path: Path) -> None:
    """Metamorphic: shuffling every option's status changes the chips, never the route."""
    ev = vignette(path)
    base = lit_exits(render(ev))
    rng = random.Random(path.stem)
    for _ in range(5):
        shuffled = tuple(dataclasses.replace(r, status=rng.choice(list(Status))) for r in ev.results)
        again = render(dataclasses.replace(ev, results=shuffled))
        assert lit_exits(again) == base
        assert chips(again) == {r.modality.value: r.status.value for r in shuffled}
