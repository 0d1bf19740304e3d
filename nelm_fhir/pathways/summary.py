"""The ``profile`` object of the evaluation JSON: what the engine knew, with dates and sources.

Only known elements appear (camelCase keys); an unknown element is omitted, never 0 or "".
"""

from __future__ import annotations

from typing import Any

from nelm_fhir.model import Differentiation, LabKind
from nelm_fhir.pathways.gates import Context

__all__ = ["profile_summary"]

_LABS = (
    LabKind.EGFR,
    LabKind.CRCL,
    LabKind.CREATININE,
    LabKind.PLATELETS,
    LabKind.HAEMOGLOBIN,
    LabKind.LEUKOCYTES,
    LabKind.BILIRUBIN,
    LabKind.ALBUMIN,
    LabKind.INR,
    LabKind.CHROMOGRANIN_A,
    LabKind.HIAA_5,
)


def _num(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(value, 3)


def _grade(ctx: Context, out: dict[str, Any]) -> None:
    grade = ctx.grade
    profile = ctx.profile
    if ctx.nec:
        out["differentiation"] = Differentiation.POOR.value
    elif profile.differentiation is not None:
        out["differentiation"] = profile.differentiation.value.value
    elif grade is not None and grade.ki67_percent is not None and grade.ki67_percent <= 20:
        out["differentiation"] = "well (assumed: Ki-67 ≤ 20 %, B3)"
    if grade is None:
        return
    out["grade"] = grade.grade.value
    if grade.ki67_percent is not None:
        out["ki67Percent"] = _num(grade.ki67_percent)
        used = next((k for k in profile.ki67 if k.value == grade.ki67_percent and k.source in grade.sources), None)
        if used is not None:
            out["ki67Specimen"] = used.specimen.value
            out["ki67Source"] = used.source
            if used.date is not None:
                out["ki67Date"] = used.date.isoformat()
    if grade.mitoses_per_2mm2 is not None:
        out["mitosesPer2mm2"] = _num(grade.mitoses_per_2mm2)
    if grade.notes:
        out["gradeNotes"] = list(grade.notes)
    if grade.discordant:
        out["ki67Discordant"] = True
    if ctx.ki67_stale is not None:
        out["ki67Stale"] = True
    if len(profile.ki67) > 1:
        out["ki67Results"] = [
            {
                "value": _num(k.value),
                "specimen": k.specimen.value,
                "source": k.source,
                **({"date": k.date.isoformat()} if k.date else {}),
            }
            for k in profile.ki67
        ]


def _liver(ctx: Context, out: dict[str, Any]) -> None:
    profile = ctx.profile
    if ctx.lesion_count is not None:
        out["lesionCount"] = ctx.lesion_count
    if ctx.largest_cm.value is not None:
        out["largestLesionCm"] = _num(ctx.largest_cm.value)
    for key, reading in (("liverInvolvementPercent", ctx.involvement), ("flrPercent", ctx.flr)):
        if reading.value is not None:
            out[key] = _num(reading.value)
    if profile.frilling_type is not None:
        out["frillingType"] = profile.frilling_type.value.value
    if profile.resectable_r0 is not None:
        out["resectableR0"] = profile.resectable_r0.value
    if profile.achievable_debulking_percent is not None:
        out["achievableDebulkingPercent"] = _num(profile.achievable_debulking_percent.value)
    if ctx.recurrent:
        out["recurrentNelm"] = True
    if ctx.pvt:
        out["portalVeinThrombosis"] = True
    if ctx.bilio_enteric:
        out["bilioEntericAnastomosis"] = True
    if ctx.hepatic_failure:
        out["hepaticFailure"] = True


def profile_summary(ctx: Context) -> dict[str, Any]:
    """Return the camelCase summary of what the evaluation used (unknown elements omitted)."""
    profile = ctx.profile
    out: dict[str, Any] = {}
    if ctx.age.value is not None:
        out["ageYears"] = ctx.age.value
    _grade(ctx, out)
    primary = profile.primary
    if primary is not None:
        out["primarySite"] = ctx.primary_site.value if ctx.primary_site else primary.site.value
        if primary.status is not None:
            out["primaryStatus"] = primary.status.value
        if primary.portal_drained is not None:
            out["portalDrained"] = primary.portal_drained
        if primary.synchronous is not None:
            out["synchronous"] = primary.synchronous
    _liver(ctx, out)
    if ctx.extrahepatic_any:
        out["extrahepaticSites"] = sorted({f.site.value for f in ctx.extrahepatic_any})
        out["distantExtrahepaticDisease"] = bool(ctx.distant)
    if profile.ecog is not None:
        out["ecog"] = profile.ecog.value
    if profile.karnofsky is not None:
        out["karnofsky"] = profile.karnofsky.value
    if profile.fit_for_major_surgery is not None:
        out["fitForMajorSurgery"] = profile.fit_for_major_surgery.value
    if ctx.functional:
        out["functionalSyndromes"] = sorted({s.kind.value for s in ctx.functional})
    if profile.syndrome_refractory_to_ssa is not None:
        out["syndromeRefractoryToSsa"] = profile.syndrome_refractory_to_ssa.value
    if profile.krenning_score is not None:
        out["krenningScore"] = profile.krenning_score.value
    if profile.fdg_pet_positive is not None:
        out["fdgPetPositive"] = profile.fdg_pet_positive.value
    if ctx.months_stable is not None:
        out["monthsStable"] = ctx.months_stable
    if ctx.progressive is not None:
        out["progressive"] = ctx.progressive
    labs: dict[str, Any] = {}
    for kind in _LABS:
        lab = profile.latest_lab(kind)
        if lab is None:
            continue
        entry: dict[str, Any] = {"value": _num(lab.value), "unit": lab.unit, "source": lab.source}
        if lab.date is not None:
            entry["date"] = lab.date.isoformat()
        if ctx.labs[kind].stale:
            entry["stale"] = True
        labs[kind.value] = entry
    if labs:
        out["labs"] = labs
    return out
