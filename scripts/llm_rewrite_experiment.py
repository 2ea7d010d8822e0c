"""Follow-up questions: the offline history gate against an LLM's standalone rewrite (issue 14).

For every follow-up turn with gold ids, retrieval runs three ways on the same index:

- ``gate``: what ships, ``nec.search(question, history=...)`` (the last exchange joins the query as far
  as the question alone is far from the docs; no LLM);
- ``llm``: the configured LLM (the packaged SmolLM2-135M under llama.cpp unless ``--model`` names
  another GGUF file) rewrites the question into a standalone query (``standalone_query``, the rewrite
  ``Nectarine.ask`` uses when an LLM answerer is set), which is searched without history;
- ``llm+gate``: the rewrite searched with the history gate as well.

Prints nDCG@10 per way with a paired bootstrap against ``gate``, and the rewrite's latency.

    .venv/bin/python scripts/llm_rewrite_experiment.py ../shared/datasets/mtrag-govt --index indexes/mtrag-govt --split dev
    .venv/bin/python scripts/llm_rewrite_experiment.py eval/nectain --index indexes/nectain --split test
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import track
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nectarine import Nectarine  # noqa: E402
from nectarine.eval.datasets import load_dataset  # noqa: E402
from nectarine.eval.metrics import paired_bootstrap  # noqa: E402
from nectarine.eval.retrieval import DEPTH, judge, query_metrics  # noqa: E402
from nectarine.types import Filters  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--index", type=Path, required=True, help="an index built from the dataset (nectarine eval retrieval builds one)")
    ap.add_argument("--split", default="dev")
    ap.add_argument("--model", help="a GGUF file (default: the packaged SmolLM2-135M-Instruct)")
    ap.add_argument("--limit", type=int, default=0, help="at most this many follow-ups (0: all)")
    args = ap.parse_args()
    console = Console()

    from nectarine.answer.llm import LlamaCppAnswerer

    nec = Nectarine.load(args.index)
    llm = LlamaCppAnswerer(model_path=args.model)
    dataset = load_dataset(args.dataset)
    queries = [q for q in dataset.queries_for(args.split) if q.is_follow_up and dataset.gold(args.split, q.id)]
    if args.limit:
        queries = queries[: args.limit]
    scores: dict[str, list[float]] = {"gate": [], "llm": [], "llm+gate": []}
    rewrite_ms: list[float] = []
    examples = []
    for q in track(queries, description=f"{dataset.name}/{args.split}: follow-ups", console=console):
        gold = dataset.gold(args.split, q.id)
        filters = Filters(version=q.metadata.get("context_version"))
        t0 = time.perf_counter()
        rewritten = llm.standalone_query(q.text, q.history)
        rewrite_ms.append((time.perf_counter() - t0) * 1000)
        for way, text, history in (("gate", q.text, q.history), ("llm", rewritten, None), ("llm+gate", rewritten, q.history)):
            results = nec.search(text, k=DEPTH, history=history or None, filters=filters)
            scores[way].append(query_metrics(*judge(results, gold), gold)["ndcg@10"])
        if len(examples) < 5:
            examples.append((q.text, rewritten))

    table = Table(title=f"{dataset.name} {args.split}: {len(queries)} follow-up turns, nDCG@10 (load {os.getloadavg()[0]:.1f})")
    for col in ("way", "nDCG@10", "Δ vs gate [95% CI]"):
        table.add_column(col)
    base = dict(enumerate(scores["gate"]))
    for way, values in scores.items():
        d, lo, hi = paired_bootstrap(base, dict(enumerate(values)), resamples=5000)
        table.add_row(way, f"{np.mean(values):.4f}", f"{d:+.4f} [{lo:+.4f}, {hi:+.4f}]")
    console.print(table)
    console.print(f"rewrite latency: median {statistics.median(rewrite_ms):.0f} ms, p95 {np.percentile(rewrite_ms, 95):.0f} ms "
                  f"({Path(str(llm.model_path)).name}, {os.cpu_count()} cores)")
    for question, rewritten in examples:
        console.print(f"  {question!r} -> {rewritten!r}")


if __name__ == "__main__":
    main()
