"""Chunking on both benchmarks' DEV splits: chunk budgets, and the heading-path prefix in what is embedded.

Each variant is a fresh index of the dataset's corpus (same model and backend as the default); every
variant is scored with the reranker on and off, and compared with the default (200 tokens, heading
prefix) by a paired bootstrap over queries.

    .venv/bin/python scripts/chunk_experiments.py --dataset eval/nectain --dataset ../shared/datasets/mtrag-govt \\
        --budgets 120 200 320 --work /tmp/chunking [--no-prefix]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nectarine import Nectarine, ingest  # noqa: E402
from nectarine.eval.datasets import load_dataset  # noqa: E402
from nectarine.eval.metrics import paired_bootstrap  # noqa: E402
from nectarine.eval.retrieval import evaluate_retrieval  # noqa: E402
from nectarine.ingest.chunker import ChunkerSettings  # noqa: E402
from nectarine.types import Chunk  # noqa: E402


def per_query(result: dict) -> dict[str, float]:
    return {it["id"]: it["metrics"]["ndcg@10"] for it in result["items"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", action="append", required=True)
    ap.add_argument("--budgets", type=int, nargs="+", default=[120, 200, 320])
    ap.add_argument("--no-prefix", action="store_true", help="also the default budget without the heading path in what is embedded")
    ap.add_argument("--split", default="dev")
    ap.add_argument("--work", type=Path, default=Path("/tmp/chunking"))
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if args.split == "test":
        raise SystemExit("choosing on the test split is not allowed: its figures are the ones reported")
    console = Console()
    variants = [(f"{b} tokens", b, True) for b in args.budgets]
    if args.no_prefix:
        variants.append(("200 tokens, no heading prefix", 200, False))
    out = {}
    for path in args.dataset:
        ds = load_dataset(path)
        for label, budget, prefix in variants:
            idx = args.work / f"{ds.name}-{budget}{'' if prefix else '-noprefix'}"
            original = Chunk.embed_text
            if not prefix:
                Chunk.embed_text = property(lambda self: self.text)  # the experiment only; the library keeps the prefix
            try:
                report = ingest(ds.corpus_paths, idx, chunker=ChunkerSettings(max_tokens=budget))
                nec = Nectarine.load(idx)
                for rerank in (True, False):
                    nec.retriever.settings.rerank = rerank
                    r = evaluate_retrieval(nec, ds, split=args.split)
                    out[(ds.name, label, rerank)] = (per_query(r), r["metrics"], r["breakdown"], nec.reader.size)
                    console.print(f"{ds.name} {label} rerank={rerank}: {nec.reader.size} chunks, nDCG@10 {r['metrics']['ndcg@10']:.4f}")
            finally:
                Chunk.embed_text = original
            del report
    table = Table(title=f"Chunking variants, nDCG@10 on {args.split} (Δ vs 200 tokens with the heading prefix, same reranker setting; paired bootstrap 95% CI)", header_style="bold")
    for col in ("dataset", "variant", "chunks", "reranker", "nDCG@10", "follow-up", "Δ [95% CI]"):
        table.add_column(col, justify="left" if col in ("dataset", "variant") else "right")
    for (name, label, rerank), (pq, m, br, size) in out.items():
        base = out.get((name, "200 tokens", rerank))
        delta = "" if base is None or label == "200 tokens" else "{:+.3f} [{:+.3f}, {:+.3f}]".format(*paired_bootstrap(base[0], pq))
        follow = br.get("follow-up", {}).get("ndcg@10")
        table.add_row(name, label, f"{size:,}", "on" if rerank else "off", f"{m['ndcg@10']:.3f}", f"{follow:.3f}" if follow is not None else "", delta)
    console.print(table)
    if args.json:
        args.json.write_text(json.dumps({f"{n}|{l}|{r}": {"metrics": v[1], "chunks": v[3]} for (n, l, r), v in out.items()}, indent=1))


if __name__ == "__main__":
    main()
