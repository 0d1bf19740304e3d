"""Hand-built engine outputs for card tests (the engine's own vignettes are used by the HTTP tests)."""

from __future__ import annotations

import datetime as dt

from nelm_fhir.pathways.result import Criterion, DataGap, Evaluation, Modality, ModalityResult, Status

NOW = dt.date(2026, 11, 26)


def _result(modality: Modality, status: Status, summary: str, *criteria: Criterion,
            evidence: tuple[str, ...] = ("[2]",), beyond: bool = False) -> ModalityResult:
    return ModalityResult(modality=modality, status=status, summary=summary, criteria=criteria, evidence=evidence,
                          beyond_source_review=beyond)


def pvt_patient() -> Evaluation:
    """V14-like: PVT contraindicates TAE/TACE, PRRT recommended, platelets stale."""
    pvt = Criterion(id="no-pvt", label="No portal vein thrombosis", met=False,
                    note="active portal vein thrombosis recorded 2026-10-02", sources=("Condition/pvt-1",),
                    evidence=("[2]",))
    krenning = Criterion(id="krenning-at-least-2", label="SSTR uptake at least liver (Krenning ≥ 2)", met=True,
                         note="Krenning 3 on 2026-10-20", sources=("Observation/krenning-1",), evidence=("[106]",))
    egfr = Criterion(id="egfr-at-least-50", label="eGFR at least 50 mL/min", met=True, note="85 on 2026-11-20",
                     sources=("Observation/egfr-1",), engineering_default=True)
    results = []
    for m in Modality:
        if m in (Modality.TAE, Modality.TACE):
            results.append(_result(m, Status.CONTRAINDICATED, "Portal vein thrombosis contraindicates embolization",
                                   pvt))
        elif m is Modality.PRRT:
            results.append(_result(m, Status.RECOMMENDED, "Progressive SSTR-positive disease on SSA",
                                   krenning, egfr, evidence=("[106]", "[108]")))
        elif m is Modality.RADIOEMBOLIZATION:
            results.append(ModalityResult(modality=m, status=Status.CONSIDER, summary="Possible with IR review",
                                          criteria=(pvt,), warnings=("PVT: interventional radiology review",)))
        elif m is Modality.SOMATOSTATIN_ANALOGUE:
            results.append(_result(m, Status.RECOMMENDED, "SSTR-positive G2 disease", krenning, beyond=True))
        elif m is Modality.LIVER_TRANSPLANTATION:
            results.append(_result(m, Status.INSUFFICIENT_DATA, "Platelets stale", evidence=("[59]",)))
        else:
            results.append(_result(m, Status.NOT_RECOMMENDED, f"{m.value}: indication not met"))
    gap = DataGap(element="platelets", why="needed for PRRT marrow reserve; last value older than 30 days",
                  codes=("http://loinc.org|777-3",), blocks=(Modality.LIVER_TRANSPLANTATION,), stale=True,
                  last_seen=dt.date(2026, 9, 1), last_source="Observation/plt-1")
    return Evaluation(patient="Patient/v14", evaluated_at=NOW, rules_version="2026.1", config_name="defaults",
                      config_overrides=(), profile_summary={"grade": "G2", "ki67Percent": 4},
                      results=tuple(results), data_gaps=(gap,), notes=("Follow-up imaging every 3–6 months",))


def nec_patient() -> Evaluation:
    """V07-like: NEC contraindicates seven surgical options for one reason; grade data present."""
    nec = Criterion(id="not-nec", label="Well-differentiated tumour", met=False, note="NEC (ICD-O-3 8041/3)",
                    sources=("Condition/primary",), evidence=("[2]",))
    surgical = {Modality.CURATIVE_RESECTION, Modality.SIMULTANEOUS_RESECTION, Modality.PORTAL_VEIN_EMBOLIZATION,
                Modality.TWO_STAGE_HEPATECTOMY, Modality.ALPPS, Modality.LIVER_TRANSPLANTATION,
                Modality.REPEAT_RESECTION}
    results = []
    for m in Modality:
        if m in surgical:
            results.append(_result(m, Status.CONTRAINDICATED, "Not indicated in poorly differentiated NEC", nec))
        elif m is Modality.CHEMOTHERAPY:
            results.append(_result(m, Status.RECOMMENDED, "Platinum and etoposide for NEC", beyond=True))
        else:
            results.append(_result(m, Status.NOT_RECOMMENDED, "No support in NEC"))
    return Evaluation(patient="Patient/v07", evaluated_at=NOW, rules_version="2026.1", config_name="defaults",
                      config_overrides=(("milan.max-age-years", "55"),), profile_summary={"differentiation": "poor"},
                      results=tuple(results), data_gaps=())
