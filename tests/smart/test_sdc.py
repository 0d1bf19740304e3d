"""The SDC findings Questionnaire, populate from record + text candidates, and Observation-based extraction."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.provenance import Provenance
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from cds_hooks.smart import sdc
from nelm_fhir.ingest import ingest
from nelm_fhir.narrative import Assertion, Candidate, CodeValue, Finding, Quantity

VIGNETTES = Path(__file__).resolve().parents[1] / "vignettes"
TODAY = dt.date(2026, 12, 1)
NOW = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)


def _candidate(finding: Finding, value: Any, *, assertion: Assertion = Assertion.AFFIRMED,
               doc: str = "DiagnosticReport/ct-1", date: dt.date = dt.date(2026, 11, 2)) -> Candidate:
    return Candidate(finding=finding, value=value, assertion=assertion, sentence=f"sentence about {finding.value}",
                     start=0, end=5, document=doc, date=date)


def _items_by_link(q: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["linkId"]: i for i in q["item"]}


def test_questionnaire_validates_as_r4b_and_carries_sdc_extraction_metadata() -> None:
    q = sdc.questionnaire()
    Questionnaire.model_validate(q)
    assert q["url"] == sdc.QUESTIONNAIRE_URL and q["version"]
    assert {"url": sdc.OBSERVATION_EXTRACT, "valueBoolean": True} in q["extension"]
    items = _items_by_link(q)
    # every question has a code, and its type follows the value type
    for item in sdc.ITEMS:
        qi = items[item.link_id]
        assert qi["code"][0] == {"system": item.system, "code": item.code, "display": item.display}
    assert items["flr-percent"]["type"] == "decimal"
    assert {"url": sdc.QUESTIONNAIRE_UNIT, "valueCoding": {"system": sdc.UCUM, "code": "%", "display": "%"}} in \
        items["flr-percent"]["extension"]
    assert items["krenning-score"]["type"] == "integer"
    assert items["resectable-r0"]["type"] == "boolean"
    assert items["frilling-type"]["type"] == "choice"
    assert [o["valueCoding"]["code"] for o in items["frilling-type"]["answerOption"]] == [
        "type-I", "type-II", "type-III"]
    assert items["ki67-percent"]["code"][0]["code"] == "29593-1"
    assert items[sdc.EFFECTIVE_LINK_ID]["type"] == "date" and "code" not in items[sdc.EFFECTIVE_LINK_ID]


def test_populate_prefers_the_record_and_proposes_from_text_with_its_source() -> None:
    bundle = json.loads((VIGNETTES / "V10.json").read_text())
    resources = [e["resource"] for e in bundle["entry"]]
    pid = next(r["id"] for r in resources if r["resourceType"] == "Patient")
    recorded = sdc.current_answers(resources, as_of=TODAY)
    proposals = sdc.proposals_from([
        _candidate(Finding.FLR_PERCENT, Quantity(35.0, "%")),
        _candidate(Finding.FLR_PERCENT, Quantity(30.0, "%"), date=dt.date(2026, 10, 1)),  # older: not chosen
        _candidate(Finding.KRENNING_SCORE, Quantity(3, "1"), assertion=Assertion.UNCERTAIN),  # hedged: never
        _candidate(Finding.FRILLING_TYPE, CodeValue("type-II")),
        _candidate(Finding.KI67_PERCENT, Quantity(4.0, "%"), doc="DiagnosticReport/path-1"),
    ])
    qr = sdc.populate(patient_id=pid, resources=resources, proposals=proposals, as_of=TODAY, authored=NOW,
                      open_items=("flr-percent",))
    QuestionnaireResponse.model_validate(qr)
    got = {i["linkId"]: i["answer"][0] for i in qr.get("item", [])}
    assert "krenning-score" not in got or "extension" not in got["krenning-score"]
    for link, answer in recorded.items():  # the record wins over a proposal
        assert {k: v for k, v in got[link].items() if k != "extension"} == answer
        assert "extension" not in got[link]
    for link in ("flr-percent", "frilling-type", "ki67-percent"):
        if link in recorded:
            continue
        ext = got[link]["extension"][0]
        assert ext["url"] == sdc.PROPOSED_FROM
        parts = {e["url"]: e for e in ext["extension"]}
        assert parts["quote"]["valueString"] == f"sentence about {Finding(link).value}"
        assert parts["source"]["valueReference"]["reference"].startswith("DiagnosticReport/")
    if "flr-percent" not in recorded:
        assert got["flr-percent"]["valueDecimal"] == 35.0
    assert qr["extension"][0]["valueString"] == "flr-percent"


def test_populate_ignores_an_unknown_gap_and_a_wrong_unit() -> None:
    proposals = sdc.proposals_from([_candidate(Finding.FLR_PERCENT, Quantity(35.0, "mL"))])
    qr = sdc.populate(patient_id="p1", resources=[], proposals=proposals, as_of=TODAY, authored=NOW, open_items=("x",))
    assert "item" not in qr and "extension" not in qr


def _response(answers: dict[str, dict[str, Any]], pid: str = "p1") -> dict[str, Any]:
    return {"resourceType": "QuestionnaireResponse", "questionnaire": f"{sdc.QUESTIONNAIRE_URL}|1.0.0",
            "status": "completed", "subject": {"reference": f"Patient/{pid}"},
            "item": [{"linkId": k, "answer": [v]} for k, v in answers.items()]}


ANSWERS: dict[str, dict[str, Any]] = {
    "flr-percent": {"valueDecimal": 35.0},
    "krenning-score": {"valueInteger": 3},
    "resectable-r0": {"valueBoolean": True},
    "frilling-type": {"valueCoding": {"system": sdc.FINDING_SYSTEM, "code": "type-II"}},
    "ki67-percent": {"valueDecimal": 4.0},
    "mitotic-count": {"valueDecimal": 3},
    "effective": {"valueDate": "2026-11-02"},
}


def test_extraction_gives_observations_the_ingest_reads_with_derived_from_and_provenance() -> None:
    proposals = sdc.proposals_from([_candidate(Finding.FLR_PERCENT, Quantity(35.0, "%")),
                                    _candidate(Finding.KI67_PERCENT, Quantity(9.0, "%"), doc="DiagnosticReport/p")])
    qr = _response(ANSWERS)
    QuestionnaireResponse.model_validate(qr)
    result = sdc.extract(qr, qr_reference="QuestionnaireResponse/qr-1", patient_id="p1", proposals=proposals,
                         already={}, issued=NOW, today=TODAY, author="Practitioner/dr-a")
    assert not result.errors
    obs = {o["code"]["coding"][0]["code"]: o for o in result.observations}
    assert set(obs) == {"flr-percent", "krenning-score", "resectable-r0", "frilling-type", "29593-1",
                        "mitotic-count"}
    for o in result.observations:
        Observation.model_validate(o)
        assert o["effectiveDateTime"] == "2026-11-02"
    # the FLR the clinician kept is derived from the report; the Ki-67 they changed (4 ≠ 9) is not
    assert obs["flr-percent"]["derivedFrom"] == [{"reference": "QuestionnaireResponse/qr-1"},
                                                 {"reference": "DiagnosticReport/ct-1"}]
    assert obs["29593-1"]["derivedFrom"] == [{"reference": "QuestionnaireResponse/qr-1"}]
    assert obs["mitotic-count"]["valueQuantity"]["code"] == "/2.mm2"
    undated = sdc.extract(_response({"flr-percent": {"valueDecimal": 35.0}, "ki67-percent": {"valueDecimal": 4.0}}),
                          qr_reference="urn:uuid:x", patient_id="p1", proposals=proposals, already={}, issued=NOW,
                          today=TODAY, author=None)
    dates = {o["code"]["coding"][0]["code"]: o["effectiveDateTime"] for o in undated.observations}
    assert dates == {"flr-percent": "2026-11-02", "29593-1": TODAY.isoformat()}  # a kept proposal: its report's date
    prov = sdc.provenance(targets=["Observation/o1", "QuestionnaireResponse/qr-1"],
                          sources=sdc.report_sources(result.observations), author="Practitioner/dr-a", recorded=NOW)
    Provenance.model_validate(prov)
    assert prov["entity"] == [{"role": "source", "what": {"reference": "DiagnosticReport/ct-1"}}]
    assert prov["agent"][0]["who"] == {"reference": "Practitioner/dr-a"}
    # the ingest reads the extracted Observations as the profile's values
    patient = {"resourceType": "Patient", "id": "p1", "birthDate": "1960-01-01", "gender": "female"}
    entries = [patient, *[dict(o, id=f"o{i}") for i, o in enumerate(result.observations)]]
    profile = ingest({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in entries]},
                     as_of=TODAY, patient_id="p1")
    assert profile.flr_percent is not None and float(profile.flr_percent.value) == 35.0
    assert profile.krenning_score is not None and int(profile.krenning_score.value) == 3
    assert profile.resectable_r0 is not None and profile.resectable_r0.value is True
    assert [float(k.value) for k in profile.ki67] == [4.0]
    assert profile.mitotic_count is not None and float(profile.mitotic_count.value) == 3.0
    assert profile.frilling_type is not None and "II" in str(profile.frilling_type.value).upper()


@pytest.mark.parametrize(("link", "answer"), [
    ("flr-percent", {"valueDecimal": 140.0}),
    ("flr-percent", {"valueString": "forty"}),
    ("krenning-score", {"valueInteger": 7}),
    ("krenning-score", {"valueDecimal": 2.5}),
    ("resectable-r0", {"valueString": "yes"}),
    ("frilling-type", {"valueCoding": {"system": sdc.FINDING_SYSTEM, "code": "type-IV"}}),
    ("effective", {"valueDate": "2099-01-01"}),
])
def test_invalid_answers_write_nothing(link: str, answer: dict[str, Any]) -> None:
    qr = _response({"resectable-r0": {"valueBoolean": False}, link: answer})
    result = sdc.extract(qr, qr_reference="urn:uuid:x", patient_id="p1", proposals={}, already={}, issued=NOW,
                         today=TODAY, author=None)
    assert link in result.errors and result.observations == ()


def test_a_response_about_another_patient_or_questionnaire_is_refused() -> None:
    for qr in (_response({"resectable-r0": {"valueBoolean": True}}, pid="p2"),
               dict(_response({"resectable-r0": {"valueBoolean": True}}), questionnaire="http://x/Q")):
        result = sdc.extract(qr, qr_reference="urn:uuid:x", patient_id="p1", proposals={}, already={}, issued=NOW,
                             today=TODAY, author=None)
        assert "form" in result.errors and result.observations == ()


def test_a_value_the_record_already_holds_is_not_written_again() -> None:
    qr = _response({"resectable-r0": {"valueBoolean": True}, "flr-percent": {"valueDecimal": 35}})
    result = sdc.extract(qr, qr_reference="urn:uuid:x", patient_id="p1", proposals={},
                         already={"flr-percent": {"valueDecimal": 35.0}}, issued=NOW, today=TODAY, author=None)
    assert [o["code"]["coding"][0]["code"] for o in result.observations] == ["resectable-r0"]


def _answers_strategy() -> Any:
    from hypothesis import strategies as st

    def one(item: sdc.SdcItem) -> Any:
        f = item.field
        kind = sdc._item_type(f)
        if kind == "decimal":
            return st.floats(min_value=f.minimum or 0, max_value=f.maximum or 100, allow_nan=False).map(
                lambda v: {"valueDecimal": round(v, 1)})
        if kind == "integer":
            return st.integers(min_value=int(f.minimum or 0), max_value=int(f.maximum or 4)).map(
                lambda v: {"valueInteger": v})
        if kind == "boolean":
            return st.booleans().map(lambda v: {"valueBoolean": v})
        return st.sampled_from([c for c, _ in f.choices]).map(lambda c: {"valueCoding": {
            "system": sdc.FINDING_SYSTEM, "code": c, "display": dict(f.choices)[c]}})

    return st.fixed_dictionaries({}, optional={i.link_id: one(i) for i in sdc.ITEMS})


def test_populate_reads_back_what_extraction_wrote_for_any_answers() -> None:
    """Metamorphic: extract, then populate from the extracted Observations, gives the same answers."""
    from hypothesis import given, settings

    @settings(max_examples=60, deadline=None)
    @given(_answers_strategy())
    def check(answers: dict[str, dict[str, Any]]) -> None:
        result = sdc.extract(_response(answers), qr_reference="urn:uuid:x", patient_id="p1", proposals={},
                             already={}, issued=NOW, today=TODAY, author=None)
        assert not result.errors
        for o in result.observations:
            Observation.model_validate(o)
        back = sdc.current_answers([dict(o, id=f"o{i}") for i, o in enumerate(result.observations)], as_of=TODAY)
        assert back == answers
        # and answering again with the record's values writes nothing
        again = sdc.extract(_response(answers), qr_reference="urn:uuid:x", patient_id="p1", proposals={},
                            already=back, issued=NOW, today=TODAY, author=None)
        assert again.observations == ()

    check()


def test_validation_errors_name_what_is_wrong() -> None:
    from nelm_fhir.ingest.validation import validation_errors

    assert validation_errors(_response(ANSWERS), "QuestionnaireResponse") == []
    assert validation_errors({"resourceType": "Observation"}, "QuestionnaireResponse") == [
        "resourceType must be QuestionnaireResponse"]
    assert validation_errors({"resourceType": "QuestionnaireResponse"}, "QuestionnaireResponse")  # no status
    bad = dict(_response({}), item=[{"linkId": "flr-percent", "answer": [{"valueDecimal": "abc"}]}])
    assert any(e.startswith("item.0.answer.0.valueDecimal") for e in validation_errors(bad, "QuestionnaireResponse"))
