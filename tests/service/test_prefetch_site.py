"""Prefetch templates follow the site's codes: a site ConceptMap's local result codes are prefetched and read."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask

from cds_hooks.prefetch import MAX_TEMPLATE_CHARS, PREFETCH_TEMPLATES, prefetch_templates, render_template
from cds_hooks.store import store_of
from nelm_fhir.terminology import DEFAULT_MAPPINGS_DIR, default_terminology, load_terminology
from tests.service.conftest import make_app
from tests.service.requests_ import patient_view
from tests.support.sekmet import FhirServer

LOCAL_LAB = "https://hospital.test/fhir/CodeSystem/lab"
PID = "site-" + uuid.uuid4().hex[:8]


def _site_map(tmp_path: Path, elements: list[dict[str, Any]], system: str = LOCAL_LAB) -> Path:
    path = tmp_path / f"site-{uuid.uuid4().hex[:6]}.conceptmap.json"
    path.write_text(json.dumps({
        "resourceType": "ConceptMap", "id": "test-site", "url": "https://hospital.test/fhir/ConceptMap/nelm",
        "status": "active",
        "group": [{"source": system, "target": "http://loinc.org", "element": elements}],
    }), encoding="utf-8")
    return path


def _platelets_map(tmp_path: Path) -> Path:
    return _site_map(tmp_path, [{"code": "PLT-LOCAL", "display": "Platelets (local)",
                                 "target": [{"code": "777-3", "equivalence": "equivalent"}]}])


def _codes(templates: dict[str, str], prefix: str) -> list[str]:
    out: list[str] = []
    for key, template in templates.items():
        if key == prefix or (key.startswith(prefix) and key[len(prefix):].isdigit()):
            out += template.split("&code=", 1)[1].split("&", 1)[0].split(",")
    return out


def test_default_templates_list_every_mapped_code_of_what_ingestion_reads() -> None:
    term = default_terminology()
    labs = _codes(PREFETCH_TEMPLATES, "labs")
    assert "http://loinc.org|777-3" in labs and "http://loinc.org|26515-7" in labs
    assert {f"{e.system}|{e.code}" for e in term.codes_for("lab:platelets")} <= set(labs)
    findings = _codes(PREFETCH_TEMPLATES, "findings")
    # Found by derivation: a lesion count finding was missing from the hand-written list before.
    assert "https://nelm-cds.org/fhir/CodeSystem/nelm-finding|lesion-count" in findings
    assert "http://loinc.org|89247-1" in findings  # ECOG
    assert "http://loinc.org|29593-1" in _codes(PREFETCH_TEMPLATES, "ki67")
    assert not any(c.endswith("|1742-6") for c in labs + findings)  # ALT is known but not read: not fetched


def test_site_code_joins_the_labs_template(tmp_path: Path) -> None:
    term = load_terminology(DEFAULT_MAPPINGS_DIR, [_platelets_map(tmp_path)])
    templates = prefetch_templates(term)
    assert f"{LOCAL_LAB}|PLT-LOCAL" in _codes(templates, "labs")
    assert f"{LOCAL_LAB}|PLT-LOCAL" not in _codes(PREFETCH_TEMPLATES, "labs")
    assert set(templates) == set(PREFETCH_TEMPLATES)  # one short site code: no extra key


def test_many_site_codes_split_a_category_over_numbered_keys(tmp_path: Path) -> None:
    system = "https://a-very-long-hospital-domain-name.example.org/fhir/CodeSystem/laboratory-local-codes"
    elements = [{"code": f"HB-{i:03d}", "target": [{"code": "718-7", "equivalence": "equivalent"}]}
                for i in range(40)]
    term = load_terminology(DEFAULT_MAPPINGS_DIR, [_site_map(tmp_path, elements, system)])
    templates = prefetch_templates(term)
    assert "labs2" in templates
    context = {"patientId": "a" * 64, "userId": "Practitioner/1"}
    for key, template in templates.items():
        rendered = render_template(template, context)
        assert rendered is not None
        assert len(quote(rendered, safe="/?&=,")) < MAX_TEMPLATE_CHARS, key
    codes = _codes(templates, "labs")
    assert len(codes) == len(set(codes))  # each code in exactly one template
    assert {f"{system}|HB-{i:03d}" for i in range(40)} <= set(codes)
    assert set(_codes(PREFETCH_TEMPLATES, "labs")) <= set(codes)


def _site_app(tmp_path: Path, site: Path | None) -> Flask:
    changes: dict[str, Any] = {"site_mapping_files": (site,)} if site else {}
    return make_app(tmp_path / uuid.uuid4().hex[:6], **changes)


def test_discovery_advertises_the_site_templates(tmp_path: Path) -> None:
    app = _site_app(tmp_path, _platelets_map(tmp_path))
    try:
        services = app.test_client().get("/cds-services").get_json()["services"]
    finally:
        store_of(app).dispose()
    for service in services:
        assert f"{LOCAL_LAB}|PLT-LOCAL" in service["prefetch"]["labs"], service["id"]


@pytest.fixture(scope="module")
def site_patient(fhir_server: FhirServer) -> FhirServer:
    subject = {"reference": f"Patient/{PID}"}
    fhir_server.put({"resourceType": "Patient", "id": PID, "birthDate": "1968-05-01"})
    fhir_server.put({"resourceType": "Condition", "id": f"{PID}-nelm", "subject": subject,
                     "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                                    "code": "active"}]},
                     "code": {"coding": [{"system": "http://snomed.info/sct", "code": "94381002"}]}})
    fhir_server.put({"resourceType": "Observation", "id": f"{PID}-plt", "status": "final", "subject": subject,
                     "code": {"coding": [{"system": LOCAL_LAB, "code": "PLT-LOCAL"}], "text": "PLT"},
                     "effectiveDateTime": "2026-11-20",
                     "valueQuantity": {"value": 42, "unit": "10*9/L", "system": "http://unitsofmeasure.org",
                                       "code": "10*9/L"}})
    return fhir_server


def _summary_detail(app: Flask, server: FhirServer) -> str:
    try:
        response = app.test_client().post("/cds-services/nelm-pathway",
                                          json=patient_view(PID, fhir_server=server.base_url))
    finally:
        store_of(app).dispose()
    assert response.status_code == 200, response.get_data(as_text=True)
    cards = response.get_json()["cards"]
    return json.dumps(cards, ensure_ascii=False)  # the cards' text and the facts they name (basedOn extension)


@pytest.mark.fhirserver
def test_no_prefetch_hook_reads_a_locally_coded_platelet_count(tmp_path: Path, site_patient: FhirServer) -> None:
    with_site = _summary_detail(_site_app(tmp_path, _platelets_map(tmp_path)), site_patient)
    based = json.loads(with_site)[0]["extension"]["org.nelm-cds.basedOn"]
    assert {"fact": "Platelets", "value": "42 ×10⁹/L", "date": "2026-11-20",
            "references": [f"Observation/{PID}-plt"]} in based
    # Why the templates matter: the same site terminology with fixed (standard-code) templates never
    # fetches the locally coded result, so the pathway would not see it.
    fixed = _site_app(tmp_path, _platelets_map(tmp_path))
    fixed.extensions["nelm_prefetch_templates"] = dict(PREFETCH_TEMPLATES)
    without = _summary_detail(fixed, site_patient)
    facts = json.loads(without)[0]["extension"].get("org.nelm-cds.basedOn", [])
    assert not [f for f in facts if f["fact"] == "Platelets"] and f"Observation/{PID}-plt" not in without
