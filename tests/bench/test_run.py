"""The benchmark's command line: parts, quick mode, refusals (nothing is run or timed here)."""

from __future__ import annotations

import pytest

from bench.run import parse_args


def test_defaults_run_every_part_with_the_issue_settings() -> None:
    args = parse_args([])
    assert args.parts == ["inprocess", "service", "http", "fallback", "text"]
    assert args.workers == [2, 4]
    assert (args.connections, args.prefetch_resources) == (8, 200)


def test_quick_shortens_every_part() -> None:
    args = parse_args(["--quick", "--parts", "http, fallback", "--workers", "2"])
    assert args.parts == ["http", "fallback"]
    assert args.workers == [2]
    assert (args.runs, args.http_runs, args.duration) == (3, 1, 2.0)


def test_unknown_part_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parse_args(["--parts", "inprocess,warp"])
    assert exc.value.code == 2
    assert "unknown part(s): warp" in capsys.readouterr().err
