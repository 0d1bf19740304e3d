"""The layers of design/ARCHITECTURE.md hold: import-linter's contracts (pyproject.toml) all pass."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_import_contracts_hold() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 6 kept, 0 broken." in result.stdout
    assert "The text reader reads raw JSON" in result.stdout  # nelm_fhir.narrative's own contract


def test_fhir_resources_only_through_r4b() -> None:
    offenders = []
    for path in sorted((REPO / "nelm_fhir").rglob("*.py")) + sorted((REPO / "cds_hooks").rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            stripped = line.strip()
            if stripped.startswith(("from fhir.resources", "import fhir.resources")) and ".R4B" not in stripped:
                offenders.append(f"{path.relative_to(REPO)}:{number}: {stripped}")
    assert offenders == []
