"""The treatment algorithm as an SVG flowchart (PATHWAY.md A.4), with this patient's route drawn on it.

Decisions run down the left (histology → fitness → distant extrahepatic disease → recurrence →
resectability), ending in the non-surgical options; the functional-syndrome module sits beside them.
The patient's route is the path the recorded facts take: one exit per decision, never a branch the
facts exclude. Where a fact the next decision needs is missing, the route stops there and says what
is missing. Statuses never draw the route: every option is a chip labelled with its status.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

from nelm_fhir.pathways.result import Evaluation, Modality, Status

__all__ = ["STATUS_STYLE", "RouteStep", "patient_route", "render_flowchart"]

# (fill colour, short label); text always accompanies colour.
STATUS_STYLE: Mapping[Status, tuple[str, str]] = {
    Status.RECOMMENDED: ("#17693a", "Recommended"),
    Status.CONSIDER: ("#1c5aa0", "Consider"),
    Status.NOT_RECOMMENDED: ("#5f6368", "Not recommended"),
    Status.CONTRAINDICATED: ("#a4261d", "Contraindicated"),
    Status.INSUFFICIENT_DATA: ("#8a5300", "Insufficient data"),
}

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
    exit: str  # key of the gate exit that leads here


@dataclass(frozen=True, slots=True)
class _Gate:
    key: str
    title: str
    leaves: tuple[_Leaf, ...]
    down: str  # key of the exit down to the next gate ("" for the last)
    labels: Mapping[str, str]  # exit key → label drawn on the branch
    decision: bool = True  # False: a menu of options, not a decision (every option is reached)


M = Modality
NON_SURGICAL = "non-surgical"
GATES: tuple[_Gate, ...] = (
    _Gate("histology", "Histology: differentiation and grade",
          (_Leaf("NEC branch: platinum–etoposide", (M.CHEMOTHERAPY,), "nec"),), "net",
          {"nec": "NEC", "net": "well-differentiated NET (G3: restricted)"}),
    _Gate("fitness", "Fit for major surgery?", (), "fit",
          {"unfit": "unfit → non-surgical options", "fit": "fit"}),
    _Gate("extrahepatic", "Distant extrahepatic disease?",
          (_Leaf("Systemic therapy (all sites)", (M.SOMATOSTATIN_ANALOGUE, M.EVEROLIMUS, M.SUNITINIB), "distant"),
           _Leaf("Bulky liver + extrahepatic", (M.PRRT_PLUS_RADIOEMBOLIZATION,), "distant")), "none",
          {"distant": "yes", "none": "no"}),
    _Gate("recurrence", "Recurrence after resection?",
          (_Leaf("Re-resection if limited and feasible", (M.REPEAT_RESECTION,), "recurrent"),), "first",
          {"recurrent": "yes", "first": "no"}),
    _Gate("resectable", "Resectable with R0 intent?",
          (_Leaf("Yes, FLR ≥ {flr} %: one-stage", (M.CURATIVE_RESECTION, M.SIMULTANEOUS_RESECTION), "one-stage"),
           _Leaf("Yes, FLR < {flr} %: staged",
                 (M.PORTAL_VEIN_EMBOLIZATION, M.TWO_STAGE_HEPATECTOMY, M.ALPPS), "staged")), "unresectable",
          {"one-stage": "yes", "staged": "yes", "unresectable": "no"}),
    _Gate(NON_SURGICAL, "Not resectable or not fit: non-surgical options",
          (_Leaf("Milan criteria", (M.LIVER_TRANSPLANTATION,), "options"),
           _Leaf("Debulking ≥ 70 % feasible", (M.CYTOREDUCTIVE_SURGERY,), "options"),
           _Leaf("Ablation (lesions < 5 cm; larger: stereotactic/MWA)", (M.RFA, M.STEREOTACTIC_RFA, M.MWA), "options"),
           _Leaf("Intra-arterial (no PVT, hepatic insufficiency, bilio-enteric anastomosis)",
                 (M.TAE, M.TACE, M.RADIOEMBOLIZATION), "options"),
           _Leaf("SSTR-positive, adequate kidneys and marrow", (M.PRRT,), "options")), "",
          {"options": "options"}, decision=False),
)
FUNCTIONAL = _Leaf("Functional syndrome: SSA first; refractory → IFN-α, LDT, PRRT, cytoreduction",
                   (M.INTERFERON_ALPHA,), "functional")


@dataclass(frozen=True, slots=True)
class RouteStep:
    """One gate on the patient's route: the exit their facts take (None: a fact is missing) and why."""

    gate: str
    exit: str | None
    reason: str


def _known(profile: Mapping[str, Any], name: str) -> Any:
    value = profile.get(name)
    return None if value in (None, "", [], {}) else value


def _histology(p: Mapping[str, Any]) -> tuple[str | None, str]:
    diff, grade = _known(p, "differentiation"), _known(p, "grade")
    grade_text = f"grade {grade}" if grade else "grade not recorded"
    if diff == "poor":
        return "nec", f"poorly differentiated, {grade_text}"
    if isinstance(diff, str) and diff.startswith("well"):
        return "net", f"well differentiated, {grade_text}"
    if grade in ("G1", "G2"):
        return "net", f"{grade_text}, differentiation not recorded"
    return None, f"{grade_text}, differentiation not recorded"


def _fitness(p: Mapping[str, Any]) -> tuple[str | None, str]:
    fit, ecog, kps = _known(p, "fitForMajorSurgery"), _known(p, "ecog"), _known(p, "karnofsky")
    # B7: unfit when the MDT says so, ECOG ≥ 3, or (without ECOG) Karnofsky ≤ 40 %.
    if fit is False:
        return "unfit", "MDT: not fit for major surgery"
    if isinstance(ecog, int) and ecog >= 3:
        return "unfit", f"ECOG {ecog}"
    if ecog is None and isinstance(kps, int | float) and kps <= 40:
        return "unfit", f"Karnofsky {kps} %"
    if fit is True or ecog is not None or kps is not None:
        return "fit", f"ECOG {ecog}" if ecog is not None else (
            f"Karnofsky {kps} %" if kps is not None else "MDT: fit for major surgery")
    return None, "performance status not recorded"


def _extrahepatic(p: Mapping[str, Any]) -> tuple[str | None, str]:
    if p.get("distantExtrahepaticDisease") is True:
        return "distant", "distant: " + ", ".join(str(s) for s in p.get("extrahepaticSites") or [])
    sites = _known(p, "extrahepaticSites")
    return "none", ("regional only: " + ", ".join(str(s) for s in sites)) if sites else "none recorded"


def _recurrence(p: Mapping[str, Any]) -> tuple[str | None, str]:
    if p.get("recurrentNelm") is True:
        return "recurrent", "recurrent NELM recorded"
    return "first", "no recurrence recorded"


def _resectable(p: Mapping[str, Any], flr_min: float) -> tuple[str | None, str]:
    r0, frilling, flr = p.get("resectableR0"), p.get("frillingType"), _known(p, "flrPercent")
    if r0 is False:
        return "unresectable", "MDT: no R0 resection"
    if frilling == "type-III":
        return "unresectable", "diffuse (Frilling type III)"
    if r0 is not True:
        return None, "resectability not assessed"
    if not isinstance(flr, int | float):
        return None, "R0 feasible, FLR not recorded"
    return ("one-stage" if flr >= flr_min else "staged"), f"R0 feasible, FLR {flr} %"


def patient_route(profile: Mapping[str, Any], *, flr_min_percent: float) -> list[RouteStep]:
    """Return the gates the patient's facts pass, in order, each with the exit taken (None ends the route)."""
    def resectable(p: Mapping[str, Any]) -> tuple[str | None, str]:
        return _resectable(p, flr_min_percent)

    deciders: dict[str, Callable[[Mapping[str, Any]], tuple[str | None, str]]] = {
        "histology": _histology, "fitness": _fitness, "extrahepatic": _extrahepatic, "recurrence": _recurrence,
        "resectable": resectable,
    }
    steps: list[RouteStep] = []
    keys = [g.key for g in GATES]
    i = 0
    while i < len(GATES):
        gate = GATES[i]
        if not gate.decision:
            steps.append(RouteStep(gate.key, "options", "every option here is rated below"))
            break
        exit_key, reason = deciders[gate.key](profile)
        steps.append(RouteStep(gate.key, exit_key, reason))
        if exit_key is None:
            break
        if exit_key == "unfit":
            i = keys.index(NON_SURGICAL)
        elif exit_key == gate.down:
            i += 1
        else:
            break  # a branch to the right ends the route at its options
    return steps


GATE_X, GATE_W, GATE_H = 44, 290, 84
LEAF_X, LEAF_W = 392, 600
BYPASS_X = 20
CHIP_H = 28
WIDTH = LEAF_X + LEAF_W + 16
ROUTE, OFF, STOP = "#0b57d0", "#9aa0a6", "#8a5300"
DASH = ' stroke-dasharray="6 4"'


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
    """Return a chip's width for its label in 13 px semibold (capitals and digits are wider)."""
    advance = sum(10.4 if ch.isupper() or ch.isdigit() else 4.8 if ch in " ·.,;:-" else 8.7 for ch in text)
    return int(advance) + 30


def _chip_positions(leaf: _Leaf, status: Mapping[Modality, Status], width: int) -> list[tuple[int, int, int]]:
    """Return (dx, dy, width) of each chip, flowing left to right and wrapping inside ``width``."""
    out, dx, dy = [], 10, 28
    for modality in leaf.modalities:
        w = _chip_width(_chip_label(modality, status.get(modality)))
        if dx + w > width - 10 and dx > 10:
            dx, dy = 10, dy + CHIP_H + 6
        out.append((dx, dy, w))
        dx += w + 6
    return out


def _leaf_height(leaf: _Leaf, status: Mapping[Modality, Status], width: int = LEAF_W) -> int:
    positions = _chip_positions(leaf, status, width)
    return (positions[-1][1] if positions else 28) + CHIP_H + 8


def _chip(modality: Modality, st: Status | None, x: int, y: int, w: int) -> str:
    fill = STATUS_STYLE[st][0] if st is not None else "#ffffff"
    label = _chip_label(modality, st)
    return (f'<a href="#m-{modality.value}" class="chip" data-modality="{modality.value}" '
            f'data-status="{st.value if st else "none"}" aria-label="{escape(label)}">'
            f'<rect x="{x}" y="{y}" width="{w}" height="{CHIP_H}" rx="14" fill="{fill}"/>'
            f'<text x="{x + 12}" y="{y + 19}" class="ct">{escape(label)}</text></a>')


def _edge(d: str, gate: str, exit_key: str, lit: bool) -> str:
    colour = ROUTE if lit else OFF
    return (f'<path class="exit{" lit" if lit else ""}" data-gate="{gate}" data-exit="{exit_key}" d="{d}" '
            f'fill="none" stroke="{colour}" stroke-width="{4 if lit else 1.5}" '
            f'marker-end="url(#arrow-{"on" if lit else "off"})"/>')


def _leaf_block(leaf: _Leaf, status: Mapping[Modality, Status], x: int, y: int, w: int, lit: bool,
                flr: str, *, dashed: bool = False) -> str:
    h = _leaf_height(leaf, status, w)
    colour = ROUTE if lit else OFF
    parts = [f'<g class="leaf{" on-route" if lit else ""}" data-exit="{leaf.exit}">',
             f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="8" fill="{"#eef3fd" if lit else "#f6f7f8"}" '
             f'stroke="{colour}" stroke-width="{3 if lit else 1}"{DASH if dashed else ""}/>',
             f'<text x="{x + 10}" y="{y + 19}" class="lt">{escape(leaf.title.format(flr=flr))}</text>']
    for modality, (dx, dy, cw) in zip(leaf.modalities, _chip_positions(leaf, status, w), strict=True):
        parts.append(_chip(modality, status.get(modality), x + dx, y + dy, cw))
    parts.append("</g>")
    return "".join(parts)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def render_flowchart(evaluation: Evaluation, *, flr_min_percent: float) -> str:
    """Return an inline, accessible SVG of the pathway with the route the patient's facts take."""
    status = {r.modality: r.status for r in evaluation.results}
    profile = evaluation.profile_summary if isinstance(evaluation.profile_summary, dict) else {}
    route = {step.gate: step for step in patient_route(profile, flr_min_percent=flr_min_percent)}
    flr = _number(flr_min_percent)
    rows_h = [max(GATE_H, sum(_leaf_height(leaf, status) + 10 for leaf in g.leaves) - 10 if g.leaves else 0)
              for g in GATES]
    tops: list[int] = []
    y = 16
    for h in rows_h:
        tops.append(y)
        y += h + 30
    gate_y = [top + (h - GATE_H) // 2 for top, h in zip(tops, rows_h, strict=True)]
    body: list[str] = []
    for i, gate in enumerate(GATES):
        step = route.get(gate.key)
        gy, reached = gate_y[i], step is not None
        stopped = step is not None and step.exit is None
        state = "stopped" if stopped else ("on" if reached else "off")
        stroke = STOP if stopped else (ROUTE if reached else OFF)
        body.append(f'<g class="gate" id="gate-{gate.key}" data-route="{state}" '
                    f'data-decision="{"true" if gate.decision else "false"}">')
        body.append(f'<rect x="{GATE_X}" y="{gy}" width="{GATE_W}" height="{GATE_H}" rx="8" fill="#ffffff" '
                    f'stroke="{stroke}" stroke-width="{3 if reached else 1.5}"'
                    f'{DASH if stopped else ""}/>')
        for j, line in enumerate(_lines(gate.title, 32)[:2]):
            body.append(f'<text x="{GATE_X + 10}" y="{gy + 20 + j * 17}" class="gt">{escape(line)}</text>')
        if step is not None:
            note = ("Route stops: " if stopped else "Patient: ") + step.reason
            if gate.decision:
                for j, line in enumerate(_lines(note, 40)[:2]):
                    body.append(f'<text x="{GATE_X + 10}" y="{gy + 57 + j * 15}" class="gn">{escape(line)}</text>')
        body.append("</g>")
        ly = tops[i]
        for leaf in gate.leaves:
            lh = _leaf_height(leaf, status)
            lit = step is not None and step.exit == leaf.exit
            mid_gate, mid_leaf = gy + GATE_H // 2, ly + lh // 2
            body.append(_edge(f"M{GATE_X + GATE_W} {mid_gate} C{LEAF_X - 30} {mid_gate} {GATE_X + GATE_W + 30} "
                              f"{mid_leaf} {LEAF_X} {mid_leaf}", gate.key, leaf.exit, lit))
            body.append(_leaf_block(leaf, status, LEAF_X, ly, LEAF_W, lit, flr))
            ly += lh + 10
        right = sorted({leaf.exit for leaf in gate.leaves})
        if right and gate.decision:
            label = " / ".join(dict.fromkeys(gate.labels[k] for k in right))
            body.append(f'<text x="{GATE_X + GATE_W + 8}" y="{gy + GATE_H // 2 - 8}" class="el">{escape(label)}</text>')
        if gate.key == "fitness":
            target = gate_y[[g.key for g in GATES].index(NON_SURGICAL)] + GATE_H // 2
            mid = gy + GATE_H // 2
            lit = step is not None and step.exit == "unfit"
            body.append(_edge(f"M{GATE_X} {mid} H{BYPASS_X} V{target} H{GATE_X}", gate.key, "unfit", lit))
            body.append(f'<text x="{GATE_X + GATE_W + 12}" y="{mid + 4}" class="el">'
                        f'{escape(gate.labels["unfit"])} (line on the left)</text>')
        if gate.down and i + 1 < len(GATES):
            lit = step is not None and step.exit == gate.down
            x = GATE_X + GATE_W // 2
            body.append(_edge(f"M{x} {gy + GATE_H} V{gate_y[i + 1]}", gate.key, gate.down, lit))
            body.append(f'<text x="{x + 8}" y="{gy + GATE_H + 16}" class="el">{escape(gate.labels[gate.down])}</text>')
    # The functional-syndrome module applies beside the main flow, whenever a syndrome is active.
    fy = y
    fw = WIDTH - GATE_X - 16
    functional = bool(_known(profile, "functionalSyndromes"))
    body.append(_leaf_block(FUNCTIONAL, status, GATE_X, fy, fw, functional, flr, dashed=True))
    height = fy + _leaf_height(FUNCTIONAL, status, fw) + 16
    desc = _describe(list(route.values()), functional)
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" role="group" '
        'aria-labelledby="flow-title flow-desc" class="flowchart">'
        '<title id="flow-title">NELM treatment algorithm with this patient\'s route</title>'
        f'<desc id="flow-desc">{escape(desc)}</desc>'
        "<defs>"
        f'<marker id="arrow-on" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="11" markerHeight="11" '
        f'markerUnits="userSpaceOnUse" orient="auto"><path d="M0 0L10 5L0 10z" fill="{ROUTE}"/></marker>'
        f'<marker id="arrow-off" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" '
        f'markerUnits="userSpaceOnUse" orient="auto"><path d="M0 0L10 5L0 10z" fill="{OFF}"/></marker>'
        "</defs>"
    )
    return head + "".join(body) + "</svg>"


def _describe(steps: list[RouteStep], functional: bool) -> str:
    titles = {g.key: g for g in GATES}
    parts = []
    for step in steps:
        gate = titles[step.gate]
        if step.exit is None:
            parts.append(f"{gate.title} — route stops: {step.reason}")
        elif gate.decision:
            parts.append(f"{gate.title} {gate.labels[step.exit]} ({step.reason})")
        else:
            parts.append(gate.title)
    text = "Patient's route: " + "; then ".join(parts) + "."
    if functional:
        text += " A functional syndrome is active: the functional-syndrome module applies."
    return text + " Each option is labelled with its status."
