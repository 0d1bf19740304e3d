"""``nelm-cds check-mappings``: validate mapping files and print each problem with file and entry."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from nelm_fhir.terminology.loader import MappingError, Report, load_terminology, read_mapping_dir
from nelm_fhir.terminology.sitemaps import validate_site_file

__all__ = ["check_mappings_main"]


def _is_site_file(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return True  # let the site reader report the read error with file name
    return isinstance(doc, dict) and doc.get("resourceType") == "ConceptMap"


def check_mappings_main(files: Sequence[str], *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Check ``files`` (default: all of mappings/); prints problems, returns 1 if any, else 0 with a summary."""
    from nelm_fhir.terminology import DEFAULT_MAPPINGS_DIR

    stdout = out if out is not None else sys.stdout
    stderr = err if err is not None else sys.stderr
    report = Report()
    checked: list[Path] = []
    try:
        base = load_terminology(DEFAULT_MAPPINGS_DIR)
    except MappingError as exc:
        base = None
        report.problems.extend(exc.problems)
    if not files:
        checked.append(DEFAULT_MAPPINGS_DIR)
        site_paths = sorted((DEFAULT_MAPPINGS_DIR / "site-example").glob("*.json"))
    else:
        site_paths = []
        for name in files:
            path = Path(name)
            if path.is_dir():
                checked.append(path)
                if path.resolve() != DEFAULT_MAPPINGS_DIR.resolve():
                    read_mapping_dir(path, report)
            elif _is_site_file(path):
                site_paths.append(path)
            else:
                checked.append(path)
                _check_standard_file(path, report)
    taken: dict[tuple[str, str], str] = {}
    sites = 0
    for path in site_paths:
        checked.append(path)
        if base is not None:
            entries, orders = validate_site_file(path, base, report, taken)
            sites += len(entries) + len(orders)
    if report.problems:
        for problem in report.problems:
            print(problem, file=stderr)
        print(f"{len(report.problems)} problem(s) in {len(checked)} file(s)", file=stderr)
        return 1
    codes = len(base.known_codes()) if base is not None else 0
    print(f"OK: {len(checked)} file(s) checked; {codes} standard codes, {sites} site mappings", file=stdout)
    return 0


def _check_standard_file(path: Path, report: Report) -> None:
    """Check one mappings/ file by loading a copy of mappings/ in which it replaces its namesake."""
    import shutil
    import tempfile

    from nelm_fhir.terminology import DEFAULT_MAPPINGS_DIR

    with tempfile.TemporaryDirectory(prefix="nelm-mappings-") as tmp:
        for other in DEFAULT_MAPPINGS_DIR.glob("*.json"):
            if other.name != path.name:
                shutil.copy(other, Path(tmp) / other.name)
        shutil.copy(path, Path(tmp) / path.name)
        inner = Report()
        read_mapping_dir(Path(tmp), inner)
        for problem in inner.problems:
            # Report against the file the user named, not the temporary copy.
            report.problems.append(problem.replace(str(Path(tmp) / path.name), str(path)).replace(tmp + "/", ""))
