"""Candidate findings from report texts with medspaCy: target rules plus ConText assertions.

medspaCy (and spaCy) are an optional extra. :func:`extract` raises
:class:`~nelm_fhir.narrative.settings.TextReaderUnavailableError` when they are missing; nothing else
in the product imports this module. medspaCy's own loguru DEBUG output is switched off before it is
imported: report text is PHI and must never reach a log.
"""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Iterable
from typing import Any

from nelm_fhir.narrative.candidates import Assertion, Candidate, CandidateValue, CodeValue, Finding, Quantity
from nelm_fhir.narrative.rules import CLAUSE_END, context_rules, target_rules
from nelm_fhir.narrative.settings import TextReaderUnavailableError
from nelm_fhir.narrative.sources import ReportText

_LOCK = threading.Lock()
_NLP: Any = None

_NUMBER = re.compile(r"(\d+(?:[.,]\d+)?)")
_COMPARATOR = re.compile(r"(<=|>=|≤|≥|<|>)\s*\d")
_MITOSES = re.compile(
    r"(?:(<=|>=|≤|≥|<|>)\s*)?(\d+(?:[.,]\d+)?)\s*(?:mitoses|mitosis|mitotic figures)?\s*(?:per|/)\s*2\s*mm", re.I)
_SIZE_UNIT = re.compile(r"\b(mm|cm)\b", re.I)
_LIVER_WORDS = re.compile(r"lesion|metasta|\bmass|deposit|segment|\bliver|hepatic|\bmets\b", re.I)
_NOT_LIVER_WORDS = re.compile(r"pulmonary|\blung|\bnod(e|es|al|ule|ules)\b|lymph|peritone|implant|pancrea|primary|"
                              r"\bbone|osseous|spleen|splenic|adrenal|kidney|renal|ovar|\bsuv", re.I)
_OPEN_COUNT = re.compile(r"(more than|over|at least|up to|>|≥|greater than|fewer than|less than|<)\s*$", re.I)
_SEGMENT = re.compile(r"(segments?|s|seg\.?)\s*$", re.I)
_WORD_NUMBERS = {w: i for i, w in enumerate((
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"))}
_COMPARATORS = {"≤": "<=", "≥": ">="}
_CURRENT_WHEN_HISTORICAL = frozenset({"primary-status=resected"})  # "resected in 2022" is today's state
_GRADES = {"1": "G1", "2": "G2", "3": "G3", "i": "G1", "ii": "G2", "iii": "G3"}


def _silence_libraries() -> None:
    """Keep medspaCy/PyRuSH (loguru) and spaCy (logging) quiet: they may print the text they read."""
    import logging

    try:
        from loguru import logger
    except ImportError:  # pragma: no cover - loguru comes with medspaCy
        pass
    else:
        for name in ("medspacy", "PyRuSH", "pyrush", "quickumls"):
            logger.disable(name)
    for name in ("spacy", "medspacy", "PyRuSH"):
        logging.getLogger(name).setLevel(logging.ERROR)


_CLAUSES = "nelm_semicolon_clauses"


def _register_clause_splitter() -> None:
    """A pipeline step that starts a new sentence after ``;``, so no ConText scope crosses a semicolon.

    (medspaCy ends a backward scope at the first terminating word of the sentence, not the nearest one.)
    """
    from spacy.language import Language

    if Language.has_factory(_CLAUSES):
        return

    def split(doc: Any) -> Any:
        for token in doc[1:]:
            if doc[token.i - 1].text == ";":
                token.is_sent_start = True
        return doc

    Language.component(_CLAUSES, func=split)


def _build() -> Any:
    _silence_libraries()
    try:
        with warnings.catch_warnings():  # spaCy's CLI dependencies (click/typer) warn on import; not ours to fix
            warnings.simplefilter("ignore", DeprecationWarning)
            import medspacy
            from medspacy.context import ConTextRule
            from medspacy.ner import TargetRule
    except ImportError as exc:
        raise TextReaderUnavailableError(
            "the text reader needs medspaCy: install the 'text' extra (pip install 'nelm-pathways[text]')") from exc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        nlp = medspacy.load()
    _register_clause_splitter()
    nlp.add_pipe(_CLAUSES, after="medspacy_pyrush")
    nlp.get_pipe("medspacy_target_matcher").add(
        [TargetRule(literal, category, pattern=pattern) for literal, category, pattern in target_rules()])
    context = nlp.get_pipe("medspacy_context")
    context.prune_on_target_overlap = True  # "FDG-negative", "did not locate the primary" carry their own value
    context.add([ConTextRule(literal, category, direction=direction, pattern=pattern)
                 for literal, category, direction, pattern in context_rules()])
    for rule in context.rules:
        rule.terminated_by.add(CLAUSE_END)
        if rule.literal.strip() == ": no":
            # medspaCy reads "Fever: no" (backward); reports write "Bones: no suspicious lesion" (forward).
            rule.direction = "BIDIRECTIONAL"
    return nlp


def _pipeline() -> Any:
    global _NLP
    with _LOCK:
        if _NLP is None:
            _NLP = _build()
        return _NLP


def _number(text: str) -> float:
    return float(text.replace(",", "."))


_COMPARATOR_WORDS = (
    (re.compile(r"\bat least\s*\d", re.I), ">="),
    (re.compile(r"\b(?:more than|greater than|over|above|exceeds|exceeding)\s*\d", re.I), ">"),
    (re.compile(r"\b(?:less than|lower than|below|under)\s*\d", re.I), "<"),
    (re.compile(r"\bup to\s*\d", re.I), "<="),
)


def _comparator(text: str) -> str | None:
    found = _COMPARATOR.search(text)
    if found:
        return _COMPARATORS.get(found.group(1), found.group(1))
    for pattern, comparator in _COMPARATOR_WORDS:
        if pattern.search(text):
            return comparator
    return None


def _sentence(span: Any) -> str:
    """The sentence(s) a span lies in (PyRuSH sometimes splits "Ki-67 12 %" before the "%")."""
    return str(span.doc[span[0].sent.start: span[-1].sent.end].text)


def _whole_sentence(span: Any) -> str:
    """The sentence of a span including the clauses before it that end in ``;`` (see the clause splitter)."""
    doc = span.doc
    start = span[0].sent.start
    while start > 0 and doc[start - 1].text == ";":
        start = doc[start - 1].sent.start
    return str(doc[start: span[-1].sent.end].text)


def _values(finding: Finding, fixed: str | None, span: Any) -> list[CandidateValue]:
    """The value(s) a matched span states; [] when the words hold no usable value."""
    text: str = span.text
    if fixed is not None:
        if fixed in ("true", "false"):
            return [fixed == "true"]
        if finding is Finding.LESION_COUNT:
            return [Quantity(float(fixed), "1")]
        internal = finding in (Finding.EXTRAHEPATIC_SITE, Finding.LIVER_DISTRIBUTION)
        return [CodeValue(fixed, None) if internal else CodeValue(fixed)]
    if finding in (Finding.KI67_PERCENT, Finding.FLR_PERCENT, Finding.LIVER_INVOLVEMENT_PERCENT,
                   Finding.ACHIEVABLE_DEBULKING_PERCENT):
        numbers = _NUMBER.findall(text.split("%")[0])
        return [Quantity(_number(numbers[-1]), "%", _comparator(text))] if numbers else []
    if finding is Finding.MITOTIC_COUNT:
        found = _MITOSES.search(text)
        if not found:
            return []
        return [Quantity(_number(found.group(2)), "/2.mm2", _COMPARATORS.get(found.group(1) or "", found.group(1)))]
    if finding is Finding.KRENNING_SCORE:
        return [Quantity(float(_NUMBER.findall(text)[-1]), "1")]
    if finding is Finding.WHO_GRADE:
        last = text.split()[-1].lower().removeprefix("g")
        return [CodeValue(_GRADES[last])] if last in _GRADES else []
    if finding is Finding.LESION_COUNT:
        first = span[0].text.lower()
        count = _WORD_NUMBERS.get(first)
        if count is None and first.isdigit():
            count = int(first)
        before = span.doc.text[max(span.sent.start_char, span.start_char - 20): span.start_char]
        if count is None or count > 200 or _OPEN_COUNT.search(before) or _SEGMENT.search(before):
            return []
        return [Quantity(float(count), "1")]
    if finding is Finding.LESION_SIZE:
        sentence = _whole_sentence(span)
        if not _LIVER_WORDS.search(sentence) or _NOT_LIVER_WORDS.search(sentence):
            return []
        unit = _SIZE_UNIT.search(text)
        numbers = [_number(n) for n in _NUMBER.findall(text)]
        if not unit or not numbers:
            return []
        factor = 0.1 if unit.group(1).lower() == "mm" else 1.0
        sizes = [max(numbers)] if re.search(r"[x×]", text) else numbers
        return [Quantity(round(size * factor, 2), "cm") for size in sizes]
    return []


def _assertion(span: Any) -> Assertion:
    if span._.is_family:
        return Assertion.FAMILY
    if span._.is_hypothetical:
        return Assertion.HYPOTHETICAL
    if span._.is_negated:
        return Assertion.NEGATED
    if span._.is_uncertain:
        return Assertion.UNCERTAIN
    if span._.is_historical and span.label_ not in _CURRENT_WHEN_HISTORICAL:
        return Assertion.HISTORICAL
    return Assertion.AFFIRMED


def extract_text(report: ReportText) -> tuple[Candidate, ...]:
    """Every candidate finding in one report text (affirmed or not), in text order."""
    nlp = _pipeline()
    with _LOCK:
        doc = nlp(report.text)
    found: list[Candidate] = []
    seen: set[tuple[Finding, CandidateValue, int]] = set()
    for span in doc.ents:
        name, _, fixed = span.label_.partition("=")
        finding = Finding(name)
        assertion = _assertion(span)
        for value in _values(finding, fixed or None, span):
            key = (finding, value, span.start_char)
            if key in seen:
                continue
            seen.add(key)
            found.append(Candidate(finding=finding, value=value, assertion=assertion, sentence=_sentence(span),
                                   start=span.start_char, end=span.end_char, document=report.document,
                                   date=report.date, section=report.section))
    return tuple(found)


def extract(reports: Iterable[ReportText]) -> tuple[Candidate, ...]:
    """Candidates of every text; raises :class:`TextReaderUnavailableError` without medspaCy."""
    return tuple(c for report in reports for c in extract_text(report))
