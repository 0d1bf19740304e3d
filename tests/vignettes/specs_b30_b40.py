"""Vignettes for PATHWAY.md B28 (text only), B30-B32 and B34-B40 (issue 11): both sides of each rule.

Each is baseline patient B (or a public vignette) plus the records an EHR would send, with the
reasoning next to it. Statuses: R, C, N, X, D as in ``specs.py``.
"""

from __future__ import annotations

from typing import Any

from tests.vignettes.build import FINDING, ICD10, LOINC, MCODE, PCS, SCT, Spec, date_ago, variant
from tests.vignettes.specs import V01, V16, Expected

CPT = "http://www.ama-assn.org/go/cpt"


def _cc(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _condition(rid: str, code: dict[str, Any], *, months_ago: int = 6, status: str = "active") -> dict[str, Any]:
    return {"resourceType": "Condition", "id": rid,
            "clinicalStatus": _cc("http://terminology.hl7.org/CodeSystem/condition-clinical", status, status),
            "verificationStatus": _cc("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed",
                                      "confirmed"),
            "code": code, "onsetDateTime": date_ago(months_ago=months_ago),
            "recordedDate": date_ago(months_ago=months_ago)}


def _procedure(rid: str, code: dict[str, Any], date: str) -> dict[str, Any]:
    return {"resourceType": "Procedure", "id": rid, "status": "completed", "code": code, "performedDateTime": date}


def _finding(rid: str, code: str, value: dict[str, Any], *, days_ago: int = 14) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": rid, "status": "final",
            "code": _cc(FINDING, code, code), "effectiveDateTime": date_ago(days_ago=days_ago), **value}


_PRIMARY_STATE = ("primary-status", "primary-resection")
_UNRESECTABLE = {"frilling": "type-III", "r0": False, "involvement": 40.0, "progressive": True,
                 "lesions": ((4.0, "segment VIII"), (3.0, "segment V"), (2.5, "segment III"))}
_HISTOLOGY = f"{MCODE}/mcode-histology-morphology-behavior"

VIGNETTES_B30_B40: list[tuple[Spec, Expected]] = [
    # B30: no primary Condition at all -> the options that need it are D, not read as "resected".
    (variant(V01, "B30a", "No primary tumour recorded (B30)", omit=("primary", *_PRIMARY_STATE)),
     Expected({"curative-resection": "D", "simultaneous-resection": "D", "liver-transplantation": "D"}, grade="G1",
              gaps=("primaryTumour",))),
    # B30 other side: a primary without resection or status is in situ for every option -> simultaneous R.
    (variant(V01, "B30b", "Primary recorded, no resection and no status: in situ (B30)", omit=_PRIMARY_STATE,
             lesions=((3.0, "segment III"),), flr=85.0),
     Expected({"simultaneous-resection": "R", "curative-resection": "N"}, grade="G1",
              mentions={"simultaneous-resection": ("read as in situ (B30)",)})),
    # B31: a Whipple in CPT contraindicates ablation and intra-arterial therapy (V16: otherwise RFA R, TAE C).
    (variant(V16, "B31a", "Whipple coded in CPT 48150, surgery unsafe (B31)",
             extra=(_procedure("whipple", _cc(CPT, "48150", "Whipple-type pancreatectomy"), date_ago(months_ago=40)),)),
     Expected({"rfa": "X", "mwa": "X", "tae": "X", "tace": "X", "radioembolization": "C"}, grade="G1")),
    # B31: the same operation as ICD-10-PCS components on one day.
    (variant(V16, "B31b", "Pancreas and duodenum resected the same day in ICD-10-PCS (B31)",
             extra=(_procedure("pancreas", _cc(PCS, "0FBG0ZZ", "Excision of Pancreas, Open Approach"),
                               date_ago(months_ago=40)),
                    _procedure("duodenum", _cc(PCS, "0DT90ZZ", "Resection of Duodenum, Open Approach"),
                               date_ago(months_ago=40)))),
     Expected({"rfa": "X", "mwa": "X", "tae": "X", "tace": "X"}, grade="G1")),
    # B31 other side: the same two codes months apart are two operations, not one Whipple.
    (variant(V16, "B31c", "Pancreas and duodenum operations months apart (B31, other side)",
             extra=(_procedure("pancreas", _cc(PCS, "0FBG0ZZ", "Excision of Pancreas, Open Approach"),
                               date_ago(months_ago=40)),
                    _procedure("duodenum", _cc(PCS, "0DT90ZZ", "Resection of Duodenum, Open Approach"),
                               date_ago(months_ago=30)))),
     Expected({"rfa": "R", "tae": "C", "tace": "C"}, grade="G1")),
    # B31: Z98.0 only says "intestinal bypass or anastomosis": confirm before ablation or embolization.
    (variant(V16, "B31d", "Z98.0 intestinal anastomosis status only (B31)",
             extra=(_condition("z98", _cc(ICD10, "Z98.0", "Intestinal bypass and anastomosis status"),
                               months_ago=30),)),
     Expected({"rfa": "D", "stereotactic-rfa": "D", "mwa": "D", "tae": "D", "tace": "D"}, grade="G1",
              gaps=("bilioEntericAnastomosis",))),
    # B32: pregnancy (Z33.1) in progressive unresectable disease: PRRT, RE, TACE, drugs X; TAE and SSA C.
    (Spec("B32a", "Pregnancy in progressive unresectable disease (B32)", age=34, ki67=4.0, **_UNRESECTABLE,
          extra=(_condition("pregnancy", _cc(ICD10, "Z33.1", "Pregnant state, incidental"), months_ago=3),)),
     Expected({"prrt": "X", "radioembolization": "X", "tace": "X", "everolimus": "X", "sunitinib": "X",
               "chemotherapy": "X", "tae": "C", "somatostatin-analogue": "C"}, grade="G2",
              mentions={"tae": ("pregnancy: obstetric and MDT input required",)})),
    # B32 other side: a pregnancy status "not pregnant" changes nothing.
    (Spec("B32b", "Pregnancy status: not pregnant (B32, other side)", age=34, ki67=4.0, **_UNRESECTABLE,
          extra=({"resourceType": "Observation", "id": "pregnancy-status", "status": "final",
                  "code": _cc(LOINC, "82810-3", "Pregnancy status"), "effectiveDateTime": date_ago(days_ago=5),
                  "valueCodeableConcept": _cc(LOINC, "LA26683-5", "Not pregnant")},)),
     Expected({"prrt": "R", "tace": "C", "tae": "C"}, grade="G2")),
    # B34: neither ECOG nor an MDT judgement: every surgical option D (even one that would otherwise be N).
    (variant(V01, "B34a", "No performance status and no MDT fitness judgement (B34)", ecog=None),
     Expected({"curative-resection": "D", "simultaneous-resection": "D", "portal-vein-embolization": "D",
               "two-stage-hepatectomy": "D", "alpps": "D", "cytoreductive-surgery": "D",
               "liver-transplantation": "D", "repeat-resection": "D"}, grade="G1", gaps=("fitness",))),
    # B34 other side: the MDT judgement alone is enough.
    (variant(V01, "B34b", "MDT fitness judgement without ECOG (B34, other side)", ecog=None, fit=True),
     Expected({"curative-resection": "R"}, grade="G1")),
    # B35: an abnormal bilirubin 60 days old: every hepatectomy at most C, with the warning.
    (variant(V01, "B35a", "Stale abnormal bilirubin before a hepatectomy (B35)", omit=("lab-1975-2",),
             extra=({"resourceType": "Observation", "id": "old-bilirubin", "status": "final",
                     "code": _cc(LOINC, "1975-2", "Bilirubin.total [Mass/volume] in Serum or Plasma"),
                     "effectiveDateTime": date_ago(days_ago=60),
                     "valueQuantity": {"value": 1.9, "unit": "mg/dL", "system": "http://unitsofmeasure.org",
                                       "code": "mg/dL"}},)),
     Expected({"curative-resection": "C"}, grade="G1",
              mentions={"curative-resection": ("liver function last abnormal on", "repeat before deciding")})),
    # B35 other side: the same bilirubin 60 days old but normal: no warning, no cap.
    (variant(V01, "B35b", "Stale normal bilirubin before a hepatectomy (B35, other side)", omit=("lab-1975-2",),
             extra=({"resourceType": "Observation", "id": "old-bilirubin", "status": "final",
                     "code": _cc(LOINC, "1975-2", "Bilirubin.total [Mass/volume] in Serum or Plasma"),
                     "effectiveDateTime": date_ago(days_ago=60),
                     "valueQuantity": {"value": 0.7, "unit": "mg/dL", "system": "http://unitsofmeasure.org",
                                       "code": "mg/dL"}},)),
     Expected({"curative-resection": "R"}, grade="G1")),
    # B36(c): Ki-67 taken 3 months ago, progression 25 days ago: re-biopsy advised before transplantation,
    # ALPPS and PRRT; statuses unchanged (PRRT still R for progressive SSTR-positive disease).
    (Spec("B36c", "Ki-67 taken before the latest progression (B36c)", ki67=4.0, **_UNRESECTABLE),
     Expected({"prrt": "R", "tace": "C"}, grade="G2", gaps=("ki67AfterProgression",),
              mentions={"prrt": ("re-biopsy after progression advised [41]",)})),
    # B36(b): a syndrome controlled by SSA, burden symptoms, stable >= 6 months, 80 % removable: cytoreduction C.
    (Spec("B36a", "Carcinoid syndrome controlled by SSA, tumour-burden symptoms (B36b)", age=63, ki67=3.0,
          syndrome=True, refractory=False, debulk=80.0, frilling="type-III", r0=False, stable_months=12,
          drugs=("octreotide",), lesions=((6.0, "segment VII"), (4.0, "segment VIII"), (3.0, "segment II")),
          extra=(_finding("burden", "tumour-burden-symptoms", {"valueBoolean": True}),)),
     Expected({"cytoreductive-surgery": "C"}, grade="G2",
              mentions={"cytoreductive-surgery": ("controlled by SSA",)})),
    # B36(b) other side: controlled, but no burden symptoms -> N.
    (Spec("B36b", "Carcinoid syndrome controlled by SSA, no burden symptoms (B36b, other side)", age=63, ki67=3.0,
          syndrome=True, refractory=False, debulk=80.0, frilling="type-III", r0=False, stable_months=12,
          drugs=("octreotide",), lesions=((6.0, "segment VII"), (4.0, "segment VIII"), (3.0, "segment II"))),
     Expected({"cytoreductive-surgery": "N"}, grade="G2")),
    # B37: WHO grade stated without a number sets the grade; no B4 gap.
    (variant(V01, "B37a", "WHO G2 stated by pathology, no Ki-67 (B37)", ki67=None,
             extra=(_finding("who-grade", "who-grade", {"valueCodeableConcept": _cc(FINDING, "G2", "WHO grade 2")},
                             days_ago=60),)),
     Expected({"curative-resection": "R"}, grade="G2", mentions={"notes": ("stated by pathology",)})),
    # B37: a stated G3 (SNOMED grade concept in the primary's mCODE histology extension) outranks Ki-67 1 %.
    (variant(V01, "B37b", "Ki-67 1 % but WHO G3 stated in the histology extension (B37)", omit=("primary",),
             extra=({**_condition("primary", {"coding": [
                 {"system": ICD10, "code": "C7A.012", "display": "Malignant carcinoid tumor of the ileum"},
                 {"system": SCT, "code": "737313007", "display": "Primary malignant neuroendocrine neoplasm of ileum"}],
                 "text": "Malignant carcinoid tumor of the ileum"}, months_ago=25),
                 "extension": [{"url": _HISTOLOGY, "valueCodeableConcept": _cc(
                     SCT, "1286772002", "Well-differentiated neuroendocrine tumour, grade 3")}]},)),
     Expected({"liver-transplantation": "X", "curative-resection": "C"}, grade="G3",
              mentions={"notes": ("stated by pathology",)})),
    # B37 other side: neither a number nor a stated grade: grade-dependent options D (B4).
    (variant(V01, "B37c", "No Ki-67 and no stated grade (B37, other side)", ki67=None),
     Expected({"curative-resection": "D", "alpps": "D", "liver-transplantation": "D"}, grade=None,
              gaps=("ki67Percent",))),
    # B38: FLR only for a major resection: a single 4 cm lesion in Frilling I needs no volumetry ...
    (variant(V01, "B38a", "Minor resection, no FLR volumetry (B38)", flr=None),
     Expected({"curative-resection": "R"}, grade="G1",
              mentions={"curative-resection": ("FLR not required",)})),
    # ... a planned major resection does.
    (variant(V01, "B38b", "Major resection planned, no FLR volumetry (B38, other side)", flr=None,
             extra=(_finding("extent", "resection-extent", {"valueCodeableConcept": _cc(FINDING, "major", "major")}),)),
     Expected({"curative-resection": "D"}, grade="G1", gaps=("flrPercent",))),
    # B39: radiology counted 3 metastases but measured one: multiple, so TAE/TACE are open.
    (variant(V01, "B39a", "Three metastases counted, one measured (B39)", frilling=None, flr=None, r0=None,
             extra=(_finding("count", "lesion-count", {"valueInteger": 3}, days_ago=30),)),
     Expected({"tae": "C", "tace": "C", "curative-resection": "D"}, grade="G1")),
    # B39 other side: one measured lesion and no count: not "multiple", a resectability judgement is needed.
    (variant(V01, "B39b", "One lesion measured, no count (B39, other side)", frilling=None, flr=None, r0=None),
     Expected({"tae": "D", "tace": "D"}, grade="G1", gaps=("resectableR0",))),
    # B40: a glucagonoma known only from its ICD-O-3 morphology is functional: SSA R for symptom control.
    (Spec("B40a", "Glucagonoma from morphology only (B40)", primary="pancreas-body", morphology="8152/3", ki67=4.0,
          krenning=None, **_UNRESECTABLE),
     Expected({"somatostatin-analogue": "R"}, grade="G2")),
    # B40 other side: a plain NET morphology without SSTR imaging: SSA cannot be rated.
    (Spec("B40b", "Plain NET morphology, no SSTR imaging (B40, other side)", primary="pancreas-body",
          morphology="8240/3", ki67=4.0, krenning=None, **_UNRESECTABLE),
     Expected({"somatostatin-analogue": "D"}, grade="G2")),
    # B28: portal vein thrombosis written only as text: TAE/TACE D with "confirm: ..." (V16: otherwise C).
    (variant(V16, "B28a", "Portal vein thrombosis recorded only as text (B28)",
             extra=(_condition("pvt-text", {"text": "Portal vein thrombosis"}, months_ago=1),)),
     Expected({"tae": "D", "tace": "D", "rfa": "R"}, grade="G1", gaps=("recordToConfirm",))),
    # B28 other side: a negated text is not a finding.
    (variant(V16, "B28b", "'No portal vein thrombosis' as text (B28, other side)",
             extra=(_condition("pvt-text", {"text": "No portal vein thrombosis"}, months_ago=1),)),
     Expected({"tae": "C", "tace": "C", "rfa": "R"}, grade="G1")),
]
