"""Only the newest results of each lab kind are read (LAB_RESULTS_KEPT); older ones never change an evaluation."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

import nelm_fhir.ingest as ingest_module
from bench.records import make_record
from nelm_fhir.ingest import LAB_RESULTS_KEPT, ingest
from nelm_fhir.model import LabKind
from nelm_fhir.pathways import evaluate, load_config
from tests.ingest.builders import baseline, lab, problems_at, profile

AS_OF = dt.date(2026, 11, 26)
VIGNETTES = sorted((Path(__file__).resolve().parents[1] / "vignettes").glob("V*.json"))


def _monthly_haemoglobin(months: int) -> list[dict[str, Any]]:
    dates = [dt.date(2026, 12, 1) - dt.timedelta(days=30 * m) for m in range(1, months + 1)]
    return [lab(f"hb{m:02d}", "718-7", 10.0 + m / 10, "g/dL", date=d.isoformat()) for m, d in enumerate(dates, 1)]


def test_only_the_newest_results_of_a_kind_are_kept_newest_first() -> None:
    prof = profile(*_monthly_haemoglobin(24))
    kept = [x.source for x in prof.labs if x.kind is LabKind.HAEMOGLOBIN]
    assert kept == ["Observation/hb01", "Observation/hb02", "Observation/hb03"][:LAB_RESULTS_KEPT]
    latest = prof.latest_lab(LabKind.HAEMOGLOBIN)
    assert latest is not None and latest.source == "Observation/hb01" and latest.date == dt.date(2026, 11, 1)


def test_results_on_the_same_day_as_the_last_kept_one_are_all_kept() -> None:
    same_day = [lab(f"d{i}", "1975-2", 0.5 + i / 10, "mg/dL", date="2026-06-01") for i in range(5)]
    prof = profile(lab("new", "1975-2", 0.7, "mg/dL", date="2026-11-01"), *same_day)
    assert len(prof.labs) == 6


def test_a_faulty_newest_result_is_reported_and_older_ones_take_its_place() -> None:
    faulty = lab("bad", "718-7", 13.0, "furlongs", date="2026-11-20")
    future = lab("future", "718-7", 13.0, "g/dL", date="2027-01-01")
    prof = profile(faulty, future, *_monthly_haemoglobin(6))
    assert problems_at(prof, "Observation/bad.valueQuantity.code") and problems_at(prof, "Observation/future")
    assert prof.labs[0].source == "Observation/hb01"
    assert len(prof.labs) == LAB_RESULTS_KEPT


def test_a_result_without_a_full_date_is_always_read() -> None:
    partial = lab("month-only", "718-7", 9.0, "g/dL", date="2019-03")
    prof = profile(*_monthly_haemoglobin(6), partial)
    assert "Observation/month-only" in {x.source for x in prof.labs}
    assert len(prof.labs) == LAB_RESULTS_KEPT + 1


def test_labs_of_other_kinds_and_other_facts_are_not_limited() -> None:
    prof = profile(*baseline(), *_monthly_haemoglobin(5))
    kinds = {x.kind for x in prof.labs}
    assert LabKind.HAEMOGLOBIN in kinds and len(kinds) > 1


def _evaluation(data: dict[str, Any], as_of: dt.date) -> dict[str, Any]:
    result: dict[str, Any] = evaluate(ingest(data, as_of=as_of), now=as_of, config=load_config()).to_json()
    return result


@pytest.mark.parametrize("size", [200, 1000])
def test_reading_every_lab_gives_the_same_evaluation(size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    record = make_record(size)
    windowed = _evaluation(record, AS_OF)
    few = len(ingest(record, as_of=AS_OF).labs)
    monkeypatch.setattr(ingest_module, "LAB_RESULTS_KEPT", 10**6)
    assert len(ingest(record, as_of=AS_OF).labs) > few  # every lab is read now
    assert _evaluation(record, AS_OF) == windowed


@pytest.mark.parametrize("path", VIGNETTES, ids=lambda p: p.stem)
def test_vignettes_evaluate_the_same_with_every_lab_read(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = json.loads(path.read_text())
    as_of = dt.date.fromisoformat(bundle["timestamp"][:10])
    windowed = _evaluation(bundle, as_of)
    monkeypatch.setattr(ingest_module, "LAB_RESULTS_KEPT", 10**6)
    assert _evaluation(bundle, as_of) == windowed
