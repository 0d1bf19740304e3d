"""The wrk driver's script and parser, the baseline app, and the /proc readers (no timing asserted)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bench.baseline_app import FIXED_CARD, create_baseline_app
from bench.load import MARKER, lua_script, parse_wrk
from bench.servers import pss_kib, rss_kib, worker_pids
from cds_hooks.validate import validate_cds_response

LINE = MARKER + json.dumps({"requests": 1000, "duration_us": 5_000_000, "bytes": 1, "connect_errors": 0,
                            "read_errors": 1, "write_errors": 0, "non_2xx": 3, "timeouts": 2, "p50_us": 12_500,
                            "p90_us": 20_000, "p99_us": 41_000, "max_us": 60_000, "mean_us": 13_000.0})


def test_parse_wrk_reads_the_summary_line() -> None:
    r = parse_wrk("Running 5s test @ http://x\n" + LINE + "\n")
    assert r.rps == 200.0
    assert (r.p50_ms, r.p90_ms, r.p99_ms, r.max_ms) == (12.5, 20.0, 41.0, 60.0)
    assert r.errors == 3 and r.non_2xx == 3 and not r.clean


def test_parse_wrk_without_summary_fails_loudly() -> None:
    with pytest.raises(ValueError, match="no summary"):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_lua_script_posts_the_body_file(tmp_path: Path) -> None:
    script = lua_script(tmp_path / 'body "1".json')
    assert 'wrk.method = "POST"' in script
    assert json.dumps(str(tmp_path / 'body "1".json')) in script
    assert MARKER.strip() in script and "latency:percentile(99)" in script


def test_baseline_answers_a_valid_fixed_card_and_refuses_bad_json() -> None:
    client = create_baseline_app().test_client()
    ok = client.post("/cds-services/baseline", data=json.dumps({"hook": "patient-view", "context": {}}),
                     content_type="application/json")
    assert ok.status_code == 200
    assert ok.get_json() == {"cards": [FIXED_CARD]}
    assert validate_cds_response(ok.get_json()) == []
    dup = client.post("/cds-services/baseline", data='{"hook": "a", "hook": "b"}', content_type="application/json")
    assert dup.status_code == 400
    assert "duplicate key" in dup.get_json()["issue"][0]["diagnostics"]
    assert client.post("/cds-services/baseline", data="{}", content_type="application/json").status_code == 400


def test_proc_readers_find_children_and_memory() -> None:
    assert os.getpid() in worker_pids(os.getppid())
    assert rss_kib(os.getpid()) > 1000


def test_pss_is_at_most_rss() -> None:
    pss = pss_kib(os.getpid())
    assert pss is not None and 0 < pss <= rss_kib(os.getpid())


def test_paced_script_adds_a_delay_per_request(tmp_path: Path) -> None:
    assert "delay = function" not in lua_script(tmp_path / "b.json")
    paced = lua_script(tmp_path / "b.json", delay_ms=123.4)
    assert "delay = function()" in paced
    assert "-math.log(1 - math.random()) * 123.4" in paced
    assert "math.min(wait, 5 * 123.4)" in paced
