"""Vignettes for PATHWAY.md B27 (every form a result comes in), B28 (unreadable values) and B29 (undated).

Both sides of each rule, each a public vignette with one record rewritten as an EHR writes it;
the reasoning is next to each. Statuses: R, C, N, X, D as in ``specs.py``.
"""

from __future__ import annotations

from typing import Any

from tests.vignettes.build import LOINC, UCUM, Spec, date_ago, variant
from tests.vignettes.specs import V01, V16, Expected

Json = dict[str, Any]

_KI67 = {"coding": [{"system": LOINC, "code": "29593-1", "display": "Ki-67 in Tissue"}], "text": "Ki-67 index"}


def _coded(code: str, display: str) -> Json:
    return {"coding": [{"system": LOINC, "code": code, "display": display}], "text": display}


def _pathology_report(rid: str, ki67: str) -> Json:
    """A pathology DiagnosticReport whose contained synoptic Observation holds Ki-67 as text ("> 20 %")."""
    return {
        "resourceType": "DiagnosticReport", "id": rid, "status": "final",
        "code": _coded("60568-3", "Pathology Synoptic report"),
        "effectivePeriod": {"start": date_ago(months_ago=3, days_ago=4), "end": date_ago(months_ago=3)},
        "issued": f"{date_ago(months_ago=3)}T16:00:00Z",
        "contained": [{"resourceType": "Observation", "id": "synoptic", "status": "final",
                       "code": {"coding": [{"system": "urn:oid:2.16.840.1.113883.3.9999", "code": "NET-SYN"}],
                                "text": "NET synoptic report"},
                       "component": [{"code": _KI67, "valueString": ki67}]}],
        "result": [{"reference": "#synoptic"}],
    }


def _renal_panel(rid: str, egfr: Json, creatinine_umol: float) -> Json:
    """A renal panel (components), creatinine in µmol/L, issued date only."""
    return {
        "resourceType": "Observation", "id": rid, "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "laboratory"}]}],
        "code": _coded("24362-6", "Renal function panel"),
        "issued": f"{date_ago(days_ago=5)}T09:30:00Z",
        "component": [
            {"code": _coded("98979-8", "eGFR CKD-EPI 2021"), **egfr},
            {"code": _coded("14682-9", "Creatinine [Moles/volume] in Serum or Plasma"),
             "valueQuantity": {"value": creatinine_umol, "unit": "µmol/L", "system": UCUM, "code": "umol/L"}},
        ],
    }


def _lab(rid: str, code: str, display: str, value: Json, **date: Any) -> Json:
    return {"resourceType": "Observation", "id": rid, "status": "final", "code": _coded(code, display),
            **date, **value}


_RENAL = ("lab-98979-8", "lab-35591-7")
_V24_LIKE: dict[str, Any] = {"age": 64, "ki67": 7.0, "progressive": True, "drugs": ("octreotide",),
                             "lesions": ((3.0, "segment VI"), (2.0, "segment III"), (1.5, "segment II")),
                             "frilling": "type-II", "r0": False}

VIGNETTES_B27_B29: list[tuple[Spec, Expected]] = [
    # B27: Ki-67 "> 20 %" as text in a synoptic pathology report contained in a DiagnosticReport is above 20:
    # G3, so ALPPS and transplantation are contraindicated and resection is at most "consider" (B6).
    (variant(V01, "B27a", "Ki-67 '> 20 %' as text in a pathology DiagnosticReport (B27)", omit=("ki67",),
             extra=(_pathology_report("pathology", "> 20 %"),)),
     Expected({"curative-resection": "C", "alpps": "X", "liver-transplantation": "X"}, grade="G3")),
    # B27 other side: "<= 20 %" is at most 20: G2, and the ideal resection stays recommended (as V04).
    (variant(V01, "B27b", "Ki-67 '<= 20 %' as text in a pathology DiagnosticReport (B27)", omit=("ki67",),
             extra=(_pathology_report("pathology", "<= 20 %"),)),
     Expected({"curative-resection": "R", "alpps": "N"}, grade="G2")),
    # B27: eGFR "< 30" as text in a renal panel (dated by `issued` only): below 30 whatever its value -> PRRT X.
    (Spec("B27c", "eGFR '< 30' as text in a renal panel, issued date only (B27)", **_V24_LIKE, omit=_RENAL,
          extra=(_renal_panel("renal", {"valueString": "< 30 mL/min/1.73m2"}, 265.0),)),
     Expected({"prrt": "X", "tae": "C"}, grade="G2", mentions={"prrt": ("reported as '<",)})),
    # B27 other side: eGFR as a range 52-60 -> its worse end, 52, is adequate: PRRT for progressive G2 disease.
    (Spec("B27d", "eGFR as a range 52-60 in a renal panel (B27)", **_V24_LIKE, omit=_RENAL,
          extra=(_renal_panel("renal", {"valueRange": {
              "low": {"value": 52, "unit": "mL/min/1.73m2", "system": UCUM, "code": "mL/min/{1.73_m2}"},
              "high": {"value": 60, "unit": "mL/min/1.73m2", "system": UCUM, "code": "mL/min/{1.73_m2}"}}}, 110.0),)),
     Expected({"prrt": "R"}, grade="G2")),
    # B28: the newest bilirubin cannot be read (unknown unit) -> the older normal one must not decide:
    # TAE/TACE/RE need hepatic function and are D, with a gap naming the unreadable record.
    (variant(V16, "B28c", "Newest bilirubin unreadable, an older one normal (B28)",
             extra=(_lab("bilirubin-new", "1975-2", "Bilirubin.total", {"valueQuantity": {"value": 4.2, "unit": "mg%"}},
                         effectiveDateTime=date_ago(days_ago=2)),)),
     Expected({"tae": "D", "tace": "D", "rfa": "R"}, grade="G1", gaps=("bilirubin",))),
    # B28 other side: the unreadable bilirubin is older than the readable one -> the readable one decides (TAE C).
    (variant(V16, "B28d", "Older bilirubin unreadable, the newest readable (B28)",
             extra=(_lab("bilirubin-old", "1975-2", "Bilirubin.total", {"valueQuantity": {"value": 4.2, "unit": "mg%"}},
                         effectiveDateTime=date_ago(days_ago=25)),)),
     Expected({"tae": "C", "tace": "C", "rfa": "R"}, grade="G1")),
    # B29: the only ECOG has no date at all -> its age is unknown: stale, so fitness is unknown and the
    # resection is D (B34), named in the gaps; the options that give way to a resection are D too, never
    # promoted by the undated record (B28: SSA and RFA are N in V01 only because the resection is R).
    (variant(V01, "B29a", "ECOG without any date (B29)", omit=("ecog",),
             extra=(_lab("ecog-undated", "89247-1", "ECOG", {"valueInteger": 0}),)),
     Expected({"curative-resection": "D", "somatostatin-analogue": "D", "rfa": "D"}, grade="G1",
              gaps=("fitness",))),
    # B29 other side: the same ECOG dated by a period ending 80 days ago is current (90-day window): R as V01.
    (variant(V01, "B29b", "ECOG dated by the end of its period, 80 days ago (B27, B29)", omit=("ecog",),
             extra=(_lab("ecog-period", "89247-1", "ECOG", {"valueInteger": 0},
                         effectivePeriod={"start": date_ago(days_ago=95), "end": date_ago(days_ago=80)}),)),
     Expected({"curative-resection": "R"}, grade="G1")),
]
