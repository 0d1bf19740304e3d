"""``nelm-cds --help`` and each command's ``--help`` explain what it does."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cds_hooks.cli import main

NELM_CDS = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "nelm-cds"


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


def test_top_level_help_lists_every_command() -> None:
    out = subprocess.run([str(NELM_CDS), "--help"], capture_output=True, text=True, check=True, timeout=60).stdout
    for command in ("serve", "evaluate", "check-mappings", "db"):
        assert command in out
    assert "usage: nelm-cds" in out


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (("serve",), ["--host", "--port", "--workers", "gunicorn"]),
        (("evaluate",), ["FHIR R4 Bundle", "--now", "--format", "--config", "Exit 2"]),
        (("check-mappings",), ["mapping", "file and entry", "exit 1"]),
        (("db",), ["upgrade"]),
        (("db", "upgrade"), ["usage: nelm-cds db upgrade"]),
    ],
)
def test_each_command_explains_itself(capsys: pytest.CaptureFixture[str], argv: tuple[str, ...],
                                      words: list[str]) -> None:
    out = _help(capsys, *argv)
    for word in words:
        assert word in out, (argv, word)


def test_db_upgrade_migrates_and_is_idempotent(tmp_path: Path) -> None:
    env = {"NELM_DATABASE_URL": f"sqlite:///{tmp_path / 'db' / 'nelm.sqlite3'}", "PATH": "/usr/bin:/bin"}
    for _ in range(2):
        done = subprocess.run([str(NELM_CDS), "db", "upgrade"], capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "database at revision" in done.stdout
    assert (tmp_path / "db" / "nelm.sqlite3").exists()


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2
    assert "usage: nelm-cds" in capsys.readouterr().err
