"""The benchmark's figures and tables: medians with spread, aligned text, Markdown, target verdicts."""

from __future__ import annotations

import itertools

import pytest

from bench.report import Report, Table, Target
from bench.serviceprofile import layer_of
from bench.stats import Summary, time_runs


def test_summary_is_median_with_interquartile_range() -> None:
    s = Summary.of([5.0, 1.0, 3.0, 2.0, 4.0])
    assert (s.median, s.q1, s.q3, s.low, s.high, s.n) == (3.0, 2.0, 4.0, 1.0, 5.0, 5)
    assert s.format(1) == "3.0 [2.0–4.0]"
    assert s.scaled(1000).format(0) == "3000 [2000–4000]"
    assert Summary.of([2.5]).format(2) == "2.50"
    with pytest.raises(ValueError):
        Summary.of([])


def test_time_runs_divides_by_inner_calls() -> None:
    ticks = itertools.count(step=10)  # each clock reading is 10 s later than the previous one
    calls = []
    s = time_runs(lambda: calls.append(1), runs=3, inner=5, warmup=1, clock=lambda: float(next(ticks)))
    assert len(calls) == 1 + 3 * 5
    assert s.median == 2.0 and s.n == 3


def test_table_text_is_aligned_and_rows_must_fit() -> None:
    t = Table("Title", ["name", "ms"])
    t.add("short", "1.5")
    t.add("a longer name", "12.25")
    t.notes.append("a note")
    lines = t.to_text().splitlines()
    assert lines[0] == "Title" and lines[1] == "====="
    assert lines[4].endswith("  1.5") and lines[5].endswith("12.25")
    assert len(lines[4]) == len(lines[5])
    assert lines[-1] == "  a note"
    with pytest.raises(ValueError):
        t.add("only one cell")


def test_markdown_escapes_pipes_and_right_aligns_figures() -> None:
    t = Table("T", ["a", "b"])
    t.add("x|y", "2")
    md = t.to_markdown().splitlines()
    assert md[0] == "### T"
    assert md[3] == "|---|---:|"
    assert md[4] == "| x\\|y | 2 |"


@pytest.mark.parametrize(
    ("target", "verdict"),
    [
        (Target("t", 10, "ms", 9.0), "met"),
        (Target("t", 10, "ms", 12.5), "MISSED by 25 %"),
        (Target("t", 0.5, "×", 0.4, at_most=False), "MISSED by 20 %"),
        (Target("t", 0.5, "×", 0.7, at_most=False), "met"),
        (Target("t", 2, "s", None, why_missing="engine not built"), "not measured: engine not built"),
    ],
)
def test_target_verdicts(target: Target, verdict: str) -> None:
    assert target.verdict() == verdict


def test_report_ends_with_the_targets_table() -> None:
    r = Report(header=["command: x"])
    t = Table("Figures", ["a"])
    t.add("1")
    r.tables.append(t)
    r.targets.append(Target("latency", 10, "ms", 20.0))
    text = r.to_text()
    assert text.index("Figures") < text.index("Targets of issue 8")
    assert "≤ 10 ms" in text and "20.00 ms" in text and "MISSED by 100 %" in text
    assert r.to_markdown().startswith("- command: x")


@pytest.mark.parametrize(
    ("filename", "layer"),
    [
        ("/work/main/cds_hooks/jsonbody.py", "strict JSON parse (cds_hooks.jsonbody)"),
        ("/work/main/nelm_fhir/ingest/observation.py", "ingest: FHIR → profile"),
        ("/x/site-packages/fhir_core/fhirabstractmodel.py", "ingest: fhir.resources / pydantic validation"),
        ("/work/main/nelm_fhir/pathways/engine.py", "pathway engine"),
        ("/x/site-packages/sqlalchemy/engine/base.py", "store (audit / SQL)"),
        ("/work/main/cds_hooks/services.py", "service: wire, prefetch, observers, other"),
        ("~", "builtins (dict, isinstance, ...)"),
        ("/usr/lib/python3.11/threading.py", "other"),
    ],
)
def test_profile_layers(filename: str, layer: str) -> None:
    assert layer_of(filename) == layer


def test_target_row_shows_the_best_run_beside_the_median() -> None:
    row = Target("t", 10, "ms", 12.0, best=9.5).row()
    assert row == ["t", "≤ 10 ms", "12.00 ms (best run 9.50)", "MISSED by 20 %"]
    assert Target("t", 10, "ms", None, best=9.5).row()[2] == "—"
