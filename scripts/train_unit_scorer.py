"""Fit the offline answerer's unit scorer on the dev questions' nugget labels, and say what it learned.

    .venv/bin/python scripts/train_unit_scorer.py                       # eval/nectain dev (+ mtrag-govt dev if ../shared is there)
    .venv/bin/python scripts/train_unit_scorer.py --no-save             # report only

For every answerable dev question with nuggets, it asks the assistant as a user would, takes the
passages the answerer saw, and labels each of their units: positive when the unit alone carries a
vital nugget of the question (nectarine.eval.nuggets, the matcher checked against hand labels).
A logistic regression over the features of nectarine.answer.scorer is fitted on them; the
regularisation is chosen by cross-validation grouped by question, and the AUC of the hand-set
default and of the fitted model are printed side by side, with the weights. With ``--cosine`` it
also measures what a MiniLM question-unit cosine would add (it costs ~2 ms per unit at answer time).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nectarine.answer.scorer import FEATURES, MODEL_FILE, UnitScorer  # noqa: E402
from nectarine.assistant import Nectarine  # noqa: E402
from nectarine.eval.datasets import load_dataset  # noqa: E402
from nectarine.eval.nuggets import NuggetMatcher, load_nuggets, nuggets_of  # noqa: E402
from nectarine.types import AskContext  # noqa: E402

console = Console()


def rows_for(dataset_dir: Path, index: Path, split: str, side: Path | None, *, cosine: bool):
    ds = load_dataset(dataset_dir)
    nec = Nectarine.load(index)
    extra = load_nuggets(side) if side else None
    matcher = NuggetMatcher(embedder=nec.embedder, idf=nec.reader.lexical.idf)
    X, y, groups, cos = [], [], [], []
    for q in ds.queries_for(split):
        nuggets = nuggets_of({"nuggets": extra[q.id]} if extra and q.id in extra else q.metadata)
        vital = [n for n in nuggets if n.vital]
        if not q.answerable or not vital:
            continue
        answer = nec.ask(q.text, history=q.history or None, context=AskContext(version=q.metadata.get("context_version")))
        _, scored = nec.offline.analyse(q.text, answer.results, q.history or [])
        if not scored:
            continue
        qv = nec.embedder.encode([q.text])[0] if cosine else None
        uv = nec.embedder.encode([c.unit.text for c in scored]) if cosine else None
        for j, c in enumerate(scored):
            X.append(c.features)
            y.append(int(any(matcher.match([c.unit.text], n.text).found for n in vital)))
            groups.append(f"{ds.name}:{q.id}")
            cos.append(float(qv @ uv[j]) if cosine else 0.0)
    return np.array(X, dtype=float), np.array(y), np.array(groups), np.array(cos)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", default="dev")
    ap.add_argument("--no-save", action="store_true")
    ap.add_argument("--cosine", action="store_true", help="also measure a MiniLM question-unit cosine feature")
    ap.add_argument("--nectain-only", action="store_true", help="leave mtrag-govt out of the training data")
    args = ap.parse_args()

    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold
    from sklearn.preprocessing import StandardScaler

    sets = [(ROOT / "eval/nectain", ROOT / "indexes/nectain", None)]
    mtrag = ROOT.parent / "shared/datasets/mtrag-govt"
    if not args.nectain_only and (mtrag / "queries.jsonl").exists():
        sets.append((mtrag, ROOT / "indexes/mtrag-govt", ROOT / f"eval/nuggets/mtrag-govt/{args.split}.jsonl"))
    parts = [rows_for(d, i, args.split, s, cosine=args.cosine) for d, i, s in sets]
    X = np.vstack([p[0] for p in parts]); y = np.concatenate([p[1] for p in parts])
    groups = np.concatenate([p[2] for p in parts]); cos = np.concatenate([p[3] for p in parts])
    source = np.array([g.split(":")[0] for g in groups])
    console.print(f"{len(y)} units from {len(set(groups))} questions; {y.sum()} carry a vital nugget ({y.mean():.1%})")

    default = UnitScorer.default()
    base = np.array([default.predict(x) for x in X])

    def cv_auc(features: np.ndarray, C: float) -> tuple[float, dict[str, float]]:
        pred = np.zeros(len(y))
        for tr, te in GroupKFold(n_splits=5).split(features, y, groups):
            sc = StandardScaler().fit(features[tr])
            m = LogisticRegression(C=C, max_iter=2000, class_weight="balanced").fit(sc.transform(features[tr]), y[tr])
            pred[te] = m.predict_proba(sc.transform(features[te]))[:, 1]
        per = {s: roc_auc_score(y[source == s], pred[source == s]) for s in sorted(set(source)) if len(set(y[source == s])) > 1}
        return roc_auc_score(y, pred), per

    table = Table(title=f"unit scorer, {args.split}: AUC for 'carries a vital nugget' (5-fold, grouped by question)", header_style="bold")
    for col in ("model", "AUC all", *sorted(set(source))):
        table.add_column(col, justify="right")
    table.add_row("hand-set default", f"{roc_auc_score(y, base):.3f}",
                  *[f"{roc_auc_score(y[source == s], base[source == s]):.3f}" for s in sorted(set(source))])
    best_C, best = 1.0, -1.0
    for C in (0.01, 0.1, 1.0, 10.0):
        auc, per = cv_auc(X, C)
        table.add_row(f"logistic C={C}", f"{auc:.3f}", *[f"{per.get(s, float('nan')):.3f}" for s in sorted(set(source))])
        if auc > best:
            best_C, best = C, auc
    from sklearn.ensemble import HistGradientBoostingClassifier

    pred = np.zeros(len(y))
    for tr, te in GroupKFold(n_splits=5).split(X, y, groups):
        gb = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, max_leaf_nodes=15, class_weight="balanced").fit(X[tr], y[tr])
        pred[te] = gb.predict_proba(X[te])[:, 1]
    table.add_row("gradient boosting (200 trees)", f"{roc_auc_score(y, pred):.3f}",
                  *[f"{roc_auc_score(y[source == s], pred[source == s]):.3f}" for s in sorted(set(source))])
    if args.cosine:
        auc, per = cv_auc(np.column_stack([X, cos]), best_C)
        table.add_row(f"logistic C={best_C} + MiniLM cosine", f"{auc:.3f}", *[f"{per.get(s, float('nan')):.3f}" for s in sorted(set(source))])
    console.print(table)

    sc = StandardScaler().fit(X)
    model = LogisticRegression(C=best_C, max_iter=2000, class_weight="balanced").fit(sc.transform(X), y)
    weights = Table(title=f"weights (standardised features), C={best_C}", header_style="bold")
    weights.add_column("feature"); weights.add_column("weight", justify="right")
    for f, w in sorted(zip(FEATURES, model.coef_[0]), key=lambda t: -abs(t[1])):
        weights.add_row(f, f"{w:+.3f}")
    console.print(weights)
    if not args.no_save:
        names = ", ".join(f"{d.name}/{args.split}" for d, _, _ in sets)
        UnitScorer(weights=[round(float(w), 5) for w in model.coef_[0]], bias=round(float(model.intercept_[0]), 5),
                   means=[round(float(m), 5) for m in sc.mean_], scales=[round(float(s), 5) for s in sc.scale_],
                   fitted_on=f"{names}: {len(y)} units of {len(set(groups))} questions, C={best_C}, class-balanced").save(MODEL_FILE)
        console.print(f"wrote {MODEL_FILE.relative_to(ROOT)}")
    print(json.dumps({"cv_auc": round(best, 4), "C": best_C}))


if __name__ == "__main__":
    main()
