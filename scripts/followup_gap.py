"""Where the follow-up gap comes from: the conversation, or the questions themselves?

For each benchmark split, nDCG@10 of first turns and of follow-ups as the pipeline runs them (with the
history), of the same follow-ups without the history, and, where the dataset has them, of the annotators'
standalone rewrites of the follow-ups (``metadata.rewrite``, mtrag-govt) run without history. If the
pipeline matches the humans' rewrites, what remains of the gap to first turns is how hard the follow-up
questions are, not how the conversation is resolved. Intervals: 95%, bootstrap over queries (the gap
resamples each group on its own; the rewrite comparison is paired).

    .venv/bin/python scripts/followup_gap.py --dataset eval/nectain --index indexes/nectain \\
        --dataset ../shared/datasets/mtrag-govt --index indexes/mtrag-govt
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
from nectarine.eval.metrics import group_gap, paired_bootstrap  # noqa: E402
from nectarine.eval.retrieval import DEPTH, judge, query_metrics  # noqa: E402
from nectarine.types import Filters  # noqa: E402


def ndcg(nec: Nectarine, text: str, history, gold: dict, version: str | None) -> float:
    results = nec.search(text, k=DEPTH, history=history or None, filters=Filters(version=version))
    return query_metrics(*judge(results, gold), gold)["ndcg@10"]


def measure(dataset: str, index: str, split: str) -> dict:
    ds = load_dataset(dataset)
    nec = Nectarine.load(index)
    first, follow, alone, rewrite = {}, {}, {}, {}
    queries = [q for q in ds.queries_for(split) if ds.gold(split, q.id)]
    for q in track(queries, description=f"{ds.name}/{split}"):
        gold, version = ds.gold(split, q.id), q.metadata.get("context_version")
        score = ndcg(nec, q.text, q.history, gold, version)
        if not q.is_follow_up:
            first[q.id] = score
            continue
        follow[q.id] = score
        alone[q.id] = ndcg(nec, q.text, None, gold, version)
        if q.metadata.get("rewrite"):
            rewrite[q.id] = ndcg(nec, q.metadata["rewrite"], None, gold, version)
    return {"name": ds.name, "split": split, "first": first, "follow": follow, "alone": alone, "rewrite": rewrite}


def interval(t: tuple[float, float, float]) -> str:
    return f"{t[0]:+.3f} [{t[1]:+.3f}, {t[2]:+.3f}]"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", action="append", required=True)
    ap.add_argument("--index", action="append", required=True, help="one per --dataset, in order")
    ap.add_argument("--split", action="append", help="default: dev and test")
    args = ap.parse_args()
    if len(args.index) != len(args.dataset):
        ap.error("give one --index per --dataset")
    table = Table(title="Follow-ups against first turns, nDCG@10", header_style="bold")
    for col in ("benchmark, split", "first turns", "follow-ups", "gap (first - follow)", "follow-ups, no history",
                "annotators' rewrites", "pipeline - rewrites (paired)"):
        table.add_column(col, justify="right")
    for dataset, index in zip(args.dataset, args.index):
        for split in args.split or ("dev", "test"):
            r = measure(dataset, index, split)
            mean = lambda d: f"{np.mean(list(d.values())):.3f} ({len(d)})" if d else "-"  # noqa: E731
            both = {k: r["follow"][k] for k in r["rewrite"]}
            table.add_row(
                f"{r['name']} {split}", mean(r["first"]), mean(r["follow"]),
                interval(group_gap(list(r["first"].values()), list(r["follow"].values()))) if r["first"] and r["follow"] else "-",
                mean(r["alone"]), mean(r["rewrite"]),
                interval(paired_bootstrap(r["rewrite"], both)) if r["rewrite"] else "-",
            )
    Console(width=max(Console().width, 150)).print(table)


if __name__ == "__main__":
    main()
