"""Evidence pages linked from every card: ``/evidence`` (index) and ``/evidence/<modality>``.

Each modality page lists the thresholds the rules apply to it (value with the unit as clinicians
write it, "engineering default" label, site overrides), the outcome figures of the rules data and the
seed review's references (anchors ``#ref-<n>``, the targets of the cards' evidence links). Rule ids and
configuration keys sit in a last section marked for the clinical owner. ``?format=json`` returns the
same as JSON.
"""

from __future__ import annotations

import html
import json
from functools import cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from cds_hooks.cardparts import MODALITY_LABELS, label_of
from cds_hooks.clinical_text import clinician_text, unit_text
from cds_hooks.config import Settings
from nelm_fhir.pathways.result import Modality

__all__ = ["evidence_document", "init_app"]

REFERENCES_FILE = Path(__file__).resolve().parent / "evidence_references.json"

_SURGERY = ("curative-resection", "simultaneous-resection", "portal-vein-embolization", "two-stage-hepatectomy",
            "alpps", "cytoreductive-surgery", "liver-transplantation", "repeat-resection")
_ALL = tuple(m.value for m in Modality)
# Which modalities each binding decision of PATHWAY.md touches (thresholds carry their rule id).
_RULE_MODALITIES: dict[str, tuple[str, ...]] = {
    "B1": _ALL, "B2": _ALL, "B3": _ALL, "B4": _ALL, "B24": _ALL, "B26": _ALL,
    "B5": _ALL, "B6": ("alpps", "liver-transplantation", "curative-resection", "prrt"),
    "B7": _SURGERY, "B8": ("curative-resection", "portal-vein-embolization", "two-stage-hepatectomy", "alpps"),
    "B9": ("curative-resection", "simultaneous-resection", "liver-transplantation"),
    "B10": ("simultaneous-resection",), "B11": ("liver-transplantation",),
    "B12": ("liver-transplantation", "cytoreductive-surgery"), "B13": ("cytoreductive-surgery",),
    "B14": ("rfa", "stereotactic-rfa", "mwa"), "B15": ("tae", "tace", "rfa", "mwa", "radioembolization"),
    "B16": ("curative-resection", "tae", "tace", "radioembolization", "prrt"),
    "B17": ("tae", "tace", "radioembolization"), "B18": ("tae", "tace"), "B19": ("prrt",),
    "B20": ("prrt-plus-radioembolization",), "B21": ("repeat-resection",),
    "B22": ("curative-resection", "liver-transplantation"),
    "B23": ("somatostatin-analogue", "everolimus", "sunitinib", "chemotherapy", "interferon-alpha"),
    # A.6: the Ki-67 specimen age limit applies where the grade decides (the B4 list)
    "A.6": (*_SURGERY, "prrt", "everolimus", "sunitinib", "chemotherapy"),
    # B32-B38 (issue 11): pregnancy on every option it caps or excludes, liver function and FLR on hepatectomies,
    # the Ki-67 age limit (B36) where the grade decides.
    "B32": _ALL,
    "B35": ("curative-resection", "simultaneous-resection", "repeat-resection", "portal-vein-embolization",
            "two-stage-hepatectomy", "alpps"),
    "B36": (*_SURGERY, "prrt", "everolimus", "sunitinib", "chemotherapy"),
    "B38": ("curative-resection", "simultaneous-resection", "repeat-resection"),
}

_MISSING = "cited in the seed review's text; its reference list as provided ends before this number"

bp = Blueprint("nelm_evidence", __name__)


@cache
def _references() -> dict[str, str]:
    data = json.loads(REFERENCES_FILE.read_text(encoding="utf-8"))
    refs: dict[str, str] = data["references"]
    return refs


def _ref_numbers(labels: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for label in labels:
        for part in label.strip("[]").split(","):
            part = part.strip()
            if "-" in part or "–" in part:
                lo, _, hi = part.replace("–", "-").partition("-")
                if lo.isdigit() and hi.isdigit():
                    out.extend(str(n) for n in range(int(lo), int(hi) + 1))
            elif part.isdigit():
                out.append(part)
    return list(dict.fromkeys(out))


def evidence_document(config: Any, modality: Modality) -> dict[str, Any]:
    """Return thresholds, references and outcomes of ``modality`` from the pathway configuration."""
    ev = config.evidence_for(modality)
    overrides = dict(config.overrides)
    thresholds = [
        {"key": t.key, "value": t.value, "unit": t.unit, "rule": t.rule, "label": t.label,
         "evidence": list(t.evidence), "engineeringDefault": t.engineering_default,
         "configurable": t.configurable, "siteOverride": t.key in overrides}
        for t in config.thresholds.values()
        if modality.value in _RULE_MODALITIES.get(t.rule, ()) and _RULE_MODALITIES.get(t.rule) != _ALL
    ]
    general = [t.key for t in config.thresholds.values() if _RULE_MODALITIES.get(t.rule) == _ALL]
    refs = _references()
    numbers = _ref_numbers(tuple(ev.evidence) + tuple(e for t in thresholds for e in t["evidence"]))
    return {
        "modality": modality.value,
        "label": label_of(modality),
        "rulesVersion": config.rules_version,
        "configuration": config.name,
        "thresholds": thresholds,
        "generalThresholds": general,
        "references": [{"number": n, "citation": refs.get(n, _MISSING)}
                       for n in numbers],
        "outcomes": list(ev.outcomes),
    }


_STYLE = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45;"
          "color:#1f1f1f}table{border-collapse:collapse;width:100%}td,th{border:1px solid #999;padding:.3rem .5rem;"
          "text-align:left;vertical-align:top}a{color:#0b57d0}.tag{font-size:.8rem;background:#eee;padding:0 .3rem}"
          ".owner{margin-top:2.5rem;border-top:3px double #777;padding-top:.5rem;color:#333}"
          ".owner h2{font-size:1.05rem}li:target{background:#fff4ce}"
          "@media (max-width:520px){body{margin:1rem auto}td,th{padding:.2rem .3rem;overflow-wrap:anywhere}}")
# UCUM codes of the rules data that clinicians write differently (the rest: clinical_text.unit_text).
_UNIT_WORDS = {"d": "days", "1": ""}


def _page(title: str, body: str) -> Response:
    text = (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>"
            "<meta name=viewport content='width=device-width, initial-scale=1'>"
            f"<style>{_STYLE}</style></head>"
            f"<body><main>{body}</main><footer><p><small>Decision support only. Source: seed review reference "
            "numbers; thresholds from the versioned rules data.</small></p></footer></body></html>")
    return Response(text, mimetype="text/html")


def _threshold_text(value: float, unit: str) -> str:
    shown = _UNIT_WORDS[unit] if unit in _UNIT_WORDS else unit_text(unit)
    return f"{value:g} {shown}".strip()


def _ref_links(labels: list[str]) -> str:
    """Return reference labels such as ``[38–40]`` as links to the numbered references below."""
    out = []
    for label in labels:
        numbers = _ref_numbers((label,))
        target = f"#ref-{numbers[0]}" if numbers else ""
        out.append(f"<a href='{target}'>{html.escape(label)}</a>" if target else html.escape(label))
    return " ".join(out)


@bp.get("/evidence")
def index() -> Response:
    """List the modalities with links to their evidence pages."""
    items = "".join(f"<li><a href='/evidence/{m.value}'>{html.escape(label)}</a></li>"
                    for m, label in MODALITY_LABELS.items())
    # The tumour-board references every patient's headline card links to (``/evidence#ref-14``).
    refs = _references()
    board = "".join(f"<li id='ref-{n}' value='{n}'>{html.escape(refs.get(n, _MISSING))}</li>" for n in ("14", "15"))
    return _page("NELM Pathways evidence", f"<h1>NELM Pathways: evidence by treatment option</h1><ul>{items}</ul>"
                 "<h2>Every patient: the tumour board</h2>"
                 "<p>Every patient with NELM: review by the NEN multidisciplinary tumour board [14,15].</p>"
                 f"<ol>{board}</ol>")


@bp.get("/evidence/<modality>")
def modality_page(modality: str) -> Response:
    """Show (or, with ?format=json, return) the evidence of one modality; 404 for an unknown id.

    What a clinician reads names no rule, element or option id and writes units as clinicians do; the
    rule ids and configuration keys are kept in a last section marked for the clinical owner.
    """
    try:
        which = Modality(modality)
    except ValueError:
        missing = _page("Not found", "<h1>Unknown treatment option</h1>"
                        "<p><a href='/evidence'>All options</a></p>")
        missing.status_code = 404
        return missing
    doc = evidence_document(current_app.extensions["nelm_pathway_config"], which)
    if request.args.get("format") == "json":
        return jsonify(doc)
    rows = "".join(
        f"<tr><td>{html.escape(clinician_text(t['label']))}</td>"
        f"<td>{html.escape(_threshold_text(t['value'], t['unit']))}</td><td>{_ref_links(t['evidence'])}</td><td>"
        + ("<span class=tag>engineering default</span> " if t["engineeringDefault"] else "")
        + ("<span class=tag>site override</span>" if t["siteOverride"] else "") + "</td></tr>"
        for t in doc["thresholds"])
    table = ("<table><thead><tr><th scope=col>Criterion</th><th scope=col>Threshold</th><th scope=col>Evidence</th>"
             f"<th scope=col>Note</th></tr></thead><tbody>{rows}</tbody></table>") if rows else (
        "<p>No numeric threshold specific to this option.</p>")
    refs = "".join(f"<li id='ref-{r['number']}' value='{r['number']}'>{html.escape(r['citation'])}</li>"
                   for r in doc["references"])
    # The option's criteria also cite the review's general references (e.g. [2], [13]): the rest of the list,
    # anchored too, so that every "#ref-N" a card links to lands on its line here.
    own = {r["number"] for r in doc["references"]}
    others = "".join(f"<li id='ref-{n}' value='{n}'>{html.escape(c)}</li>"
                     for n, c in sorted(_references().items(), key=lambda item: int(item[0]) if item[0].isdigit()
                                        else 10_000) if n not in own)
    outcomes = "".join(f"<li>{html.escape(clinician_text(o))}</li>" for o in doc["outcomes"])
    owner_rows = "".join(
        f"<tr><td>{html.escape(t['rule'])}</td><td><code>{html.escape(t['key'])}</code></td>"
        f"<td>{t['value']:g} {html.escape(t['unit'])}</td><td>{html.escape(t['label'])}</td></tr>"
        for t in doc["thresholds"])
    owner = ("<section class=owner data-audience=clinical-owner aria-labelledby=owner-h>"
             "<h2 id=owner-h>For the clinical owner: rule identifiers</h2>"
             "<p>Each threshold above with its binding decision of the rule book, its configuration key and its "
             "unit as stored in the rules data. Clinicians do not need these to use the evidence.</p>"
             + (f"<table><thead><tr><th scope=col>Rule</th><th scope=col>Configuration key</th>"
                f"<th scope=col>Stored value</th><th scope=col>Rules-data label</th></tr></thead>"
                f"<tbody>{owner_rows}</tbody></table>" if owner_rows else "<p>No threshold.</p>")
             + "</section>")
    body = (f"<h1>{html.escape(doc['label'])}</h1><p>Rules {html.escape(doc['rulesVersion'])}, configuration "
            f"{html.escape(doc['configuration'])}.</p><h2>Criteria thresholds</h2>{table}"
            f"<h2>Reported outcomes</h2><ul>{outcomes or '<li>none recorded in the rules data</li>'}</ul>"
            f"<h2>References (seed review)</h2><ol>{refs or '<li>none</li>'}</ol>"
            f"<h2>Other references of the review</h2><ol>{others}</ol>"
            f"<p><a href='/evidence'>All options</a></p>{owner}")
    return _page(doc["label"], body)


def init_app(app: Flask, settings: Settings) -> None:
    """Register the evidence pages."""
    app.register_blueprint(bp)
