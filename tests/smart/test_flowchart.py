"""The SVG flowchart: well-formed, every modality once, the route to recommended/consider options highlighted."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

from cds_hooks.smart.flowchart import render_flowchart
from nelm_fhir.pathways.result import Evaluation, Modality, ModalityResult, Status

SVG = "{http://www.w3.org/2000/svg}"


def evaluation(statuses: dict[Modality, Status], profile: dict[str, object] | None = None) -> Evaluation:
    results = tuple(
        ModalityResult(modality=m, status=statuses.get(m, Status.NOT_RECOMMENDED), summary="s", criteria=())
        for m in Modality
    )
    return Evaluation(patient="Patient/p", evaluated_at=dt.date(2026, 11, 26), rules_version="t", config_name="t",
                      config_overrides=(), profile_summary=profile or {}, results=results, data_gaps=())


def chips(svg: str) -> dict[str, str]:
    root = ET.fromstring(svg)
    return {a.get("data-modality", ""): a.get("data-status", "") for a in root.iter(f"{SVG}a")}


def test_every_modality_once_with_its_status() -> None:
    svg = render_flowchart(evaluation({Modality.TACE: Status.CONTRAINDICATED, Modality.PRRT: Status.RECOMMENDED}))
    shown = chips(svg)
    assert set(shown) == {m.value for m in Modality}
    assert shown["tace"] == "contraindicated" and shown["prrt"] == "recommended"
    assert "TACE · Contraindicated" in svg  # status in words, not colour alone


def test_route_highlights_only_branches_to_recommended_or_consider() -> None:
    svg = render_flowchart(evaluation({Modality.CURATIVE_RESECTION: Status.RECOMMENDED},
                                      {"grade": "G1", "differentiation": "well", "flrPercent": 70}))
    root = ET.fromstring(svg)
    on = [g for g in root.iter(f"{SVG}g") if "on-route" in (g.get("class") or "")]
    assert len(on) == 1
    assert "FLR ≥ 30 %" in "".join(on[0].itertext())
    desc = root.find(f"{SVG}desc")
    assert desc is not None and "Curative resection · Recommended" in (desc.text or "")
    assert "Patient: grade G1, well differentiated" in svg and "Patient: FLR 70 %" in svg


def test_no_route_when_nothing_is_recommended() -> None:
    svg = render_flowchart(evaluation({}))
    root = ET.fromstring(svg)
    assert not [g for g in root.iter(f"{SVG}g") if "on-route" in (g.get("class") or "")]
    assert "no route is highlighted" in svg
    assert "grade unknown" in svg


def test_text_is_escaped() -> None:
    svg = render_flowchart(evaluation({}, {"grade": "<script>", "differentiation": "well"}))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    ET.fromstring(svg)
