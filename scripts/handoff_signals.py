"""Which signals tell an answerable question from one the docs cannot answer, on each benchmark?

Runs ``Nectarine.ask`` on every question of each split and reports, per signal, the AUROC of answerable
against unanswerable questions (escalations left out, as ``evaluate_answers`` does for the handoff AUROC):
the confidence the service gives, each evidence feature (``Answer.evidence``), and the learned reranker's
probabilities of the top passages (P(relevant), ``SearchResult.relevance``), which the confidence model does
not read. With ``--llm-judge``, also the packaged SmolLM2-135M asked whether the top passage answers the
question (log-odds of "Yes" against "No"; about 1.6 s per question here). Then logistic regressions over feature sets are fitted on the dev splits of all benchmarks
together (class-balanced) and scored on every split, so a signal that only helps on one benchmark shows.

    .venv/bin/python scripts/handoff_signals.py --dataset eval/nectain --index indexes/nectain \\
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
from nectarine.answer.confidence import FEATURES  # noqa: E402
from nectarine.eval.datasets import load_dataset  # noqa: E402
from nectarine.eval.metrics import auroc  # noqa: E402
from nectarine.types import AskContext  # noqa: E402

RELEVANCE = ("relevance_top", "relevance_gap", "relevance_top3")
SHIPPED = [*FEATURES[:11], "gate_cosine", "gate_weight"]  # the confidence model's features (scripts/calibrate_confidence.py)
FEATURE_SETS = {
    "shipped confidence features": SHIPPED,
    "+ reranker probabilities": [*SHIPPED, *RELEVANCE],
    "+ coverage features": [*SHIPPED, "best_passage_coverage", "unit_coverage", "rare_missing"],
    "+ both": [*SHIPPED, *RELEVANCE, "best_passage_coverage", "unit_coverage", "rare_missing"],
}


class Judge:
    """The packaged SmolLM2-135M under llama.cpp, asked whether a passage answers a question."""

    def __init__(self) -> None:
        from llama_cpp import Llama

        from nectarine.answer.llm import smollm2_path

        self.llm = Llama(model_path=str(smollm2_path()), n_ctx=2048, logits_all=True, verbose=False, n_threads=2)
        self.yes = [self.llm.tokenize(t, add_bos=False)[-1] for t in (b"Yes", b" yes")]
        self.no = [self.llm.tokenize(t, add_bos=False)[-1] for t in (b"No", b" no")]

    def __call__(self, question: str, passage: str) -> float:
        prompt = ("<|im_start|>system\nYou check whether a passage answers a question. Reply Yes or No.<|im_end|>\n"
                  f"<|im_start|>user\nPassage: {passage[:900]}\n\nQuestion: {question}\n\n"
                  "Does the passage answer the question? Reply Yes or No.<|im_end|>\n<|im_start|>assistant\n")
        self.llm.reset()
        self.llm.eval(self.llm.tokenize(prompt.encode(), add_bos=False))
        logits = np.asarray(self.llm.scores[self.llm.n_tokens - 1], dtype=np.float64)
        return float(max(logits[t] for t in self.yes) - max(logits[t] for t in self.no))


def collect(dataset: str, index: str, split: str, judge: Judge | None = None) -> tuple[str, list[dict], list[int]]:
    ds = load_dataset(dataset)
    nec = Nectarine.load(index)
    nec.warm_up()
    rows, labels = [], []
    queries = [q for q in ds.queries_for(split) if q.answerable or not q.expect_handoff]
    for q in track(queries, description=f"{ds.name}/{split}"):
        answer = nec.ask(q.text, history=q.history or None, context=AskContext(version=q.metadata.get("context_version")))
        rel = sorted((r.relevance or 0.0 for r in answer.results), reverse=True) + [0.0, 0.0, 0.0]
        rows.append({"confidence": answer.confidence, **answer.evidence, "relevance_top": rel[0],
                     "relevance_gap": rel[0] - rel[1], "relevance_top3": float(np.mean(rel[:3]))})
        if judge is not None:
            rows[-1]["llm_judge"] = judge(q.text, answer.results[0].chunk.text) if answer.results else -10.0
        labels.append(int(q.answerable))
    return ds.name, rows, labels


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", action="append", required=True)
    ap.add_argument("--index", action="append", required=True, help="one per --dataset, in order")
    ap.add_argument("--llm-judge", action="store_true", help="also ask the packaged SmolLM2-135M (llama-cpp-python) for each question")
    ap.add_argument("--C", type=float, default=0.1, help="inverse regularisation of the regressions")
    args = ap.parse_args()
    if len(args.index) != len(args.dataset):
        ap.error("give one --index per --dataset")
    from sklearn.linear_model import LogisticRegression

    judge = Judge() if args.llm_judge else None
    data = {}
    for dataset, index in zip(args.dataset, args.index):
        for split in ("dev", "test"):
            name, rows, labels = collect(dataset, index, split, judge)
            data[(name, split)] = (rows, labels)
    console = Console(width=max(Console().width, 150))

    signals = ["confidence", *FEATURES, *RELEVANCE, *(["llm_judge"] if judge else [])]
    table = Table(title="Handoff AUROC of each signal (answerable against unanswerable)", header_style="bold")
    table.add_column("signal")
    for name, split in data:
        rows, labels = data[(name, split)]
        table.add_column(f"{name} {split} ({sum(labels)}/{len(labels) - sum(labels)})", justify="right")
    for s in signals:
        table.add_row(s, *[f"{auroc([r[s] for r in rows], labels):.3f}" for rows, labels in data.values()])
    console.print(table)

    fits = Table(title=f"Logistic regression fitted on every dev split together (C={args.C}), AUROC", header_style="bold")
    fits.add_column("features")
    for name, split in data:
        fits.add_column(f"{name} {split}", justify="right")
    for label, cols in FEATURE_SETS.items():
        X = np.array([[r[c] for c in cols] for (_, split), (rows, _) in data.items() if split == "dev" for r in rows])
        y = np.array([v for (_, split), (_, labels) in data.items() if split == "dev" for v in labels])
        mean, scale = X.mean(0), X.std(0) + 1e-9
        model = LogisticRegression(C=args.C, class_weight="balanced", max_iter=2000).fit((X - mean) / scale, y)
        cells = []
        for rows, labels in data.values():
            Xs = (np.array([[r[c] for c in cols] for r in rows]) - mean) / scale
            cells.append(f"{auroc(model.decision_function(Xs).tolist(), labels):.3f}")
        fits.add_row(label, *cells)
    console.print(fits)
    console.print("dev columns are in-sample for the regressions; read the test columns.")


if __name__ == "__main__":
    main()
