"""An experiment kept for its figures (eval/README.md): ticket priority through scope and impact.

The ticket set labels each dev ticket's scope and impact, and those two decide its priority almost
everywhere (4 of 120 dev tickets disagree with their cell). This trains a scope model and an impact
model (logistic regression over the shipped classifier's features), reads the priority off the
dev table P(priority | scope, impact), and compares that ("factor") with the shipped direct model
("direct") and a 50/50 mix of the two ("mix"), by 5-fold cross-validation on dev with two seeds.
The variant with the best dev CV in each family is then scored once on test.

    .venv/bin/python scripts/priority_factorized.py   # about 10 minutes here
"""

from __future__ import annotations

import collections
import itertools
from pathlib import Path

import numpy as np
from rich.console import Console
from sklearn.linear_model import LogisticRegression

from nectarine.eval.metrics import classification_report
from nectarine.handoff.priority import LABELS, PAGE_EXAMPLES, PriorityClassifier, load_tickets

ROOT = Path(__file__).resolve().parent.parent
console = Console()
# Scope and impact of the page's own examples, in PAGE_EXAMPLES order.
PAGE_META = {
    "Highest": [("all-users", "outage"), ("n/a", "security"), ("all-users", "data-loss"), ("all-users", "outage"), ("all-users", "login-blocked")],
    "High": [("many-users", "feature-malfunction"), ("many-users", "slowness"), ("many-users", "disconnects-crashes"),
             ("one-user", "critical-task-blocked"), ("department-or-region", "outage")],
    "Normal": [("few-users", "feature-malfunction"), ("many-users", "slowness"), ("few-users", "notifications-delayed"),
               ("one-user", "minor-bug"), ("few-users", "disconnects-crashes")],
    "Low": [("n/a", "cosmetic"), ("n/a", "cosmetic"), ("n/a", "enhancement-request"), ("one-user", "minor-bug"), ("n/a", "documentation")],
}
PAGE = [(e, p, *PAGE_META[p][i]) for p, exs in PAGE_EXAMPLES.items() for i, e in enumerate(exs)]


def rows(tickets: list[dict]) -> list[tuple[str, str, str, str]]:
    """(text, priority, scope, impact); 'question' counts as 'documentation' (3 tickets)."""
    return [(t["text"], t["priority"], t["metadata"]["scope"], t["metadata"]["impact"].replace("question", "documentation")) for t in tickets]


def predict(clf: PriorityClassifier, train: list[tuple], texts: list[str], C: float, mode: str) -> list[str]:
    tr = train + PAGE
    X, Xt = clf.features([r[0] for r in tr]), clf.features(texts)
    direct = LogisticRegression(C=C, max_iter=5000).fit(X, [r[1] for r in tr])
    if mode == "direct":
        return list(direct.predict(Xt))
    impact = LogisticRegression(C=C, max_iter=5000).fit(X, [r[3] for r in tr])
    scope = LogisticRegression(C=C, max_iter=5000).fit(X, [r[2] for r in tr])
    cell = collections.defaultdict(lambda: np.full(4, 0.01))  # P(priority | scope, impact), backing off to impact alone
    by_impact = collections.defaultdict(lambda: np.full(4, 0.25))
    for r in tr:
        cell[(r[2], r[3])][LABELS.index(r[1])] += 1
        by_impact[r[3]][LABELS.index(r[1])] += 1
    Pi, Ps, Pd = impact.predict_proba(Xt), scope.predict_proba(Xt), direct.predict_proba(Xt)
    order = [list(direct.classes_).index(label) for label in LABELS]
    out = []
    for k in range(len(texts)):
        total = np.zeros(4)
        for a, i in enumerate(impact.classes_):
            for b, s in enumerate(scope.classes_):
                t = cell[(s, i)] if (s, i) in cell else by_impact[i]
                total += Pi[k, a] * Ps[k, b] * t / t.sum()
        if mode == "mix":
            total = 0.5 * total + 0.5 * Pd[k][order]
        out.append(LABELS[int(np.argmax(total))])
    return out


def cv(clf, data, C, mode, folds=5, seed=0) -> float:
    idx = np.random.default_rng(seed).permutation(len(data))
    scores = []
    for f in range(folds):
        held = set(idx[f::folds].tolist())
        train, test = [d for i, d in enumerate(data) if i not in held], [data[i] for i in sorted(held)]
        pred = predict(clf, train, [r[0] for r in test], C, mode)
        scores.append(classification_report([r[1] for r in test], pred, labels=LABELS)["macro_f1"])
    return float(np.mean(scores))


def main() -> None:
    dev, test = rows(load_tickets(ROOT / "eval/tickets/dev.jsonl")), rows(load_tickets(ROOT / "eval/tickets/test.jsonl"))
    clf = PriorityClassifier(use_rules=False)
    best: dict[str, tuple] = {}
    for mode, C, weight in itertools.product(("direct", "factor", "mix"), (0.5, 2.0, 8.0), (0.0, 1.0, 2.0)):
        clf.signal_weight = weight
        score = float(np.mean([cv(clf, dev, C, mode, seed=seed) for seed in (0, 1)]))
        console.print(f"{mode} C={C} signal_weight={weight}: dev CV macro-F1 {score:.3f}")
        if mode not in best or score > best[mode][0]:
            best[mode] = (score, C, weight)
    for mode, (score, C, weight) in best.items():
        clf.signal_weight = weight
        pred = predict(clf, dev, [r[0] for r in test], C, mode)
        f1 = classification_report([r[1] for r in test], pred, labels=LABELS)["macro_f1"]
        console.print(f"[bold]{mode}[/] (C={C}, signal_weight={weight}): dev CV {score:.3f}, test macro-F1 {f1:.3f}")


if __name__ == "__main__":
    main()
