"""Coverage gaps: what users asked that the docs did not answer, grouped into topics to write.

From the stored conversations it takes the low-confidence answers, the handoffs and the thumbs-down,
embeds the questions with the same model as the index, clusters them (average-linkage on cosine
distance, so the number of topics is not fixed in advance), names each cluster by its most typical
questions, and ranks clusters by how many questions they hold.

>>> from nectarine.index.embedder import get_embedder
>>> from nectarine.store import ConversationLog
>>> store = ConversationLog("sqlite:///data/nectarine.db")
>>> for question in ["does nectain work with google chat?", "does nectain send google chat notifications?",
...                  "how long before an idle session ends?"]:
...     _ = store.record_turn(question, nec.ask(question))
>>> gaps = find_gaps(store.turns(), get_embedder("fake"))  # the index's embedder (here the hashing test one)
>>> sorted(gaps[0].examples[:2])
['does nectain send google chat notifications?', 'does nectain work with google chat?']
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Gap:
    size: int
    examples: list[str]  # the most typical questions first
    reasons: dict[str, int]  # low confidence / handoff / thumbs down
    closest_sources: list[dict] = field(default_factory=list)  # what the assistant cited, most often first
    mean_confidence: float = 0.0


def is_gap(turn, threshold: float) -> list[str]:
    why = []
    if turn.confidence < threshold:
        why.append("low confidence")
    if turn.handoff:
        why.append("handoff")
    if turn.feedback == -1:
        why.append("thumbs down")
    return why


def find_gaps(turns, embedder, *, threshold: float = 0.5, distance: float = 0.45, min_size: int = 2, examples: int = 3) -> list[Gap]:
    from sklearn.cluster import AgglomerativeClustering

    picked = [(t, is_gap(t, threshold)) for t in turns]
    picked = [(t, why) for t, why in picked if why]
    if len(picked) < 2:
        return []
    vectors = embedder.encode([t.question for t, _ in picked])
    labels = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average", distance_threshold=distance).fit_predict(vectors)
    gaps = []
    for label in set(labels):
        idx = np.where(labels == label)[0]
        if len(idx) < min_size:
            continue
        centre = vectors[idx].mean(0)
        order = idx[np.argsort(-(vectors[idx] @ centre))]
        questions = list(dict.fromkeys(picked[i][0].question for i in order))
        sources = Counter((s["title"], s["url"]) for i in idx for s in picked[i][0].sources)
        gaps.append(Gap(
            size=len(idx), examples=questions[:examples],
            reasons=dict(Counter(r for i in idx for r in picked[i][1])),
            closest_sources=[{"title": t, "url": u, "times": n} for (t, u), n in sources.most_common(3)],
            mean_confidence=float(np.mean([picked[i][0].confidence for i in idx])),
        ))
    return sorted(gaps, key=lambda g: (-g.size, g.mean_confidence))


def gaps_json(gaps: list[Gap]) -> dict:
    """The ``--json`` of ``nectarine gaps``: ``{"metrics": {"topics": n}, "gaps": [...]}``."""
    return {"metrics": {"topics": len(gaps)}, "gaps": [g.__dict__ for g in gaps]}


def gaps_html(gaps: list[Gap]) -> str:
    """A self-contained HTML page of the topics, one row each (the ``--report`` of ``nectarine gaps``)."""
    rows = "".join(f"<tr><td>{i}</td><td>{g.size}</td><td>{'<br>'.join(html.escape(e) for e in g.examples)}</td>"
                   f"<td>{html.escape(', '.join(f'{k} {v}' for k, v in g.reasons.items()))}</td>"
                   f"<td>{'<br>'.join(html.escape(s['url']) for s in g.closest_sources)}</td></tr>" for i, g in enumerate(gaps, 1))
    return (f"<!DOCTYPE html><meta charset=utf-8><title>Coverage gaps</title><h1>Coverage gaps</h1><table border=1>"
            f"<tr><th>#</th><th>questions</th><th>typical questions</th><th>why</th><th>closest sources</th></tr>{rows}</table>")
