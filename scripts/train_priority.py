"""Train the ticket priority classifier on the page's examples and the DEV tickets; report TEST.

Model choices (regularisation C, the weight of the signal features, rules on or off) are made by
5-fold cross-validation on dev. Writes nectarine/handoff/priority_model.npz.

    .venv/bin/python scripts/train_priority.py
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
from rich.console import Console

from nectarine.eval.metrics import classification_report
from nectarine.eval.priority import evaluate_priority
from nectarine.eval.tables import priority_tables
from nectarine.handoff.priority import LABELS, PriorityClassifier, load_tickets

ROOT = Path(__file__).resolve().parent.parent
console = Console()


def cv_score(texts, labels, C, weight, rules, folds=5, seed=0):
    idx = np.random.default_rng(seed).permutation(len(texts))
    scores = []
    for k in range(folds):
        test_idx = set(idx[k::folds].tolist())
        tr = [i for i in range(len(texts)) if i not in test_idx]
        te = sorted(test_idx)
        clf = PriorityClassifier(signal_weight=weight, use_rules=rules).fit([texts[i] for i in tr], [labels[i] for i in tr], C=C)
        pred = [v.priority for v in clf.classify_many([texts[i] for i in te])]
        scores.append(classification_report([labels[i] for i in te], pred, labels=LABELS)["macro_f1"])
    return float(np.mean(scores))


def main() -> None:
    dev = load_tickets(ROOT / "eval" / "tickets" / "dev.jsonl")
    test = load_tickets(ROOT / "eval" / "tickets" / "test.jsonl")
    texts, labels = [t["text"] for t in dev], [t["priority"] for t in dev]
    best = None
    for C, weight, rules in itertools.product((0.5, 1.0, 2.0, 4.0), (0.0, 1.0, 2.0, 4.0), (False, True)):
        score = cv_score(texts, labels, C, weight, rules)
        console.print(f"C={C} signal_weight={weight} rules={rules}: dev CV macro-F1 {score:.3f}")
        if best is None or score > best[0]:
            best = (score, C, weight, rules)
    score, C, weight, rules = best
    console.print(f"[bold]chosen on dev: C={C}, signal_weight={weight}, rules={rules} (CV macro-F1 {score:.3f})[/]")
    PriorityClassifier(signal_weight=weight, use_rules=rules).fit(texts, labels, C=C).save()
    # The figures on test, printed the way `nectarine eval priority` prints them, then the errors.
    result = evaluate_priority(ROOT / "eval" / "tickets" / "test.jsonl")
    for table in priority_tables("test.jsonl", result):
        console.print(table)
    console.print("[bold]Errors on test:[/]")
    texts_by_id = {t["_id"]: t for t in test}
    for item in result["items"]:
        if item["gold"] != item["predicted"]:
            t = texts_by_id[item["id"]]
            console.print(f"- {item['id']} ({t['language']}) gold {item['gold']}, predicted {item['predicted']}: {t['text'][:140]!r}")


if __name__ == "__main__":
    main()
