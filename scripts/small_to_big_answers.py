"""Small-to-big for the answerer (issue 14): hand it the section around each passage found, not the passage alone.

Retrieval is unchanged. Before the answerer drafts (and the verifier checks the draft), each retrieved
chunk is widened to the neighbouring chunks of its own section, alternately after and before it, up to
``--cap`` tokens, and repeats of a section are folded away. Confidence is still computed from the
retrieved chunks, as the confidence model was fitted on them. Answers are scored with the nugget
evaluation on the dev splits of both benchmarks, each question paired with itself without the widening.

    .venv/bin/python scripts/small_to_big_answers.py --cap 450 --cap 300
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nectarine.assistant as assistant  # noqa: E402
from nectarine import Nectarine  # noqa: E402
from nectarine.eval.answers import evaluate_answers  # noqa: E402
from nectarine.eval.datasets import load_dataset  # noqa: E402
from nectarine.eval.metrics import paired_bootstrap  # noqa: E402
from nectarine.eval.nuggets import load_nuggets  # noqa: E402
from nectarine.types import Chunk  # noqa: E402

FIGURES = ("vital_nugget_recall", "full_answers", "clutter", "truncation", "citation_precision", "answer_similarity")


def section_map(reader) -> dict[tuple, list[Chunk]]:
    """(page, anchor, heading path) -> the section's chunks in page order."""
    m = defaultdict(list)
    for _row, _cid, _key, data in reader.all_rows():
        c = Chunk.model_validate_json(data)
        m[(c.doc_id, c.anchor, tuple(c.heading_path))].append(c)
    return {k: sorted(v, key=lambda c: c.position) for k, v in m.items()}


def widen(results, sections: dict, cap: int):
    """Each result's chunk grown to its section's neighbours within ``cap`` tokens; later repeats of a section dropped."""
    out, seen = [], set()
    for r in results:
        key = (r.chunk.doc_id, r.chunk.anchor, tuple(r.chunk.heading_path))
        if key in seen:
            continue
        seen.add(key)
        sec = sections.get(key, [r.chunk])
        i = next((j for j, c in enumerate(sec) if c.id == r.chunk.id), 0)
        lo, hi, tokens = i, i + 1, sec[i].n_tokens
        grown = True
        while grown:
            grown = False
            for j in (hi, lo - 1):
                if 0 <= j < len(sec) and not lo <= j < hi and tokens + sec[j].n_tokens <= cap:
                    tokens += sec[j].n_tokens
                    lo, hi, grown = min(lo, j), max(hi, j + 1), True
        text = "\n\n".join(c.text for c in sec[lo:hi])
        out.append(r.model_copy(update={"chunk": r.chunk.model_copy(update={"text": text, "n_tokens": tokens}), "rank": len(out) + 1}))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", action="append", help="default: eval/nectain and ../shared/datasets/mtrag-govt")
    ap.add_argument("--index", action="append", help="one per --dataset (default indexes/<dataset name>)")
    ap.add_argument("--cap", type=int, action="append", help="token budget of a widened passage (default 450)")
    ap.add_argument("--split", default="dev")
    args = ap.parse_args()
    datasets = args.dataset or ["eval/nectain", "../shared/datasets/mtrag-govt"]
    caps = args.cap or [450]
    state = {"cap": 0, "sections": {}}
    answer, verify = assistant._Asking.answer, assistant._Asking.verify

    def widened(results):
        return widen(results, state["sections"], state["cap"]) if state["cap"] else results

    assistant._Asking.answer = lambda self, results, on_delta: answer(self, widened(results), on_delta)
    assistant._Asking.verify = lambda self, draft, results, answerer: verify(self, draft, widened(results), answerer)

    table = Table(title=f"Whole sections for the answerer, {args.split}", header_style="bold")
    for col in ("benchmark", "cap", *FIGURES, "vital recall, paired"):
        table.add_column(col, justify="right")
    for i, path in enumerate(datasets):
        ds = load_dataset(path)
        nec = Nectarine.load(args.index[i] if args.index and i < len(args.index) else f"indexes/{ds.name}")
        nec.warm_up()
        state["sections"] = section_map(nec.reader)
        side = load_nuggets(Path("eval/nuggets") / ds.name / f"{args.split}.jsonl", required=False)
        runs = {}
        for cap in [0, *caps]:
            state["cap"] = cap
            runs[cap] = evaluate_answers(nec, ds, split=args.split, nuggets=side)
        state["cap"] = 0

        def vital(result):
            return {it["id"]: it["nuggets"]["vital_found"] / it["nuggets"]["vital"] for it in result["items"]
                    if "nuggets" in it and it["nuggets"]["vital"]}

        base = runs[0]["metrics"]
        table.add_row(ds.name, "chunk as found", *[f"{base.get(f, float('nan')):.3f}" for f in FIGURES], "")
        for cap in caps:
            m = runs[cap]["metrics"]
            d, lo, hi = paired_bootstrap(vital(runs[0]), vital(runs[cap]))
            table.add_row(ds.name, str(cap), *[f"{m.get(f, float('nan')):.3f}" for f in FIGURES], f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]")
    Console(width=max(Console().width, 160)).print(table)


if __name__ == "__main__":
    main()
