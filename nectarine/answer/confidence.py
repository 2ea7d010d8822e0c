"""Confidence: retrieval evidence and answer support, combined by a logistic model fitted on dev.

The features are the ones a careful reader would look at: how close the best passage is, how far
ahead of the next it is, whether the dense and lexical searches agree, whether every important word
of the question appears somewhere in the passages, whether the passages are for the user's version,
and how much of the answer the verifier could support. ``scripts/calibrate_confidence.py`` fits the
weights and the handoff threshold on the eval dev split and writes ``confidence.json``.

>>> question = "how long before an idle session ends?"
>>> results = nec.search(question, k=6)
>>> features = evidence_features(question, results, "Up to Nectain 4.2 an idle session ends after 30 minutes [1].", 1.0,
...                              unit_top=0.9)  # the offline answerer's best unit score
>>> model = ConfidenceModel.load()
>>> model.predict(features) >= model.threshold     # confident enough to answer without recommending support
True
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from ..index.lexical import lexical_tokens
from ..types import SearchResult
from .scorer import STOP_WORDS as _STOP

MODEL_FILE = Path(__file__).with_name("confidence.json")
FEATURES = ("top_dense", "margin", "lexical_top", "agreement", "version_ok", "supported_rate", "coverage",
            "missing_salient", "answer_words", "empty", "unit_top", "best_passage_coverage", "unit_coverage", "rare_missing",
            "gate_cosine", "gate_weight")


@dataclass
class Evidence:
    top_dense: float = 0.0
    margin: float = 0.0
    lexical_top: float = 0.0
    agreement: float = 0.0
    version_ok: float = 1.0
    supported_rate: float = 0.0
    coverage: float = 0.0
    missing_salient: float = 0.0
    answer_words: float = 0.0
    empty: float = 1.0
    unit_top: float = 0.0  # the unit scorer's best probability: does one sentence or step answer it?
    best_passage_coverage: float = 0.0  # the most of the question's key words one passage holds (IDF-weighted)
    unit_coverage: float = 0.0  # the most of the question one unit and its headings hold (the unit scorer's coverage)
    rare_missing: float = 0.0  # share of the question's rarest words (IDF within 60% of the top) absent from the top 3 passages
    gate_cosine: float = 1.0  # a follow-up: the question alone's best cosine to any passage (1.0 without history)
    gate_weight: float = 0.0  # a follow-up: how much of the last exchange joined the query (retrieve/history.py)
    missing_terms: tuple[str, ...] = ()  # key words of the question (as written) that no passage contains
    searched: tuple[str, ...] = ()  # the question's key words as written, rarest first (for a decline)

    def vector(self) -> list[float]:
        return [float(getattr(self, f)) for f in FEATURES]


def key_words(question: str) -> dict[str, str]:
    """Stemmed token -> the word as the user wrote it, for the words that carry meaning (no stop words, no markers)."""
    surface: dict[str, str] = {}
    for word in question.replace("?", " ").split():
        bare = word.strip(".,;:!()[]{}\"'`*")
        if not bare or bare.lower() in _STOP or (len(bare) < 3 and not bare.isdigit()):
            continue
        for tok in lexical_tokens(bare):
            surface.setdefault(tok, bare)
    return surface


def evidence_features(question: str, results: Sequence[SearchResult], answer_text: str, supported_rate: float,
                      idf: Callable[[Sequence[str]], dict[str, float]] | None = None, *, version: str | None = None,
                      unit_top: float = 0.0, unit_coverage: float = 0.0, gate: tuple[float, float] | None = None) -> Evidence:
    ev = Evidence(unit_top=float(unit_top), unit_coverage=float(unit_coverage))
    if gate is not None:
        ev.gate_cosine, ev.gate_weight = float(gate[0]), float(gate[1])
    surface = key_words(question)
    if surface:
        w = idf(sorted(surface)) if idf else {t: 1.0 for t in surface}
        ev.searched = tuple(dict.fromkeys(surface[t] for t in sorted(surface, key=lambda t: -w.get(t, 0.0))))[:4]
    if not results:
        return ev
    top = results[0]
    ev.top_dense = float(top.dense_score or 0.0)
    second = results[1].score if len(results) > 1 else 0.0
    ev.margin = (top.score - second) / top.score if top.score > 0 else 0.0
    ev.lexical_top = math.log1p(max(0.0, top.lexical_score or 0.0))
    head = results[:3]
    ev.agreement = sum(1 for r in head if r.dense_rank is not None and r.lexical_rank is not None and r.dense_rank < 10 and r.lexical_rank < 10) / len(head)
    ev.version_ok = 1.0 if (version is None or top.version_match) else 0.0
    ev.supported_rate = supported_rate
    words = answer_text.split()
    ev.answer_words = math.log1p(len(words))
    ev.empty = 0.0 if words else 1.0

    # Which question words do the passages contain? Weighted by IDF, so "Google Chat" matters and "how" does not.
    terms = sorted(surface)
    if terms:
        weights = idf(terms) if idf else {t: 1.0 for t in terms}
        present = set()
        for r in results[:5]:
            present |= set(lexical_tokens(r.chunk.embed_text))
        present |= _versions_covered(terms, results[:5])
        total = sum(weights.values()) or 1.0
        ev.coverage = sum(w for t, w in weights.items() if t in present) / total
        per_passage = [set(lexical_tokens(r.chunk.embed_text)) | _versions_covered(terms, [r]) for r in results[:5]]
        ev.best_passage_coverage = max(sum(w for t, w in weights.items() if t in toks) / total for toks in per_passage)
        top_rare = [t for t in terms if weights[t] >= 0.6 * max(weights.values())]
        head = set().union(*per_passage[:3])
        ev.rare_missing = sum(1 for t in top_rare if t not in head) / len(top_rare) if top_rare else 0.0
        heavy = max(weights.values())
        missing = [t for t in terms if t not in present and weights[t] >= 0.6 * heavy]
        ev.missing_salient = 1.0 if missing else 0.0
        ev.missing_terms = tuple(dict.fromkeys(surface[t] for t in missing))
    return ev


def _versions_covered(terms: Sequence[str], results: Sequence[SearchResult]) -> set[str]:
    """The question's version numbers that a passage's own version range covers: "on 4.4" is answered by a
    passage for ">=4.3" even though it never writes "4.4" (a passage for every version does not count)."""
    from ..versions import VersionSpec

    out = set()
    for t in terms:
        if not _VERSION_TERM.fullmatch(t):
            continue
        for r in results:
            spec = VersionSpec.parse(r.chunk.versions)
            if not spec.is_all and spec.matches(t):
                out.add(t)
                break
    return out


_VERSION_TERM = re.compile(r"v?\d{1,2}\.\d{1,3}(\.\d{1,3})?")


@dataclass
class ConfidenceModel:
    weights: list[float]
    bias: float
    threshold: float = 0.5  # below this, handoff is recommended
    decline_threshold: float = 0.0  # below this, the docs are taken not to cover the question: an honest decline
    out_of_scope_dense: float = 0.3  # best passage cosine below this, with little word overlap: out of scope
    out_of_scope_coverage: float = 0.35
    fitted_on: str = "hand-set defaults (run scripts/calibrate_confidence.py)"
    means: list[float] | None = None
    scales: list[float] | None = None
    # "Do the docs cover this question at all?": answerable against unanswerable dev questions, same features.
    covered_weights: list[float] | None = None
    covered_bias: float = 0.0
    features: list[str] | None = None  # the evidence features the confidence weights apply to (the first len(weights) when None)

    @classmethod
    def default(cls) -> ConfidenceModel:
        # Before calibration: a sensible hand-set model (dense similarity, coverage, support dominate).
        return cls(weights=[6.0, 1.0, 0.3, 0.5, 1.0, 2.0, 3.0, -1.0, 0.2, -3.0, 2.0], bias=-7.5)

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> ConfidenceModel:
        if path.exists():
            return cls(**json.loads(path.read_text()))
        return cls.default()

    def save(self, path: Path = MODEL_FILE) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    def predict(self, ev: Evidence) -> float:
        names = self.features or FEATURES[: len(self.weights)]  # a model fitted before a feature was added ignores it
        x = [float(getattr(ev, f)) for f in names]
        if self.means is not None and self.scales is not None:
            at = [FEATURES.index(f) for f in names]
            x = [(v - self.means[i]) / self.scales[i] if self.scales[i] else 0.0 for v, i in zip(x, at)]
        z = self.bias + sum(w * v for w, v in zip(self.weights, x))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def covered(self, ev: Evidence) -> float:
        """Probability that the docs cover the question (the confidence itself before a coverage model is fitted)."""
        if self.covered_weights is None:
            return self.predict(ev)
        x = ev.vector()[: len(self.covered_weights)]
        if self.means is not None and self.scales is not None:
            x = [(v - m) / s if s else 0.0 for v, m, s in zip(x, self.means, self.scales)]
        z = self.covered_bias + sum(w * v for w, v in zip(self.covered_weights, x))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def out_of_scope(self, ev: Evidence) -> bool:
        return ev.top_dense < self.out_of_scope_dense and ev.coverage < self.out_of_scope_coverage


def reasons(ev: Evidence, *, version: str | None, results: Sequence[SearchResult], sentences_total: int, sentences_supported: int,
            out_of_scope: bool) -> list[str]:
    """Why the confidence is what it is, in sentences a user can read (the numbers stay in ``Answer.evidence``)."""
    out: list[str] = []
    if out_of_scope:
        out.append("Nothing in Nectain's documentation is close to this question.")
    if ev.missing_terms:
        words = ", ".join(f'"{t}"' for t in ev.missing_terms[:3])
        near = _topics(results)
        out.append(f"The docs do not mention {words}" + (f"; the closest pages are about {near}." if near else "."))
    if version and results and not results[0].version_match:
        out.append(f"The best-matching page is for Nectain {results[0].chunk.versions}, and you are on {version}.")
    if sentences_total and sentences_supported < sentences_total:
        n = sentences_total - sentences_supported
        out.append(f"{n} of {sentences_total} sentences could not be checked against the docs and were left out.")
    if results and len(results) > 1 and ev.margin < 0.02 and results[0].chunk.doc_id != results[1].chunk.doc_id:
        out.append(f"Two pages match equally well: {results[0].chunk.title} and {results[1].chunk.title}.")
    if ev.empty:
        out.append("No passage of the docs answers the question.")
    if not out:
        out.append("The answer is quoted from pages that match the question closely." if ev.top_dense >= 0.5
                   else "The closest pages match the question only loosely.")
    return out


def _topics(results: Sequence[SearchResult]) -> str:
    titles = list(dict.fromkeys(r.chunk.title for r in results[:3] if r.chunk.title))[:2]
    return " and ".join(titles)
