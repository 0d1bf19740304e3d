"""B15: every ICD-10-PCS hepatobiliary-to-gut bypass is a bilio-enteric anastomosis, not just two codes.

Missing one would let TAE/TACE/RFA/MWA come out 'consider' after a hepaticojejunostomy (a safety gap
found in clinical QA).
"""

from __future__ import annotations

import pytest

from nelm_fhir.model import ProcedureKind
from nelm_fhir.pathways import Modality, Status, evaluate, load_config
from tests.ingest.builders import ICD10PCS, baseline, cc, procedure, profile


@pytest.mark.parametrize(
    "code",
    [
        "0F190ZB",  # common bile duct to small intestine, open (VERIFIED)
        "0F160ZB",  # left hepatic duct to small intestine, open (VERIFIED)
        "0F170ZB",  # common hepatic duct to small intestine (hepaticojejunostomy)
        "0F150ZB",  # right hepatic duct to small intestine
        "0F194DB",  # laparoscopic, with an intraluminal device
        "0F1903",  # not a valid 7-character code: must not match anything
        "0F19073",  # device value 7 does not exist in table 0F1: not recognised
    ],
)
def test_pcs_bypass_to_the_gut_is_bilio_enteric(code: str) -> None:
    prof = profile(*baseline(), procedure("hj", cc(ICD10PCS, code)))
    kinds = {p.kind for p in prof.procedures}
    expected = len(code) == 7 and code[3] in "456789" and code[4] in "04" and code[5] in "DZ" and code[6] in "34B"
    assert (ProcedureKind.BILIO_ENTERIC_ANASTOMOSIS in kinds) is expected, kinds


def test_hepaticojejunostomy_contraindicates_embolization_and_ablation() -> None:
    hj = procedure("hj", cc(ICD10PCS, "0F170ZB", "Bypass Common Hepatic Duct to Small Intestine"))
    prof = profile(*baseline(), hj)
    result = evaluate(prof, now=prof.as_of, config=load_config())
    for modality in (Modality.TAE, Modality.TACE, Modality.RFA, Modality.MWA):
        assert result.result(modality).status is Status.CONTRAINDICATED, modality
    assert "Procedure/hj" in result.result(Modality.TACE).sources
    assert result.result(Modality.RADIOEMBOLIZATION).status in {
        Status.CONSIDER,
        Status.NOT_RECOMMENDED,
        Status.INSUFFICIENT_DATA,
    }
