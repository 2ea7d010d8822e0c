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
from rich.table import Table

from nectarine.eval.metrics import classification_report
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
    clf = PriorityClassifier(signal_weight=weight, use_rules=rules).fit(texts, labels, C=C)
    clf.save()
    pred = clf.classify_many([t["text"] for t in test])
    report = classification_report([t["priority"] for t in test], [v.priority for v in pred], labels=LABELS)
    table = Table(title=f"Test: accuracy {report['accuracy']:.3f}, macro-F1 {report['macro_f1']:.3f}", header_style="bold")
    for col in ("class", "precision", "recall", "F1", "support"):
        table.add_column(col, justify="right")
    for label in LABELS:
        m = report["per_class"][label]
        table.add_row(label, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}", str(m["support"]))
    console.print(table)
    cm = Table(title="Confusion matrix (rows: gold, columns: predicted)", header_style="bold")
    cm.add_column("")
    for label in LABELS:
        cm.add_column(label, justify="right")
    for label, row in zip(LABELS, report["confusion_matrix"]):
        cm.add_row(label, *map(str, row))
    console.print(cm)
    console.print("[bold]Errors on test:[/]")
    for t, v in zip(test, pred):
        if v.priority != t["priority"]:
            console.print(f"- {t['_id']} ({t['language']}) gold {t['priority']}, predicted {v.priority}: {t['text'][:140]!r}")


if __name__ == "__main__":
    main()
