"""Clinician wording: the one place that turns the engine's internal names into what a clinician reads.

Cards, the SMART page, the print view and the evidence pages show option names, data elements,
statuses and units the way clinicians write them; rule ids ("B19"), element ids (``ki67Percent``),
modality ids (``portal-vein-embolization``) and raw UCUM (``mL/min/{1.73_m2}``) stay in the JSON
outputs and on the evidence pages for the clinical owner. Everything here is plain Python (no Flask),
so any presenter may import it; the API is kept stable:

- :func:`modality_label` / :data:`MODALITY_LABELS` (short, for cards) and :data:`MODALITY_NAMES` (long);
- :func:`status_label` (inline, lower case) and :data:`STATUS_LABELS` (headings);
- :func:`element_label` for the engine's data elements;
- :func:`unit_text` and :func:`quantity_text` for UCUM units;
- :func:`clinician_text` for engine prose (drops rule-id citations, names options and elements);
- :func:`internal_names` finds what must not reach a clinician (used by the tests).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from nelm_fhir.pathways.result import Criterion, Modality, ModalityResult, Status

__all__ = [
    "ELEMENT_LABELS",
    "MODALITY_LABELS",
    "MODALITY_NAMES",
    "RECORD_LABELS",
    "STATUS_LABELS",
    "UNIT_TEXT",
    "clinician_text",
    "decided",
    "decisive_first",
    "element_label",
    "internal_names",
    "modality_label",
    "quantity_text",
    "record_problem",
    "status_label",
    "unit_text",
]

M = Modality

# Short names, as a card summary or a list line names an option.
MODALITY_LABELS: Mapping[Modality, str] = {
    M.CURATIVE_RESECTION: "Curative liver resection",
    M.SIMULTANEOUS_RESECTION: "Simultaneous resection of primary and NELM",
    M.PORTAL_VEIN_EMBOLIZATION: "Portal vein embolization then resection",
    M.TWO_STAGE_HEPATECTOMY: "Two-stage hepatectomy",
    M.ALPPS: "ALPPS",
    M.CYTOREDUCTIVE_SURGERY: "Cytoreductive (debulking) surgery",
    M.LIVER_TRANSPLANTATION: "Liver transplantation",
    M.REPEAT_RESECTION: "Repeat liver resection",
    M.RFA: "Radiofrequency ablation",
    M.STEREOTACTIC_RFA: "Stereotactic RFA",
    M.MWA: "Microwave ablation",
    M.TAE: "TAE (bland embolization)",
    M.TACE: "TACE",
    M.RADIOEMBOLIZATION: "Radioembolization (Y-90 SIRT)",
    M.PRRT: "PRRT",
    M.PRRT_PLUS_RADIOEMBOLIZATION: "PRRT with radioembolization",
    M.SOMATOSTATIN_ANALOGUE: "Somatostatin analogue",
    M.EVEROLIMUS: "Everolimus",
    M.SUNITINIB: "Sunitinib",
    M.CHEMOTHERAPY: "Chemotherapy",
    M.INTERFERON_ALPHA: "Interferon alpha",
}

# Long names (SMART page, print), keyed by modality id.
MODALITY_NAMES: Mapping[str, str] = {
    "curative-resection": "Curative liver resection (± ablation)",
    "simultaneous-resection": "Simultaneous resection of primary and NELM",
    "portal-vein-embolization": "Portal vein embolization, then resection",
    "two-stage-hepatectomy": "Two-stage hepatectomy (portal vein ligation)",
    "alpps": "ALPPS",
    "cytoreductive-surgery": "Cytoreductive (debulking) surgery",
    "liver-transplantation": "Liver transplantation",
    "repeat-resection": "Repeat resection of recurrent NELM",
    "rfa": "Radiofrequency ablation (RFA)",
    "stereotactic-rfa": "Stereotactic RFA",
    "mwa": "Microwave ablation (MWA)",
    "tae": "Transarterial embolization (TAE)",
    "tace": "Transarterial chemoembolization (TACE)",
    "radioembolization": "Y-90 radioembolization (SIRT)",
    "prrt": "PRRT (177Lu-DOTATATE / 90Y-DOTATOC)",
    "prrt-plus-radioembolization": "PRRT combined with radioembolization",
    "somatostatin-analogue": "Somatostatin analogue (octreotide / lanreotide)",
    "everolimus": "Everolimus",
    "sunitinib": "Sunitinib",
    "chemotherapy": "Chemotherapy",
    "interferon-alpha": "Interferon-α",
}

STATUS_LABELS: Mapping[str, str] = {
    Status.RECOMMENDED.value: "Recommended",
    Status.CONSIDER.value: "Consider (tumour board)",
    Status.NOT_RECOMMENDED.value: "Not recommended",
    Status.CONTRAINDICATED.value: "Contraindicated",
    Status.INSUFFICIENT_DATA.value: "Insufficient data",
}

_STATUS_INLINE: Mapping[str, str] = {
    Status.RECOMMENDED.value: "recommended",
    Status.CONSIDER.value: "to discuss",
    Status.NOT_RECOMMENDED.value: "not recommended",
    Status.CONTRAINDICATED.value: "contraindicated",
    Status.INSUFFICIENT_DATA.value: "data missing",
}

# The engine's data elements (DataGap.element, criterion inputs) as clinicians name them.
ELEMENT_LABELS: Mapping[str, str] = {
    "ki67Percent": "Ki-67 index",
    "ki67LiverSpecimen": "Ki-67 on a liver biopsy",
    "mitosesPer2mm2": "mitotic count",
    "differentiation": "differentiation",
    "primarySite": "primary site",
    "primaryStatus": "primary tumour status",
    "ageYears": "age",
    "fitness": "fitness (ECOG)",
    "fitForMajorSurgery": "fitness for major surgery",
    "resectableR0": "MDT judgement of R0 resectability",
    "flrPercent": "future liver remnant",
    "frillingType": "Frilling type",
    "liverInvolvementPercent": "liver involvement",
    "lesionSize": "lesion sizes",
    "lesionCount": "number of liver lesions",
    "largestLesionCm": "largest lesion",
    "monthsStable": "disease status (restaging)",
    "achievableDebulkingPercent": "achievable debulking",
    "krenningScore": "SSTR PET (Krenning score)",
    "fdgPetPositive": "FDG-PET",
    "renalFunction": "eGFR",
    "platelets": "platelets",
    "haemoglobin": "haemoglobin",
    "leukocytes": "leukocytes",
    "bilirubin": "bilirubin",
    "albumin": "albumin",
    "inr": "INR",
    "syndromeRefractoryToSsa": "syndrome refractory to SSA",
    "recurrentNelm": "recurrent liver metastases",
    "portalVeinThrombosis": "portal vein thrombosis",
    "hepaticFailure": "hepatic failure",
    "portalDrained": "portal-venous drainage",
    "bilioEntericAnastomosis": "bilio-enteric anastomosis",
    "extrahepaticSites": "extrahepatic disease",
    "distantExtrahepaticDisease": "distant extrahepatic disease",
    "functionalSyndromes": "functional syndrome",
    "tumourBurdenSymptoms": "symptoms of tumour burden",
    "ki67AfterProgression": "Ki-67 after the latest progression",
    "primaryTumour": "primary tumour and whether it was resected",
    "recordToConfirm": "record to confirm",
    "pregnancy": "pregnancy status",
}

# UCUM as sent by labs → as clinicians write it. "{INR}" is a ratio: no unit is shown.
UNIT_TEXT: Mapping[str, str] = {
    "10*9/L": "×10⁹/L",
    "10*12/L": "×10¹²/L",
    "10*3/uL": "×10³/µL",
    "mL/min/{1.73_m2}": "mL/min/1.73 m²",
    "mL/min/1.73.m2": "mL/min/1.73 m²",
    "{INR}": "",
    "{ratio}": "",
    "{score}": "",
    "mg/(24.h)": "mg/24 h",
    "umol/L": "µmol/L",
    "ug/L": "µg/L",
    "/2.mm2": "per 2 mm²",
    "/(2.mm2)": "per 2 mm²",
    "{mitoses}/(2.mm2)": "mitoses per 2 mm²",
    "{mitoses}/2.mm2": "mitoses per 2 mm²",
    "%": "%",
    "cm": "cm",
    "mm": "mm",
    "a": "years",
    "mo": "months",
}

# Prefetch keys (what the EHR sends or the service fetches) as clinicians name those records.
RECORD_LABELS: Mapping[str, str] = {
    "patient": "Demographics",
    "conditions": "Diagnoses",
    "ki67": "Ki-67 results",
    "labs": "Laboratory results",
    "findings": "Imaging and MDT findings",
    "procedures": "Procedures",
    "medicationRequests": "Medication orders",
    "medicationStatements": "Medication lists",
}
# Technical words of fetch problems, in the order they are replaced.
_TECHNICAL: tuple[tuple[str, str], ...] = (
    ("not prefetched and no fhirServer was sent", "not sent by the EHR, and no FHIR server address was given"),
    ("not prefetched and fhirServer is not allowed for this client",
     "not sent by the EHR, and its FHIR server is not registered for this service"),
    ("fhirServer is not allowed for this client", "the EHR's FHIR server is not registered for this service"),
    ("no fhirServer was sent", "no FHIR server address was given"),
    ("fhirServer", "the EHR's FHIR server"),
    ("OperationOutcome", "error message"),
)

_MODALITY_ID = re.compile(r"(?<![\w/-])(" + "|".join(sorted((re.escape(m.value) for m in Modality if "-" in m.value),
                                                             key=len, reverse=True)) + r")(?![\w-])")
_ELEMENT_ID = re.compile(r"(?<![\w/`])(" + "|".join(sorted((re.escape(k) for k in ELEMENT_LABELS if k != k.lower()),
                                                            key=len, reverse=True)) + r")(?!\w)")
# A rule-id citation: "(B19)", "(B6, B11)", "(B4 caveat)", ", B7)" inside a parenthesis, "A.7 #18".
_RULE_PAREN = re.compile(r"\s*\((?:B\d{1,2}(?: caveat)?(?:\s*[,;/]\s*B\d{1,2}(?: caveat)?)*)\)")
_RULE_TAIL = re.compile(r"(?:[,;]\s*B\d{1,2}(?: caveat)?)+(?=\))")
_RULE_HEAD = re.compile(r"(?<=\()B\d{1,2}(?: caveat)?\s*[,;:]\s*")
_APPENDIX_PAREN = re.compile(r"\s*\(A\.\d+(?:\s*#\d+)?\)")
_APPENDIX_TAIL = re.compile(r"(?:[,;]\s*)A\.\d+(?:\s*#\d+)?(?=\))")
_APPENDIX_ANY = re.compile(r"\bA\.\d+(?:\s*#\d+)?")
_PATHWAY_MD = re.compile(r";?\s*PATHWAY\.md\s+B\d{1,2}\.?")
# A rule id anywhere inside a parenthesis ("(stale, B24; configurable engineering default)",
# "(B38 engineering default)"): the id goes, the words stay.
_RULE_IN_PAREN = re.compile(r"\([^()]*\bB\d{1,2}\b[^()]*\)")
_RULE_ID = re.compile(r"\bB\d{1,2}(?: caveat)?\b")


def _drop_rule_ids(match: re.Match[str]) -> str:
    inner = _RULE_ID.sub("", match.group(0)[1:-1])
    inner = re.sub(r"\s*([,;:])(\s*[,;:])+", r"\1", inner)  # separators left back to back
    inner = re.sub(r"^[\s,;:]+|[\s,;:]+$", "", inner)
    inner = re.sub(r"[ \t]{2,}", " ", inner)
    return f"({inner})" if inner and inner.lower() not in {"see", "see also", "cf."} else ""

# What the tests treat as an internal name in clinician text. FHIR references (``Observation/x-1``) and
# Markdown links are stripped first by :func:`internal_names`.
_INTERNAL = re.compile(
    r"\bB\d{1,2}\b"  # rule ids
    r"|\bA\.\d+\b"  # appendix ids of the rule book
    r"|\b[a-z]{2,}[0-9]*[A-Z][A-Za-z0-9]*\b"  # camelCase element ids (ki67LiverSpecimen)
    r"|\{[^}\s]*\}"  # UCUM annotations ({INR}, {1.73_m2})
    r"|\b10\*\d"  # UCUM powers (10*9/L)
    r"|/\d\.mm2|\bmm2\b|\bm2\b"  # UCUM areas
    r"|" + _MODALITY_ID.pattern
    + r"|\b(?:not-recommended|insufficient-data)\b"  # status codes
)
_REFERENCE = re.compile(r"`?\b[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}`?")
_LINK_TARGET = re.compile(r"\]\([^)]*\)")
_ALLOWED_CAMEL = frozenset({"eGFR", "mTOR", "panNET", "panNETs", "panNEN", "panNENs", "pNET", "pNETs", "iPad", "mCRC",
                            "ctDNA"})


def modality_label(modality: Modality | str, *, long: bool = False) -> str:
    """Return the clinician's name of ``modality`` (an enum member or its id); unknown ids come back as given."""
    value = modality.value if isinstance(modality, Modality) else str(modality)
    if long:
        return MODALITY_NAMES.get(value, value)
    try:
        return MODALITY_LABELS[Modality(value)]
    except ValueError:
        return value


def status_label(status: Status | str, *, heading: bool = False) -> str:
    """Return ``status`` as read inline ("not recommended") or as a heading ("Not recommended")."""
    value = status.value if isinstance(status, Status) else str(status)
    return (STATUS_LABELS if heading else _STATUS_INLINE).get(value, value.replace("-", " "))


def element_label(element: str) -> str:
    """Return a clinician's name for an engine data element (camelCase split into words as a fallback)."""
    known = ELEMENT_LABELS.get(element)
    if known is not None:
        return known
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", element).replace("-", " ").lower()


def unit_text(unit: str | None) -> str:
    """Return a UCUM unit as clinicians write it (``10*9/L`` → ``×10⁹/L``); annotations alone vanish."""
    if not unit:
        return ""
    known = UNIT_TEXT.get(unit)
    if known is not None:
        return known
    shown = re.sub(r"\{[^}]*\}", "", unit).replace("10*", "×10^").replace(".m2", " m²").replace("mm2", "mm²")
    return shown.strip()


def quantity_text(value: float | int, unit: str | None) -> str:
    """Return a value with its unit as clinicians write it (``85 mL/min/1.73 m²``, ``1.1`` for an INR)."""
    number = f"{value:g}" if isinstance(value, float) else str(value)
    shown = unit_text(unit)
    return f"{number} {shown}" if shown else number


def clinician_text(text: str) -> str:
    """Return engine prose as a clinician reads it: rule-id citations dropped, ids named, UCUM written out.

    The engine's summaries and notes cite the rule book ("resectable disease: not needed (B19)") for the
    clinical owner; the JSON output keeps them, what a clinician reads does not.
    """
    out = _PATHWAY_MD.sub("", text)
    out = _RULE_PAREN.sub("", out)
    out = _RULE_TAIL.sub("", out)
    out = _RULE_HEAD.sub("", out)
    out = _RULE_IN_PAREN.sub(_drop_rule_ids, out)
    out = _APPENDIX_PAREN.sub("", out)
    out = _APPENDIX_TAIL.sub("", out)
    out = _APPENDIX_ANY.sub("", out)
    out = _MODALITY_ID.sub(lambda m: modality_label(m.group(1)), out)
    out = _ELEMENT_ID.sub(lambda m: element_label(m.group(1)), out)
    for ucum in sorted((u for u in UNIT_TEXT if any(ch in u for ch in "{*") or "mm2" in u or ".m2" in u),
                       key=len, reverse=True):
        out = out.replace(ucum, UNIT_TEXT[ucum])
    out = re.sub(r"\(\s*\)", "", out)
    out = re.sub(r"\s+([,.;:])", r"\1", out)
    return re.sub(r"[ \t]{2,}", " ", out).strip()


def record_problem(reason: str) -> str:
    """Return a fetch problem ("labs: request to fhirServer timed out") as a clinician reads it."""
    key, sep, rest = reason.partition(":")
    label = RECORD_LABELS.get(key.strip())
    text = rest.strip() if sep and label else reason
    for technical, plain in _TECHNICAL:
        text = text.replace(technical, plain)
    return f"{label}: {clinician_text(text)}" if label else clinician_text(text)


def internal_names(text: str) -> list[str]:
    """Return the internal names (rule, element or modality ids, status codes, raw UCUM) found in ``text``.

    FHIR references (``Observation/v01-ki67``) and Markdown link targets are not clinician prose and are
    skipped; a few clinical abbreviations written in mixed case (eGFR, mTOR, panNET) are allowed.
    """
    prose = _REFERENCE.sub(" ", _LINK_TARGET.sub("]", text))
    return [m.group(0) for m in _INTERNAL.finditer(prose) if m.group(0) not in _ALLOWED_CAMEL]


_DECISIVE_RANK: Mapping[str, Mapping[bool | None, int]] = {
    Status.CONTRAINDICATED.value: {False: 0, None: 1, True: 2},
    Status.NOT_RECOMMENDED.value: {False: 0, None: 1, True: 2},
    Status.INSUFFICIENT_DATA.value: {None: 0, False: 1, True: 2},
    Status.CONSIDER.value: {False: 0, None: 1, True: 2},
    Status.RECOMMENDED.value: {True: 0, None: 1, False: 2},
}


def decisive_first(result: ModalityResult) -> tuple[Criterion, ...]:
    """Return every criterion of ``result``, those that decided its status first (none dropped).

    Contraindicated or not recommended: the unmet ones first; insufficient data: the unknown ones; consider:
    the unmet cautions that capped it, then the met indication; recommended: the met criteria.
    """
    rank = _DECISIVE_RANK[result.status.value]
    return tuple(sorted(result.criteria, key=lambda c: rank[c.met]))


def decided(result: ModalityResult) -> tuple[Criterion, ...]:
    """Return the criteria that decided the status of ``result`` (the first rank of :func:`decisive_first`)."""
    ordered = decisive_first(result)
    if not ordered:
        return ()
    if result.status is Status.CONSIDER:
        # "consider" is decided twice: by the met indication and by what capped it (unmet cautions).
        return tuple(c for c in ordered if c.met is not None)
    rank = _DECISIVE_RANK[result.status.value]
    top = rank[ordered[0].met]
    return tuple(c for c in ordered if rank[c.met] == top)
