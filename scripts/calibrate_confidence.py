"""Fit the confidence model and the handoff threshold on the DEV split(s); report calibration on TEST.

    .venv/bin/python scripts/calibrate_confidence.py eval/nectain --index indexes/nectain
    .venv/bin/python scripts/calibrate_confidence.py eval/nectain ../shared/datasets/mtrag-govt \
        --index indexes/nectain --index indexes/mtrag-govt      # fitted on both dev sets together

With several datasets, their dev questions are pooled (so the model holds on data we did not write),
and each test split is reported on its own.

Target: "the answer cites a passage that the qrels call relevant" (0 for every unanswerable and
escalation question). A logistic regression over the evidence features (nectarine/answer/confidence.py)
gives the probability; the handoff threshold maximises Youden's J between answerable dev questions and the
rest (unanswerable and escalation, the latter weighted twice: both should reach support); the out-of-scope cut-offs are chosen on dev's out-of-scope questions.

The coverage model ("do the docs cover this at all?") is a second logistic regression on the same
features, answerable against unanswerable (not escalation) dev questions, class-balanced. Its decline
threshold is the highest that declines at most ``--max-declined`` (4%) of the answerable dev questions
of every dataset, so the honest decline never costs more than that on any benchmark.
Writes nectarine/answer/confidence.json and a reliability diagram of the test split.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from rich.console import Console

from nectarine import Nectarine
from nectarine.answer.confidence import FEATURES, MODEL_FILE, ConfidenceModel, Evidence
from nectarine.eval.answers import evaluate_answers
from nectarine.eval.datasets import load_dataset
from nectarine.eval.metrics import calibration_bins, ece

console = Console()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", nargs="+")
    ap.add_argument("--index", action="append", help="one per dataset, in order (default indexes/<dataset name>)")
    ap.add_argument("--plot", type=Path, default=Path("eval/nectain/reliability-test.png"))
    ap.add_argument("--confidence-features", default=",".join([*FEATURES[:11], "gate_cosine", "gate_weight"]),
                    help="the evidence features the confidence model uses (comma-separated): the ten of issue 11, unit_top "
                         "and the follow-up gate's two, chosen on both dev sets (BENCHMARKS.md)")
    ap.add_argument("--C", type=float, default=1.0, help="inverse regularisation of the confidence model")
    ap.add_argument("--max-declined", type=float, default=0.04, help="share of answerable dev questions a decline may cost, per dataset")
    args = ap.parse_args()
    from sklearn.linear_model import LogisticRegression

    sets = []
    for i, path in enumerate(args.dataset):
        ds = load_dataset(path)
        nec = Nectarine.load(args.index[i] if args.index and i < len(args.index) else f"indexes/{ds.name}")
        nec.warm_up()
        nec.confidence = ConfidenceModel.default()
        sets.append((ds, nec))
    dev, origin = [], []
    for ds, nec in sets:
        items = evaluate_answers(nec, ds, split="dev")["items"]
        dev += items
        origin += [ds.name] * len(items)
    origin = np.array(origin)
    names = " + ".join(f"{ds.name}/dev" for ds, _ in sets)
    X = np.array([[it["evidence"][f] for f in FEATURES] for it in dev])
    y = np.array([int(it["good"]) for it in dev])
    means, scales = X.mean(0), X.std(0) + 1e-9
    chosen = [FEATURES.index(f) for f in args.confidence_features.split(",")]  # the rest serve the coverage model only
    lr = LogisticRegression(C=args.C, max_iter=2000).fit(((X - means) / scales)[:, chosen], y)
    model = ConfidenceModel(weights=lr.coef_[0].round(5).tolist(), bias=round(float(lr.intercept_[0]), 5),
                            features=[FEATURES[i] for i in chosen],
                            means=means.round(5).tolist(), scales=scales.round(5).tolist(), fitted_on=f"{names}, {len(y)} questions")

    probs = np.array([model.predict(Evidence(**dict(zip(FEATURES, row)))) for row in X])
    answerable = np.array([it["answerable"] for it in dev])
    plain_unans = np.array([not it["answerable"] and not it["expect_handoff"] for it in dev])
    best_j, best_t = -1.0, 0.5
    # Every question that should reach support counts against a threshold, an escalation (an outage, a blocked
    # month-end close) twice: sending it off with a confident answer costs more than an unneeded ticket suggestion.
    weight = np.where(np.array([bool(it["expect_handoff"]) for it in dev]), 2.0, 1.0)[~answerable]
    for t in np.linspace(0.05, 0.95, 91):
        tpr = float(np.mean(probs[answerable] >= t))
        fpr = float(np.sum(weight * (probs[~answerable] >= t)) / weight.sum())
        if tpr - fpr > best_j:
            best_j, best_t = tpr - fpr, float(t)
    model.threshold = round(best_t, 3)
    escal = np.array([bool(it["expect_handoff"]) for it in dev])
    for t in (0.45, 0.5, 0.55, 0.6, 0.65):
        console.print(f"threshold {t}: " + "; ".join(
            f"{name} answerable answered {np.mean(probs[answerable & (origin == name)] >= t):.3f}, "
            f"false-confident {np.mean(probs[plain_unans & (origin == name)] >= t):.3f}, "
            f"escalations under it {np.mean(probs[escal & (origin == name)] < t) if (escal & (origin == name)).any() else float('nan'):.3f}"
            for name in sorted(set(origin))))

    oos = np.array(["out-of-scope" in it["kinds"] for it in dev])
    dense, cov = X[:, FEATURES.index("top_dense")], X[:, FEATURES.index("coverage")]
    best_f1, cut = -1.0, (model.out_of_scope_dense, model.out_of_scope_coverage)
    for d in np.linspace(0.1, 0.5, 21):
        for c in np.linspace(0.0, 0.8, 17):
            flag = (dense < d) & (cov < c)
            tp, fp, fn = int((flag & oos).sum()), int((flag & ~oos).sum()), int((~flag & oos).sum())
            f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
            if f1 > best_f1 and not (flag & answerable).any():  # never refuse an answerable dev question
                best_f1, cut = f1, (round(float(d), 3), round(float(c), 3))
    model.out_of_scope_dense, model.out_of_scope_coverage = cut

    known = answerable | plain_unans
    z = (X - means) / scales
    cov_lr = LogisticRegression(C=0.1, max_iter=3000, class_weight="balanced").fit(z[known], answerable[known].astype(int))
    model.covered_weights = cov_lr.coef_[0].round(5).tolist()
    model.covered_bias = round(float(cov_lr.intercept_[0]), 5)
    covered = np.array([model.covered(Evidence(**dict(zip(FEATURES, row)))) for row in X])
    decline = 0.0
    for t in np.linspace(0.0, 0.9, 181):
        if all(np.mean(covered[answerable & (origin == name)] < t) <= args.max_declined for name in set(origin)):
            decline = round(float(t), 3)
    model.decline_threshold = decline
    for name in sorted(set(origin)):
        m = origin == name
        console.print(f"{name}/dev: decline below {decline}: answerable declined {np.mean(covered[answerable & m] < decline):.3f}, "
                      f"unanswerable declined {np.mean(covered[plain_unans & m] < decline):.3f}")
    model.save()
    console.print(f"fitted on dev: weights {dict(zip(FEATURES, model.weights))}")
    console.print(f"handoff threshold {model.threshold} (Youden J {best_j:.3f}); out of scope: dense < {cut[0]} and coverage < {cut[1]} (F1 {best_f1:.3f})")
    console.print(f"dev ECE {ece(probs, y):.4f}; wrote {MODEL_FILE}")

    for i, (ds, nec) in enumerate(sets):
        nec.confidence = ConfidenceModel.load()
        test = evaluate_answers(nec, ds, split="test")
        m = test["metrics"]
        console.print(f"[bold]{ds.name}/test[/]", {k: round(v, 4) if isinstance(v, float) else v for k, v in m.items()})
        if i == 0:  # the project's own set's diagram, as before
            bins = calibration_bins([it["confidence"] for it in test["items"]], [int(it["good"]) for it in test["items"]])
            plot_reliability(bins, m["ece"], args.plot, title=f"Confidence on {ds.name}/test (ECE {m['ece']:.3f})")
            console.print(f"wrote {args.plot}")


def plot_reliability(bins: list[dict], ece_value: float, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=110)
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect calibration")
    centers = [(b["low"] + b["high"]) / 2 for b in bins]
    ax.bar(centers, [b["accuracy"] for b in bins], width=0.09, alpha=0.7, label="share of good answers")
    ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o-", color="C3", label="mean confidence")
    for c, b in zip(centers, bins):
        ax.annotate(str(b["count"]), (c, b["accuracy"]), ha="center", va="bottom", fontsize=7)
    ax.set(xlim=(0, 1), ylim=(0, 1.05), xlabel="confidence", ylabel="share of answers citing a relevant passage", title=title)
    ax.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


if __name__ == "__main__":
    main()
