"""Hand-built NelmProfiles for engine tests: baseline patient "B" of VIGNETTES.md plus overrides.

Every fact carries a made-up FHIR reference so that tests can check sources are reported.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from nelm_fhir.model import (
    ConditionRecord,
    ConditionState,
    Differentiation,
    DiseaseStatus,
    DiseaseTrend,
    ExtrahepaticFinding,
    ExtrahepaticSite,
    Fact,
    FrillingType,
    Grade,
    Ki67Result,
    LabKind,
    LabResult,
    LiverLesion,
    NelmProfile,
    PregnancyRecord,
    PrimarySite,
    PrimaryStatus,
    PrimaryTumour,
    ProcedureKind,
    ProcedureRecord,
    SpecimenSite,
    SyndromeFinding,
    SyndromeKind,
    UnconfirmedRecord,
)
from nelm_fhir.model.grading import assess_grade

NOW = dt.date(2026, 11, 26)
RECENT = NOW - dt.timedelta(days=10)
IMAGING = NOW - dt.timedelta(days=30)

BASE_LABS: dict[LabKind, float] = {
    LabKind.BILIRUBIN: 0.6, LabKind.ALBUMIN: 4.1, LabKind.INR: 1.0, LabKind.EGFR: 85.0,
    LabKind.PLATELETS: 250.0, LabKind.HAEMOGLOBIN: 13.5, LabKind.LEUKOCYTES: 6.5,
}
UNITS = {
    LabKind.BILIRUBIN: "mg/dL", LabKind.ALBUMIN: "g/dL", LabKind.INR: "{INR}", LabKind.EGFR: "mL/min/{1.73_m2}",
    LabKind.CRCL: "mL/min", LabKind.PLATELETS: "10*9/L", LabKind.HAEMOGLOBIN: "g/dL", LabKind.LEUKOCYTES: "10*9/L",
}

_PORTAL = {PrimarySite.SMALL_INTESTINE: True, PrimarySite.PANCREAS: True, PrimarySite.LUNG: False,
           PrimarySite.RECTUM: False, PrimarySite.UNKNOWN: None}


def _fact(value: Any, source: str, date: dt.date | None = IMAGING) -> Fact[Any]:
    return Fact(value=value, source=source, date=date)


def months_ago(months: int) -> dt.date:
    """Return the date ``months`` calendar months before NOW (same day of month)."""
    total = NOW.year * 12 + NOW.month - 1 - months
    return dt.date(total // 12, total % 12 + 1, NOW.day)


def make_profile(
    *,
    age: int | None = 55,
    ecog: int | None = 0,
    fit: bool | None = None,
    site: PrimarySite | None = PrimarySite.SMALL_INTESTINE,
    primary_status: PrimaryStatus | None = PrimaryStatus.RESECTED,
    differentiation: Differentiation | None = Differentiation.WELL,
    morphology: Sequence[str] = (),
    ki67: float | None = 1.0,
    specimen: SpecimenSite = SpecimenSite.LIVER,
    mitoses: float | None = None,
    lesions: Sequence[float | None] = (4.0,),
    near_hilum: bool = False,
    subcapsular: bool = False,
    lesion_count: int | None = None,
    involvement: float | None = None,
    flr: float | None = 70.0,
    frilling: FrillingType | None = FrillingType.I,
    r0: bool | None = True,
    debulk: float | None = None,
    krenning: int | None = 3,
    fdg: bool | None = None,
    labs: dict[LabKind, float | None] | None = None,
    lab_date: dt.date = RECENT,
    imaging_date: dt.date = IMAGING,
    stable_months: int | None = 24,
    progressive: bool = False,
    extrahepatic: Sequence[ExtrahepaticSite] = (),
    pvt: bool = False,
    hepatic_failure: bool = False,
    whipple: bool = False,
    syndrome: bool = False,
    refractory: bool | None = None,
    burden_symptoms: bool | None = None,
    recurrent: bool = False,
    resection_extent: str | None = None,
    pregnant: bool = False,
    unconfirmed: Sequence[str] = (),
    stated_grade: Grade | None = None,
) -> NelmProfile:
    """Return baseline patient B with the given overrides (None = not recorded)."""
    ki: tuple[Ki67Result, ...] = ()
    if ki67 is not None:
        ki = (Ki67Result(value=ki67, specimen=specimen, source="Observation/ki67", date=months_ago(3)),)
    mito = Fact(value=mitoses, source="Observation/mitoses", date=months_ago(3)) if mitoses is not None else None
    lab_values = dict(BASE_LABS)
    lab_values.update(labs or {})
    lab_records = tuple(
        LabResult(kind=k, value=v, unit=UNITS[k], source=f"Observation/{k.value}", date=lab_date)
        for k, v in lab_values.items() if v is not None
    )
    statuses: tuple[DiseaseStatus, ...] = ()
    if progressive:
        statuses = (DiseaseStatus(trend=DiseaseTrend.WORSENED, source="Observation/status-now", date=IMAGING),
                    DiseaseStatus(trend=DiseaseTrend.STABLE, source="Observation/status-old", date=months_ago(12)))
    elif stable_months is not None:
        statuses = (DiseaseStatus(trend=DiseaseTrend.STABLE, source="Observation/status-now", date=IMAGING),
                    DiseaseStatus(trend=DiseaseTrend.STABLE, source="Observation/status-first",
                                  date=months_ago(stable_months)))
    primary = None
    if site is not None:
        primary = PrimaryTumour(site=site, status=primary_status, source="Condition/primary", code="icd|C7A.012",
                                portal_drained=_PORTAL.get(site, True), status_source="Observation/primary-status")
    nelm = (ConditionRecord(concept="nelm", code="icd|C7B.02", state=ConditionState.ACTIVE, source="Condition/nelm",
                            recurrence=recurrent),)
    return NelmProfile(
        patient="Patient/b",
        as_of=NOW,
        age_years=Fact(value=age, source="Patient/b") if age is not None else None,
        primary=primary,
        differentiation=_fact(differentiation, "Observation/differentiation") if differentiation else None,
        morphology_codes=tuple(Fact(value=m, source="Condition/primary") for m in morphology),
        ki67=ki,
        mitotic_count=mito,
        grade=assess_grade(ki, mito),
        syndromes=(SyndromeFinding(kind=SyndromeKind.CARCINOID, state=ConditionState.ACTIVE,
                                   source="Condition/syndrome", code="icd|E34.00"),) if syndrome else (),
        syndrome_refractory_to_ssa=_fact(refractory, "Observation/refractory") if refractory is not None else None,
        tumour_burden_symptoms=_fact(burden_symptoms, "Observation/burden") if burden_symptoms is not None else None,
        nelm=nelm,
        recurrent_nelm=Fact(value=recurrent, source="Condition/nelm"),
        lesions=tuple(LiverLesion(source=f"Observation/lesion-{i}", size_cm=s, near_hilum=near_hilum,
                                  subcapsular=subcapsular, date=imaging_date) for i, s in enumerate(lesions)),
        lesion_count=Fact(value=lesion_count, source="Observation/count") if lesion_count is not None else None,
        liver_involvement_percent=_fact(involvement, "Observation/involvement", imaging_date)
        if involvement is not None else None,
        flr_percent=_fact(flr, "Observation/flr", imaging_date) if flr is not None else None,
        resection_extent=_fact(resection_extent, "Observation/extent") if resection_extent is not None else None,
        stated_grade=_fact(stated_grade, "Observation/who-grade", months_ago(2)) if stated_grade is not None else None,
        pregnancy=(PregnancyRecord(source="Condition/pregnancy", code="icd|Z33.1", kind="condition", pregnant=True,
                                   date=months_ago(2)),) if pregnant else (),
        unconfirmed=tuple(UnconfirmedRecord(topic=t, text=f"text naming {t}", source=f"Condition/text-{t}")
                          for t in unconfirmed),
        frilling_type=_fact(frilling, "Observation/frilling") if frilling is not None else None,
        resectable_r0=_fact(r0, "Observation/r0") if r0 is not None else None,
        achievable_debulking_percent=_fact(debulk, "Observation/debulk") if debulk is not None else None,
        portal_vein_thrombosis=(ConditionRecord(concept="pvt", code="icd|I81", state=ConditionState.ACTIVE,
                                                source="Condition/pvt"),) if pvt else (),
        hepatic_failure=(ConditionRecord(concept="hepatic-failure", code="icd|K72.10", state=ConditionState.ACTIVE,
                                         source="Condition/hepatic-failure"),) if hepatic_failure else (),
        ecog=Fact(value=ecog, source="Observation/ecog", date=RECENT) if ecog is not None else None,
        fit_for_major_surgery=_fact(fit, "Observation/fit") if fit is not None else None,
        extrahepatic=tuple(ExtrahepaticFinding(site=s, distant=s is not ExtrahepaticSite.REGIONAL_NODES,
                                               state=ConditionState.ACTIVE, source=f"Condition/eh-{s.value}",
                                               code="icd|C7B.03") for s in extrahepatic),
        disease_status=statuses,
        krenning_score=_fact(krenning, "Observation/krenning", imaging_date) if krenning is not None else None,
        fdg_pet_positive=_fact(fdg, "Observation/fdg", imaging_date) if fdg is not None else None,
        labs=lab_records,
        procedures=(ProcedureRecord(kind=ProcedureKind.WHIPPLE, code="sct|265459006", source="Procedure/whipple"),)
        if whipple else (),
    )
