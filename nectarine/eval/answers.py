"""Answer evaluation: quality of the text, its citations, its confidence and its handoffs.

Per query it runs ``Nectarine.ask`` exactly as a user would meet it, then scores:

- ``answer_similarity``: cosine of the answer's and the reference answer's embeddings (answerable only);
- ``citation_precision``: share of cited passages that are relevant per the qrels;
- ``supported_sentence_rate``: share of answer sentences the verifier could support;
- ``handoff_auroc``: how well confidence separates answerable from unanswerable questions;
- ``false_confident_rate``: unanswerable (not escalation) questions answered without handoff or refusal;
- ``deflection_rate``: answerable questions answered without handoff;
- ``escalation_recall``: ``expect_handoff`` messages that got a handoff;
- ``ece``: calibration of confidence against "the answer cites a relevant passage".
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from ..assistant import OUT_OF_SCOPE, Nectarine
from ..types import AskContext
from .datasets import Dataset
from .metrics import auroc, calibration_bins, ece, percentile


def _good(answer, gold: dict[str, int]) -> tuple[bool, float]:
    """Does the answer cite a relevant passage? And the share of its citations that are relevant."""
    sections = {r.chunk.id: set(r.chunk.section_ids) for r in answer.results}
    cited = [c.chunk_id for c in answer.citations]
    if not cited:
        return False, 0.0
    relevant = [bool(sections.get(cid, set()) & gold.keys()) for cid in cited]
    return any(relevant), sum(relevant) / len(relevant)


def evaluate_answers(nec: Nectarine, dataset: Dataset, *, split: str = "test",
                     progress: Callable[[int, int], None] | None = None) -> dict:
    queries = dataset.queries_for(split)
    items = []
    for i, q in enumerate(queries):
        if progress:
            progress(i, len(queries))
        ctx = AskContext(version=q.metadata.get("context_version"))
        t0 = time.perf_counter()
        answer = nec.ask(q.text, history=q.history or None, context=ctx)
        latency = (time.perf_counter() - t0) * 1000
        gold = dataset.gold(split, q.id)
        good, precision = _good(answer, gold) if q.answerable else (False, 0.0)
        refused = answer.text == OUT_OF_SCOPE
        items.append({
            "id": q.id, "text": q.text, "answerable": q.answerable, "expect_handoff": q.expect_handoff,
            "kinds": q.metadata.get("kinds", []), "reference": q.answer, "answer": answer.text,
            "citations": [{"number": c.number, "url": c.url, "title": " › ".join(c.heading_path), "relevant": bool(
                {s for r in answer.results if r.chunk.id == c.chunk_id for s in r.chunk.section_ids} & gold.keys())}
                for c in answer.citations],
            "confidence": answer.confidence, "reasons": answer.reasons, "handoff": answer.handoff_recommended,
            "handoff_reason": answer.handoff_reason, "refused": refused, "good": good, "citation_precision": precision,
            "supported_rate": answer.supported_rate, "latency_ms": round(latency, 2), "language": answer.language,
            "evidence": answer.evidence,
        })
    if progress:
        progress(len(queries), len(queries))

    # answer similarity: one batch of embeddings for answers and references
    answerable = [it for it in items if it["answerable"] and it["reference"]]
    sims = []
    if answerable:
        vecs = nec.embedder.encode([it["answer"] for it in answerable] + [it["reference"] for it in answerable])
        a, r = vecs[: len(answerable)], vecs[len(answerable):]
        sims = (a * r).sum(1).tolist()
        for it, s in zip(answerable, sims):
            it["answer_similarity"] = round(float(s), 4)

    unans = [it for it in items if not it["answerable"] and not it["expect_handoff"]]
    escal = [it for it in items if it["expect_handoff"]]
    ans = [it for it in items if it["answerable"]]
    conf = [it["confidence"] for it in items]
    correct = [int(it["good"]) for it in items]
    cited = [it for it in ans if it["citations"]]
    metrics = {
        "answer_similarity": float(np.mean(sims)) if sims else 0.0,
        "citation_precision": float(np.mean([it["citation_precision"] for it in cited])) if cited else 0.0,
        "supported_sentence_rate": float(np.mean([it["supported_rate"] for it in items if it["citations"]] or [0.0])),
        "handoff_auroc": auroc([it["confidence"] for it in ans + unans], [1] * len(ans) + [0] * len(unans)),
        "false_confident_rate": float(np.mean([not it["handoff"] and not it["refused"] for it in unans])) if unans else 0.0,
        "deflection_rate": float(np.mean([not it["handoff"] for it in ans])) if ans else 0.0,
        "escalation_recall": float(np.mean([it["handoff"] for it in escal])) if escal else 0.0,
        "ece": ece(conf, correct),
        "latency_ms_p50": percentile([it["latency_ms"] for it in items], 50),
        "latency_ms_p95": percentile([it["latency_ms"] for it in items], 95),
        "queries": len(items),
    }
    return {"dataset": dataset.name, "split": split, "metrics": metrics, "items": items,
            "reliability": calibration_bins(conf, correct), "answerer": nec.answerer.name}
