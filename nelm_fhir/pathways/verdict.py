"""How one modality's criteria become its status: the precedence every rule shares.

1. a present contraindication → ``contraindicated``;
2. a missing grade for a grade-dependent option (B4) → ``insufficient-data``;
3. an unmet indication → ``not-recommended``;
4. a missing required input (B26) or a stale one (B24) → ``insufficient-data``;
5. otherwise the rule's positive status, lowered by any "at most C" cap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from nelm_fhir.pathways.gaps import INPUTS
from nelm_fhir.pathways.gates import Context
from nelm_fhir.pathways.result import Criterion, Modality, ModalityResult, Status

__all__ = ["CONFIRM_PREFIX", "SUMMARY_LIMIT", "Rated", "Verdict"]

SUMMARY_LIMIT = 139
CONFIRM_PREFIX = "confirm:"  # blocking element of a record to confirm (B28, B31): "confirm:<source>"
PREGNANCY_WARNING = "pregnancy: obstetric and MDT input required"
M = Modality
_SURGICAL = frozenset({M.CURATIVE_RESECTION, M.SIMULTANEOUS_RESECTION, M.PORTAL_VEIN_EMBOLIZATION,
                       M.TWO_STAGE_HEPATECTOMY, M.ALPPS, M.CYTOREDUCTIVE_SURGERY, M.LIVER_TRANSPLANTATION,
                       M.REPEAT_RESECTION})
_ABLATIVE = frozenset({M.RFA, M.STEREOTACTIC_RFA, M.MWA})
_HEPATECTOMY = frozenset({M.CURATIVE_RESECTION, M.SIMULTANEOUS_RESECTION, M.REPEAT_RESECTION,
                          M.PORTAL_VEIN_EMBOLIZATION, M.TWO_STAGE_HEPATECTOMY, M.ALPPS})
# B32: contraindicated in pregnancy (PRRT from A.5.13; the rest from drug labels, beyond the source review) ...
_PREGNANCY_X = frozenset({M.PRRT, M.PRRT_PLUS_RADIOEMBOLIZATION, M.RADIOEMBOLIZATION, M.TACE, M.EVEROLIMUS,
                          M.SUNITINIB, M.CHEMOTHERAPY})
# ... and at most "consider" with a warning.
_PREGNANCY_C = _SURGICAL | _ABLATIVE | {M.INTERFERON_ALPHA, M.SOMATOSTATIN_ANALOGUE, M.TAE}
# B28/B31: what a record to confirm could contraindicate (B9, B15-B17, B32).
CONFIRM_BLOCKS: dict[str, frozenset[Modality]] = {
    "bilio-enteric": frozenset({M.RFA, M.STEREOTACTIC_RFA, M.MWA, M.TAE, M.TACE}),
    "bilio-enteric-status": frozenset({M.RFA, M.STEREOTACTIC_RFA, M.MWA, M.TAE, M.TACE}),
    "portal-vein-thrombosis": frozenset({M.TAE, M.TACE}),
    "hepatic-failure": _HEPATECTOMY | {M.TAE, M.TACE, M.RADIOEMBOLIZATION, M.PRRT_PLUS_RADIOEMBOLIZATION},
    "pregnancy": _PREGNANCY_X,
    "extrahepatic": frozenset({M.CURATIVE_RESECTION, M.SIMULTANEOUS_RESECTION, M.LIVER_TRANSPLANTATION}),
    # B28 (reading): the NELM or the primary written only as text; what depends on the recorded disease.
    "nelm": _HEPATECTOMY | {M.LIVER_TRANSPLANTATION, M.CYTOREDUCTIVE_SURGERY},
    "primary": _HEPATECTOMY | {M.LIVER_TRANSPLANTATION},
}
_NEEDS_PRIMARY = frozenset({M.CURATIVE_RESECTION, M.SIMULTANEOUS_RESECTION, M.LIVER_TRANSPLANTATION})
_REBIOPSY = frozenset({M.LIVER_TRANSPLANTATION, M.ALPPS, M.PRRT})
REBIOPSY_NOTE = "re-biopsy after progression advised [41]"
_ASIDE = re.compile(r"\s*\([^()]*\)\.$")
_RANK = {Status.RECOMMENDED: 0, Status.CONSIDER: 1}


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1].rstrip() + "…"


@dataclass(frozen=True, slots=True)
class Rated:
    """A modality's result plus the input elements that made it ``insufficient-data``."""

    result: ModalityResult
    blocking: tuple[str, ...]


@dataclass(slots=True)
class Verdict:
    """Collects one modality's criteria and decides its status by the shared precedence."""

    modality: Modality
    ctx: Context
    grade_dependent: bool = False
    beyond_source_review: bool = False
    criteria: list[Criterion] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # input elements (gaps.INPUTS keys)
    _contra: list[str] = field(default_factory=list)
    _unmet: list[str] = field(default_factory=list)
    _caps: list[str] = field(default_factory=list)
    _confirm: list[str] = field(default_factory=list)  # decisive records to confirm first: D before N (B28, B30)
    _grade_missing: bool = False

    def __post_init__(self) -> None:
        self._binding_b28_to_b36()
        self._grade_gates()

    def _binding_b28_to_b36(self) -> None:
        """Rules every modality shares: records to confirm (B28, B31), missing primary (B30), pregnancy (B32)."""
        ctx, modality = self.ctx, self.modality
        for record in ctx.unconfirmed:
            if modality not in CONFIRM_BLOCKS.get(record.topic, frozenset()):
                continue
            coded = record.topic == "bilio-enteric-status"
            note = (f"{record.text}: confirm whether a bilio-enteric anastomosis exists (B31)" if coded
                    else f"confirm: {record.text} (B28)")
            self.criteria.append(Criterion(id="record-confirmed", label="decisive record confirmed", met=None,
                                           note=note, sources=(record.source,)))
            short = ("confirm whether a bilio-enteric anastomosis exists (B31)" if coded
                     else f"confirm: {record.text[:60]} (B28)")
            self._confirm.append(short)
            self.missing.append(f"{CONFIRM_PREFIX}{record.source}")
        if modality in _NEEDS_PRIMARY and ctx.profile.primary is None:
            self.criteria.append(Criterion(id="primary-tumour-recorded", label="primary tumour recorded", met=None,
                                           note="no primary tumour and no unknown-primary code recorded (B30)"))
            self._confirm.append("primary tumour and whether it was resected (B30)")
            self.missing.append("primaryTumour")
        if modality in _SURGICAL and ctx.unfit is None:
            # B34: without a current MDT judgement or ECOG/Karnofsky every surgical option *is* D (the
            # criterion itself is recorded by each rule; this only gives the gap precedence over "not recommended").
            self._confirm.append("performance status or MDT fitness judgement needed (B34)")
            self.missing.append("fitness")
        possible = [r for r in ctx.unconfirmed if r.topic == "pregnancy"]
        if possible and not ctx.pregnant and modality in _PREGNANCY_C:
            # B28 on B32: a possible pregnancy caps what a pregnancy caps (what it excludes is D above).
            self.caution(
                Criterion(id="not-pregnant", label="not pregnant", met=None,
                          note=f"possible pregnancy to confirm ({possible[0].text}): {PREGNANCY_WARNING}",
                          sources=tuple(r.source for r in possible), beyond_source_review=True),
                "possible pregnancy (B28, B32)")
        if ctx.pregnant:
            sources = tuple(r.source for r in ctx.pregnancy)
            beyond = modality is not M.PRRT
            if modality in _PREGNANCY_X:
                self.contraindication(
                    Criterion(id="not-pregnant", label="not pregnant", met=False, note="active pregnancy (B32)",
                              sources=sources, beyond_source_review=beyond), "pregnancy (B32)")
            elif modality in _PREGNANCY_C:
                self.caution(
                    Criterion(id="not-pregnant", label="not pregnant", met=False, note=PREGNANCY_WARNING,
                              sources=sources, beyond_source_review=True), "pregnancy (B32)")
        before = ctx.ki67_before_progression
        if modality in _REBIOPSY and before is not None and not ctx.nec:
            seen = before.last_seen.isoformat() if before.last_seen else "undated"
            self.criteria.append(Criterion(
                id="ki67-after-progression", label="grade measured after the latest progression", met=None,
                note=f"grading specimen of {seen} predates {before.window}: {REBIOPSY_NOTE} (B36)",
                sources=(before.last_source,) if before.last_source else (), evidence=("[41]",)))
            self.notes.append(REBIOPSY_NOTE)  # advisory, like B2's liver-biopsy note: the status is unchanged

    def _grade_gates(self) -> None:
        if self.grade_dependent and self.ctx.grade is None and not self.ctx.nec:
            self._grade_missing = True
            self.criteria.append(
                Criterion(
                    id="grade-known",
                    label="grade known (Ki-67 or mitotic count)",
                    met=None,
                    note="no Ki-67 and no mitotic count: grade-dependent option cannot be rated (B4)",
                    evidence=("[2]",),
                )
            )
            self.missing.append("ki67Percent")
        stale = self.ctx.ki67_stale
        if self.grade_dependent and stale is not None and not self.ctx.nec:
            # A.6: an old grade still counts against an option (G3 contraindications stand) but
            # cannot support one: the option becomes insufficient-data only if nothing else excludes it.
            seen = stale.last_seen.isoformat() if stale.last_seen else "undated"
            self.criteria.append(
                Criterion(
                    id="ki67-current",
                    label="grade from a recent specimen",
                    met=None,
                    note=f"Ki-67/mitotic count of {seen} is older than {stale.window} (B36): consider a repeat biopsy",
                    sources=(stale.last_source,) if stale.last_source else (),
                    evidence=("[41]",),
                )
            )
            self.missing.append("ki67Percent")
        if self.ctx.differentiation_unknown_high_grade and self.grade_dependent:
            self.criteria.append(
                Criterion(
                    id="differentiation-known",
                    label="differentiation known (NET G3 vs NEC)",
                    met=None,
                    note="Ki-67 > 20 % without a recorded differentiation: NEC cannot be excluded (B3)",
                )
            )
            self.missing.append("differentiation")

    def criterion(self, criterion: Criterion) -> Criterion:
        """Record a criterion that informs but does not decide; return it."""
        self.criteria.append(criterion)
        return criterion

    def contraindication(self, criterion: Criterion, reason: str, *, needs: tuple[str, ...] = ()) -> bool:
        """Record a criterion phrased as the absence of a contraindication; True if present."""
        self.criteria.append(criterion)
        if criterion.met is False:
            self._contra.append(reason)
            return True
        if criterion.met is None:
            self.missing.extend(needs)
        return False

    def indication(self, criterion: Criterion, reason: str, *, needs: tuple[str, ...] = ()) -> bool | None:
        """Record an indication: unmet → not-recommended; unknown → the inputs ``needs`` are missing."""
        self.criteria.append(criterion)
        if criterion.met is False:
            self._unmet.append(reason)
        elif criterion.met is None:
            self.missing.extend(needs)
        return criterion.met

    def require(self, *elements: str) -> None:
        """Record required inputs that are missing or stale."""
        self.missing.extend(elements)

    def caution(self, criterion: Criterion | None, reason: str) -> None:
        """Record an unmet non-binding criterion as a warning that lowers the status to at most C."""
        if criterion is None:
            return
        self.criteria.append(criterion)
        self.warnings.append(criterion.note)
        self._caps.append(reason)

    def cap(self, reason: str) -> None:
        """Lower a positive status to at most ``consider`` and say why."""
        self._caps.append(reason)

    @property
    def contraindicated(self) -> bool:
        """Return True when a contraindication has been recorded."""
        return bool(self._contra)

    def decide(self, positive: Status, summary: str) -> Rated:
        """Return the result: status by the shared precedence, summary naming the decisive reason."""
        status, text = self._status(positive, summary)
        evidence = self.ctx.config.evidence_for(self.modality)
        refs: dict[str, None] = dict.fromkeys(evidence.evidence)
        for c in self.criteria:
            refs.update(dict.fromkeys(c.evidence))
        result = ModalityResult(
            modality=self.modality,
            status=status,
            summary=_clip(text),
            criteria=tuple(self.criteria),
            evidence=tuple(sorted(refs, key=_ref_key)),
            outcomes=evidence.outcomes,
            warnings=tuple(dict.fromkeys(self.warnings)),
            notes=tuple(dict.fromkeys(self.notes + self._caps_notes(status))),
            beyond_source_review=self.beyond_source_review,
        )
        blocking = self.blocking if status is Status.INSUFFICIENT_DATA else ()
        return Rated(result=result, blocking=blocking)

    @property
    def blocking(self) -> tuple[str, ...]:
        """Return the missing input elements, once each, in order."""
        return tuple(dict.fromkeys(self.missing))

    def _caps_notes(self, status: Status) -> list[str]:
        return [f"at most 'consider': {c}" for c in self._caps] if status is Status.CONSIDER else []

    def _status(self, positive: Status, summary: str) -> tuple[Status, str]:
        if self._contra:
            return Status.CONTRAINDICATED, f"Contraindicated: {self._contra[0]}."
        if self._confirm:
            return Status.INSUFFICIENT_DATA, f"Insufficient data: {self._confirm[0]}."
        if self._grade_missing:
            return Status.INSUFFICIENT_DATA, "Insufficient data: Ki-67 or mitotic count needed for the grade (B4)."
        if self._unmet:
            return Status.NOT_RECOMMENDED, f"Not recommended: {self._unmet[0]}."
        if self.missing:
            labels = ", ".join(INPUTS[e].label.split(" (")[0] for e in self.blocking[:3] if e in INPUTS)
            return Status.INSUFFICIENT_DATA, f"Insufficient data: {labels} needed."
        if self._caps and _RANK.get(positive, 2) < _RANK[Status.CONSIDER]:
            reason = summary.split(": ", 1)[-1]
            # Too long for a card summary: drop the reason's closing aside, then the reason itself; the cap
            # (why only "consider") matters more than the indication, which the criteria still show.
            for text in (
                f"Consider at MDT ({self._caps[0]}): {reason}",
                f"Consider at MDT ({self._caps[0]}): {_ASIDE.sub('.', reason)}",
            ):
                if len(text) <= SUMMARY_LIMIT:
                    return Status.CONSIDER, text
            return Status.CONSIDER, f"Consider at MDT: {self._caps[0]}."
        return positive, summary


def _ref_key(ref: str) -> tuple[int, str]:
    digits = "".join(ch for ch in ref if ch.isdigit())
    return (int(digits) if digits else 10_000, ref)
