"""Safety properties over random profiles (hypothesis).

A modality with a present contraindication (PATHWAY.md B5–B7, B14–B17, B19) is never
``recommended`` or ``consider``; a missing required measurement never yields a positive status
(B26); the engine is deterministic. The expectations are computed here from the raw inputs,
independently of the engine's own gates.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from nelm_fhir.model import (
    Differentiation,
    ExtrahepaticSite,
    FrillingType,
    Grade,
    LabKind,
    PrimarySite,
    PrimaryStatus,
)
from nelm_fhir.pathways import Modality, Status, evaluate, load_config
from tests.pathways.builder import BASE_LABS, NOW, make_profile

CONFIG = load_config()
M = Modality
SURGICAL = {M.CURATIVE_RESECTION, M.SIMULTANEOUS_RESECTION, M.PORTAL_VEIN_EMBOLIZATION, M.TWO_STAGE_HEPATECTOMY,
            M.ALPPS, M.CYTOREDUCTIVE_SURGERY, M.LIVER_TRANSPLANTATION, M.REPEAT_RESECTION}
POSITIVE = {Status.RECOMMENDED, Status.CONSIDER}

_maybe_bool = st.one_of(st.none(), st.booleans())
_pct = st.floats(min_value=0, max_value=100, allow_nan=False).map(lambda x: round(x, 1))


def _lab(kind: LabKind, low: float, high: float) -> st.SearchStrategy[tuple[LabKind, float | None]]:
    """Mostly the baseline (normal) value, sometimes missing, sometimes anywhere in a wide range."""
    anywhere = st.floats(min_value=low, max_value=high, allow_nan=False).map(lambda x: round(x, 1))
    value = st.one_of(st.just(BASE_LABS[kind]), st.just(BASE_LABS[kind]), st.none(), anywhere)
    return st.tuples(st.just(kind), value)


profiles = st.fixed_dictionaries({
    "age": st.integers(min_value=25, max_value=90),
    "ecog": st.one_of(st.none(), st.integers(min_value=0, max_value=4)),
    "fit": _maybe_bool,
    "site": st.sampled_from([PrimarySite.SMALL_INTESTINE, PrimarySite.PANCREAS, PrimarySite.LUNG, PrimarySite.RECTUM,
                             PrimarySite.UNKNOWN, None]),
    "primary_status": st.sampled_from([*PrimaryStatus, None]),
    "differentiation": st.sampled_from([Differentiation.WELL, Differentiation.WELL, *Differentiation, None]),
    "morphology": st.sampled_from([(), (), (), ("icdo3|8246/3",), ("icdo3|8249/3",), ("sct|128628002",)]),
    "ki67": st.one_of(st.none(), st.floats(min_value=0.1, max_value=30, allow_nan=False).map(lambda x: round(x, 1)),
                      st.floats(min_value=0.1, max_value=90, allow_nan=False)),
    "mitoses": st.one_of(st.none(), st.none(), st.floats(min_value=0, max_value=40, allow_nan=False)),
    "lesions": st.lists(st.one_of(st.none(), st.floats(min_value=0.3, max_value=14, allow_nan=False)), max_size=5),
    "near_hilum": st.booleans(),
    "subcapsular": st.booleans(),
    "involvement": st.one_of(st.none(), _pct),
    "flr": st.one_of(st.none(), _pct),
    "frilling": st.sampled_from([*FrillingType, None]),
    "r0": _maybe_bool,
    "debulk": st.one_of(st.none(), _pct),
    "krenning": st.one_of(st.none(), st.integers(min_value=0, max_value=4)),
    "fdg": _maybe_bool,
    "labs": st.tuples(_lab(LabKind.BILIRUBIN, 0.2, 6), _lab(LabKind.ALBUMIN, 1.5, 5.5), _lab(LabKind.INR, 0.8, 3),
                      _lab(LabKind.EGFR, 10, 120), _lab(LabKind.PLATELETS, 20, 400), _lab(LabKind.HAEMOGLOBIN, 5, 17),
                      _lab(LabKind.LEUKOCYTES, 0.5, 12)).map(dict),
    "stable_months": st.one_of(st.none(), st.integers(min_value=0, max_value=36)),
    "progressive": st.booleans(),
    "extrahepatic": st.lists(st.sampled_from(list(ExtrahepaticSite)), max_size=2, unique=True),
    "pvt": st.booleans(),
    "hepatic_failure": st.booleans(),
    "whipple": st.booleans(),
    "syndrome": st.booleans(),
    "refractory": _maybe_bool,
    "burden_symptoms": _maybe_bool,
    "recurrent": st.booleans(),
    "pregnant": st.booleans(),
    "unconfirmed": st.lists(st.sampled_from(["bilio-enteric", "bilio-enteric-status", "portal-vein-thrombosis",
                                             "hepatic-failure", "pregnancy", "extrahepatic"]), max_size=2, unique=True),
    "stated_grade": st.sampled_from([None, None, *Grade]),
    "resection_extent": st.sampled_from([None, None, "minor", "major"]),
})

# PATHWAY.md B32 and B28/B31, written out here independently of the engine's tables.
PREGNANCY_X = {M.PRRT, M.PRRT_PLUS_RADIOEMBOLIZATION, M.RADIOEMBOLIZATION, M.TACE, M.EVEROLIMUS, M.SUNITINIB,
               M.CHEMOTHERAPY}
PREGNANCY_AT_MOST_C = SURGICAL | {M.RFA, M.STEREOTACTIC_RFA, M.MWA, M.INTERFERON_ALPHA, M.SOMATOSTATIN_ANALOGUE,
                                  M.TAE}
HEPATECTOMIES = {M.CURATIVE_RESECTION, M.SIMULTANEOUS_RESECTION, M.REPEAT_RESECTION, M.PORTAL_VEIN_EMBOLIZATION,
                 M.TWO_STAGE_HEPATECTOMY, M.ALPPS}
TO_CONFIRM = {
    "bilio-enteric": {M.TAE, M.TACE, M.RFA, M.STEREOTACTIC_RFA, M.MWA},
    "bilio-enteric-status": {M.TAE, M.TACE, M.RFA, M.STEREOTACTIC_RFA, M.MWA},
    "portal-vein-thrombosis": {M.TAE, M.TACE},
    "hepatic-failure": HEPATECTOMIES | {M.TAE, M.TACE, M.RADIOEMBOLIZATION, M.PRRT_PLUS_RADIOEMBOLIZATION},
    "pregnancy": PREGNANCY_X,
    "extrahepatic": {M.CURATIVE_RESECTION, M.SIMULTANEOUS_RESECTION, M.LIVER_TRANSPLANTATION},
}


def _forbidden(kw: dict[str, Any]) -> dict[Modality, str]:
    """Return modality -> rule for every option that must not be recommended or considered."""
    out: dict[Modality, str] = {}
    labs = {**BASE_LABS, **kw["labs"]}
    nec = kw["differentiation"] is Differentiation.POOR or any(
        m.endswith(("8246/3", "128628002")) for m in kw["morphology"])
    ki67, mitoses = kw["ki67"], kw["mitoses"]
    g3 = (ki67 is not None and ki67 > 20) or (mitoses is not None and mitoses > 20) or kw["stated_grade"] is Grade.G3
    if nec:
        out.update(dict.fromkeys(SURGICAL | {M.RFA, M.STEREOTACTIC_RFA, M.MWA, M.TAE, M.TACE, M.RADIOEMBOLIZATION,
                                             M.PRRT, M.PRRT_PLUS_RADIOEMBOLIZATION}, "B5"))
    if g3:
        out.update(dict.fromkeys({M.ALPPS, M.LIVER_TRANSPLANTATION}, "B6"))
    if kw["fit"] is False or (kw["ecog"] is not None and kw["ecog"] >= 3):
        out.update(dict.fromkeys(SURGICAL, "B7"))
    if kw["lesions"] and (kw["near_hilum"] or kw["subcapsular"]):
        out.update(dict.fromkeys({M.RFA, M.STEREOTACTIC_RFA}, "B14"))
    if any(s is not None and s >= 5 for s in kw["lesions"]):
        out[M.RFA] = "B14 size"
    if kw["whipple"]:
        out.update(dict.fromkeys({M.TAE, M.TACE, M.RFA, M.MWA}, "B15"))
    bili, alb, inr = labs[LabKind.BILIRUBIN], labs[LabKind.ALBUMIN], labs[LabKind.INR]
    if kw["hepatic_failure"] or (bili is not None and bili > 3) or (alb is not None and alb < 3) or (
            inr is not None and inr > 1.5):
        # B16, extended by the engine to every hepatectomy (resections and staged strategies).
        out.update(dict.fromkeys({M.CURATIVE_RESECTION, M.SIMULTANEOUS_RESECTION, M.REPEAT_RESECTION,
                                  M.PORTAL_VEIN_EMBOLIZATION, M.TWO_STAGE_HEPATECTOMY, M.ALPPS, M.TAE, M.TACE,
                                  M.RADIOEMBOLIZATION, M.PRRT, M.PRRT_PLUS_RADIOEMBOLIZATION}, "B16"))
    if kw["pvt"]:
        out.update(dict.fromkeys({M.TAE, M.TACE}, "B17"))
    egfr, plt, hb, wbc = (labs[k] for k in (LabKind.EGFR, LabKind.PLATELETS, LabKind.HAEMOGLOBIN, LabKind.LEUKOCYTES))
    if (kw["krenning"] is not None and kw["krenning"] < 2) or (egfr is not None and egfr < 30) or (
            plt is not None and plt < 75) or (hb is not None and hb < 8) or (wbc is not None and wbc < 2):
        out.update(dict.fromkeys({M.PRRT, M.PRRT_PLUS_RADIOEMBOLIZATION}, "B19"))
    # B26: a missing required measurement is never read as normal.
    if kw["krenning"] is None or any(labs[k] is None for k in (LabKind.EGFR, LabKind.PLATELETS,
                                                               LabKind.HAEMOGLOBIN, LabKind.LEUKOCYTES)):
        out.setdefault(M.PRRT, "B26")
    # B38: FLR is required only for a major resection (without an extent: minor = Frilling I, one lesion < 5 cm).
    sized = [s for s in kw["lesions"] if s is not None]
    minor = kw["resection_extent"] == "minor" or (
        kw["resection_extent"] is None and kw["frilling"] is FrillingType.I and len(sized) == 1 and sized[0] < 5)
    if kw["r0"] is None or (kw["flr"] is None and not minor):
        out.setdefault(M.CURATIVE_RESECTION, "B26/B38")
    if kw["pregnant"]:
        out.update(dict.fromkeys(PREGNANCY_X, "B32"))
    for topic in kw["unconfirmed"]:
        out.update(dict.fromkeys(TO_CONFIRM[topic], f"B28 {topic}"))
    if kw["ecog"] is None and kw["fit"] is None:
        out.update(dict.fromkeys(SURGICAL, "B34"))
    if kw["site"] is None:
        out.update(dict.fromkeys({M.CURATIVE_RESECTION, M.SIMULTANEOUS_RESECTION, M.LIVER_TRANSPLANTATION}, "B30"))
    if ki67 is None and mitoses is None and not nec and kw["stated_grade"] is None:
        for m in (M.CURATIVE_RESECTION, M.ALPPS, M.LIVER_TRANSPLANTATION, M.PRRT, M.EVEROLIMUS, M.SUNITINIB):
            out.setdefault(m, "B4")
    return out


@settings(max_examples=100, deadline=None)
@given(profiles)
def test_no_positive_status_with_a_present_contraindication(kw: dict[str, Any]) -> None:
    ev = evaluate(make_profile(**kw), now=NOW, config=CONFIG)
    assert [r.modality for r in ev.results] == list(Modality)
    for modality, rule in _forbidden(kw).items():
        result = ev.result(modality)
        assert result.status not in POSITIVE, f"{modality.value} is {result.status.value} despite {rule}: {result}"
    if kw["pregnant"]:  # B32: at most "consider", with the warning
        for modality in PREGNANCY_AT_MOST_C:
            result = ev.result(modality)
            assert result.status is not Status.RECOMMENDED, f"{modality.value} recommended in pregnancy"
            if result.status is Status.CONSIDER:
                assert "pregnancy: obstetric and MDT input required" in result.warnings
    for result in ev.results:
        if result.status is Status.CONTRAINDICATED:
            assert any(c.met is False for c in result.criteria)
        if result.status is Status.INSUFFICIENT_DATA:
            assert any(result.modality in g.blocks for g in ev.data_gaps)


@settings(max_examples=30, deadline=None)
@given(profiles)
def test_evaluation_is_deterministic(kw: dict[str, Any]) -> None:
    first = evaluate(make_profile(**kw), now=NOW, config=CONFIG).to_json()
    second = evaluate(make_profile(**kw), now=NOW, config=CONFIG).to_json()
    assert first == second
