"""The treatment algorithm as an SVG flowchart (PATHWAY.md A.4), with this patient's route highlighted.

Gates run down the left (histology → fitness → extrahepatic → resectability → unresectable options →
recurrence, with the functional-syndrome module beside them); each gate's exits lead right to the
options it opens, drawn as chips coloured *and* labelled by status. The highlighted route is the set
of branches that lead to options rated ``recommended`` or ``consider`` for this patient.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

from nelm_fhir.pathways.result import Evaluation, Modality, Status

__all__ = ["STATUS_STYLE", "render_flowchart"]

# (fill colour, short label); text always accompanies colour.
STATUS_STYLE: Mapping[Status, tuple[str, str]] = {
    Status.RECOMMENDED: ("#17693a", "Recommended"),
    Status.CONSIDER: ("#1c5aa0", "Consider"),
    Status.NOT_RECOMMENDED: ("#5f6368", "Not recommended"),
    Status.CONTRAINDICATED: ("#a4261d", "Contraindicated"),
    Status.INSUFFICIENT_DATA: ("#8a5300", "Insufficient data"),
}
ON_ROUTE = frozenset({Status.RECOMMENDED, Status.CONSIDER})

SHORT: Mapping[Modality, str] = {
    Modality.CURATIVE_RESECTION: "Curative resection",
    Modality.SIMULTANEOUS_RESECTION: "Simultaneous resection",
    Modality.PORTAL_VEIN_EMBOLIZATION: "PVE",
    Modality.TWO_STAGE_HEPATECTOMY: "Two-stage hepatectomy",
    Modality.ALPPS: "ALPPS",
    Modality.CYTOREDUCTIVE_SURGERY: "Cytoreduction",
    Modality.LIVER_TRANSPLANTATION: "Transplantation",
    Modality.REPEAT_RESECTION: "Repeat resection",
    Modality.RFA: "RFA",
    Modality.STEREOTACTIC_RFA: "Stereotactic RFA",
    Modality.MWA: "MWA",
    Modality.TAE: "TAE",
    Modality.TACE: "TACE",
    Modality.RADIOEMBOLIZATION: "Radioembolization",
    Modality.PRRT: "PRRT",
    Modality.PRRT_PLUS_RADIOEMBOLIZATION: "PRRT + RE",
    Modality.SOMATOSTATIN_ANALOGUE: "SSA",
    Modality.EVEROLIMUS: "Everolimus",
    Modality.SUNITINIB: "Sunitinib",
    Modality.CHEMOTHERAPY: "Chemotherapy",
    Modality.INTERFERON_ALPHA: "IFN-α",
}


@dataclass(frozen=True, slots=True)
class _Leaf:
    title: str
    modalities: tuple[Modality, ...]


@dataclass(frozen=True, slots=True)
class _Gate:
    key: str
    title: str
    exit_label: str  # label of the branch to the right
    leaves: tuple[_Leaf, ...]
    down_label: str  # label of the branch down to the next gate


M = Modality
GATES: tuple[_Gate, ...] = (
    _Gate("histology", "Histology gate: grade and differentiation", "NEC",
          (_Leaf("NEC branch: platinum–etoposide", (M.CHEMOTHERAPY,)),), "NET G1/G2 (G3: restricted)"),
    _Gate("fitness", "Fit for major surgery?", "unfit: surgery contraindicated, see unresectable options",
          (), "fit"),
    _Gate("extrahepatic", "Distant extrahepatic disease?", "yes",
          (_Leaf("Systemic therapy (all sites)", (M.SOMATOSTATIN_ANALOGUE, M.EVEROLIMUS, M.SUNITINIB)),
           _Leaf("Bulky liver + extrahepatic", (M.PRRT_PLUS_RADIOEMBOLIZATION,))), "none"),
    _Gate("resectable", "Resectable with R0 intent?", "yes",
          (_Leaf("FLR ≥ 30 %: one-stage", (M.CURATIVE_RESECTION, M.SIMULTANEOUS_RESECTION)),
           _Leaf("FLR < 30 %: staged", (M.PORTAL_VEIN_EMBOLIZATION, M.TWO_STAGE_HEPATECTOMY, M.ALPPS))),
          "no"),
    _Gate("unresectable", "Unresectable disease", "options",
          (_Leaf("Milan criteria", (M.LIVER_TRANSPLANTATION,)),
           _Leaf("Debulking ≥ 70 % feasible", (M.CYTOREDUCTIVE_SURGERY,)),
           _Leaf("Ablation (lesions < 5 cm; larger: stereotactic/MWA)", (M.RFA, M.STEREOTACTIC_RFA, M.MWA)),
           _Leaf("Intra-arterial (no PVT, hepatic insufficiency, bilio-enteric anastomosis)",
                 (M.TAE, M.TACE, M.RADIOEMBOLIZATION)),
           _Leaf("SSTR-positive, adequate kidneys and marrow", (M.PRRT,))), "after resection"),
    _Gate("recurrence", "Recurrence after resection", "limited and feasible",
          (_Leaf("Re-resection", (M.REPEAT_RESECTION,)),), ""),
)
FUNCTIONAL = _Leaf("Functional syndrome: SSA first; refractory → IFN-α, LDT, PRRT, cytoreduction",
                   (M.INTERFERON_ALPHA,))

GATE_X, GATE_W, GATE_H = 16, 250, 58
LEAF_X, LEAF_W = 330, 610
CHIP_H = 26
WIDTH = LEAF_X + LEAF_W + 16
ROUTE, OFF = "#0b57d0", "#9aa0a6"


def _lines(text: str, width: int) -> list[str]:
    words, out, line = text.split(), [], ""
    for word in words:
        if len(line) + len(word) + 1 > width and line:
            out.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    if line:
        out.append(line)
    return out


def _chip_label(modality: Modality, status: Status | None) -> str:
    return f"{SHORT[modality]} · {STATUS_STYLE[status][1] if status is not None else 'not rated'}"


def _chip_width(text: str) -> int:
    return int(len(text) * 8.1) + 22


def _chip_positions(leaf: _Leaf, status: Mapping[Modality, Status], width: int) -> list[tuple[int, int, int]]:
    """Return (dx, dy, width) of each chip, flowing left to right and wrapping inside ``width``."""
    out, dx, dy = [], 10, 26
    for modality in leaf.modalities:
        w = _chip_width(_chip_label(modality, status.get(modality)))
        if dx + w > width - 10 and dx > 10:
            dx, dy = 10, dy + CHIP_H + 6
        out.append((dx, dy, w))
        dx += w + 6
    return out


def _leaf_height(leaf: _Leaf, status: Mapping[Modality, Status], width: int = LEAF_W) -> int:
    positions = _chip_positions(leaf, status, width)
    return (positions[-1][1] if positions else 26) + CHIP_H + 8


def _gate_note(key: str, profile: Mapping[str, Any]) -> str:
    def get(*names: str) -> Any:
        for name in names:
            if name in profile and profile[name] not in (None, "", [], {}):
                return profile[name]
        return None

    if key == "histology":
        grade, diff = get("grade"), get("differentiation")
        parts = [f"grade {grade}" if grade else "grade unknown"]
        parts.append(f"{diff} differentiated" if isinstance(diff, str) and diff in {"well", "poor"} else
                     "differentiation unknown")
        return "Patient: " + ", ".join(parts)
    if key == "fitness":
        ecog, fit = get("ecog"), get("fitForMajorSurgery")
        bits = ([f"ECOG {ecog}"] if ecog is not None else []) + (
            [f"fit for major surgery: {'yes' if fit else 'no'}"] if isinstance(fit, bool) else [])
        return "Patient: " + ", ".join(bits) if bits else "Patient: fitness not recorded"
    if key == "extrahepatic":
        sites = get("extrahepaticSites")
        if isinstance(sites, list) and sites:
            kind = "distant" if get("distantExtrahepaticDisease") else "regional"
            return f"Patient: {', '.join(str(x) for x in sites)} ({kind})"
        return "Patient: none recorded"
    if key == "resectable":
        flr, r0 = get("flrPercent"), get("resectableR0")
        bits = ([f"FLR {flr} %"] if flr is not None else []) + (
            [f"R0 feasible: {'yes' if r0 else 'no'}"] if isinstance(r0, bool) else [])
        return "Patient: " + ", ".join(bits) if bits else "Patient: not assessed"
    return ""


def _chip(modality: Modality, st: Status | None, x: int, y: int, w: int, route_names: list[str]) -> str:
    fill = STATUS_STYLE[st][0] if st is not None else "#ffffff"
    label = _chip_label(modality, st)
    if st in ON_ROUTE:
        route_names.append(label)
    ring = ' stroke="#000" stroke-width="2"' if st in ON_ROUTE else ""
    return (f'<a href="#m-{modality.value}" class="chip" data-modality="{modality.value}" '
            f'data-status="{st.value if st else "none"}" aria-label="{escape(label)}">'
            f'<rect x="{x}" y="{y}" width="{w}" height="{CHIP_H}" rx="13" fill="{fill}"{ring}/>'
            f'<text x="{x + 11}" y="{y + 17}" class="ct">{escape(label)}</text></a>')


def render_flowchart(evaluation: Evaluation) -> str:
    """Return an inline, accessible SVG of the pathway with the patient's route highlighted."""
    status = {r.modality: r.status for r in evaluation.results}
    profile = evaluation.profile_summary if isinstance(evaluation.profile_summary, dict) else {}

    def leaf_on(leaf: _Leaf) -> bool:
        return any(status.get(m) in ON_ROUTE for m in leaf.modalities)

    body: list[str] = []
    y = 16
    on_below = [any(leaf_on(leaf) for g in GATES[i:] for leaf in g.leaves) for i in range(len(GATES))]
    route_names: list[str] = []
    rows_h = [max(GATE_H, sum(_leaf_height(leaf, status) + 10 for leaf in g.leaves) - 10 if g.leaves else 0)
              for g in GATES]
    for i, gate in enumerate(GATES):
        row_h = rows_h[i]
        gy = y + (row_h - GATE_H) // 2
        gate_on = on_below[i]
        stroke = ROUTE if gate_on else OFF
        body.append(f'<g class="gate" id="gate-{gate.key}">')
        body.append(f'<rect x="{GATE_X}" y="{gy}" width="{GATE_W}" height="{GATE_H}" rx="8" fill="#ffffff" '
                    f'stroke="{stroke}" stroke-width="{3 if gate_on else 1.5}"/>')
        text_lines = _lines(gate.title, 34)
        note = _gate_note(gate.key, profile)
        for j, line in enumerate(text_lines):
            body.append(f'<text x="{GATE_X + 10}" y="{gy + 20 + j * 16}" class="gt">{escape(line)}</text>')
        if note:
            body.append(f'<text x="{GATE_X + 10}" y="{gy + GATE_H - 8}" class="gn">{escape(note[:44])}</text>')
        body.append("</g>")
        ly = y
        for leaf in gate.leaves:
            lh = _leaf_height(leaf, status)
            on = leaf_on(leaf)
            colour = ROUTE if on else OFF
            mid_gate, mid_leaf = gy + GATE_H // 2, ly + lh // 2
            body.append(f'<path d="M{GATE_X + GATE_W} {mid_gate} C{LEAF_X - 30} {mid_gate} {GATE_X + GATE_W + 30} '
                        f'{mid_leaf} {LEAF_X} {mid_leaf}" fill="none" stroke="{colour}" '
                        f'stroke-width="{3 if on else 1.5}" marker-end="url(#arrow-{"on" if on else "off"})"/>')
            body.append(f'<g class="leaf{" on-route" if on else ""}">')
            fill_bg = "#eef3fd" if on else "#f6f7f8"
            body.append(f'<rect x="{LEAF_X}" y="{ly}" width="{LEAF_W}" height="{lh}" rx="8" '
                        f'fill="{fill_bg}" stroke="{colour}" stroke-width="{2.5 if on else 1}"/>')
            body.append(f'<text x="{LEAF_X + 10}" y="{ly + 19}" class="lt">{escape(leaf.title)}</text>')
            positions = _chip_positions(leaf, status, LEAF_W)
            for modality, (dx, dy, w) in zip(leaf.modalities, positions, strict=True):
                body.append(_chip(modality, status.get(modality), LEAF_X + dx, ly + dy, w, route_names))
            body.append("</g>")
            ly += lh + 10
        if gate.exit_label and gate.leaves:
            body.append(f'<text x="{GATE_X + GATE_W + 8}" y="{gy + GATE_H // 2 - 6}" class="el">'
                        f'{escape(gate.exit_label)}</text>')
        elif gate.exit_label:
            body.append(f'<text x="{GATE_X + GATE_W + 12}" y="{gy + GATE_H // 2 + 4}" class="el">→ '
                        f'{escape(gate.exit_label)}</text>')
        y += row_h + 24
        if i + 1 < len(GATES):
            cont = on_below[i + 1]
            colour = ROUTE if cont else OFF
            x = GATE_X + GATE_W // 2
            next_top = y + (rows_h[i + 1] - GATE_H) // 2
            body.append(f'<line x1="{x}" y1="{gy + GATE_H}" x2="{x}" y2="{next_top}" stroke="{colour}" '
                        f'stroke-width="{3 if cont else 1.5}" marker-end="url(#arrow-{"on" if cont else "off"})"/>')
            if gate.down_label:
                body.append(f'<text x="{x + 8}" y="{gy + GATE_H + 16}" class="el">{escape(gate.down_label)}</text>')
    # The functional-syndrome module applies beside the main flow.
    fw = WIDTH - 2 * GATE_X
    fh = _leaf_height(FUNCTIONAL, status, fw)
    on = leaf_on(FUNCTIONAL)
    body.append(f'<g class="leaf{" on-route" if on else ""}"><rect x="{GATE_X}" y="{y}" width="{WIDTH - 2 * GATE_X}" '
                f'height="{fh}" rx="8" fill="{"#eef3fd" if on else "#f6f7f8"}" stroke="{ROUTE if on else OFF}" '
                f'stroke-dasharray="6 4"/><text x="{GATE_X + 10}" y="{y + 19}" class="lt">{escape(FUNCTIONAL.title)}'
                "</text>")
    for modality, (dx, dy, w) in zip(FUNCTIONAL.modalities, _chip_positions(FUNCTIONAL, status, fw), strict=True):
        body.append(_chip(modality, status.get(modality), GATE_X + dx, y + dy, w, route_names))
    body.append("</g>")
    height = y + fh + 16
    desc = ("Highlighted route leads to: " + "; ".join(route_names) + ".") if route_names else (
        "No option is rated recommended or consider for this patient; no route is highlighted.")
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
        'aria-labelledby="flow-title flow-desc" class="flowchart">'
        '<title id="flow-title">NELM treatment algorithm with this patient\'s route</title>'
        f'<desc id="flow-desc">{escape(desc)}</desc>'
        "<defs>"
        f'<marker id="arrow-on" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="10" markerHeight="10" '
        'markerUnits="userSpaceOnUse" '
        f'orient="auto"><path d="M0 0L10 5L0 10z" fill="{ROUTE}"/></marker>'
        f'<marker id="arrow-off" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" '
        'markerUnits="userSpaceOnUse" '
        f'orient="auto"><path d="M0 0L10 5L0 10z" fill="{OFF}"/></marker>'
        "</defs>"
    )
    return head + "".join(body) + "</svg>"
