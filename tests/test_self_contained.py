"""The repository stands on its own: no code, test or build file reads anything beside the repository.

Documentation may name the reference material it was written from; code may not open it.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCANNED = ("nelm_fhir", "cds_hooks", "tests", "bench", "config", "mappings")
ROOT_FILES = ("Makefile", "pyproject.toml", "gunicorn.conf.py", "Dockerfile", "docker-compose.yml", ".ci/run")
# A path into the reference material kept outside the repository (the folder beside the clone, named here in
# pieces so that this file, which looks for it, does not itself name it), or a climb above the repository root.
_BESIDE = "sh" + "ared"
OUTSIDE = re.compile(
    rf"""\.\./{_BESIDE}|/work/{_BESIDE}|["']{_BESIDE}["']\s*/|/\s*["']{_BESIDE}["']"""
)


def _files() -> list[Path]:
    found = [REPO / name for name in ROOT_FILES if (REPO / name).exists()]
    for top in SCANNED:
        found += [p for p in (REPO / top).rglob("*") if p.is_file() and p.suffix in {".py", ".toml", ".ini", ".cfg"}]
    return [p for p in found if "__pycache__" not in p.parts and p != Path(__file__).resolve()]


def test_the_scan_sees_the_code_and_would_see_an_outside_path() -> None:
    files = _files()
    assert any(p.name == "conftest.py" for p in files) and len(files) > 100
    assert OUTSIDE.search(f'SHARED = REPO.parent / "{_BESIDE}"')
    assert OUTSIDE.search(f"Path('../{_BESIDE}/clinical/TERMINOLOGY.md')")
    assert not OUTSIDE.search(f"the {_BESIDE} throwaway-database helper")


def test_no_file_reads_outside_the_repository() -> None:
    offenders = [
        f"{p.relative_to(REPO)}:{n}: {line.strip()}"
        for p in _files()
        for n, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert not offenders, "\n".join(offenders)


def test_every_parents_index_stays_inside_the_repository() -> None:
    """``Path(__file__).resolve().parents[n]`` in a test or product module must not climb above the root."""
    climbs = []
    for p in _files():
        if p.suffix != ".py":
            continue
        root = len(p.relative_to(REPO).parts) - 1  # parents[root] is the repository root
        text = p.read_text(encoding="utf-8")
        for n in (int(m) for m in re.findall(r"__file__\)\.resolve\(\)\.parents\[(\d+)\]", text)):
            if n > root:
                climbs.append(f"{p.relative_to(REPO)}: parents[{n}]")
    assert not climbs, climbs
