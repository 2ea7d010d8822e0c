"""Score saved answers (the --json of `nectarine eval answers`, from any version or answerer) with today's nugget figures.

    .venv/bin/python scripts/score_saved_answers.py before.json eval/nectain [--index indexes/nectain] [--nuggets FILE]

For results written before nuggets existed, or by another answerer: the answers are read as they
were given, and a reply counts as a decline when it was the "not found" or out-of-scope text of its
day (or is marked ``declined``). Prints the figures as `eval answers` does and, with --json, writes them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from rich.console import Console

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nectarine import Nectarine  # noqa: E402
from nectarine.answer.base import NO_ANSWER  # noqa: E402
from nectarine.answer.decision import OUT_OF_SCOPE  # noqa: E402
from nectarine.eval.datasets import load_dataset  # noqa: E402
from nectarine.eval.nuggets import NuggetMatcher, load_nuggets, nuggets_of, score_answer, summarise  # noqa: E402
from nectarine.eval.tables import answers_table  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("result", type=Path)
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--index", type=Path)
    ap.add_argument("--nuggets", type=Path)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    ds = load_dataset(args.dataset)
    result = json.loads(args.result.read_text())
    side = load_nuggets(args.nuggets or ROOT / "eval/nuggets" / ds.name / f"{result['split']}.jsonl")
    nec = Nectarine.load(args.index or ROOT / "indexes" / ds.name)
    matcher = NuggetMatcher(embedder=nec.embedder, idf=nec.reader.lexical.idf)
    scores, declined_unans, declined_ans = [], [], []
    for it in result["items"]:
        q = ds.queries[it["id"]]
        declined = it.get("declined", it["answer"].startswith(NO_ANSWER[:30]) or it["answer"] == OUT_OF_SCOPE)
        if q.answerable:
            declined_ans.append(declined)
            nuggets = nuggets_of({"nuggets": side[q.id]} if side and q.id in side else q.metadata)
            if nuggets:
                scores.append(score_answer(matcher, "" if declined else it["answer"], nuggets))
        elif not q.expect_handoff:
            declined_unans.append(declined)
    metrics = dict(result["metrics"])
    figures = summarise(scores)
    figures["nugget_questions"] = figures.pop("questions")
    metrics.update(figures, honest_decline_rate=float(np.mean(declined_unans)) if declined_unans else 0.0,
                   answerable_declined=float(np.mean(declined_ans)) if declined_ans else 0.0)
    Console().print(answers_table(f"{args.result.name} rescored on {ds.name}/{result['split']}", metrics))
    if args.json:
        args.json.write_text(json.dumps({"dataset": ds.name, "split": result["split"], "metrics": metrics}, indent=1))


if __name__ == "__main__":
    main()
