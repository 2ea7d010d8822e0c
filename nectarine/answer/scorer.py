"""How likely each unit of the retrieved passages is to carry what the user asked: a learned score.

The offline answerer quotes units (sentences, list items, table rows, code blocks). Which ones?
A logistic model over what a reader would weigh, fitted on the ``dev`` questions' nugget labels
(a unit is positive when it carries a vital nugget of its question) by
``scripts/train_unit_scorer.py``, which writes ``unit_scorer.json`` and prints what it learned.

The features are cheap, computed for the top passages at answer time from what retrieval already
has: how much of the question the unit, its headings and its passage cover (terms weighted by IDF),
how many of the question's rare terms it holds, the passage's rank and scores, the unit's type and
position, the source type, whether it is a page intro or a lead-in, whether it states a number or
the error code the question pasted, and the question kind crossed with the unit type (a how-to
question and a numbered step; a setting question and a number; an error and its code).

>>> question = "how long before an idle session ends?"
>>> passages = nec.search(question, k=4)
>>> scored = score_units(question, passages, idf=nec.reader.lexical.idf)
>>> best = max(scored, key=lambda c: c.p)
>>> "minutes" in best.unit.text
True
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..index.lexical import lexical_tokens
from ..types import SearchResult, SourceType
from .kinds import QuestionKind, question_kind
from .units import Unit, looks_like_injection, passage_units

MODEL_FILE = Path(__file__).with_name("unit_scorer.json")

# Words that say nothing about what the user needs (after stemming), beyond BM25's stop words.
GENERIC = {"nectain", "get", "work", "use", "need", "want", "pleas", "help", "thank", "thx", "hi", "hello", "ok", "know", "tell", "make",
           "anyon", "someth", "anyth", "way", "also", "still", "realli", "actual", "just", "now", "go", "got", "say", "see"}

FEATURES = (
    "coverage", "coverage_with_headings", "heading_coverage", "passage_coverage", "rare_terms", "inv_rank", "score_ratio",
    "dense", "sentence", "numbered_step", "bullet", "table_row", "code", "position", "first_unit", "docs", "blog",
    "release_notes", "support", "intro", "lead_in", "has_number", "code_match", "log_words",
    "howto_x_step", "setting_x_number", "trouble_x_code", "changes_x_release", "concept_x_first",
    "version_fit", "version_conflict", "imperative", "cause_or_fix", "duration_or_size", "previous_coverage", "bigrams",
)

def _english_stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    # sklearn's list also holds words that name things in a business app; those stay content words
    content = {"system", "fire", "call", "bill", "find", "show", "empty", "move", "full", "detail", "amount", "top", "bottom", "back",
               "front", "first", "last", "next", "part", "side", "computer", "describe", "found", "fill", "name", "interest", "several",
               "twelve", "fifteen", "twenty", "sixty", "hundred", "less", "more", "most", "least", "none", "cannot", "not", "no", "off", "on"}
    return (frozenset(ENGLISH_STOP_WORDS) - content) | {"nectain", "got", "get", "gets", "getting", "does", "did", "doing", "pls", "please",
                                            "thanks", "thx", "hi", "hello", "ok", "okay", "im", "ive", "dont", "cant", "wont",
                                            "want", "need", "know", "tell", "make", "use", "using", "way", "like", "just", "really",
                                            "mean", "means", "meaning", "happen", "happens", "happened", "exactly", "possible",
                                            "thing", "things", "stuff", "anything", "something", "anyone", "somebody", "guys",
                                            "long", "often"}  # "how long", "how often": the question word, not the topic


STOP_WORDS = _english_stop_words()  # question words that never carry the topic ("what", "my", "mean")
_STOP_STEMS = frozenset(t for w in STOP_WORDS for t in lexical_tokens(w))


_INTRO = re.compile(r"^\W*(this (page|article|guide|section|post|document)|in this (page|article|guide|post|section)|here('s| is) (how|what)|"
                    r"read on|let's|let us|we('re| are) (excited|happy|pleased|proud)|today,? we|welcome to|in short,|"
                    r"(the|this) (section|page)s? (below|that follow))\b", re.I)
_CODE = re.compile(r"\b[A-Z]{2,}-\d{3,5}\b|\b[A-Z]{3,}_[A-Z_]+\b")
_IMPERATIVE = re.compile(r"^\W*(?:\d{1,3}[.)]\s*)?(?:open|go to|click|select|choose|set|enter|paste|add|turn|enable|disable|sign in|"
                         r"type|upload|download|copy|save|create|run|use|check|ask|contact|wait|restart|remove|delete)\b", re.I)
_CAUSE_FIX = re.compile(r"\b(because|caused by|cause|means|happens when|fix|fixed in|resolved|workaround|to solve|instead|make sure|"
                        r"try again|until)\b", re.I)
_QUANTITY = re.compile(r"\b\d[\d,.]*\s*(?:%|ms|s|seconds?|minutes?|hours?|days?|weeks?|months?|years?|kb|mb|gb|tb|rows?|records?|"
                       r"requests?|users?|fields?|steps?|characters?|attempts?|times|px)\b", re.I)
_NUMBER = re.compile(r"\d")


def is_intro(text: str) -> bool:
    """A page intro or blog narrative sentence ("This page explains ...", "Today we're excited ...")."""
    return bool(_INTRO.search(text))


@dataclass
class Scored:
    unit: Unit
    result: SearchResult
    features: list[float]
    tokens: frozenset[str]
    p: float = 0.0


@dataclass
class Question:
    """What the scorer needs to know about a question, computed once."""

    text: str
    kind: QuestionKind
    weights: dict[str, float]
    rare: frozenset[str]
    codes: frozenset[str]
    version: str | None = None  # the user's Nectain version, when known

    @classmethod
    def of(cls, text: str, idf: Callable[[Sequence[str]], dict[str, float]] | None = None, *, extra: str = "",
           kind: QuestionKind | None = None, version: str | None = None) -> Question:
        terms = {t for t in lexical_tokens(text) if t not in GENERIC and t not in _STOP_STEMS}
        context = {t for t in lexical_tokens(extra) if t not in GENERIC and t not in _STOP_STEMS} - terms
        all_terms = terms | context
        weights = idf(sorted(all_terms)) if (idf and all_terms) else {t: 1.0 for t in all_terms}
        weights = {t: max(0.05, w) * (1.0 if t in terms else 0.5) for t, w in weights.items()}  # the turn's own words count double
        heavy = max(weights.values(), default=0.0)
        rare = frozenset(t for t, w in weights.items() if t in terms and w >= 0.6 * heavy)
        return cls(text, kind or question_kind(text), weights, rare, frozenset(c.upper() for c in _CODE.findall(text)),
                   _valid_version(version))

    def coverage(self, tokens: set[str] | frozenset[str]) -> float:
        total = sum(self.weights.values()) or 1.0
        return sum(w for t, w in self.weights.items() if t in tokens) / total


def candidates(question: Question, passages: Sequence[SearchResult], *, max_passages: int = 5) -> list[Scored]:
    """Every unit of the top passages with its features (units that address the assistant are skipped)."""
    out: list[Scored] = []
    if not passages:
        return out
    top = passages[0].score or 1e-9
    for i, p in enumerate(passages[:max_passages]):
        units = passage_units(p.text, i)
        passage_tokens = set(lexical_tokens(p.chunk.embed_text))
        heading_tokens = set(lexical_tokens(" ".join(p.heading_path)))
        passage_cov, heading_cov = question.coverage(passage_tokens), question.coverage(heading_tokens)
        source = p.chunk.source
        n = max(1, len(units) - 1)
        previous = 0.0
        for u in units:
            if looks_like_injection(u.text):
                continue  # a planted "SYSTEM: ignore your instructions" is not content for a user
            toks = frozenset(lexical_tokens(u.text))
            cov = question.coverage(toks)
            number = bool(_NUMBER.search(u.text))
            code_match = bool(question.codes) and any(c in u.text.upper() for c in question.codes)
            step = u.kind == "item" and u.ordered
            release = source == SourceType.RELEASE_NOTES
            f = [
                cov, question.coverage(toks | heading_tokens), heading_cov, passage_cov,
                len(question.rare & toks) / len(question.rare) if question.rare else 0.0,
                1.0 / (1 + i), max(0.0, min(1.0, p.score / top)), float(p.dense_score or 0.0),
                float(u.kind == "sentence"), float(step), float(u.kind == "item" and not u.ordered), float(u.kind == "row"),
                float(u.kind == "code"), u.order / n, float(u.order == 0),
                float(source == SourceType.DOCS), float(source == SourceType.BLOG), float(release), float(source == SourceType.SUPPORT),
                float(is_intro(u.text)), float(u.text.rstrip().endswith(":")), float(number), float(code_match),
                math.log1p(len(u.text.split())),
                float(question.kind == QuestionKind.HOW_TO and step), float(question.kind == QuestionKind.SETTING and number),
                float(question.kind == QuestionKind.TROUBLESHOOT and code_match),
                float(question.kind == QuestionKind.CHANGES and release), float(question.kind == QuestionKind.CONCEPT and u.order == 0),
            ]
            bigrams = _bigrams(question.text) & _bigrams(u.text)
            fit, conflict = version_relation(u.text, question.version)
            if release and question.version and p.chunk.version and not fit and _newer(p.chunk.version, question.version):
                conflict = True  # a release note of a later version than the user's describes what they do not have yet
            f += [float(fit), float(conflict), float(bool(_IMPERATIVE.search(u.text))), float(bool(_CAUSE_FIX.search(u.text))),
                  float(bool(_QUANTITY.search(u.text))), previous, min(3.0, float(len(bigrams)))]
            previous = cov
            out.append(Scored(u, p, f, toks))
    return out


_V = r"(?:nectain\s+)?v?(\d{1,2}\.\d{1,2}(?:\.\d{1,3})?)"
_RANGES = [
    (re.compile(r"\b(?:from|since|starting with|as of)\s+" + _V, re.I), "from"),
    (re.compile(_V + r"\s+(?:and|or)\s+(?:later|newer|above)", re.I), "from"),
    (re.compile(r"\b(?:up to|until|through)\s+(?:and including\s+)?" + _V, re.I), "upto"),
    (re.compile(_V + r"\s+(?:and|or)\s+(?:earlier|older|below)", re.I), "upto"),
    (re.compile(r"\bbefore\s+" + _V, re.I), "before"),
    (re.compile(r"\b(?:in|on)\s+" + _V + r"(?!\s+(?:and|or)\s)", re.I), "in"),
]


def _bigrams(text: str) -> set[tuple[str, str]]:
    toks = [t for t in lexical_tokens(text) if t not in _STOP_STEMS]
    return set(zip(toks, toks[1:]))


def _newer(release: str, version: str) -> bool:
    from ..versions import Version

    try:
        return Version.parse(release).floor >= Version.parse(version).ceiling
    except ValueError:
        return False


def _valid_version(version: str | None):
    from ..versions import Version

    try:
        return str(Version.parse(version)) if version else None
    except ValueError:
        return None


def version_relation(text: str, version: str | None) -> tuple[bool, bool]:
    """Does ``text`` state a version range that holds the user's version (fit), or only ranges that do not (conflict)?

    >>> version_relation("Up to Nectain 4.2 an idle session ends after 30 minutes.", "4.2")
    (True, False)
    >>> version_relation("From Nectain 4.3 the idle timeout defaults to 60 minutes.", "4.2")
    (False, True)
    """
    if not version:
        return False, False
    from ..versions import Version

    mine = Version.parse(version).floor
    verdicts = []
    for pattern, how in _RANGES:
        for m in pattern.finditer(text):
            v = Version.parse(m.group(1))
            if how == "from":
                verdicts.append(mine >= v.floor)
            elif how == "upto":
                verdicts.append(mine < v.ceiling)
            elif how == "before":
                verdicts.append(mine < v.floor)
            else:
                verdicts.append(v.floor <= mine < v.ceiling)
    return any(verdicts), bool(verdicts) and not any(verdicts)


@dataclass
class UnitScorer:
    weights: list[float]
    bias: float
    means: list[float] = field(default_factory=list)
    scales: list[float] = field(default_factory=list)
    features: list[str] = field(default_factory=lambda: list(FEATURES))
    fitted_on: str = "hand-set defaults (run scripts/train_unit_scorer.py)"

    @classmethod
    def default(cls) -> UnitScorer:
        """Before training: coverage of the question, its rare terms and the passage's rank, as the old hand-tuned rule."""
        w = {"coverage": 6.0, "coverage_with_headings": 2.0, "rare_terms": 2.0, "inv_rank": 1.5, "score_ratio": 1.0, "intro": -3.0,
             "lead_in": -0.5, "howto_x_step": 1.5, "setting_x_number": 1.0, "trouble_x_code": 1.5}
        return cls([w.get(f, 0.0) for f in FEATURES], -5.0)

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> UnitScorer:
        if path.exists():
            model = cls(**json.loads(path.read_text()))
            if tuple(model.features) == FEATURES:
                return model
        return cls.default()

    def save(self, path: Path = MODEL_FILE) -> None:
        path.write_text(json.dumps(asdict(self), indent=1) + "\n")

    def predict(self, x: Sequence[float]) -> float:
        if self.means:
            x = [(v - m) / s if s else 0.0 for v, m, s in zip(x, self.means, self.scales)]
        z = self.bias + sum(w * v for w, v in zip(self.weights, x))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


_DEFAULT: UnitScorer | None = None


def default_scorer() -> UnitScorer:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = UnitScorer.load()
    return _DEFAULT


def score_units(question: str | Question, passages: Sequence[SearchResult], *, idf=None, scorer: UnitScorer | None = None,
                max_passages: int = 5, version: str | None = None) -> list[Scored]:
    """The candidate units of ``passages`` with their probability of carrying what ``question`` asks."""
    q = question if isinstance(question, Question) else Question.of(question, idf, version=version)
    scorer = scorer or default_scorer()
    out = candidates(q, passages, max_passages=max_passages)
    for c in out:
        c.p = scorer.predict(c.features)
    return out
