"""Tune the offline answerer's selection (how many units, how close to the best) on the dev splits' nuggets.

    .venv/bin/python scripts/tune_composer.py            # eval/nectain dev, and mtrag-govt dev when ../shared is there

Retrieval runs once per question; each setting then composes, verifies and scores the answer
(vital nugget recall, full answers, clutter, truncation). Prints a table per setting with both
benchmarks side by side, best first by the mean of (full answers - clutter) over the benchmarks.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nectarine.answer.offline import OfflineAnswerer  # noqa: E402
from nectarine.assistant import Nectarine  # noqa: E402
from nectarine.eval.datasets import load_dataset  # noqa: E402
from nectarine.eval.nuggets import NuggetMatcher, load_nuggets, nuggets_of, score_answer, summarise  # noqa: E402
from nectarine.types import AskContext  # noqa: E402

GRID = {"relative": (0.3, 0.5, 0.7), "floor": (0.2, 0.3, 0.5), "max_units": (2, 3, 4, 6), "max_words": (90, 140)}


def prepared(dataset_dir: Path, index: Path, side: Path | None, split: str):
    ds = load_dataset(dataset_dir)
    nec = Nectarine.load(index)
    extra = load_nuggets(side) if side else None
    out = []
    for q in ds.queries_for(split):
        nuggets = nuggets_of({"nuggets": extra[q.id]} if extra and q.id in extra else q.metadata)
        if not q.answerable or not nuggets:
            continue
        ctx = AskContext(version=q.metadata.get("context_version"))
        answer = nec.ask(q.text, history=q.history or None, context=ctx)
        out.append((q, nuggets, answer.results, ctx))
    return ds.name, nec, out


def main() -> None:
    split = sys.argv[1] if len(sys.argv) > 1 else "dev"
    sets = [(ROOT / "eval/nectain", ROOT / "indexes/nectain", None)]
    mtrag = ROOT.parent / "shared/datasets/mtrag-govt"
    if (mtrag / "queries.jsonl").exists():
        sets.append((mtrag, ROOT / "indexes/mtrag-govt", ROOT / f"eval/nuggets/mtrag-govt/{split}.jsonl"))
    data = [prepared(*s, split) for s in sets]
    rows = []
    for values in itertools.product(*GRID.values()):
        setting = dict(zip(GRID, values))
        figures = {}
        for name, nec, items in data:
            answerer = OfflineAnswerer(idf=nec.reader.lexical.idf, **setting)
            matcher = getattr(nec, "_tune_matcher", None) or NuggetMatcher(embedder=nec.embedder, idf=nec.reader.lexical.idf)
            nec._tune_matcher = matcher
            scores = []
            for q, nuggets, results, ctx in items:
                draft = answerer.answer(q.text, results, history=q.history, context=ctx)
                text = nec.verifier.verify(draft.text, results).text
                scores.append(score_answer(matcher, text, nuggets))
            figures[name] = summarise(scores)
        objective = float(np.mean([f["full_answers"] - f["clutter"] for f in figures.values()]))
        rows.append((objective, setting, figures))
    rows.sort(key=lambda r: -r[0])
    console = Console(width=220)
    names = [d[0] for d in data]
    table = Table(title=f"composer settings on {split} (best first)", header_style="bold")
    for col in ("relative", "floor", "units", "words", *[f"{n} {m}" for n in names for m in ("vital", "full", "clutter", "trunc")], "objective"):
        table.add_column(col, justify="right")
    for objective, s, f in rows[:15]:
        table.add_row(str(s["relative"]), str(s["floor"]), str(s["max_units"]), str(s["max_words"]),
                      *[f"{f[n][m]:.3f}" for n in names for m in ("vital_nugget_recall", "full_answers", "clutter", "truncation")],
                      f"{objective:.3f}")
    console.print(table)


if __name__ == "__main__":
    main()
