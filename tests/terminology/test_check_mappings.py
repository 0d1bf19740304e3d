"""``nelm-cds check-mappings``: what the user sees on the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cds_hooks.cli import main
from nelm_fhir.terminology import DEFAULT_MAPPINGS_DIR

SITE_EXAMPLE = DEFAULT_MAPPINGS_DIR / "site-example" / "site-orders.conceptmap.json"


def _site_map(tmp_path: Path, groups: list[dict[str, object]], name: str = "site.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"resourceType": "ConceptMap", "status": "active", "group": groups}), encoding="utf-8")
    return path


def test_default_checks_the_whole_mappings_folder(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-mappings"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK: ") and "standard codes" in out and out.count("\n") == 1


def test_the_example_site_file_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-mappings", str(SITE_EXAMPLE)]) == 0
    assert "10 site mappings" in capsys.readouterr().out


def test_a_broken_site_conceptmap_names_file_and_entry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _site_map(
        tmp_path,
        [
            {
                "source": "https://h.example/orders",
                "target": "https://nelm-cds.org/fhir/CodeSystem/modality",
                "element": [
                    {"code": "OK-1", "target": [{"code": "tace", "equivalence": "equivalent"}]},
                    {"code": "BAD-1", "target": [{"code": "chemo-embolisation", "equivalence": "equivalent"}]},
                    {"code": "OK-1", "target": [{"code": "tae", "equivalence": "equivalent"}]},
                    {"code": "TWO", "target": [{"code": "tae"}, {"code": "tace"}]},
                    {"code": "NONE", "target": [{"code": "tae", "equivalence": "unmatched"}]},
                ],
            },
            {
                "source": "https://h.example/lab",
                "target": "http://loinc.org",
                "element": [{"code": "XX", "target": [{"code": "0000-0", "equivalence": "equivalent"}]}],
            },
            {"source": "https://h.example/x", "element": []},
        ],
    )
    assert main(["check-mappings", str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        f"{path}: entry group[0].element[1] \"BAD-1\": target 'chemo-embolisation' is not a modality id "
        + "("
        + err[0].split("(", 1)[1]
    )
    assert f'{path}: entry group[0].element[2] "OK-1": duplicate' in err[1]
    assert f'{path}: entry group[0].element[3] "TWO": needs exactly one target code' in err[2]
    assert f'{path}: entry group[1].element[0] "XX": target http://loinc.org|0000-0 is not a code' in err[3]
    assert f"{path}: entry group[2]: needs source" in err[4]
    assert err[-1] == "5 problem(s) in 1 file(s)"


def test_a_site_file_may_not_redefine_a_standard_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _site_map(
        tmp_path,
        [
            {
                "source": "http://loinc.org",
                "target": "http://loinc.org",
                "element": [{"code": "718-7", "target": [{"code": "1975-2", "equivalence": "equivalent"}]}],
            }
        ],
    )
    assert main(["check-mappings", str(path)]) == 1
    assert "already a code of the standard mappings" in capsys.readouterr().err


def test_not_a_conceptmap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{", encoding="utf-8")
    assert main(["check-mappings", str(path)]) == 1
    assert f"{path}: not valid JSON" in capsys.readouterr().err


def test_a_broken_standard_file_is_checked_against_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "loinc.json"
    shutil.copy(DEFAULT_MAPPINGS_DIR / "loinc.json", path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["codes"].append({"code": "29593-1", "concept": "obs:ki67", "status": "VERIFIED", "evidence": "S6"})
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert main(["check-mappings", str(path)]) == 1
    err = capsys.readouterr().err
    assert f'{path}: entry codes[{len(doc["codes"]) - 1}] "29593-1": duplicate code' in err


def test_broken_site_file_fails_start_up(tmp_path: Path) -> None:
    from nelm_fhir.terminology import MappingError, load_terminology

    path = _site_map(
        tmp_path,
        [
            {
                "source": "s",
                "target": "https://nelm-cds.org/fhir/CodeSystem/modality",
                "element": [{"code": "A", "target": [{"code": "zzz"}]}],
            }
        ],
    )
    with pytest.raises(MappingError, match=r'site\.json: entry group\[0\]\.element\[0\] "A": target \'zzz\''):
        load_terminology(DEFAULT_MAPPINGS_DIR, [path])
