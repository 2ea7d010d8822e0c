"""A learned reranker over what retrieval already computes: no second model, no second pass over the text.

The fused ranking's top candidates get a feature vector each (:data:`FEATURES`): the dense and lexical
scores and ranks, the question's own cosine beside the history-mixed one, how much of the question's
rarer terms the title, the heading path and the body cover, the section's position, source type, version
match and length, how many of the other candidates share its page, and the follow-up gate. A logistic
regression (``rerank.json``, fitted by ``scripts/train_reranker.py`` on both benchmarks' dev splits)
turns them into the probability that the passage answers the question, which becomes the result's score.

The same function computes the features at training and at serving time (:func:`features`), so the
two cannot drift apart.

>>> X = features(Pool(query="reset the SAML certificate", texts=["Rotate the SAML certificate in Security."],
...     titles=["SSO"], headings=[["SSO", "Certificates"]], doc_ids=["docs/sso"], positions=[2], n_tokens=[9],
...     sources=["docs"], fused=[0.8], cos=[0.7], cos_question=[0.7], lex=[1.0], dense_rank=[0], lex_rank=[0],
...     version_ok=[True]), idf=lambda toks: {t: 1.0 for t in toks})
>>> X.shape == (1, len(FEATURES)), round(float(X[0, FEATURES.index("body_coverage")]), 2)
(True, 0.67)
"""

from __future__ import annotations

import functools
import json
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..index.lexical import lexical_tokens

MODEL_PATH = Path(__file__).with_name("rerank.json")
SOURCES = ("docs", "blog", "release-notes", "support")  # SourceType values

FEATURES = (
    "fused_relative",  # fused score / the best fused score of the pool
    "fused_rank",  # log(1 + rank) in the fused order
    "cos",  # cosine to the (history-mixed) query vector
    "cos_gap",  # that cosine minus the pool's best
    "cos_question",  # cosine to the question alone
    "lex",  # BM25 / the pool's best BM25
    "dense_rank",  # log(1 + rank) on the dense side (the pool size when absent)
    "lex_rank",  # the same on the lexical side
    "both_sides",  # found by both searches
    "title_coverage",  # share of the question's term weight (idf) found in the page title
    "heading_coverage",  # ... in the heading path below the title
    "body_coverage",  # ... in the passage (its text and headings, as BM25 indexes it)
    "rare_missing",  # the question's rarest term is absent from title, headings and text
    "position",  # log(1 + the section's order within its page)
    "first_section",
    "log_tokens",
    "same_page",  # log(1 + other candidates from the same page)
    "page_best",  # the best fused score among the page's candidates / the pool's best
    "page_order",  # log(1 + candidates of the same page above this one in the fused order)
    "version_mismatch",
    *(f"source_{s.replace('-', '_')}" for s in SOURCES),
    "gate",  # the follow-up gate's weight of the last exchange (0 for a first turn)
    "gate_x_cos_question",  # a follow-up leans on the history: the question's own cosine matters less
)


@dataclass
class Pool:
    """The candidates of one query, in fused order, with what retrieval computed for them."""

    query: str
    texts: Sequence[str]
    titles: Sequence[str]
    headings: Sequence[Sequence[str]]
    doc_ids: Sequence[str]
    positions: Sequence[int]
    n_tokens: Sequence[int]
    sources: Sequence[str]
    fused: Sequence[float]
    cos: Sequence[float]
    cos_question: Sequence[float]
    lex: Sequence[float]  # BM25 over the pool's best (0..1)
    dense_rank: Sequence[int | None]
    lex_rank: Sequence[int | None]
    version_ok: Sequence[bool]
    gate: float = 0.0
    # Which candidates contain each question term (from the BM25 postings, which index the passage with its
    # headings); None: tokenise the texts instead (slower, same answer up to the headings).
    contains: Callable[[Sequence[str]], list[set[str]]] | None = None
    extra: dict = field(default_factory=dict)


def _coverage(weights: dict[str, float], tokens: set[str], total: float) -> float:
    return sum(w for t, w in weights.items() if t in tokens) / total if total > 0 else 0.0


def features(pool: Pool, idf: Callable[[Sequence[str]], dict[str, float]]) -> np.ndarray:
    """One row of :data:`FEATURES` per candidate."""
    n = len(pool.texts)
    X = np.zeros((n, len(FEATURES)), dtype=np.float32)
    if n == 0:
        return X
    terms = list(dict.fromkeys(lexical_tokens(pool.query)))
    weights = idf(terms) if terms else {}
    total = sum(weights.values())
    rarest = max(weights, key=weights.get) if weights else None
    fused = np.asarray(pool.fused, dtype=np.float64)
    top = max(float(fused.max()), 1e-9)
    cos = np.asarray(pool.cos, dtype=np.float64)
    best_cos = float(cos.max())
    per_page = Counter(pool.doc_ids)
    page_best: dict[str, float] = {}
    for d, f in zip(pool.doc_ids, fused):
        page_best[d] = max(page_best.get(d, -1e9), float(f))
    depth = math.log1p(n)
    above: Counter = Counter()
    col = {name: i for i, name in enumerate(FEATURES)}
    bodies = pool.contains(terms) if pool.contains is not None else [set(lexical_tokens(t)) for t in pool.texts]
    for i in range(n):
        title = set(_heading_tokens((pool.titles[i],)))
        heads = set(_heading_tokens(tuple(pool.headings[i][1:])))
        body = bodies[i]
        row = X[i]
        row[col["fused_relative"]] = fused[i] / top
        row[col["fused_rank"]] = math.log1p(i)
        row[col["cos"]] = cos[i]
        row[col["cos_gap"]] = cos[i] - best_cos
        row[col["cos_question"]] = pool.cos_question[i]
        row[col["lex"]] = pool.lex[i]
        dr, lr = pool.dense_rank[i], pool.lex_rank[i]
        row[col["dense_rank"]] = math.log1p(dr) if dr is not None else depth
        row[col["lex_rank"]] = math.log1p(lr) if lr is not None else depth
        row[col["both_sides"]] = float(dr is not None and lr is not None)
        row[col["title_coverage"]] = _coverage(weights, title, total)
        row[col["heading_coverage"]] = _coverage(weights, heads, total)
        row[col["body_coverage"]] = _coverage(weights, body, total)
        row[col["rare_missing"]] = float(rarest is not None and rarest not in (title | heads | body))
        row[col["position"]] = math.log1p(pool.positions[i])
        row[col["first_section"]] = float(pool.positions[i] == 0)
        row[col["log_tokens"]] = math.log1p(pool.n_tokens[i])
        row[col["same_page"]] = math.log1p(per_page[pool.doc_ids[i]] - 1)
        row[col["page_best"]] = page_best[pool.doc_ids[i]] / top
        row[col["page_order"]] = math.log1p(above[pool.doc_ids[i]])
        above[pool.doc_ids[i]] += 1
        row[col["version_mismatch"]] = float(not pool.version_ok[i])
        source = str(pool.sources[i])
        if source in SOURCES:
            row[col[f"source_{source.replace('-', '_')}"]] = 1.0
        row[col["gate"]] = pool.gate
        row[col["gate_x_cos_question"]] = pool.gate * pool.cos_question[i]
    return X


@functools.lru_cache(maxsize=4096)
def _heading_tokens(headings: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(lexical_tokens(" ".join(headings)))


class Reranker:
    """Logistic regression over standardised :data:`FEATURES`; ``score`` gives P(the passage is relevant)."""

    def __init__(self, mean: np.ndarray, scale: np.ndarray, coef: np.ndarray, intercept: float, meta: dict | None = None) -> None:
        self.mean, self.scale, self.coef, self.intercept = mean, scale, coef, intercept
        self.meta = meta or {}

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> Reranker:
        data = json.loads(Path(path).read_text())
        if tuple(data["features"]) != FEATURES:
            raise ValueError(f"{path} was fitted on other features; refit it with scripts/train_reranker.py")
        return cls(np.asarray(data["mean"]), np.asarray(data["scale"]), np.asarray(data["coef"]), float(data["intercept"]), data.get("meta"))

    def save(self, path: Path = MODEL_PATH) -> None:
        Path(path).write_text(json.dumps({
            "features": list(FEATURES), "mean": self.mean.round(6).tolist(), "scale": self.scale.round(6).tolist(),
            "coef": self.coef.round(6).tolist(), "intercept": round(self.intercept, 6), "meta": self.meta,
        }, indent=1) + "\n")

    def score(self, X: np.ndarray) -> np.ndarray:
        z = ((X - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-z))


@functools.lru_cache(maxsize=1)
def default_reranker() -> Reranker | None:
    """The shipped model, or None when it has not been fitted (retrieval then keeps the fused order)."""
    return Reranker.load() if MODEL_PATH.exists() else None
