"""The medspaCy rules: target rules (what to find) and extra ConText rules (how it is said).

Target rule categories are ``"<finding>"`` for findings whose value is read from the matched words
(numbers) and ``"<finding>=<value>"`` for findings whose value the phrase itself states.
Patterns are spaCy token patterns; the value parsers in :mod:`.extract` only read numbers out of a
matched span.
"""

from __future__ import annotations

from typing import Any

Pattern = list[dict[str, Any]]

# Words that must never sit inside a target: a negation inside the matched words would be invisible to
# ConText (modifiers overlapping a target are dropped), so "R0 resection is not achievable" would read as
# "R0 resection achievable". Every free-filler token below excludes them.
NEGATION_WORDS = ["not", "no", "never", "cannot", "nor", "without", "neither", "n't", "unlikely", "absent"]


def _filler(upto: int) -> dict[str, Any]:
    """Up to ``upto`` words of any kind except negations."""
    return {"IS_ALPHA": True, "LOWER": {"NOT_IN": NEGATION_WORDS}, "OP": f"{{0,{upto}}}"}

NUM: dict[str, Any] = {"LIKE_NUM": True}
PCT: dict[str, Any] = {"ORTH": "%"}
CMP: dict[str, Any] = {"ORTH": {"IN": ["<", ">", "≤", "≥", "<=", ">="]}, "OP": "?"}
# words that state a comparator ("at least 70%", "exceeds 30%"); read by extract._comparator
CMP_WORDS: dict[str, Any] = {"LOWER": {"IN": ["at", "least", "more", "less", "than", "over", "above", "below", "under",
                                              "exceeds", "exceeding", "greater", "lower", "up", "to"]}, "OP": "*"}
ABOUT: dict[str, Any] = {"LOWER": {"IN": ["approximately", "approx", "approx.", "about", "around", "estimated",
                                          "~", "ca", "ca.", "circa", "roughly", "of", "at", "is", "was", "=", ":",
                                          "be", "to", "by", "volume", "index", "only"]}, "OP": "*"}
LESION_NOUN: dict[str, Any] = {"LOWER": {"IN": ["lesion", "lesions", "metastasis", "metastases", "deposit",
                                                "deposits", "mets", "nodules", "foci", "masses"]}}
FILLER_ADJ: dict[str, Any] = {"IS_ALPHA": True, "LOWER": {"NOT_IN": [
    "mm", "cm", "of", "the", "these", "those", "which", "and", "or", "in", "with", "than", "new", "other", "more", "further",
    "additional", "lymph", "pulmonary", "lung", "bone", "osseous", "peritoneal", "nodal", *NEGATION_WORDS]},
    "OP": "{0,3}"}
PRIMARY_OPERATION: dict[str, Any] = {"LOWER": {"IN": [
    "hemicolectomy", "pancreaticoduodenectomy", "whipple", "pancreatectomy", "ileocaecal", "ileocecal", "enucleation",
    "gastrectomy", "colectomy", "ileectomy"]}}
LIVER_ADJ: dict[str, Any] = {"LOWER": {"IN": ["liver", "hepatic", "intrahepatic"]}, "OP": "?"}


def _words(*words: str) -> Pattern:
    return [{"LOWER": w} for w in words]


def _hyphenated(first: str, second: str) -> list[Pattern]:
    """``first-second``, ``first second`` or ``firstsecond`` (never ``first`` alone)."""
    return [[{"LOWER": first}, {"ORTH": "-", "OP": "?"}, {"LOWER": second}],
            [{"LOWER": {"IN": [first + second, f"{first}-{second}"]}}]]


def target_rules() -> list[tuple[str, str, Pattern]]:
    """(literal, category, pattern) of every target rule."""
    ki67_anchor: list[Pattern] = [
        [{"LOWER": {"IN": ["ki", "mib"]}}, {"ORTH": "-", "OP": "?"}, {"TEXT": {"IN": ["67", "1"]}}],
        [{"LOWER": {"IN": ["ki67", "ki-67", "mib1", "mib-1"]}}],
    ]
    ki67_tail: Pattern = [
        {"ORTH": "(", "OP": "?"}, {"LOWER": "mib", "OP": "?"}, {"ORTH": "-", "OP": "?"}, {"TEXT": "1", "OP": "?"},
        {"ORTH": ")", "OP": "?"},
        {"LOWER": {"IN": ["proliferation", "proliferative", "labelling", "labeling", "index", "rate", "li", "pi",
                          "on", "the", "liver", "biopsy", "specimen", "primary", "tumour", "tumor", "was", "is", "of",
                          ":", "approximately", "about", "(", ")", "hot", "spot", "hotspot", "in"]}, "OP": "{0,7}"},
        CMP, NUM, PCT]
    rules: list[tuple[str, str, Pattern]] = [("Ki-67", "ki67-percent", a + ki67_tail) for a in ki67_anchor]
    mit_unit: Pattern = [{"LOWER": {"IN": ["per", "/"]}}, {"TEXT": "2"},
                         {"LOWER": {"IN": ["mm2", "mm²", "mm^2", "sq"]}}, {"LOWER": "mm", "OP": "?"}]
    rules += [
        ("mitotic count", "mitotic-count",
         [{"LOWER": {"IN": ["mitotic", "mitoses", "mitosis"]}}, {"LOWER": {"IN": ["count", "rate", "index"]}, "OP": "?"},
          {"LOWER": {"IN": [":", "is", "of", "="]}, "OP": "*"}, CMP, NUM, {"LOWER": "mitoses", "OP": "?"}, *mit_unit]),
        ("mitoses per 2 mm2", "mitotic-count",
         [CMP, NUM, {"LOWER": {"IN": ["mitoses", "mitosis", "mitotic"]}}, {"LOWER": "figures", "OP": "?"}, *mit_unit]),
        ("future liver remnant", "flr-percent",
         [{"LOWER": {"IN": ["flr", "remnant", "flrv", "sflr"]}}, {"LOWER": {"IN": ["/", "tlv", "ratio"]}, "OP": "*"},
          _filler(5), CMP_WORDS, CMP, NUM, PCT]),
        ("future liver remnant", "flr-percent", [CMP, NUM, PCT, {"LOWER": {"IN": ["flr", "sflr", "remnant"]}}]),
        ("liver involvement", "liver-involvement-percent",
         [{"LOWER": {"IN": ["involvement", "replacement", "burden", "replacing", "replaces", "occupying", "load"]}},
          {"IS_PUNCT": False, "LIKE_NUM": False, "LOWER": {"NOT_IN": NEGATION_WORDS}, "OP": "{0,4}"}, CMP, NUM, PCT,
          {"LOWER": "of", "OP": "?"}, {"LOWER": "the", "OP": "?"},
          {"LOWER": {"IN": ["liver", "hepatic", "parenchyma", "parenchymal"]}}]),
        ("liver involvement", "liver-involvement-percent",
         [CMP, NUM, PCT, {"LOWER": {"IN": ["hepatic", "liver"]}},
          {"LOWER": {"IN": ["involvement", "replacement", "tumour", "tumor"]}}]),
        ("liver involvement", "liver-involvement-percent",
         [{"LOWER": {"IN": ["liver", "hepatic", "parenchymal"]}}, {"LOWER": {"IN": ["tumour", "tumor"]}, "OP": "?"},
          {"LOWER": {"IN": ["involvement", "replacement", "burden"]}}, ABOUT, CMP, NUM, PCT]),
        ("debulking", "achievable-debulking-percent",
         [{"LOWER": {"IN": ["debulking", "cytoreduction", "cytoreductive"]}}, {"IS_PUNCT": False, "LIKE_NUM": False,
                                                                            "LOWER": {"NOT_IN": NEGATION_WORDS}, "OP": "{0,5}"}, CMP, NUM, PCT]),
        ("debulking", "achievable-debulking-percent",
         [CMP, NUM, PCT, {"LOWER": {"IN": ["debulking", "cytoreduction"]}}]),
        ("Krenning", "krenning-score",
         [{"LOWER": "krenning"}, {"LOWER": {"IN": ["score", "grade", "scale", "uptake"]}, "OP": "?"},
          {"LOWER": {"IN": [":", "of", "="]}, "OP": "?"}, {"TEXT": {"IN": ["0", "1", "2", "3", "4"]}}]),
        ("lesion size", "lesion-size", [NUM, {"LOWER": {"IN": ["x", "×"]}}, NUM,
                                        {"LOWER": {"IN": ["x", "×"]}, "OP": "?"}, {"LIKE_NUM": True, "OP": "?"},
                                        {"LOWER": {"IN": ["mm", "cm"]}}]),
        ("lesion size", "lesion-size", [NUM, {"LOWER": {"IN": ["mm", "cm"]}}]),
        ("lesion sizes", "lesion-size", [NUM, {"ORTH": ","}, NUM, {"ORTH": ",", "OP": "?"}, {"LIKE_NUM": True, "OP": "?"},
                                         {"LOWER": "and"}, NUM, {"LOWER": {"IN": ["mm", "cm"]}}]),
        ("lesion count", "lesion-count", [NUM, FILLER_ADJ, LESION_NOUN]),
        ("lesion count", "lesion-count", [NUM, FILLER_ADJ, LIVER_ADJ, LESION_NOUN]),
        ("one lesion", "lesion-count=1",
         [{"LOWER": {"IN": ["solitary", "single", "isolated", "one"]}}, _filler(2),
          {"LOWER": {"IN": ["lesion", "metastasis", "deposit", "met"]}}]),
        ("WHO grade", "who-grade", [{"LOWER": {"IN": ["who", "net", "nen", "tumour", "tumor"]}, "OP": "?"},
                                    {"LOWER": "grade"}, {"ORTH": ":", "OP": "?"},
                                    {"LOWER": {"IN": ["1", "2", "3", "g1", "g2", "g3", "i", "ii", "iii"]}}]),
        ("G1-3", "who-grade", [{"TEXT": {"IN": ["G1", "G2", "G3"]}}]),
    ]
    coded: list[tuple[str, str, list[Pattern]]] = [
        ("differentiation=well", "well differentiated", [
            *_hyphenated("well", "differentiated")]),
        ("differentiation=poor", "poorly differentiated", [
            *_hyphenated("poorly", "differentiated"),
            [{"LOWER": {"IN": ["large", "small"]}}, {"LOWER": "cell"}, {"LOWER": "neuroendocrine", "OP": "?"},
             {"LOWER": "carcinoma"}],
            _words("neuroendocrine", "carcinoma"), [{"TEXT": "NEC"}]]),
        ("frilling-type=type-I", "Frilling type I", [
            [{"LOWER": "frilling", "OP": "?"}, {"LOWER": "type"}, {"LOWER": {"IN": ["i", "1"]}}]]),
        ("frilling-type=type-II", "Frilling type II", [
            [{"LOWER": "frilling", "OP": "?"}, {"LOWER": "type"}, {"LOWER": {"IN": ["ii", "2"]}}]]),
        ("frilling-type=type-III", "Frilling type III", [
            [{"LOWER": "frilling", "OP": "?"}, {"LOWER": "type"}, {"LOWER": {"IN": ["iii", "3"]}}]]),
        ("liver-distribution=bilobar", "bilobar", [
            [{"LOWER": {"IN": ["bilobar", "bilobular", "bi-lobar"]}}],
            [{"LOWER": {"IN": ["both", "two"]}}, {"LOWER": {"IN": ["hepatic", "liver"]}, "OP": "?"},
             {"LOWER": {"IN": ["lobes", "hemilivers", "hemi-livers"]}}],
            _words("left", "and", "right", "lobes"), _words("right", "and", "left", "lobes")]),
        ("liver-distribution=unilobar", "unilobar", [
            [{"LOWER": {"IN": ["unilobar", "uni-lobar"]}}],
            [{"LOWER": {"IN": ["all", "both", "confined", "limited", "restricted"]}}, {"LOWER": {"IN": ["to", "in"]}},
             {"LOWER": "the"}, {"LOWER": {"IN": ["right", "left"]}},
             {"LOWER": {"IN": ["lobe", "liver", "hemiliver", "hemi-liver"]}}]]),
        ("portal-vein-thrombosis=true", "portal vein thrombosis", [
            _words("portal", "vein", "thrombosis"), _words("portal", "venous", "thrombosis"), [{"LOWER": "pvt"}],
            [{"LOWER": "tumour", "OP": "?"}, {"LOWER": {"IN": ["thrombus", "thrombosis"]}}, {"LOWER": "of"},
             {"LOWER": "the"}, {"LOWER": {"IN": ["main", "right", "left"]}, "OP": "?"}, {"LOWER": "portal"},
             {"LOWER": "vein"}],
            [{"LOWER": {"IN": ["main", "right", "left"]}, "OP": "?"}, {"LOWER": "portal"}, {"LOWER": "vein"},
             {"LOWER": {"IN": ["contains", "shows", "with"]}}, _filler(2),
             {"LOWER": {"IN": ["thrombus", "thrombosis"]}}]]),
        ("extrahepatic-site=bone", "bone metastasis", [
            [{"LOWER": {"IN": ["bone", "osseous", "skeletal", "bony", "vertebral"]}},
             {"LOWER": {"IN": ["metastasis", "metastases", "mets", "lesion", "lesions", "deposits", "involvement"]}}],
            [{"LOWER": {"IN": ["an", "a"]}, "OP": "?"}, {"LOWER": "osseous"}, {"LOWER": "metastasis"}]]),
        ("extrahepatic-site=lung", "lung metastasis", [
            [{"LOWER": {"IN": ["lung", "pulmonary"]}},
             {"LOWER": {"IN": ["metastasis", "metastases", "mets", "deposits"]}}]]),
        ("extrahepatic-site=peritoneum", "peritoneal disease", [
            [{"LOWER": "peritoneal"}, {"LOWER": {"IN": ["metastasis", "metastases", "disease", "deposits", "implants",
                                                     "carcinomatosis", "nodularity", "nodules", "spread"]}}],
            _words("peritoneal", "carcinomatosis"), _words("peritoneum")]),
        ("extrahepatic-site=distant-nodes", "distant nodes", [
            [{"LOWER": "distant"}, {"LOWER": {"IN": ["nodal", "lymph"]}},
             {"LOWER": {"IN": ["disease", "metastases", "node", "nodes", "involvement"]}}],
            [{"LOWER": {"IN": ["mediastinal", "supraclavicular", "cervical", "axillary", "inguinal"]}},
             {"LOWER": "lymph", "OP": "?"}, {"LOWER": {"IN": ["node", "nodes", "nodal"]}},
             {"LOWER": {"IN": ["metastases", "metastasis", "disease", "involvement"]}}]]),
        ("sstr-uptake=true", "somatostatin receptor uptake", [
            [{"LOWER": {"IN": ["somatostatin", "sstr"]}}, {"LOWER": "receptor", "OP": "?"},
             {"LOWER": {"IN": ["expression", "uptake", "positive", "positivity", "avid", "avidity"]}}],
            [{"LOWER": {"IN": ["sstr", "dotatate", "dotatoc", "dotanoc", "tracer", "octreotide"]}}, {"ORTH": "-", "OP": "?"},
             {"LOWER": {"IN": ["avid", "positive"]}}],
            [{"LOWER": "sstr-positive"}], [{"LOWER": "sstr-avid"}], [{"LOWER": "tracer-avid"}],
            [{"LOWER": "uptake"}, _filler(4),
             {"LOWER": {"IN": ["above", "exceeding", "greater", "higher", "similar", "equal"]}}]]),
        ("fdg-pet-positive=true", "FDG-avid", [
            *_hyphenated("fdg", "avid"), *_hyphenated("fdg", "positive"), _words("fdg", "avidity"),
            [{"LOWER": "hypermetabolic"}, {"LOWER": {"IN": ["disease", "lesion", "lesions", "metastases", "foci",
                                                             "liver", "hepatic"]}}],
            [{"LOWER": "avid"}, {"LOWER": "on"}, {"LOWER": "fdg"}]]),
        ("fdg-pet-positive=false", "FDG-negative", [
            *_hyphenated("fdg", "negative"), *_hyphenated("non", "avid"),
            [{"LOWER": {"IN": ["non-avid", "nonavid"]}}]]),
        ("resectable-r0=true", "R0 resection feasible", [
            [{"LOWER": {"IN": ["r0", "complete", "curative"]}}, {"ORTH": "(", "OP": "?"}, {"LOWER": "r0", "OP": "?"},
             {"ORTH": ")", "OP": "?"}, {"LOWER": {"IN": ["resection", "resectability"]}}, _filler(5),
             {"LOWER": {"IN": ["feasible", "achievable", "possible", "attainable"]}}],
            [{"LOWER": {"IN": ["feasible", "achievable"]}}, {"LOWER": "r0"}, {"LOWER": "resection"}],
            [{"LOWER": {"IN": ["resectable", "operable"]}}, {"LOWER": "with", "OP": "?"}, {"LOWER": "curative", "OP": "?"},
             {"LOWER": "intent", "OP": "?"}]]),
        ("resectable-r0=false", "unresectable", [[{"LOWER": {"IN": ["unresectable", "non-resectable", "irresectable",
                                                                    "inoperable"]}}], _words("non", "-", "resectable")]),
        ("fit-for-major-surgery=true", "fit for major surgery", [
            [{"LOWER": "fit"}, {"LOWER": "for"}, {"LOWER": {"IN": ["major", "extensive", "liver"]}, "OP": "?"},
             {"LOWER": {"IN": ["surgery", "hepatectomy", "resection", "liver", "hepatic"]}},
             {"LOWER": {"IN": ["surgery", "resection"]}, "OP": "?"}],
            _words("suitable", "for", "major", "surgery")]),
        ("fit-for-major-surgery=false", "unfit for major surgery", [
            [{"LOWER": "unfit"}, {"LOWER": "for"}, {"LOWER": {"IN": ["major", "extensive", "liver"]}, "OP": "?"},
             {"LOWER": {"IN": ["surgery", "hepatectomy", "resection"]}}],
            [{"LOWER": {"IN": ["unsuitable", "ineligible"]}}, {"LOWER": "for"}, {"LOWER": "major", "OP": "?"},
             {"LOWER": "surgery"}]]),
        ("syndrome-refractory-to-ssa=true", "refractory syndrome", [
            [{"LOWER": {"IN": ["refractory", "uncontrolled", "resistant"]}}, _filler(2),
             {"LOWER": {"IN": ["to", "despite", "on"]}}, {"LOWER": {"IN": ["maximal", "maximum", "high", "full"]}, "OP": "?"},
             {"ORTH": "-", "OP": "?"}, {"LOWER": "dose", "OP": "?"},
             {"LOWER": {"IN": ["lanreotide", "octreotide", "ssa", "ssas", "somatostatin"]}}],
            [{"LOWER": {"IN": ["ssa-refractory", "refractory"]}}, {"LOWER": {"IN": ["carcinoid", "hormonal"]}},
             {"LOWER": "syndrome"}]]),
        ("syndrome-refractory-to-ssa=false", "syndrome controlled", [
            [{"LOWER": {"IN": ["controlled", "well-controlled"]}}, {"LOWER": {"IN": ["on", "with", "by"]}},
             {"LOWER": {"IN": ["lanreotide", "octreotide", "ssa", "ssas", "somatostatin"]}}]]),
        ("tumour-burden-symptoms=true", "symptoms from tumour burden", [
            [{"LOWER": {"IN": ["attributed", "attributable", "due", "related", "secondary"]}}, {"LOWER": "to"},
             {"LOWER": "the", "OP": "?"}, {"LOWER": {"IN": ["hepatic", "liver"]}, "OP": "?"},
             {"LOWER": {"IN": ["tumour", "tumor"]}}, {"LOWER": {"IN": ["burden", "bulk", "load"]}}],
            [{"LOWER": "symptomatic"}, {"LOWER": {"IN": ["from", "due"]}}, {"LOWER": "to", "OP": "?"},
             {"LOWER": {"IN": ["hepatic", "liver"]}, "OP": "?"}, {"LOWER": {"IN": ["tumour", "tumor"]}},
             {"LOWER": {"IN": ["burden", "bulk", "load"]}}]]),
        ("lesion-near-hilum=true", "near the hilum", [
            [{"LOWER": {"IN": ["abutting", "abuts", "adjacent", "close", "near", "involving", "invading", "contacting"]}},
             {"LOWER": "to", "OP": "?"}, {"LOWER": "the"}, {"LOWER": {"IN": ["hepatic", "liver"]}, "OP": "?"},
             {"LOWER": {"IN": ["hilum", "hilar", "hilus", "portal"]}}, {"LOWER": {"IN": ["plate", "bifurcation"]}, "OP": "?"}],
            [{"LOWER": {"IN": ["perihilar", "hilar"]}}, {"LOWER": {"IN": ["lesion", "metastasis", "location"]}}]]),
        ("lesion-subcapsular=true", "subcapsular", [[{"LOWER": {"IN": ["subcapsular", "sub-capsular"]}}]]),
        ("primary-status=resected", "primary resected", [
            [{"LOWER": {"IN": ["status", "s/p"]}}, {"LOWER": "post", "OP": "?"}, _filler(2),
             PRIMARY_OPERATION],
            [{"LOWER": "s"}, {"ORTH": "/"}, {"LOWER": "p"}, _filler(2), PRIMARY_OPERATION],
            [{"LOWER": {"IN": ["specimen", "procedure"]}}, {"ORTH": ":"}, _filler(2),
             PRIMARY_OPERATION],
            [{"LOWER": "primary"}, {"ORTH": "("}, {"IS_ALPHA": True, "LOWER": {"NOT_IN": NEGATION_WORDS}, "OP": "{1,3}"}, {"ORTH": ")"},
             {"LOWER": {"IN": ["was", "is"]}, "OP": "?"}, {"LOWER": {"IN": ["resected", "excised", "removed"]}}],
            [{"LOWER": "primary"}, {"LOWER": {"IN": ["tumour", "tumor"]}, "OP": "?"}, {"LOWER": {"IN": ["was", "is"]}, "OP": "?"},
             {"LOWER": {"IN": ["resected", "excised", "removed"]}}],
            [{"LOWER": "resected"}, {"LOWER": "primary"}],
            # "after resection of the primary" — not "resection of the primary" alone, which is often a plan
            [{"LOWER": {"IN": ["after", "following", "since"]}}, {"LOWER": {"IN": ["resection", "excision"]}},
             {"LOWER": "of"}, {"LOWER": "the"}, {"LOWER": "primary"}]]),
        ("primary-status=in-situ", "primary in situ", [
            [{"LOWER": "primary"}, {"LOWER": {"IN": ["tumour", "tumor"]}, "OP": "?"},
             {"LOWER": {"IN": ["still", "is", "remains", "left"]}, "OP": "*"}, {"LOWER": "in"},
             {"LOWER": {"IN": ["situ", "place"]}}],
            [{"LOWER": {"IN": ["unresected", "intact"]}}, {"LOWER": "primary"}]]),
        ("primary-status=unknown-primary", "unknown primary", [
            [{"LOWER": {"IN": ["unknown", "occult"]}}, {"LOWER": "primary"}], [{"TEXT": "CUP"}],
            [{"LOWER": "primary"}, _filler(2), {"LOWER": "not"},
             {"LOWER": {"IN": ["identified", "found", "located"]}}],
            [{"LOWER": {"IN": ["did", "could", "does"]}}, {"LOWER": "not"}, {"LOWER": {"IN": ["locate", "identify", "find"]}},
             {"LOWER": "the"}, {"LOWER": "primary"}]]),
        ("resection-extent=major", "major hepatectomy", [
            [{"LOWER": {"IN": ["extended", "right", "left", "major"]}}, {"LOWER": {"IN": ["right", "left"]}, "OP": "?"},
             {"LOWER": {"IN": ["hepatectomy", "hemihepatectomy", "trisectionectomy", "trisegmentectomy"]}}],
            [{"LOWER": {"IN": ["trisectionectomy", "trisegmentectomy"]}}]]),
        ("resection-extent=minor", "minor resection", [
            [{"LOWER": {"IN": ["segmentectomy", "bisegmentectomy", "metastasectomy", "wedge", "atypical",
                               "non-anatomical", "minor"]}},
             {"LOWER": {"IN": ["resection", "resections", "hepatectomy"]}, "OP": "?"}],
            [{"LOWER": "left"}, {"LOWER": "lateral"}, {"LOWER": {"IN": ["sectionectomy", "segmentectomy"]}}]]),
    ]
    for category, literal, patterns in coded:
        rules += [(literal, category, p) for p in patterns]
    return rules


def context_rules() -> list[tuple[str, str, str, Pattern | None]]:
    """(literal, category, direction, pattern) added to medspaCy's default ConText rules."""
    return [
        ("possibly", "POSSIBLE_EXISTENCE", "FORWARD", None),
        ("probably", "POSSIBLE_EXISTENCE", "FORWARD", None),
        ("suspicious for", "POSSIBLE_EXISTENCE", "FORWARD", None),
        ("may represent", "POSSIBLE_EXISTENCE", "FORWARD", None),
        ("indeterminate", "POSSIBLE_EXISTENCE", "BIDIRECTIONAL", None),
        ("equivocal", "POSSIBLE_EXISTENCE", "BIDIRECTIONAL", None),
        ("cannot be excluded", "POSSIBLE_EXISTENCE", "BACKWARD", None),
        ("can not be excluded", "POSSIBLE_EXISTENCE", "BACKWARD", None),
        ("cannot be ruled out", "POSSIBLE_EXISTENCE", "BACKWARD", None),
        ("not excluded", "POSSIBLE_EXISTENCE", "BACKWARD", None),
        ("is not identified", "NEGATED_EXISTENCE", "BACKWARD", None),
        ("are not identified", "NEGATED_EXISTENCE", "BACKWARD", None),
        ("not seen", "NEGATED_EXISTENCE", "BACKWARD", None),
        ("is not seen", "NEGATED_EXISTENCE", "BACKWARD", None),
        ("are not seen", "NEGATED_EXISTENCE", "BACKWARD", None),
        ("was not seen", "NEGATED_EXISTENCE", "BACKWARD", None),
        ("absent", "NEGATED_EXISTENCE", "FORWARD", None),
        ("suggests", "POSSIBLE_EXISTENCE", "FORWARD", None),
        ("raises the possibility of", "POSSIBLE_EXISTENCE", "FORWARD", None),
        ("is absent", "NEGATED_EXISTENCE", "BACKWARD", None),
        ("are absent", "NEGATED_EXISTENCE", "BACKWARD", None),
        ("is not achievable", "NEGATED_EXISTENCE", "BACKWARD", None),
        ("is not feasible", "NEGATED_EXISTENCE", "BACKWARD", None),
        ("prior", "HISTORICAL", "FORWARD", None),
        ("previous", "HISTORICAL", "FORWARD", None),
        ("previously", "HISTORICAL", "FORWARD", None),
        ("comparison", "HISTORICAL", "FORWARD", None),
        ("which showed", "HISTORICAL", "FORWARD", None),
        ("at diagnosis", "HISTORICAL", "BIDIRECTIONAL", None),
        ("if", "HYPOTHETICAL", "FORWARD", None),
        ("should", "HYPOTHETICAL", "FORWARD", None),
        ("consider", "HYPOTHETICAL", "FORWARD", None),
        ("in case", "HYPOTHETICAL", "FORWARD", None),
        ("unless", "HYPOTHETICAL", "FORWARD", None),
        ("would", "HYPOTHETICAL", "FORWARD", None),
        *((word, CLAUSE_END, "TERMINATE", None) for word in _TERMINATORS),
    ]


# Words that end a clause: every ConText modifier (medspaCy's defaults included) stops at them.
CLAUSE_END = "CLAUSE_END"
_TERMINATORS = ("given", "because", "due to", "however", "although", "whereas", ";", "which are", "which is")
