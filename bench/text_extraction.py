"""``python -m bench.text_extraction``: precision and recall of the text reader on the project's corpus.

The corpus (``bench/text_corpus/``) holds report texts written for this project and annotated by hand:
``dev.json`` (the rules were tuned against it) and ``heldout.json`` (written and committed before any
rule; not tuned against). Scoring, per report:

- a *proposal* is an affirmed candidate; it is matched to the gold affirmed items by (finding, value,
  comparator) — numbers to 0.01, sizes in cm;
- true positive = proposal in gold; false positive = proposal not in gold (an *unsafe* one when the gold
  says the statement is negated, hedged, historical, hypothetical or family); false negative = gold
  affirmed item not proposed;
- for gold items that are not affirmed, ``assertion`` counts those extracted with the right assertion.

Also prints the time per report (the medspaCy pipeline built once beforehand; build time shown apart).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nelm_fhir.narrative.candidates import Candidate, CodeValue, Quantity
from nelm_fhir.narrative.sources import ReportKind, ReportText

CORPUS = Path(__file__).resolve().parent / "text_corpus"
PARTS = {"dev": "dev.json", "heldout": "heldout.json"}

Key = tuple[str, Any, str | None]


@dataclass
class Counts:
    """True/false positives and false negatives of one finding type (or overall)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    unsafe: int = 0

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None


@dataclass
class Scores:
    """The figures of one part of the corpus."""

    part: str
    reports: int
    by_finding: dict[str, Counts] = field(default_factory=dict)
    overall: Counts = field(default_factory=Counts)
    non_affirmed: int = 0
    non_affirmed_right: int = 0
    seconds_per_report: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _norm(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return round(float(value), 2)
    return value


def candidate_key(c: Candidate) -> Key:
    """(finding, value, comparator) of a candidate, as the gold file writes them."""
    if isinstance(c.value, Quantity):
        return (c.finding.value, _norm(c.value.value), c.value.comparator)
    if isinstance(c.value, CodeValue):
        return (c.finding.value, c.value.code, None)
    return (c.finding.value, c.value, None)


def gold_key(item: dict[str, Any]) -> Key:
    return (item["finding"], _norm(item["value"]), item.get("comparator"))


def load(part: str) -> list[dict[str, Any]]:
    """The reports of one part of the corpus."""
    data = json.loads((CORPUS / PARTS[part]).read_text(encoding="utf-8"))
    reports: list[dict[str, Any]] = data["reports"]
    return reports


def as_report_text(report: dict[str, Any]) -> ReportText:
    return ReportText(document=f"DiagnosticReport/{report['id']}", section="conclusion",
                      kind=ReportKind(report["kind"]), date=dt.date.fromisoformat(report["date"]),
                      title=report["kind"], text=report["text"])


def score(part: str) -> Scores:
    """Run the extractor over one part and score it against its gold annotations."""
    from nelm_fhir.narrative.extract import extract_text

    reports = load(part)
    scores = Scores(part=part, reports=len(reports))
    counts: dict[str, Counts] = defaultdict(Counts)
    for report in reports:
        text = as_report_text(report)
        started = time.perf_counter()
        candidates = extract_text(text)
        scores.seconds_per_report.append(time.perf_counter() - started)
        proposed = {candidate_key(c) for c in candidates if c.proposed}
        kept = {(candidate_key(c), c.assertion.value) for c in candidates}
        gold_yes = {gold_key(g) for g in report["gold"] if g["assertion"] == "affirmed"}
        gold_not = {gold_key(g): g["assertion"] for g in report["gold"] if g["assertion"] != "affirmed"}
        for key in proposed:
            if key in gold_yes:
                counts[key[0]].tp += 1
            else:
                counts[key[0]].fp += 1
                unsafe = key in gold_not
                counts[key[0]].unsafe += int(unsafe)
                scores.errors.append(f"{report['id']} FP{' (unsafe)' if unsafe else ''}: {key}")
        for key in gold_yes - proposed:
            counts[key[0]].fn += 1
            scores.errors.append(f"{report['id']} FN: {key}")
        for key, assertion in gold_not.items():
            scores.non_affirmed += 1
            if (key, assertion) in kept:
                scores.non_affirmed_right += 1
            else:
                scores.errors.append(f"{report['id']} assertion: {key} expected {assertion}")
    scores.by_finding = dict(sorted(counts.items()))
    for c in counts.values():
        scores.overall.tp += c.tp
        scores.overall.fp += c.fp
        scores.overall.fn += c.fn
        scores.overall.unsafe += c.unsafe
    return scores


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def render(scores: Scores, *, show_errors: bool) -> str:
    rows = [f"Text reader, {scores.part} part: {scores.reports} reports",
            f"{'finding':32} {'TP':>4} {'FP':>4} {'FN':>4} {'unsafe':>6} {'precision':>9} {'recall':>7}"]
    for name, c in scores.by_finding.items():
        rows.append(f"{name:32} {c.tp:4} {c.fp:4} {c.fn:4} {c.unsafe:6} {_fmt(c.precision):>9} {_fmt(c.recall):>7}")
    o = scores.overall
    rows.append(f"{'OVERALL':32} {o.tp:4} {o.fp:4} {o.fn:4} {o.unsafe:6} {_fmt(o.precision):>9} {_fmt(o.recall):>7}")
    rows.append(f"non-affirmed gold statements kept with the right assertion: {scores.non_affirmed_right}/"
                f"{scores.non_affirmed}")
    times = [t * 1000 for t in scores.seconds_per_report]
    rows.append(f"time per report: median {statistics.median(times):.1f} ms, max {max(times):.1f} ms")
    if show_errors:
        rows += ["errors:", *(f"  {e}" for e in scores.errors)]
    return "\n".join(rows)


def build_seconds() -> float:
    """Seconds to build the medspaCy pipeline (once per process)."""
    from nelm_fhir.narrative.extract import _pipeline

    started = time.perf_counter()
    _pipeline()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.text_extraction", description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=["dev", "heldout", "all"], default="all")
    p.add_argument("--errors", action="store_true", help="list every false positive/negative and assertion miss")
    p.add_argument("--json", type=Path, help="also write the figures as JSON to this file")
    args = p.parse_args(argv)
    print(f"medspaCy pipeline built in {build_seconds():.2f} s")
    raw = {}
    for part in (["dev", "heldout"] if args.part == "all" else [args.part]):
        scores = score(part)
        print(render(scores, show_errors=args.errors))
        print()
        raw[part] = {"precision": scores.overall.precision, "recall": scores.overall.recall,
                     "tp": scores.overall.tp, "fp": scores.overall.fp, "fn": scores.overall.fn,
                     "unsafe": scores.overall.unsafe,
                     "median_ms_per_report": statistics.median(scores.seconds_per_report) * 1000}
    if args.json:
        args.json.write_text(json.dumps(raw, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())


def add_to_report(report: Any, raw: dict[str, Any]) -> None:
    """The ``text`` part of ``make bench`` (bench.run): figures per corpus part and time per report."""
    from bench.report import Table, Target

    try:
        built = build_seconds()
    except Exception as exc:  # the optional extra may be absent: say so, measure the rest
        report.targets.append(Target("text reader: held-out precision", 0.95, "", None, at_most=False,
                                     why_missing=f"{type(exc).__name__}: {exc}"))
        return
    table = Table("Text reader (issue 15): hand-annotated corpus, medspaCy target rules + ConText",
                  ["part", "reports", "precision", "recall", "unsafe proposals", "assertions right",
                   "ms per report (median)", "ms per report (max)"])
    raw["text"] = {"pipeline_build_seconds": built}
    for part in ("dev", "heldout"):
        scores = score(part)
        o = scores.overall
        times = [t * 1000 for t in scores.seconds_per_report]
        table.add(part, scores.reports, _fmt(o.precision), _fmt(o.recall), o.unsafe,
                  f"{scores.non_affirmed_right}/{scores.non_affirmed}", f"{statistics.median(times):.1f}",
                  f"{max(times):.1f}")
        raw["text"][part] = {"precision": o.precision, "recall": o.recall, "unsafe": o.unsafe,
                             "median_ms": statistics.median(times), "max_ms": max(times)}
        if part == "heldout":
            report.targets.append(Target("text reader: held-out precision", 0.95, "", o.precision, at_most=False))
            report.targets.append(Target("text reader: held-out recall", 0.85, "", o.recall, at_most=False))
    table.notes.append(f"pipeline built once per process in {built:.1f} s (not in the per-report times); "
                       "per-finding figures: python -m bench.text_extraction")
    report.tables.append(table)
