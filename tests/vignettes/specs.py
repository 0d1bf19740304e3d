"""The public vignettes of VIGNETTES.md: inputs (``Spec``) and the statuses each must get.

Statuses: R recommended, C consider, N not-recommended, X contraindicated, D insufficient-data;
"R/C" = either is acceptable. Where a vignette and a binding decision disagree, the binding
decision wins and ``notes`` says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.vignettes.build import MODALITY, Spec, variant

CODES = {"R": "recommended", "C": "consider", "N": "not-recommended", "X": "contraindicated", "D": "insufficient-data"}


@dataclass(frozen=True)
class Expected:
    """What a vignette must show."""

    statuses: dict[str, str]  # modality id -> "R", "C", "R/C", ...
    grade: str | None = None
    hook: str = "patient-view"
    gaps: tuple[str, ...] = ()  # data-gap elements that must be named
    notes: tuple[str, ...] = ()
    draft_order: dict[str, Any] | None = field(default=None)
    mentions: dict[str, tuple[str, ...]] = field(default_factory=dict)  # modality id or "notes" -> texts


V01 = Spec("V01", "Ideal curative resection (Ki-67 1 %)", ki67=1.0, lesions=((4.0, "segment VI"),), frilling="type-I",
           flr=70.0, r0=True)
V09 = Spec("V09", "FLR exactly 30 %", ki67=5.0, frilling="type-II", flr=30.0, r0=True,
           lesions=((3.5, "segment VII"), (2.0, "segment IV"), (1.2, "segment II")))
V16 = Spec("V16", "Single 4.9 cm NELM, surgery contraindicated", age=78, ecog=2, fit=False,
           lesions=((4.9, "segment VII"),), frilling="type-I", comorbidity="313299006")
V19 = Spec("V19", "Milan-compliant, age 60", age=60, ki67=2.0, frilling="type-III", involvement=45.0, stable_months=8,
           drugs=("octreotide",), lesions=((3.0, "segment VIII"), (2.5, "segment III"), (2.0, "segment VI"),
                                           (1.0, "segment II")))

_V01_STATUSES = {"curative-resection": "R", "rfa": "N", "tae": "N", "tace": "N", "radioembolization": "N", "prrt": "N",
                 "liver-transplantation": "N", "somatostatin-analogue": "N", "everolimus": "N", "sunitinib": "N",
                 "chemotherapy": "N"}
_ALPPS_ORDER = {
    "resourceType": "Bundle", "type": "collection",
    "entry": [{"resource": {
        "resourceType": "ServiceRequest", "id": "v08-alpps-stage-1", "status": "draft", "intent": "order",
        "code": {"coding": [{"system": MODALITY, "code": "alpps", "display": "ALPPS stage 1"}],
                 "text": "ALPPS stage 1"},
        "subject": {"reference": "Patient/v08"}, "reasonReference": [{"reference": "Condition/v08-nelm"}],
    }}],
}

VIGNETTES: list[tuple[Spec, Expected]] = [
    (V01, Expected(_V01_STATUSES, grade="G1", mentions={"notes": ("intensified imaging follow-up",),
                                                        "curative-resection": ("5-year OS 70 %", "[26]")})),
    (variant(V01, "V02", "Ki-67 exactly 2.0 %", ki67=2.0), Expected(_V01_STATUSES, grade="G1")),
    (variant(V01, "V04", "Ki-67 exactly 3.0 %", ki67=3.0), Expected(_V01_STATUSES, grade="G2")),
    (Spec("V05", "Ki-67 exactly 20 %, diffuse unresectable, otherwise Milan-like", age=50, ki67=20.0,
          frilling="type-III", involvement=30.0, stable_months=12,
          lesions=((3.5, "segment VIII"), (2.8, "segment IV"), (2.1, "segment II"), (1.5, "segment VI"))),
     Expected({"curative-resection": "N", "liver-transplantation": "N", "somatostatin-analogue": "R", "tae": "C",
               "tace": "C", "prrt": "C", "cytoreductive-surgery": "N"}, grade="G2",
              mentions={"liver-transplantation": ("MDT may override",), "prrt": ("at progression",)})),
    (Spec("V06", "Ki-67 21 %, well-differentiated NET G3, resectable", primary="pancreas-body", ki67=21.0,
          lesions=((3.0, "segment III"), (2.0, "segment II")), flr=60.0, r0=True, fdg=True),
     Expected({"curative-resection": "C", "alpps": "X", "liver-transplantation": "X", "prrt": "C",
               "chemotherapy": "C"}, grade="G3",
              notes=("'systemic C' checked on chemotherapy; everolimus/sunitinib are G1/G2 options (B23) and are N",))),
    (Spec("V07", "NEC with liver metastases", age=62, ecog=1, primary="pancreas-nec", primary_status="in-situ",
          differentiation="poor", morphology="8041/3", ki67=70.0,
          lesions=((4.5, "segment VII"), (3.0, "segment II"), (2.5, "segment IV"), (2.0, "segment VI")),
          frilling="type-II"),
     Expected({"curative-resection": "X", "simultaneous-resection": "X", "portal-vein-embolization": "X",
               "two-stage-hepatectomy": "X", "alpps": "X", "liver-transplantation": "X",
               "cytoreductive-surgery": "N", "rfa": "N", "mwa": "N", "tae": "N", "tace": "N",
               "radioembolization": "N", "prrt": "N", "chemotherapy": "R"}, grade="G3")),
    (Spec("V08", "G3 NET and ALPPS ordered (order-sign)", ki67=25.0, ki67_site="primary",
          lesions=((6.0, "segment VII"), (2.5, "segment III"), (1.8, "segment IV")), frilling="type-II", flr=22.0,
          r0=True, fdg=True),
     Expected({"alpps": "X", "portal-vein-embolization": "C", "two-stage-hepatectomy": "C", "tae": "C", "tace": "C",
               "prrt": "C", "chemotherapy": "C"}, grade="G3", hook="order-sign", gaps=("ki67LiverSpecimen",),
              draft_order=_ALPPS_ORDER, mentions={"notes": ("pre-operative liver biopsy recommended",),
                                                  "alpps": ("[41]",)},
              notes=("the vignette's 'D note' is the ki67LiverSpecimen data gap plus the B2 note; PVE/two-stage C",))),
    (V09, Expected({"curative-resection": "R", "portal-vein-embolization": "N", "alpps": "N"}, grade="G2",
                   mentions={"curative-resection": ("at threshold: confirm volumetry and liver function",)})),
    (variant(V09, "V10", "FLR 29 %", flr=29.0),
     Expected({"curative-resection": "N", "portal-vein-embolization": "R/C", "two-stage-hepatectomy": "C",
               "alpps": "C", "tae": "N", "tace": "N"}, grade="G2")),
    (Spec("V11", "Simultaneous resection candidate", age=48, primary_status="in-situ", ki67=1.0,
          extrahepatic=("regional-nodes",), lesions=((3.0, "segment III"),), frilling="type-I", flr=85.0, r0=True),
     Expected({"simultaneous-resection": "R", "two-stage-hepatectomy": "N", "portal-vein-embolization": "N",
               "alpps": "N"}, grade="G1", mentions={"simultaneous-resection": ("regional nodes only", "[22]")})),
    (Spec("V12", "Synchronous panNET with extensive bilobar NELM", primary="pancreas-body", primary_status="in-situ",
          ki67=8.0, lesions=((5.5, "segment VII"), (3.0, "segment IV"), (2.0, "segment II"), (1.5, "segment III")),
          frilling="type-II", flr=25.0, r0=True),
     Expected({"simultaneous-resection": "N", "two-stage-hepatectomy": "C", "alpps": "C", "prrt": "C",
               "somatostatin-analogue": "C"}, grade="G2",
              notes=("PVE is C (primary in situ: Clichy two-stage with primary resection at stage 1 [38])",))),
    (Spec("V14", "Portal vein thrombosis", ki67=4.0, frilling="type-III", involvement=40.0, r0=False, pvt=True,
          progressive=True, drugs=("octreotide",),
          lesions=((4.0, "segment VIII"), (3.0, "segment V"), (2.5, "segment III"), (2.0, "segment II"))),
     Expected({"tae": "X", "tace": "X", "radioembolization": "C", "prrt": "R", "liver-transplantation": "N",
               "curative-resection": "N"}, grade="G2",
              mentions={"radioembolization": ("portal vein thrombosis",), "tae": ("portal vein thrombosis",)})),
    (V16, Expected({"curative-resection": "X", "rfa": "R", "mwa": "R/C", "tae": "C", "tace": "C"}, grade="G1")),
    (variant(V16, "V16b", "Single 2.0 cm NELM abutting the hilar plate, surgery contraindicated",
             lesions=((2.0, "segment IV, hilar plate"),), near_hilum=True),
     Expected({"rfa": "X", "mwa": "C", "tae": "C", "tace": "C"}, grade="G1",
              mentions={"rfa": ("hilum",), "mwa": ("caution",)})),
    (variant(V16, "V16c", "Single 2.5 cm subcapsular dome NELM, surgery contraindicated",
             lesions=((2.5, "segment VIII, dome"),), subcapsular=True),
     Expected({"rfa": "X", "mwa": "C", "tae": "C"}, grade="G1", mentions={"rfa": ("subcapsular",)})),
    (variant(V16, "V17", "Single 5.1 cm NELM, surgery contraindicated", lesions=((5.1, "segment VII"),)),
     Expected({"rfa": "N", "stereotactic-rfa": "C", "mwa": "C", "tae": "C", "tace": "C"}, grade="G1")),
    (Spec("V18", "Bulky liver-dominant disease with bone metastases", age=57, ki67=6.0, involvement=45.0,
          lesions=((9.0, "segments VII/VIII"), (4.0, "segment III"), (3.0, "segment II")), frilling="type-II",
          extrahepatic=("bone",), progressive=True, drugs=("octreotide",)),
     Expected({"curative-resection": "N", "liver-transplantation": "X", "prrt": "R",
               "prrt-plus-radioembolization": "C", "tae": "C", "tace": "C", "everolimus": "C"}, grade="G2")),
    (V19, Expected({"liver-transplantation": "C", "somatostatin-analogue": "R", "tae": "C", "tace": "C", "prrt": "C"},
                   grade="G1", mentions={"liver-transplantation": ("ELTR: age > 45", "97 %", "[68]", "living-donor")})),
    (variant(V19, "V21a", "Liver involvement exactly 50 %, otherwise V19", involvement=50.0),
     Expected({"liver-transplantation": "C"}, grade="G1")),
    (Spec("V23", "Missing Ki-67 (data gap)", age=61, ki67=None, morphology="8249/3",
          lesions=((3.0, "segment VII"), (2.5, "segment III"), (2.0, "segment II")), frilling="type-II"),
     Expected({"liver-transplantation": "D", "alpps": "D", "prrt": "D", "tae": "C", "tace": "C",
               "somatostatin-analogue": "C"}, gaps=("ki67Percent",))),
    (Spec("V24", "PRRT with impaired renal function", age=64, ki67=7.0, progressive=True, drugs=("octreotide",),
          lesions=((3.0, "segment VI"), (2.0, "segment III"), (1.5, "segment II")), frilling="type-II", r0=False,
          labs={"98979-8": 45.0, "35591-7": 47.0, "777-3": 210.0, "718-7": 12.0}),
     Expected({"prrt": "C", "everolimus": "C", "tae": "C"}, grade="G2",
              mentions={"prrt": ("below 50 mL/min", "measured GFR", "dosimetry")})),
    (Spec("V26", "SSTR-negative progressive panNET", primary="pancreas-body", ki67=15.0, krenning=1, fdg=True,
          progressive=True, lesions=((4.0, "segment VII"), (3.0, "segment IV"), (2.5, "segment II")),
          frilling="type-II", r0=False),
     Expected({"prrt": "X", "somatostatin-analogue": "N", "everolimus": "R/C", "sunitinib": "R/C",
               "chemotherapy": "R/C", "tae": "C", "tace": "C", "curative-resection": "N"}, grade="G2")),
    (Spec("V27", "Recurrence after curative resection", ki67=4.0, liver_resection_months_ago=36, recurrence=True,
          lesions=((1.5, "segment II"), (2.2, "segment III")), flr=60.0, r0=True),
     Expected({"repeat-resection": "R", "rfa": "C", "mwa": "C", "tae": "N", "tace": "N"}, grade="G2",
              mentions={"repeat-resection": ("78.6 %", "intensified imaging follow-up")})),
    (Spec("V28a", "Regional nodes vs distant: panNET G1 in situ with resectable peripancreatic nodes",
          primary="pancreas-body", primary_status="in-situ", ki67=2.0, extrahepatic=("regional-nodes",),
          lesions=((3.5, "segment VI"),), frilling="type-I", flr=75.0, r0=True),
     Expected({"simultaneous-resection": "R/C"}, grade="G1")),
    (Spec("V29", "Unknown primary", age=52, primary="unknown", primary_status="unknown-primary", ki67=5.0,
          lesions=((3.0, "segment VII"), (2.0, "segment VI")), flr=55.0, r0=True),
     Expected({"curative-resection": "C", "liver-transplantation": "X", "simultaneous-resection": "N",
               "somatostatin-analogue": "C"}, grade="G2", notes=("'simultaneous N/A' is rated N",))),
    (Spec("V30", "Functional carcinoid syndrome refractory to SSA", age=63, ki67=3.0, syndrome=True, refractory=True,
          drugs=("lanreotide",), frilling="type-III", involvement=35.0, debulk=75.0,
          lesions=((4.0, "segment VII"), (3.0, "segment IV"), (2.5, "segment II"), (2.0, "segment VI")),
          labs={"1695-6": 450.0}),
     Expected({"cytoreductive-surgery": "C", "tae": "C", "tace": "C", "radioembolization": "C", "rfa": "C",
               "prrt": "R/C", "interferon-alpha": "C", "liver-transplantation": "N"}, grade="G2")),
]

from tests.vignettes.specs_b30_b40 import VIGNETTES_B30_B40  # noqa: E402 - needs Expected, V01 and V16 above

VIGNETTES += VIGNETTES_B30_B40
from tests.vignettes.specs_b27_b29 import VIGNETTES_B27_B29  # noqa: E402 - needs Expected, V01 and V16 above

VIGNETTES += VIGNETTES_B27_B29
SPECS = [spec for spec, _ in VIGNETTES]


def expected_json() -> dict[str, Any]:
    """Return the content of ``expected.json``: per vignette the acceptable statuses and the hook."""
    out: dict[str, Any] = {}
    for spec, exp in VIGNETTES:
        entry: dict[str, Any] = {
            "title": spec.title,
            "patient": f"Patient/{spec.vid.lower()}",
            "file": f"{spec.vid}.json",
            "now": "2026-11-26",
            "hook": exp.hook,
            "statuses": {m: [CODES[s] for s in v.split("/")] for m, v in sorted(exp.statuses.items())},
        }
        if exp.grade:
            entry["grade"] = exp.grade
        if exp.gaps:
            entry["dataGaps"] = list(exp.gaps)
        if exp.draft_order:
            entry["draftOrders"] = exp.draft_order
        if exp.notes:
            entry["notes"] = list(exp.notes)
        if exp.mentions:
            entry["mustMention"] = {k: list(v) for k, v in sorted(exp.mentions.items())}
        out[spec.vid] = entry
    return out
