"""B27 in the prefetch: panels (by component code) and DiagnosticReports (with the results they list)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from cds_hooks.prefetch import PREFETCH_TEMPLATES
from nelm_fhir.ingest import ingest
from tests.service.fhirquery import prefetch_for

VIGNETTES = Path(__file__).resolve().parents[1] / "vignettes"
CONTEXT = {"patientId": "b27c", "userId": "Practitioner/1"}


def test_templates_ask_for_panels_and_reports() -> None:
    panels = PREFETCH_TEMPLATES["panels"]
    assert panels.startswith("Observation?patient={{context.patientId}}&component-code=")
    assert {"http://loinc.org|98979-8", "http://loinc.org|29593-1", "http://loinc.org|14631-6"} <= set(
        panels.split("component-code=", 1)[1].split("&", 1)[0].split(",")
    )
    assert PREFETCH_TEMPLATES["reports"].startswith("DiagnosticReport?patient={{context.patientId}}")
    assert "_include=DiagnosticReport:result" in PREFETCH_TEMPLATES["reports"]


def test_a_panel_and_a_report_reach_the_profile_through_the_prefetch() -> None:
    panel = json.loads((VIGNETTES / "B27c.json").read_text(encoding="utf-8"))
    prefetch = prefetch_for(panel, PREFETCH_TEMPLATES, CONTEXT)
    assert [e["resource"]["id"] for e in prefetch["panels"]["entry"]] == ["b27c-renal"]
    assert prefetch["labs"]["entry"] and all(e["resource"]["id"] != "b27c-renal" for e in prefetch["labs"]["entry"])
    egfr = [lab for lab in ingest(prefetch, as_of=dt.date(2026, 11, 26)).labs if lab.kind.value == "egfr"]
    assert [(lab.source, lab.comparator) for lab in egfr] == [("Observation/b27c-renal", "<")]
    report = json.loads((VIGNETTES / "B27a.json").read_text(encoding="utf-8"))
    prefetch = prefetch_for(report, PREFETCH_TEMPLATES, {**CONTEXT, "patientId": "b27a"})
    assert [e["resource"]["id"] for e in prefetch["reports"]["entry"]] == ["b27a-pathology"]
    profile = ingest(prefetch, as_of=dt.date(2026, 11, 26))
    assert profile.grade is not None and profile.grade.grade.value == "G3"
