"""Evaluation metrics, written out so each can be checked against a hand computation.

Ranking metrics take, per query, the ranked list of gains (0 for a non-relevant result; a relevant
gold item counts only the first time it is retrieved) and the gold grades.

>>> ndcg_at_k([1, 0, 1], [1, 1], 10)   # relevant at ranks 1 and 3, two gold items
0.9197207891481876
>>> mrr_at_k([0, 0, 1], 10)
0.3333333333333333
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def dcg(gains: Sequence[float], k: int) -> float:
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains[:k]) if g)


def ndcg_at_k(gains: Sequence[float], gold_grades: Sequence[float], k: int) -> float:
    """Normalised DCG with linear gains; 0 when there is no relevant gold item."""
    ideal = dcg(sorted(gold_grades, reverse=True), k)
    return dcg(gains, k) / ideal if ideal > 0 else 0.0


def recall_at_k(hits_at_rank: Sequence[int], n_gold: int, k: int) -> float:
    """Share of gold items found in the top k. ``hits_at_rank[i]`` = gold items first found at rank i+1."""
    return sum(hits_at_rank[:k]) / n_gold if n_gold else 0.0


def mrr_at_k(gains: Sequence[float], k: int) -> float:
    for i, g in enumerate(gains[:k]):
        if g:
            return 1.0 / (i + 1)
    return 0.0


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else 0.0


def paired_bootstrap(old: dict[str, float], new: dict[str, float], *, resamples: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean of ``new - old`` over the queries both score, and its 95% interval from resampling queries.

    >>> paired_bootstrap({"a": 0.5, "b": 0.5}, {"a": 0.7, "b": 0.7})
    (0.2, 0.2, 0.2)
    """
    ids = sorted(old.keys() & new.keys())
    d = np.array([new[i] - old[i] for i in ids])
    rng = np.random.default_rng(seed)
    means = [d[rng.integers(0, len(d), len(d))].mean() for _ in range(resamples)]
    lo, hi = np.percentile(means, [2.5, 97.5])
    return round(float(d.mean()), 12), round(float(lo), 12), round(float(hi), 12)


def group_gap(a: Sequence[float], b: Sequence[float], *, resamples: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean of ``a`` minus mean of ``b`` for two groups of different queries (first turns against follow-ups, say),
    with its 95% interval from resampling each group on its own. A small group gives a wide interval: 18 first
    turns cannot show a 0.05 gap.

    >>> group_gap([0.8, 0.8], [0.6, 0.6])
    (0.2, 0.2, 0.2)
    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(x) == 0 or len(y) == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    diffs = [x[rng.integers(0, len(x), len(x))].mean() - y[rng.integers(0, len(y), len(y))].mean() for _ in range(resamples)]
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return round(float(x.mean() - y.mean()), 12), round(float(lo), 12), round(float(hi), 12)


def auroc(scores: Sequence[float], labels: Sequence[int]) -> float:
    """Probability that a random positive scores above a random negative (ties count half).

    Undefined with a single class: returns ``nan``.
    """
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=int)
    pos, neg = s[y == 1], s[y == 0]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))


def calibration_bins(confidences: Sequence[float], correct: Sequence[int], n_bins: int = 10) -> list[dict]:
    """Equal-width bins over [0, 1]: count, mean confidence and accuracy of each non-empty bin."""
    c = np.asarray(confidences, dtype=float)
    y = np.asarray(correct, dtype=float)
    # bin i holds (i/n, (i+1)/n]; a confidence of exactly 0 goes to the first bin
    idx = np.clip(np.ceil(c * n_bins).astype(int) - 1, 0, n_bins - 1)
    bins = []
    for i in range(n_bins):
        m = idx == i
        if m.any():
            bins.append({"low": i / n_bins, "high": (i + 1) / n_bins, "count": int(m.sum()),
                         "confidence": float(c[m].mean()), "accuracy": float(y[m].mean())})
    return bins


def ece(confidences: Sequence[float], correct: Sequence[int], n_bins: int = 10) -> float:
    """Expected calibration error: the count-weighted gap between confidence and accuracy."""
    n = len(confidences)
    if n == 0:
        return 0.0
    return float(sum(b["count"] / n * abs(b["accuracy"] - b["confidence"]) for b in calibration_bins(confidences, correct, n_bins)))


def classification_report(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str] | None = None) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and a confusion matrix.

    Precision of a class never predicted is 0 (and so is its F1); macro-F1 averages over ``labels``
    (default: every label seen in gold or predicted).
    """
    labels = list(labels) if labels is not None else sorted(set(gold) | set(predicted))
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=int)  # rows: gold, columns: predicted
    for g, p in zip(gold, predicted):
        matrix[index[g], index[p]] += 1
    per_class = {}
    for i, label in enumerate(labels):
        tp = matrix[i, i]
        predicted_n, gold_n = matrix[:, i].sum(), matrix[i, :].sum()
        precision = tp / predicted_n if predicted_n else 0.0
        recall = tp / gold_n if gold_n else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {"precision": float(precision), "recall": float(recall), "f1": float(f1), "support": int(gold_n)}
    total = int(matrix.sum())
    return {
        "accuracy": float(np.trace(matrix) / total) if total else 0.0,
        "macro_f1": float(np.mean([v["f1"] for v in per_class.values()])) if per_class else 0.0,
        "per_class": per_class,
        "labels": labels,
        "confusion_matrix": matrix.tolist(),
    }
