"""Conditions: primary site and status, NELM and extrahepatic disease, syndromes, liver conditions, statuses."""

from __future__ import annotations

import datetime as dt

import pytest

from nelm_fhir.model import (
    ConditionState,
    Differentiation,
    ExtrahepaticSite,
    PrimarySite,
    PrimaryStatus,
    SyndromeKind,
)
from tests.ingest.builders import (
    FINDING,
    ICD10CM,
    ICD10PCS,
    ICDO3,
    SNOMED,
    cc,
    condition,
    finding,
    nelm,
    primary,
    problems_at,
    procedure,
    profile,
)

# (system, code, body site, expected site, portal drained)
PRIMARY_TABLE = [
    (ICD10CM, "C7A.012", None, PrimarySite.SMALL_INTESTINE, True),
    (ICD10CM, "C7A010", None, PrimarySite.SMALL_INTESTINE, True),  # sent without the dot
    (SNOMED, "737313007", None, PrimarySite.SMALL_INTESTINE, True),
    (ICD10CM, "C25.4", None, PrimarySite.PANCREAS, True),
    (SNOMED, "735735001", None, PrimarySite.PANCREAS, True),
    (ICD10CM, "C7A.092", None, PrimarySite.STOMACH, True),
    (ICD10CM, "C7A.020", None, PrimarySite.APPENDIX, True),
    (ICD10CM, "C7A.025", None, PrimarySite.COLON, True),
    (ICD10CM, "C7A.026", None, PrimarySite.RECTUM, False),
    (SNOMED, "721700001", None, PrimarySite.RECTUM, False),
    (ICD10CM, "C7A.090", None, PrimarySite.LUNG, False),
    (ICD10CM, "C7A.091", None, PrimarySite.THYMUS, False),
    (ICD10CM, "C7A.095", None, PrimarySite.OTHER, True),  # midgut, unspecified
    (ICD10CM, "C7A.093", None, PrimarySite.OTHER, False),  # kidney
    (ICD10CM, "C7A.098", None, PrimarySite.OTHER, None),
    (SNOMED, "133531000119104", "15776009", PrimarySite.PANCREAS, True),  # generic NET + body site
    (ICD10CM, "C17.2", None, PrimarySite.SMALL_INTESTINE, True),
]


@pytest.mark.parametrize(("system", "code", "body", "site", "portal"), PRIMARY_TABLE)
def test_primary_site_and_portal_drainage(
    system: str, code: str, body: str | None, site: PrimarySite, portal: bool | None
) -> None:
    prof = profile(primary(code=cc(system, code), body_site=body))
    assert prof.primary is not None
    assert (prof.primary.site, prof.primary.portal_drained, prof.primary.source) == (site, portal, "Condition/primary")
    assert prof.primary.code == f"{system}|{code}"


def test_unspecified_site_is_other_with_a_warning() -> None:
    prof = profile(primary(code=cc(ICD10CM, "C7A.00")))
    assert prof.primary is not None and prof.primary.site is PrimarySite.OTHER and prof.primary.portal_drained is None
    [warning] = prof.problems
    assert warning.severity == "warning" and warning.path == "Condition/primary.code"


@pytest.mark.parametrize(
    "resources",
    [
        [primary(code=cc(ICD10CM, "C80.1"))],
        [
            primary(code=cc(ICD10CM, "C7A.00")),
            finding("ps", "primary-status", valueCodeableConcept=cc(FINDING, "unknown-primary")),
        ],
        [finding("ps", "primary-status", valueCodeableConcept=cc(FINDING, "unknown-primary"))],
    ],
    ids=["C80.1", "C7A.00+finding", "finding-only"],
)
def test_unknown_primary(resources: list[dict[str, object]]) -> None:
    prof = profile(*resources)
    assert prof.primary is not None
    assert (prof.primary.site, prof.primary.status, prof.primary.portal_drained) == (
        PrimarySite.UNKNOWN,
        PrimaryStatus.UNKNOWN_PRIMARY,
        None,
    )


def test_primary_resected_by_a_procedure_whose_reason_is_the_primary() -> None:
    prof = profile(
        primary(),
        procedure(
            "op", cc(SNOMED, "387713003"), date="2024-11-20", reasonReference=[{"reference": "Condition/primary"}]
        ),
    )
    assert prof.primary is not None
    assert (prof.primary.status, prof.primary.status_source, prof.primary.resection_date) == (
        PrimaryStatus.RESECTED,
        "Procedure/op",
        dt.date(2024, 11, 20),
    )


def test_whipple_resects_a_pancreatic_primary_and_counts_as_bilio_enteric() -> None:
    prof = profile(primary(code=cc(ICD10CM, "C25.4")), procedure("whipple", cc(SNOMED, "265459006")))
    assert prof.primary is not None and prof.primary.status is PrimaryStatus.RESECTED
    assert [p.kind.value for p in prof.procedures] == ["whipple"]


def test_primary_status_not_recorded_is_none() -> None:
    prof = profile(primary())
    assert prof.primary is not None and prof.primary.status is None


@pytest.mark.parametrize(
    ("nelm_onset", "synchronous"),
    [("2024-06-01", True), ("2024-11-15", True), ("2025-06-01", False), (None, None)],
)
def test_synchronous_means_nelm_within_six_months_of_the_primary(
    nelm_onset: str | None, synchronous: bool | None
) -> None:
    prof = profile(primary(onset="2024-06-01"), nelm(onset=nelm_onset))
    assert prof.primary is not None and prof.primary.synchronous is synchronous


# (code system, code, body site) -> (NELM?, extrahepatic site, distant)
METASTASIS_TABLE = [
    (ICD10CM, "C7B.02", None, True, None, None),
    (ICD10CM, "C78.7", None, True, None, None),
    (SNOMED, "94381002", "10200004", True, None, None),
    (ICD10CM, "C7B.00", "10200004", True, None, None),
    (ICD10CM, "C7B.03", None, False, ExtrahepaticSite.BONE, True),
    (SNOMED, "94222008", None, False, ExtrahepaticSite.BONE, True),
    (SNOMED, "94391008", None, False, ExtrahepaticSite.LUNG, True),
    (ICD10CM, "C7B.04", None, False, ExtrahepaticSite.PERITONEUM, True),
    (ICD10CM, "C7B.01", None, False, ExtrahepaticSite.DISTANT_NODES, True),
    (SNOMED, "94493005", None, False, ExtrahepaticSite.PLEURA, True),
    (ICD10CM, "C77.2", None, False, ExtrahepaticSite.REGIONAL_NODES, False),
    (ICD10CM, "C7B.09", None, False, ExtrahepaticSite.OTHER, True),
    (SNOMED, "128462008", "272673000", False, ExtrahepaticSite.BONE, True),
]


@pytest.mark.parametrize(("system", "code", "body", "is_nelm", "site", "distant"), METASTASIS_TABLE)
def test_metastasis_sites(
    system: str, code: str, body: str | None, is_nelm: bool, site: ExtrahepaticSite | None, distant: bool | None
) -> None:
    prof = profile(condition("m", cc(system, code), body_site=body))
    if is_nelm:
        assert [r.source for r in prof.nelm] == ["Condition/m"] and prof.extrahepatic == ()
    else:
        [finding_] = prof.extrahepatic
        assert (finding_.site, finding_.distant, finding_.source) == (site, distant, "Condition/m")
        assert prof.nelm == ()


def test_a_metastasis_without_site_is_a_problem() -> None:
    prof = profile(condition("m", cc(ICD10CM, "C7B.00")))
    assert prof.nelm == () and prof.extrahepatic == ()
    assert problems_at(prof, "Condition/m.bodySite")


def test_generic_lymph_node_metastasis_counts_as_distant_with_a_warning() -> None:
    prof = profile(condition("n", cc(SNOMED, "94392001")))
    [found] = prof.extrahepatic
    assert found.site is ExtrahepaticSite.DISTANT_NODES and found.distant
    assert [p.severity for p in prof.problems] == ["warning"]


# (clinicalStatus, verificationStatus) -> kept?, state
STATUS_TABLE = [
    ("active", "confirmed", ConditionState.ACTIVE),
    ("recurrence", "confirmed", ConditionState.ACTIVE),
    ("relapse", "confirmed", ConditionState.ACTIVE),
    ("inactive", "confirmed", ConditionState.HISTORY),
    ("remission", "confirmed", ConditionState.HISTORY),
    ("resolved", "confirmed", ConditionState.HISTORY),
    ("active", "provisional", ConditionState.ACTIVE),
    ("active", "refuted", None),
    ("active", "entered-in-error", None),
]


@pytest.mark.parametrize(("clinical", "verification", "state"), STATUS_TABLE)
def test_condition_statuses(clinical: str, verification: str, state: ConditionState | None) -> None:
    prof = profile(condition("pvt", cc(ICD10CM, "I81"), clinical=clinical, verification=verification))
    if state is None:
        assert prof.portal_vein_thrombosis == ()
    else:
        [record] = prof.portal_vein_thrombosis
        assert record.state is state
        assert prof.active(prof.portal_vein_thrombosis) == ((record,) if state is ConditionState.ACTIVE else ())


def test_missing_clinical_status_is_active_unless_abated() -> None:
    plain = condition("a", cc(SNOMED, "17920008"))
    del plain["clinicalStatus"]
    abated = condition("b", cc(SNOMED, "17920008"), abatementDateTime="2025-01-01")
    del abated["clinicalStatus"]
    prof = profile(plain, abated)
    assert {(r.source, r.state) for r in prof.portal_vein_thrombosis} == {
        ("Condition/a", ConditionState.ACTIVE),
        ("Condition/b", ConditionState.HISTORY),
    }


@pytest.mark.parametrize(
    ("system", "code", "attribute"),
    [
        (ICD10CM, "I81", "portal_vein_thrombosis"),
        (SNOMED, "17920008", "portal_vein_thrombosis"),
        (ICD10CM, "K72.90", "hepatic_failure"),
        (ICD10CM, "K72.11", "hepatic_failure"),
        (ICD10CM, "K72.1", "hepatic_failure"),
        (SNOMED, "59927004", "hepatic_failure"),
        (SNOMED, "197270009", "hepatic_failure"),
        (ICD10CM, "R16.0", "hepatomegaly"),
        (SNOMED, "80515008", "hepatomegaly"),
        (SNOMED, "36222008", "carcinoid_heart_disease"),
    ],
)
def test_liver_and_heart_conditions(system: str, code: str, attribute: str) -> None:
    prof = profile(condition("c", cc(system, code)))
    [record] = getattr(prof, attribute)
    assert (record.source, record.code, record.onset) == ("Condition/c", f"{system}|{code}", dt.date(2024, 6, 1))


@pytest.mark.parametrize(
    ("system", "code", "kind"),
    [
        (ICD10CM, "E34.00", SyndromeKind.CARCINOID),
        (ICD10CM, "E34.0", SyndromeKind.CARCINOID),
        (ICD10CM, "E34.09", SyndromeKind.CARCINOID),
        (SNOMED, "35868009", SyndromeKind.CARCINOID),
        (ICD10CM, "E16.1", SyndromeKind.INSULINOMA),
        (ICD10CM, "E16.4", SyndromeKind.GASTRINOMA),
        (SNOMED, "713189001", SyndromeKind.INSULINOMA),
    ],
)
def test_functional_syndromes(system: str, code: str, kind: SyndromeKind) -> None:
    prof = profile(condition("s", cc(system, code)))
    assert [(s.kind, s.source) for s in prof.syndromes] == [(kind, "Condition/s")]


def test_carcinoid_heart_syndrome_is_both_syndrome_and_heart_disease() -> None:
    prof = profile(condition("chd", cc(ICD10CM, "E34.01")))
    assert [s.kind for s in prof.syndromes] == [SyndromeKind.CARCINOID]
    assert [r.source for r in prof.carcinoid_heart_disease] == ["Condition/chd"]


def test_resolved_syndrome_is_history() -> None:
    prof = profile(condition("s", cc(ICD10CM, "E34.00"), clinical="resolved"))
    assert [s.state for s in prof.syndromes] == [ConditionState.HISTORY]


# --- differentiation (B3) -----------------------------------------------------------------------

HISTOLOGY = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-histology-morphology-behavior"


def _with_morphology(code: str) -> dict[str, object]:
    return primary(extension=[{"url": HISTOLOGY, "valueCodeableConcept": cc(ICDO3, code)}])


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        (_with_morphology("8240/3"), Differentiation.WELL),
        (_with_morphology("8249/3"), Differentiation.WELL),
        (_with_morphology("8246/3"), Differentiation.POOR),
        (_with_morphology("8041/3"), Differentiation.POOR),
        (primary(code=cc(ICD10CM, "C7A.1")), Differentiation.POOR),
        (primary(code=cc(SNOMED, "1186869002")), Differentiation.POOR),
        (primary(), None),
    ],
    ids=["8240/3", "8249/3", "8246/3", "8041/3", "C7A.1", "NEC-pancreas", "none"],
)
def test_differentiation_from_morphology(resource: dict[str, object], expected: Differentiation | None) -> None:
    prof = profile(resource)
    assert (prof.differentiation.value if prof.differentiation else None) is expected


def test_8249_3_never_sets_a_grade() -> None:
    prof = profile(_with_morphology("8249/3"))
    assert prof.grade is None
    assert [f.value for f in prof.morphology_codes] == [f"{ICDO3}|8249/3"]


def test_the_local_differentiation_finding_wins_over_morphology() -> None:
    prof = profile(
        _with_morphology("8246/3"), finding("d", "differentiation", valueCodeableConcept=cc(FINDING, "well"))
    )
    assert prof.differentiation is not None
    assert (prof.differentiation.value, prof.differentiation.source) == (Differentiation.WELL, "Observation/d")


def test_conflicting_morphology_gives_poor_with_a_warning() -> None:
    prof = profile(_with_morphology("8240/3"), condition("nec", cc(ICD10CM, "C7A.1")))
    assert prof.differentiation is not None and prof.differentiation.value is Differentiation.POOR
    assert any("disagree" in p.message for p in prof.problems)


# --- recurrence (B21) ----------------------------------------------------------------------------


def test_recurrence_from_clinical_status() -> None:
    prof = profile(nelm(clinical="recurrence"))
    assert prof.recurrent_nelm is not None and prof.recurrent_nelm.value is True


def test_recurrence_when_nelm_is_first_recorded_after_a_liver_resection() -> None:
    prof = profile(
        nelm("old", clinical="resolved", onset="2022-01-01"),
        procedure("hepatectomy", cc(ICD10PCS, "0FT10ZZ"), date="2023-09-01"),
        nelm("new", onset="2026-09-01"),
    )
    assert prof.recurrent_nelm is not None and (prof.recurrent_nelm.value, prof.recurrent_nelm.source) == (
        True,
        "Condition/new",
    )


def test_no_recurrence_and_no_nelm() -> None:
    assert profile(nelm()).recurrent_nelm is not None
    assert profile(nelm()).recurrent_nelm.value is False  # type: ignore[union-attr]
    assert profile(primary()).recurrent_nelm is None


def test_irrelevant_conditions_are_ignored() -> None:
    prof = profile(condition("htn", cc(ICD10CM, "I10")), condition("dm", cc(SNOMED, "44054006")))
    assert prof.problems == () and prof.nelm == () and prof.primary is None


@pytest.mark.parametrize("verification", ["provisional", "differential", "unconfirmed"])
def test_tentative_conditions_count_with_a_warning(verification: str) -> None:
    prof = profile(condition("pvt", cc(ICD10CM, "I81"), verification=verification))
    assert len(prof.portal_vein_thrombosis) == 1
    [warning] = prof.problems
    assert (warning.path, warning.severity) == ("Condition/pvt.verificationStatus", "warning")
    assert verification in warning.message
