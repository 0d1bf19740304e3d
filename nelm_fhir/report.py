"""``nelm-cds evaluate FILE``: one patient's FHIR R4 Bundle in, the evaluation out (JSON or text).

Deterministic: the same file and the same ``--now`` give the same bytes (no timestamps, no
random ids; the JSON keeps the contract's key order, which depends only on the input).
A file that is not a readable FHIR R4 Bundle gives one line on standard error and exit 2.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import textwrap
from pathlib import Path
from typing import Any, TextIO

from nelm_fhir.ingest import NotABundleError, PatientMismatchError, ingest
from nelm_fhir.ingest.explain import explain_record, render_explanation
from nelm_fhir.pathways import ConfigError, Evaluation, Status, evaluate, load_config

__all__ = ["EXIT_BAD_INPUT", "read_bundle", "render_text", "run_evaluate"]

EXIT_BAD_INPUT = 2
_ORDER = (Status.RECOMMENDED, Status.CONSIDER, Status.CONTRAINDICATED, Status.INSUFFICIENT_DATA, Status.NOT_RECOMMENDED)
_HEADINGS = {
    Status.RECOMMENDED: "RECOMMENDED",
    Status.CONSIDER: "CONSIDER (discuss at the tumour board)",
    Status.CONTRAINDICATED: "CONTRAINDICATED",
    Status.INSUFFICIENT_DATA: "INSUFFICIENT DATA",
    Status.NOT_RECOMMENDED: "NOT RECOMMENDED",
}


class InputError(ValueError):
    """The command's input cannot be used; the message is the one line shown to the user."""


def _reject_constant(name: str) -> float:
    raise InputError(f"not valid JSON: {name} is not allowed")


def read_bundle(path: str) -> dict[str, Any]:
    """Return the Bundle JSON at ``path`` (``-`` = standard input); raises InputError with a one-line reason."""
    label = "standard input" if path == "-" else path
    try:
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"{label}: cannot read file: {exc.strerror or exc.__class__.__name__}") from None
    try:
        data = json.loads(raw.decode("utf-8-sig"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise InputError(f"{label}: not a FHIR R4 Bundle: the file is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{label}: not a FHIR R4 Bundle: invalid JSON at line {exc.lineno} column {exc.colno}"
        ) from None
    except InputError as exc:
        raise InputError(f"{label}: not a FHIR R4 Bundle: {exc}") from None
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        found = data.get("resourceType") if isinstance(data, dict) else type(data).__name__
        raise InputError(f"{label}: not a FHIR R4 Bundle (resourceType is {found!r})")
    return data


def _parse_now(now: str | None) -> dt.date:
    if now is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(now)
    except ValueError:
        raise InputError(f"--now: expected a date YYYY-MM-DD, got {now!r}") from None


def run_evaluate(path: str, *, now: str | None, fmt: str, config_path: str | None, explain: bool = False) -> int:
    """Print the evaluation of the Bundle at ``path``; return 0, or 2 with one line on stderr for bad input.

    ``explain`` adds how the record was read: every resource, used or not, and why (JSON key
    ``recordReading``; in text a table after the evaluation).
    """
    try:
        when = _parse_now(now)
        config = load_config(Path(config_path) if config_path else None)
        bundle = read_bundle(path)
        profile = ingest(bundle, as_of=when)
    except (InputError, ConfigError) as exc:
        return _fail(str(exc))
    except (NotABundleError, PatientMismatchError) as exc:
        return _fail(f"{'standard input' if path == '-' else path}: not a usable FHIR R4 Bundle: {_one_line(exc)}")
    evaluation = evaluate(profile, now=when, config=config)
    text = render_text(evaluation) if fmt == "text" else render_json(evaluation)
    if explain:
        uses = explain_record(bundle, profile)
        if fmt == "text":
            text += render_explanation(uses)
        else:
            data = evaluation.to_json()
            data["recordReading"] = [u.to_json() for u in uses]
            text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    sys.stdout.buffer.write(text.encode("utf-8"))
    sys.stdout.flush()
    return 0


def render_json(evaluation: Evaluation) -> str:
    """Return the CONTRACT.md section 4 JSON text of ``evaluation`` (stable bytes for the same input)."""
    return json.dumps(evaluation.to_json(), indent=2, ensure_ascii=False) + "\n"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or exc.__class__.__name__


def _fail(message: str, stream: TextIO | None = None) -> int:
    print(f"nelm-cds evaluate: {_one_line(InputError(message))}", file=stream or sys.stderr)
    return EXIT_BAD_INPUT


def _wrap(text: str, indent: int) -> list[str]:
    return textwrap.wrap(text, width=100, initial_indent=" " * indent, subsequent_indent=" " * (indent + 2)) or [""]


def _header(evaluation: Evaluation) -> list[str]:
    p = evaluation.profile_summary
    lines = [
        f"NELM Pathways evaluation of {evaluation.patient} on {evaluation.evaluated_at.isoformat()}",
        f"rules {evaluation.rules_version}, configuration {evaluation.config_name}",
    ]
    if evaluation.config_overrides:
        lines.append("site overrides: " + ", ".join(f"{k}={v}" for k, v in evaluation.config_overrides))
    grade = p.get("grade", "not graded (no Ki-67, no mitotic count)")
    ki67 = ""
    if "ki67Percent" in p:
        where = p.get("ki67Specimen", "unknown specimen")
        ki67 = f", Ki-67 {p['ki67Percent']} % on {where} specimen"
        if "ki67Date" in p:
            ki67 += f" of {p['ki67Date']}"
        if "ki67Source" in p:
            ki67 += f" ({p['ki67Source']})"
        if p.get("ki67Stale"):
            ki67 += " [older than the Ki-67 age limit: grade-dependent options need a recent specimen (A.6)]"
    lines.append(f"Grade: {grade}{ki67}; differentiation: {p.get('differentiation', 'not recorded')}")
    primary = f"Primary: {p.get('primarySite', 'not recorded')}"
    if "primaryStatus" in p:
        primary += f", {p['primaryStatus']}"
    lines.append(primary)
    liver = [
        f"{p['lesionCount']} lesion(s)" if "lesionCount" in p else None,
        f"largest {p['largestLesionCm']} cm" if "largestLesionCm" in p else None,
        f"involvement {p['liverInvolvementPercent']} %" if "liverInvolvementPercent" in p else None,
        f"FLR {p['flrPercent']} %" if "flrPercent" in p else None,
        f"Frilling {p['frillingType']}" if "frillingType" in p else None,
    ]
    lines.append("Liver: " + (", ".join(x for x in liver if x) or "no measurements recorded"))
    extra = p.get("extrahepaticSites")
    lines.append("Extrahepatic disease: " + (", ".join(extra) if extra else "none recorded"))
    fitness = [
        f"ECOG {p['ecog']}" if "ecog" in p else None,
        ("fit" if p["fitForMajorSurgery"] else "NOT fit") + " for major surgery (MDT)"
        if "fitForMajorSurgery" in p
        else None,
    ]
    lines.append("Fitness: " + (", ".join(x for x in fitness if x) or "not recorded"))
    if "monthsStable" in p:
        lines.append("Course: " + ("progressive" if p.get("progressive") else f"stable {p['monthsStable']} months"))
    return lines


def render_text(evaluation: Evaluation) -> str:
    """Return a terminal view a clinician can read: grade, each option with status and reason, gaps, notes."""
    lines = _header(evaluation)
    for status in _ORDER:
        results = [r for r in evaluation.results if r.status is status]
        if not results:
            continue
        lines += ["", f"{_HEADINGS[status]} ({len(results)})"]
        for r in results:
            flag = " [beyond the source review]" if r.beyond_source_review else ""
            lines += _wrap(f"{r.modality.value}: {r.summary}{flag}", 2)
            for warning in r.warnings:
                lines += _wrap(f"! {warning}", 6)
            defaults = [c.label for c in r.criteria if c.engineering_default and c.met is not True]
            if defaults:
                text = "; ".join(dict.fromkeys(defaults))
                lines += _wrap(f"~ engineering default, beyond the source review (configurable): {text}", 6)
    if evaluation.data_gaps:
        lines += ["", "DATA GAPS"]
        for gap in evaluation.data_gaps:
            blocks = f" (blocks: {', '.join(m.value for m in gap.blocks)})" if gap.blocks else ""
            lines += _wrap(f"- {gap.element}: {gap.why}{blocks}", 2)
            order = f"to fill it, consider: {gap.order_label}; " if gap.order_label else ""
            lines += _wrap(f"{order}codes: {', '.join(gap.codes)}", 6)
    if evaluation.notes:
        lines += ["", "NOTES"] + [line for note in evaluation.notes for line in _wrap(f"- {note}", 2)]
    if evaluation.problems:
        lines += ["", "UNUSABLE DATA"] + [line for pr in evaluation.problems for line in _wrap(f"- {pr}", 2)]
    return "\n".join(lines) + "\n"
