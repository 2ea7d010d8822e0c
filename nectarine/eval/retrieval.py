"""Retrieval evaluation: nDCG, recall and MRR over a BEIR dataset, mapped from chunks to gold ids.

A retrieved chunk is relevant when one of its section ids (its document id, or ``doc#anchor`` of its
section or an enclosing one) is a gold id. Each gold id counts once, at the rank where it is first
retrieved, so a page cut into five chunks cannot earn five hits.

>>> from nectarine import ingest
>>> from nectarine.eval.datasets import load_dataset
>>> dataset = load_dataset(fixtures / "beir-tiny")  # five passages, four queries; the project's is eval/nectain
>>> _ = ingest(dataset.corpus_paths, "indexes/beir-tiny", model="fake")  # a hashing test embedder; omit model= for MiniLM
>>> result = evaluate_retrieval(Nectarine.load("indexes/beir-tiny"), dataset, split="test")
>>> result["metrics"]["queries"], result["metrics"]["ndcg@10"]
(4, 1.0)
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable

from ..assistant import Nectarine
from ..types import Filters
from .datasets import Dataset
from .metrics import group_gap, mrr_at_k, ndcg_at_k, percentile, recall_at_k

DEPTH = 20
RECALL_KS = (1, 5, 10, 20)


def judge(results, gold: dict[str, int]) -> tuple[list[int], list[int]]:
    """Per rank: the gain earned and how many gold ids were first found there."""
    seen: set[str] = set()
    gains, hits = [], []
    for r in results:
        matched = (set(r.chunk.section_ids) & gold.keys()) - seen
        seen |= matched
        gains.append(max((gold[m] for m in matched), default=0))
        hits.append(len(matched))
    return gains, hits


def query_metrics(gains: list[int], hits: list[int], gold: dict[str, int]) -> dict[str, float]:
    out = {"ndcg@10": ndcg_at_k(gains, list(gold.values()), 10), "mrr@10": mrr_at_k(gains, 10)}
    for k in RECALL_KS:
        out[f"recall@{k}"] = recall_at_k(hits, len(gold), k)
    return out


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    if not rows:
        return {}
    return {key: sum(r[key] for r in rows) / len(rows) for key in rows[0]}


def evaluate_retrieval(
    nec: Nectarine,
    dataset: Dataset,
    *,
    split: str = "test",
    mode: str = "hybrid",
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Run every query of ``split`` that has gold ids; returns ``{"metrics", "breakdown", "items"}``."""
    queries = [q for q in dataset.queries_for(split) if dataset.gold(split, q.id)]
    doc_sources = nec.reader.doc_sources()
    items, per_query, latencies = [], [], []
    groups: dict[str, list[dict]] = defaultdict(list)
    for i, q in enumerate(queries):
        if progress:
            progress(i, len(queries))
        gold = dataset.gold(split, q.id)
        filters = Filters(version=q.metadata.get("context_version"))
        t0 = time.perf_counter()
        results = nec.search(q.text, k=DEPTH, history=q.history or None, mode=mode, filters=filters)
        latency = (time.perf_counter() - t0) * 1000
        gains, hits = judge(results, gold)
        m = query_metrics(gains, hits, gold)
        per_query.append(m)
        latencies.append(latency)
        groups["follow-up" if q.is_follow_up else "first turn"].append(m)
        for source in sorted({doc_sources.get(g.split("#", 1)[0], "unknown") for g in gold}):
            groups[f"source: {source}"].append(m)
        items.append({
            "id": q.id,
            "text": q.text,
            "follow_up": q.is_follow_up,
            "context_version": q.metadata.get("context_version"),
            "gold": sorted(gold),
            "retrieved": [
                {"rank": r.rank, "section": r.chunk.doc_id + (f"#{r.chunk.anchor}" if r.chunk.anchor else ""),
                 "title": " › ".join(r.heading_path), "score": r.score, "relevant": bool(g)}
                for r, g in zip(results[:10], gains)
            ],
            "metrics": m,
            "latency_ms": round(latency, 2),
        })
    if progress:
        progress(len(queries), len(queries))
    metrics = _mean(per_query)
    metrics["latency_ms_p50"] = percentile(latencies, 50)
    metrics["latency_ms_p95"] = percentile(latencies, 95)
    metrics["queries"] = len(queries)
    breakdown = {name: {**_mean(rows), "queries": len(rows)} for name, rows in sorted(groups.items())}
    follow_up_gap = None
    if groups["first turn"] and groups["follow-up"]:
        # What the conversation costs, with its uncertainty: first turns are few in a multi-turn benchmark.
        gap, lo, hi = group_gap([m["ndcg@10"] for m in groups["first turn"]], [m["ndcg@10"] for m in groups["follow-up"]])
        follow_up_gap = {"ndcg@10": gap, "ci95": [lo, hi]}
    return {
        "dataset": dataset.name,
        "split": split,
        "mode": mode,
        "metrics": metrics,
        "breakdown": breakdown,
        "follow_up_gap": follow_up_gap,  # first turns minus follow-ups, nDCG@10 and its 95% interval (None without both)
        "items": items,
        "config": {"retriever": nec.retriever.settings.as_dict(), "index": nec.manifest.model_dump(mode="json")},
    }
