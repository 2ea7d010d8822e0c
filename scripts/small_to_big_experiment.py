"""Small-to-big retrieval on both benchmarks' DEV splits (issue 14): match small chunks, rank their sections.

Retrieval as shipped ranks chunks; a section cut into several chunks can appear more than once, and
the evaluation counts each gold section once, at its first rank. Small-to-big ranks *sections* instead:
the top ``--depth`` chunks are grouped by the section that holds them (its most specific ``doc#anchor``),
and each section is scored by

- ``max``: its best chunk (the shipped ranking with repeats folded away), or
- ``sum``: its best chunk plus ``--decay`` times each further chunk of it that matched (a section that
  matches in several places ranks higher), or

then returned in that order. Both are run over the shipped 200-token index and over a finer one
(``--small`` tokens, built into ``--work``), and compared with the shipped ranking by a paired bootstrap.

    .venv/bin/python scripts/small_to_big_experiment.py --dataset eval/nectain --index indexes/nectain \\
        --dataset ../shared/datasets/mtrag-govt --index indexes/mtrag-govt --work /tmp/s2b
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nectarine import Nectarine, ingest  # noqa: E402
from nectarine.eval.datasets import load_dataset  # noqa: E402
from nectarine.eval.metrics import paired_bootstrap  # noqa: E402
from nectarine.eval.retrieval import judge, query_metrics  # noqa: E402
from nectarine.ingest.chunker import ChunkerSettings  # noqa: E402
from nectarine.types import Filters  # noqa: E402


def section_of(result) -> str:
    ids = result.chunk.section_ids
    return ids[-1] if ids else result.chunk.doc_id


def fold(results, how: str, decay: float):
    """Sections in order of their score; each represented by its best chunk."""
    best: dict[str, tuple[float, object]] = {}
    extra: dict[str, float] = {}
    for r in results:  # already in score order
        key = section_of(r)
        if key not in best:
            best[key] = (r.score, r)
        elif how == "sum":
            extra[key] = extra.get(key, 0.0) + decay * r.score
    scored = [(score + extra.get(key, 0.0), i, r) for i, (key, (score, r)) in enumerate(best.items())]
    scored.sort(key=lambda t: (-t[0], t[1]))
    return [r for _, _, r in scored]


def ndcgs(nec: Nectarine, dataset, split: str, depth: int, how: str | None, decay: float) -> dict[str, float]:
    out = {}
    for q in dataset.queries_for(split):
        gold = dataset.gold(split, q.id)
        if not gold:
            continue
        results = nec.search(q.text, k=depth, history=q.history or None, filters=Filters(version=q.metadata.get("context_version")))
        ranked = results if how is None else fold(results, how, decay)
        out[q.id] = query_metrics(*judge(ranked[:20], gold), gold)["ndcg@10"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", action="append", type=Path, required=True)
    ap.add_argument("--index", action="append", type=Path, required=True, help="the shipped index of each dataset, in order")
    ap.add_argument("--work", type=Path, required=True, help="where the finer indexes are built")
    ap.add_argument("--split", default="dev")
    ap.add_argument("--small", type=int, default=100, help="the finer index's chunk budget, in tokens")
    ap.add_argument("--depth", type=int, default=50, help="chunks retrieved before folding into sections")
    ap.add_argument("--decay", type=float, default=0.1)
    args = ap.parse_args()
    console = Console()
    table = Table(title=f"Small-to-big, nDCG@10 on {args.split} (Δ against the shipped ranking, paired bootstrap)")
    for col in ("benchmark", "chunks", "ranking", "nDCG@10", "Δ [95% CI]"):
        table.add_column(col)
    for dataset_path, index in zip(args.dataset, args.index):
        dataset = load_dataset(dataset_path)
        shipped = Nectarine.load(index)
        small_index = args.work / f"{dataset.name}-{args.small}"
        if not (small_index / "CURRENT").exists():
            ingest(dataset.corpus_paths, small_index, chunker=ChunkerSettings(max_tokens=args.small))
        small = Nectarine.load(small_index)
        base = ndcgs(shipped, dataset, args.split, 20, None, args.decay)
        table.add_row(dataset.name, "200 (shipped)", "chunks (shipped)", f"{np.mean(list(base.values())):.4f}", "")
        for label, nec in (("200 (shipped)", shipped), (f"{args.small}", small)):
            for how in ("max", "sum"):
                got = ndcgs(nec, dataset, args.split, args.depth, how, args.decay)
                d, lo, hi = paired_bootstrap(base, got)
                table.add_row("", label, f"sections by {how}", f"{np.mean(list(got.values())):.4f}", f"{d:+.4f} [{lo:+.4f}, {hi:+.4f}]")
    console.print(table)


if __name__ == "__main__":
    main()
