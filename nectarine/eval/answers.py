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

With nuggets on the queries (``metadata.nuggets``, or a side file given as ``nuggets=``), also what a
user feels (:mod:`nectarine.eval.nuggets`), overall and per question kind:

- ``vital_nugget_recall``, ``nugget_recall``, ``full_answers`` (every vital nugget present);
- ``clutter``: answer units that carry no nugget and introduce nothing that does, over all units;
- ``truncation``: answers that end in a lead-in, break a numbered list, show a table row without
  its header, leave a fragment, or repeat a marker;
- ``step_completeness``: found steps over all steps, for questions whose nuggets are steps;
- ``honest_decline_rate``: unanswerable questions (not escalations) whose reply says the docs do
  not cover them (an honest decline with a ticket offered, or the out-of-scope reply);
- ``answerable_declined``: answerable questions declined that way.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from ..assistant import OUT_OF_SCOPE, Nectarine
from ..types import AskContext
from .datasets import Dataset
from .metrics import auroc, calibration_bins, ece, percentile
from .nuggets import NuggetMatcher, nuggets_of, score_answer, summarise


def _good(answer, gold: dict[str, int]) -> tuple[bool, float]:
    """Does the answer cite a relevant passage? And the share of its citations that are relevant."""
    sections = {r.chunk.id: set(r.chunk.section_ids) for r in answer.results}
    cited = [c.chunk_id for c in answer.citations]
    if not cited:
        return False, 0.0
    relevant = [bool(sections.get(cid, set()) & gold.keys()) for cid in cited]
    return any(relevant), sum(relevant) / len(relevant)


def _declined(answer) -> bool:
    """The reply says the docs do not cover the question: an honest decline with a ticket, or the out-of-scope reply."""
    return (answer.kind == "not_found" and answer.handoff_recommended) or answer.kind == "out_of_scope"


def evaluate_answers(nec: Nectarine, dataset: Dataset, *, split: str = "test",
                     progress: Callable[[int, int], None] | None = None, nuggets: dict[str, list[dict]] | None = None) -> dict:
    queries = dataset.queries_for(split)
    matcher = NuggetMatcher(embedder=nec.embedder, idf=nec.reader.lexical.idf)
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
            "evidence": answer.evidence, "kind": answer.kind, "question_kind": answer.question_kind, "declined": _declined(answer),
        })
        found = nuggets_of({"nuggets": (nuggets or {}).get(q.id)} if nuggets and q.id in nuggets else q.metadata)
        if q.answerable and found:
            ns = score_answer(matcher, "" if items[-1]["declined"] else answer.text, found)
            items[-1]["nuggets"] = {"vital": ns.vital, "vital_found": ns.vital_found, "total": ns.total, "found": ns.found,
                                    "steps": ns.steps, "steps_found": ns.steps_found, "units": ns.units, "clutter": ns.clutter,
                                    "truncation": ns.truncation, "missing": ns.missing}
            items[-1]["_score"] = ns
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
    scored = [it for it in items if "_score" in it]
    if scored:
        metrics.update(summarise([it["_score"] for it in scored]))
        metrics["nugget_questions"] = metrics.pop("questions")
        metrics["honest_decline_rate"] = float(np.mean([it["declined"] for it in unans])) if unans else 0.0
        metrics["answerable_declined"] = float(np.mean([it["declined"] for it in ans])) if ans else 0.0
        by_kind: dict[str, dict] = {}
        for kind in sorted({k for it in scored for k in it["kinds"]}):
            group = [it["_score"] for it in scored if kind in it["kinds"]]
            if group:
                by_kind[kind] = summarise(group)
        metrics_by_kind = by_kind
    else:
        metrics_by_kind = {}
    for it in scored:
        del it["_score"]
    return {"dataset": dataset.name, "split": split, "metrics": metrics, "by_kind": metrics_by_kind, "items": items,
            "reliability": calibration_bins(conf, correct), "answerer": nec.answerer.name}
