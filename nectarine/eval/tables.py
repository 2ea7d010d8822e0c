"""Evaluation results as rich tables, the way ``nectarine eval ...`` prints them (scripts print them too).

>>> from rich.console import Console
>>> results = {"hybrid": {"ndcg@10": 0.812, "recall@5": 0.9, "queries": 200}, "dense": {"ndcg@10": 0.745, "queries": 200}}
>>> Console(width=60, color_system=None).print(metrics_table("Retrieval on nectain/test", results, ["ndcg@10", "recall@5", "queries"]))
... # doctest: +NORMALIZE_WHITESPACE
   Retrieval on nectain/test
┏━━━━━━━━┳━━━━━━━━━┳━━━━━━━┳━━━━━┓
┃        ┃ nDCG@10 ┃   R@5 ┃   n ┃
┡━━━━━━━━╇━━━━━━━━━╇━━━━━━━╇━━━━━┩
│ hybrid │   0.812 │ 0.900 │ 200 │
│ dense  │   0.745 │     - │ 200 │
└────────┴─────────┴───────┴─────┘
"""

from __future__ import annotations

from rich.table import Table

SHORT = {"ndcg@10": "nDCG@10", "recall@1": "R@1", "recall@5": "R@5", "recall@10": "R@10", "recall@20": "R@20", "mrr@10": "MRR@10", "queries": "n"}
RETRIEVAL_COLUMNS = ["ndcg@10", "recall@1", "recall@5", "recall@10", "recall@20", "mrr@10", "queries"]
ANSWER_COLUMNS = ["vital_nugget_recall", "nugget_recall", "full_answers", "clutter", "truncation", "step_completeness",
                  "honest_decline_rate", "answerable_declined",
                  "answer_similarity", "citation_precision", "supported_sentence_rate", "handoff_auroc", "false_confident_rate",
                  "deflection_rate", "escalation_recall", "ece", "latency_ms_p50", "latency_ms_p95", "queries"]


def _cell(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def metrics_table(title: str, rows: dict[str, dict], columns: list[str]) -> Table:
    """One row per named result (a search mode, a breakdown), one column per metric; '-' where missing."""
    table = Table(title=title, header_style="bold")
    table.add_column("", no_wrap=True)
    for c in columns:
        table.add_column(SHORT.get(c, c), justify="right")
    for name, m in rows.items():
        table.add_row(name, *[("-" if c not in m else _cell(m[c])) for c in columns])
    return table


def answers_table(title: str, metrics: dict) -> Table:
    """The headline answer metrics (``ANSWER_COLUMNS``), one per row."""
    table = Table(title=title, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for c in ANSWER_COLUMNS:
        if c in metrics:  # the nugget figures need nuggets on the queries
            table.add_row(c, _cell(metrics[c]))
    return table


def priority_tables(name: str, result: dict) -> list[Table]:
    """Per-class figures and the confusion matrix of ``evaluate_priority``'s result; ``name`` heads the first."""
    m = result["metrics"]
    labels = m["labels"]
    per = Table(title=f"{name}: accuracy {m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f}", header_style="bold")
    for col in ("class", "precision", "recall", "f1", "support"):
        per.add_column(col, justify="right")
    for label in labels:
        c = m["per_class"][label]
        per.add_row(label, f"{c['precision']:.3f}", f"{c['recall']:.3f}", f"{c['f1']:.3f}", str(c["support"]))
    cm = Table(title="Confusion matrix (rows: gold, columns: predicted)", header_style="bold")
    cm.add_column("")
    for label in labels:
        cm.add_column(label, justify="right")
    for label, row in zip(labels, m["confusion_matrix"]):
        cm.add_row(label, *map(str, row))
    return [per, cm]
