"""Fit the learned reranker (nectarine/retrieve/rerank.py) on the DEV splits of both benchmarks.

For every dev query with gold sections, the fused top candidates are taken exactly as retrieval takes
them at serve time (HybridRetriever.candidate_pool), featurised by rerank.features, and labelled
relevant when one of the passage's section ids is gold. Models are compared by nDCG@10 of the reranked
pools under grouped cross-validation (folds by conversation, so a follow-up never trains on its own
conversation's other turns), per benchmark, against the fused order; the chosen one is refitted on all
of dev and written to nectarine/retrieve/rerank.json.

    .venv/bin/python scripts/train_reranker.py --dataset eval/nectain --index indexes/nectain \\
        --dataset ../shared/datasets/mtrag-govt --index indexes/mtrag-govt [--write]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import track
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nectarine import Nectarine  # noqa: E402
from nectarine.eval.datasets import load_dataset  # noqa: E402
from nectarine.eval.metrics import ndcg_at_k  # noqa: E402
from nectarine.retrieve.rerank import FEATURES, MODEL_PATH, Reranker, features  # noqa: E402
from nectarine.types import Filters  # noqa: E402


def collect(dataset_path: str, index: str, split: str):
    """(X, gains, groups, query keys, gold lists) for every query of ``split`` with gold ids."""
    ds = load_dataset(dataset_path)
    nec = Nectarine.load(index)
    nec.retriever.settings.rerank = False
    Xs, gains, qkeys, golds, groups = [], [], [], [], []
    queries = [q for q in ds.queries_for(split) if ds.gold(split, q.id)]
    for q in track(queries, description=f"{ds.name}/{split}: candidate pools"):
        gold = ds.gold(split, q.id)
        pool = nec.retriever.candidate_pool(q.text, filters=Filters(version=q.metadata.get("context_version")), history=q.history or None)
        if pool is None:
            continue
        X = features(pool, nec.reader.lexical.idf)
        chunk_gold = [sorted(set(c.section_ids) & gold.keys()) for c in pool.extra["chunks"]]
        Xs.append(X)
        gains.append(chunk_gold)
        golds.append(gold)
        qkeys.append(f"{ds.name}:{q.id}")
        groups.append(f"{ds.name}:{q.id.split('<::>')[0] if '<::>' in q.id else q.id}")
    return ds.name, Xs, gains, golds, qkeys, groups


def ndcg(order: np.ndarray, chunk_gold: list[list[str]], gold: dict[str, int]) -> float:
    """nDCG@10 of the pool in ``order``, each gold id counted once (as eval.retrieval.judge does)."""
    seen: set[str] = set()
    g = []
    for i in order:
        new = set(chunk_gold[i]) - seen
        seen |= new
        g.append(max((gold[m] for m in new), default=0))
    return ndcg_at_k(g, list(gold.values()), 10)


def fit_lr(X: np.ndarray, y: np.ndarray, w: np.ndarray, C: float) -> Reranker:
    from sklearn.linear_model import LogisticRegression

    mean, scale = X.mean(0), X.std(0)
    scale[scale < 1e-6] = 1.0
    lr = LogisticRegression(C=C, max_iter=2000)
    lr.fit((X - mean) / scale, y, sample_weight=w)
    return Reranker(mean, scale, lr.coef_[0], float(lr.intercept_[0]))


def fit_pairwise(X: np.ndarray, y: np.ndarray, w: np.ndarray, qid: np.ndarray, C: float) -> Reranker:
    """RankSVM-style: a logistic regression on the differences of (relevant, non-relevant) pairs of one query."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = X.mean(0), X.std(0)
    scale[scale < 1e-6] = 1.0
    Z = (X - mean) / scale
    diffs, weights = [], []
    for q in np.unique(qid):
        idx = np.flatnonzero(qid == q)
        idx = idx[w[idx] > 0]
        pos, neg = idx[y[idx] > 0], idx[y[idx] == 0]
        if len(pos) == 0 or len(neg) == 0:
            continue
        d = (Z[pos][:, None, :] - Z[neg][None, :, :]).reshape(-1, Z.shape[1])
        diffs.append(d)
        weights.append(np.full(len(d), 1.0 / len(d)))
    D, W = np.vstack(diffs), np.concatenate(weights)
    lr = LogisticRegression(C=C, max_iter=2000, fit_intercept=False)
    lr.fit(np.vstack([D, -D]), np.r_[np.ones(len(D)), np.zeros(len(D))], sample_weight=np.r_[W, W])
    return Reranker(mean, scale, lr.coef_[0], 0.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", action="append", required=True)
    ap.add_argument("--index", action="append", required=True)
    ap.add_argument("--split", default="dev")
    ap.add_argument("--C", type=float, nargs="+", default=[0.01, 0.1, 1.0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--gbm", action="store_true", help="also compare gradient boosting (sklearn HistGradientBoosting)")
    ap.add_argument("--write", action="store_true", help=f"write the chosen model to {MODEL_PATH}")
    args = ap.parse_args()
    if args.split == "test":
        raise SystemExit("fitting on the test split is not allowed: its figures are the ones reported")
    console = Console()
    data = [collect(d, i, args.split) for d, i in zip(args.dataset, args.index)]

    # One row per candidate; each query weighs the same, and each benchmark as much as the other.
    rows_X, rows_y, rows_w, rows_q = [], [], [], []
    per_query = []  # (dataset, group, first row, n, chunk_gold, gold)
    start = 0
    for name, Xs, gains, golds, qkeys, groups in data:
        for X, cg, gold, group in zip(Xs, gains, golds, groups):
            y = np.array([1.0 if c else 0.0 for c in cg])
            weight = np.full(len(y), 1.0 / (len(y) * len(Xs)))
            # A chunk that only repeats gold ids an earlier candidate already has earns nothing in nDCG:
            # it is left out of training rather than taught as relevant (or as irrelevant).
            seen: set[str] = set()
            for i, c in enumerate(cg):
                if c and set(c) <= seen:
                    weight[i] = 0.0
                seen |= set(c)
            rows_X.append(X)
            rows_y.append(y)
            rows_w.append(weight)
            per_query.append((name, group, start, len(y), cg, gold))
            start += len(y)
    X, y, w = np.vstack(rows_X), np.concatenate(rows_y), np.concatenate(rows_w)
    w = w / w.mean()
    console.print(f"{len(per_query)} queries, {len(y)} candidates, {int(y.sum())} relevant; {len(FEATURES)} features")

    from sklearn.model_selection import GroupKFold

    groups = np.array([g for _, g, _, n, _, _ in per_query])
    folds = list(GroupKFold(n_splits=args.folds).split(np.zeros(len(per_query)), groups=groups))
    row_of = [np.arange(s, s + n) for _, _, s, n, _, _ in per_query]
    qid = np.concatenate([np.full(n, i) for i, (_, _, _, n, _, _) in enumerate(per_query)])

    def cv(make, only: str | None = None) -> np.ndarray:
        out = base.copy()
        for train_q, test_q in folds:
            if only:
                train_q = [i for i in train_q if per_query[i][0] == only]
                test_q = [i for i in test_q if per_query[i][0] == only]
            tr = np.concatenate([row_of[i] for i in train_q])
            model = make(X[tr], y[tr], w[tr], qid[tr])
            for i in test_q:
                s = model(X[row_of[i]])
                _, _, _, _, cg, gold = per_query[i]
                out[i] = ndcg(np.argsort(-s, kind="stable"), cg, gold)
        return out

    names = sorted({p[0] for p in per_query})
    base = np.array([ndcg(np.arange(n), cg, gold) for _, _, _, n, cg, gold in per_query])
    results = {"fused order": base}
    for C in args.C:
        results[f"logistic C={C}"] = cv(lambda a, b, c, q, C=C: fit_lr(a, b, c, C).score)
        results[f"pairwise C={C}"] = cv(lambda a, b, c, q, C=C: fit_pairwise(a, b, c, q, C).score)
    for n in names:  # in-domain: trained on that benchmark alone (an upper bound on what the features carry)
        results[f"pairwise C=0.1, {n} only"] = cv(lambda a, b, c, q: fit_pairwise(a, b, c, q, 0.1).score, only=n)
    if args.gbm:
        from sklearn.ensemble import HistGradientBoostingClassifier

        def gbm(a, b, c, q):
            m = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=40)
            m.fit(a, b, sample_weight=c)
            return lambda Z: m.predict_proba(Z)[:, 1]

        results["gradient boosting"] = cv(gbm)

    rng = np.random.default_rng(0)
    table = Table(title=f"nDCG@10 of the reranked pool, {args.folds}-fold grouped CV on {args.split}", header_style="bold")
    table.add_column("model")
    for n in names:
        table.add_column(n, justify="right")
        table.add_column(f"Δ vs fused [95% CI]", justify="right")
    for model, scores in results.items():
        cells = []
        for n in names:
            idx = np.array([i for i, p in enumerate(per_query) if p[0] == n])
            d = scores[idx] - base[idx]
            boots = [d[rng.integers(0, len(d), len(d))].mean() for _ in range(2000)]
            lo, hi = np.percentile(boots, [2.5, 97.5])
            cells += [f"{scores[idx].mean():.3f}", f"{d.mean():+.3f} [{lo:+.3f}, {hi:+.3f}]"]
        table.add_row(model, *cells)
    console.print(table)

    # Pointwise only: its output is P(relevant), a score that means the same on every query (the confidence
    # model reads it); pairwise scores only order one query's candidates. On dev the two are within noise.
    lr_models = {m: s for m, s in results.items() if m.startswith("logistic")}
    best = max(lr_models, key=lambda m: min(lr_models[m][[i for i, p in enumerate(per_query) if p[0] == n]].mean() for n in names))
    C = float(best.split("=")[1])
    model = fit_lr(X, y, w, C)
    model.meta = {"C": C, "trained_on": [f"{n}/{args.split}" for n in names], "queries": len(per_query),
                  "cv_ndcg@10": {n: round(float(lr_models[best][[i for i, p in enumerate(per_query) if p[0] == n]].mean()), 4) for n in names}}
    coef = sorted(zip(FEATURES, model.coef), key=lambda t: -abs(t[1]))
    console.print(f"chosen: {best} (best worst-benchmark CV nDCG@10); weights: " + ", ".join(f"{f} {c:+.2f}" for f, c in coef[:10]))
    if args.write:
        model.save()
        console.print(f"wrote {MODEL_PATH}")


if __name__ == "__main__":
    main()
