"""Tune the retriever's fusion and re-ranking knobs on the DEV split (never on test).

Coordinate ascent on nDCG@10: each knob in turn takes the value that scores best with the others
held, until nothing improves. Query vectors are cached, so each evaluation is cheap.

    .venv/bin/python scripts/tune_retrieval.py eval/nectain --index indexes/nectain
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

from rich.console import Console
from rich.table import Table

from nectarine import Nectarine, RetrieverSettings, ingest
from nectarine.eval.datasets import load_dataset
from nectarine.eval.retrieval import evaluate_retrieval

GRID = {
    "fusion": ["rrf", "weighted"],  # one ascent each
    "rrf_k": [5, 10, 20, 40, 60],
    "dense_weight": [0.3, 0.4, 0.5, 0.6, 0.7, 0.8],
    "candidates": [30, 50, 100],
    "version_penalty": [0.3, 0.5, 0.7, 0.85, 1.0],
    "sibling_threshold": [0.7, 0.8, 0.9],
    "version_from_query": [True, False],
    "changes_boost": [1.0, 1.15, 1.3, 1.5],
    "history_weight": [0.2, 0.35, 0.5, 0.7, 1.0],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset")
    ap.add_argument("--index", default="indexes/nectain")
    ap.add_argument("--split", default="dev")
    ap.add_argument("--json", help="write the trace and the best settings here")
    args = ap.parse_args()
    if args.split == "test":
        raise SystemExit("tuning on the test split is not allowed: its figures are the ones reported")
    console = Console()
    ds = load_dataset(args.dataset)
    ingest(ds.corpus_paths, args.index)
    nec = Nectarine.load(args.index)

    def score(settings: RetrieverSettings) -> dict:
        nec.retriever.settings = settings
        return evaluate_retrieval(nec, ds, split=args.split)["metrics"]

    def ascend(start: RetrieverSettings) -> tuple[RetrieverSettings, dict]:
        best, best_m = start, score(start)
        trace.append({"settings": best.as_dict(), "metrics": best_m})
        console.print(f"start {start.fusion}: nDCG@10 {best_m['ndcg@10']:.4f}")
        improved = True
        while improved:
            improved = False
            for knob, values in GRID.items():
                if knob == "fusion":  # fixed per ascent
                    continue
                for v in values:
                    if getattr(best, knob) == v:
                        continue
                    cand = replace(best, **{knob: v})
                    m = score(cand)
                    trace.append({"settings": cand.as_dict(), "metrics": m})
                    if m["ndcg@10"] > best_m["ndcg@10"] + 1e-4:
                        best, best_m, improved = cand, m, True
                        console.print(f"  {knob}={v}: nDCG@10 {m['ndcg@10']:.4f}")
        return best, best_m

    # One ascent per fusion method, so the ascent cannot get stuck on the first one it tries.
    trace: list[dict] = []
    runs = [ascend(replace(RetrieverSettings(), fusion=f)) for f in GRID["fusion"]]
    best, best_m = max(runs, key=lambda r: r[1]["ndcg@10"])
    table = Table(title=f"Best on {ds.name}/{args.split}", header_style="bold")
    table.add_column("knob")
    table.add_column("value", justify="right")
    for k, v in best.as_dict().items():
        table.add_row(k, str(v))
    console.print(table)
    console.print({k: round(v, 4) for k, v in best_m.items() if isinstance(v, float)})
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"best": best.as_dict(), "metrics": best_m, "trace": trace}, f, indent=2)


if __name__ == "__main__":
    main()
