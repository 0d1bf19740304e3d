"""Reading the record's own report text and proposing candidate findings from it (issue 15).

Two halves, both pure (raw FHIR R4 JSON dicts in, frozen dataclasses out, no network):

- :mod:`.sources` picks the reports that matter (radiology, nuclear medicine, pathology, tumour-board
  notes, within a recency window) and turns ``DiagnosticReport.conclusion``/``presentedForm`` and
  ``DocumentReference`` attachments into bounded, cleaned texts, each with its reference and date.
- :mod:`.extract` runs medspaCy (target rules + ConText) over those texts and returns
  :class:`~.candidates.Candidate` findings with value, sentence, span and assertion.

Candidates never decide anything: only affirmed, current ones are *proposals* for a clinician to
confirm, and nothing here writes into the :class:`~nelm_fhir.model.NelmProfile`.
medspaCy and pypdf are an optional extra (``pip install 'nelm-pathways[text]'``); without them the
text reader reports itself unavailable and the rest of the product works unchanged.
"""

from nelm_fhir.narrative.candidates import Assertion, Candidate, CodeValue, Finding, Quantity
from nelm_fhir.narrative.settings import TextReaderUnavailableError, text_reader_enabled
from nelm_fhir.narrative.sources import (
    Limits,
    ReadProblem,
    ReportKind,
    ReportText,
    TextReading,
    ToFetch,
    fetched_text,
    read_texts,
    report_kind,
)

__all__ = [
    "Assertion",
    "Candidate",
    "CodeValue",
    "Finding",
    "Limits",
    "Quantity",
    "ReadProblem",
    "ReportKind",
    "ReportText",
    "TextReaderUnavailableError",
    "TextReading",
    "ToFetch",
    "fetched_text",
    "read_texts",
    "report_kind",
    "text_reader_enabled",
]
