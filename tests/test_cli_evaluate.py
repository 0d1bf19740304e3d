"""``nelm-cds evaluate``: JSON of CONTRACT.md section 4, text view, determinism, exit 2 on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cds_hooks.cli import main
from nelm_fhir.pathways import Modality

VIGNETTES = Path(__file__).resolve().parent / "vignettes"
V01 = str(VIGNETTES / "V01.json")


def _run(capsysbinary: pytest.CaptureFixture[bytes], *args: str) -> tuple[int, str, str]:
    code = main(["evaluate", *args])
    out, err = capsysbinary.readouterr()
    return code, out.decode("utf-8"), err.decode("utf-8")


def test_json_output_follows_the_contract(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    code, out, err = _run(capsysbinary, V01, "--now", "2026-11-26")
    assert code == 0 and err == ""
    data = json.loads(out)
    assert data["patient"] == "Patient/v01"
    assert data["evaluatedAt"] == "2026-11-26"
    assert data["rulesVersion"] == "2026.1"
    assert data["profile"]["grade"] == "G1" and data["profile"]["ki67Percent"] == 1
    assert [r["modality"] for r in data["recommendations"]] == [m.value for m in Modality]
    first = data["recommendations"][0]
    assert first["modality"] == "curative-resection" and first["status"] == "recommended"
    assert {"id", "met", "sources"} <= set(first["criteria"][0])
    assert isinstance(data["dataGaps"], list)


def test_same_input_same_now_same_bytes_across_processes() -> None:
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run([sys.executable, "-m", "cds_hooks.cli", "evaluate", str(VIGNETTES / "V18.json"),
                               "--now", "2026-11-26"], capture_output=True, env=env, check=True, timeout=60)
        outputs.append(proc.stdout)
    assert outputs[0] == outputs[1]
    assert b"prrt-plus-radioembolization" in outputs[0]


def test_text_view_for_a_clinician(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    code, out, _ = _run(capsysbinary, str(VIGNETTES / "V23.json"), "--now", "2026-11-26", "--format", "text")
    assert code == 0
    assert "Grade: not graded (no Ki-67, no mitotic count)" in out
    assert "INSUFFICIENT DATA" in out and "liver-transplantation:" in out
    assert "DATA GAPS" in out and "ki67Percent" in out and "http://loinc.org|29593-1" in out
    assert "tumour board" in out
    code, out, _ = _run(capsysbinary, V01, "--now", "2026-11-26", "--format", "text")
    assert "Grade: G1, Ki-67 1 % on liver specimen of 2026-08-26 (Observation/v01-ki67)" in out
    assert "RECOMMENDED (1)\n  curative-resection: Recommended" in out


def test_site_config_is_applied_and_recorded(capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path) -> None:
    site = tmp_path / "site.json"
    site.write_text(json.dumps({"name": "st-elsewhere", "thresholds": {"milan.max-age-years": 55}}), encoding="utf-8")
    code, out, _ = _run(capsysbinary, str(VIGNETTES / "V19.json"), "--now", "2026-11-26", "--config", str(site))
    data = json.loads(out)
    assert code == 0
    assert data["configuration"]["overrides"] == {"milan.max-age-years": "55"}
    olt = next(r for r in data["recommendations"] if r["modality"] == "liver-transplantation")
    assert olt["status"] == "not-recommended"


def _bad(tmp_path: Path, name: str, content: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


@pytest.mark.parametrize(("name", "content", "message"), [
    ("patient.json", b'{"resourceType": "Patient", "id": "p1"}', "not a FHIR R4 Bundle (resourceType is 'Patient')"),
    ("list.json", b"[1, 2]", "not a FHIR R4 Bundle"),
    ("text.json", b"hello", "invalid JSON at line 1 column 1"),
    ("empty.json", b"", "invalid JSON"),
    ("nan.json", b'{"resourceType": "Bundle", "total": NaN}', "NaN is not allowed"),
    ("latin1.json", '{"resourceType": "Bündle"}'.encode("latin-1"), "not UTF-8"),
    ("entries.json", b'{"resourceType": "Bundle", "type": "collection", "entry": 5}', "not a usable FHIR R4 Bundle"),
])
def test_not_a_bundle_exits_2_with_one_line(capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path,
                                            name: str, content: bytes, message: str) -> None:
    code, out, err = _run(capsysbinary, _bad(tmp_path, name, content), "--now", "2026-11-26")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and message in err and err.startswith("nelm-cds evaluate: ")


@pytest.mark.parametrize("args", [
    ["/nonexistent/bundle.json"],
    [V01, "--now", "26/11/2026"],
    [V01, "--config", "/nonexistent/site.json"],
])
def test_unreadable_inputs_exit_2(capsysbinary: pytest.CaptureFixture[bytes], args: list[str]) -> None:
    code, out, err = _run(capsysbinary, *args)
    assert code == 2 and out == "" and err.count("\n") == 1


def test_directory_is_unreadable(capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path) -> None:
    code, _, err = _run(capsysbinary, str(tmp_path))
    assert code == 2 and "cannot read file" in err


@pytest.mark.parametrize("vignette", sorted(p.name for p in VIGNETTES.glob("V*.json")))
def test_text_view_reads_as_decision_support(capsysbinary: pytest.CaptureFixture[bytes], vignette: str) -> None:
    code, out, err = _run(capsysbinary, str(VIGNETTES / vignette), "--now", "2026-11-26", "--format", "text")
    assert code == 0 and err == ""
    again = _run(capsysbinary, str(VIGNETTES / vignette), "--now", "2026-11-26", "--format", "text")[1]
    assert out == again
    for modality in Modality:
        assert out.count(f"\n  {modality.value}: ") == 1, modality
    assert "order:" not in out.lower()
    assert "\nNOTES\n" in out
    assert "Review by the NEN multidisciplinary tumour board is advised" in out


def test_text_view_labels_engineering_defaults_and_how_to_fill_gaps(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    out = _run(capsysbinary, str(VIGNETTES / "V24.json"), "--now", "2026-11-26", "--format", "text")[1]
    assert ("~ engineering default, beyond the source review (configurable): eGFR or creatinine clearance\n"
            "        at least 50 mL/min") in out
    gaps = _run(capsysbinary, str(VIGNETTES / "V23.json"), "--now", "2026-11-26", "--format", "text")[1]
    assert "to fill it, consider: Ki-67 index on a liver metastasis biopsy" in gaps
    stale = _run(capsysbinary, str(VIGNETTES / "V01.json"), "--now", "2027-12-01", "--format", "text")[1]
    assert "[older than the Ki-67 age limit" in stale
    assert "ki67Percent: Ki-67 index (or mitotic count): last result of 2026-08-26 is older than 12 months" in stale


def test_explain_lists_every_resource_in_json_and_text(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    bundle = json.loads(Path(V01).read_text(encoding="utf-8"))
    refs = [f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]]
    code, out, _err = _run(capsysbinary, V01, "--now", "2026-11-26", "--explain")
    reading = json.loads(out)["recordReading"]
    assert code == 0 and [r["reference"] for r in reading] == refs
    assert {r["use"] for r in reading} <= {"used", "superseded", "unreadable", "unusable", "ignored"}
    assert all(r["why"] for r in reading)
    code, text, _err = _run(capsysbinary, V01, "--now", "2026-11-26", "--format", "text", "--explain")
    assert code == 0 and "HOW THE RECORD WAS READ" in text and all(ref in text for ref in refs)
    code, plain, _err = _run(capsysbinary, V01, "--now", "2026-11-26")
    assert "recordReading" not in json.loads(plain)
