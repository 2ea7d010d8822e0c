"""Questions grouped by meaning, for the console: the ``gaps`` command's clustering
(:func:`nectarine.eval.gaps.find_gaps`) run on the distinct questions SQL counted, not on every turn.

SQL returns the most asked distinct questions (at most a few hundred, with their counts, reasons and
latest sources); ``find_gaps`` embeds and clusters them; each cluster's volume is the sum of its
questions' counts, its recency the last time any of them was asked. Results are kept per filter, per
newest turn id and per minute (a new question, or a minute later, recomputes them), and question vectors are kept across calls, so
a page view embeds only questions it has not seen.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

from ..eval.gaps import find_gaps
from ..store.analytics import Analytics, Filters


@dataclass
class Cluster:
    id: str  # stable while its most asked question stays the most asked
    volume: int  # turns
    last: object  # datetime of the newest turn
    questions: list[dict]  # {"question", "n", "last", ...}, most asked first
    reasons: dict[str, int] = field(default_factory=dict)
    closest: list[dict] = field(default_factory=list)  # {"title", "url", "times"}: the pages cited for them, most first
    confidence: float = 0.0

    @property
    def label(self) -> str:
        return self.questions[0]["question"]


class CachedEmbedder:
    """An embedder's vectors, kept per text (bounded), so repeated page views embed nothing new."""

    def __init__(self, embedder, size: int = 20_000) -> None:
        self.embedder, self.size = embedder, size
        self.vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self.lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        with self.lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self.vectors))
        if missing:
            fresh = self.embedder.encode(missing)
            with self.lock:
                for t, v in zip(missing, fresh):
                    self.vectors[t] = np.asarray(v, dtype=np.float32)
                while len(self.vectors) > self.size:
                    self.vectors.popitem(last=False)
        with self.lock:
            return np.stack([self.vectors[t] if t in self.vectors else self.embedder.encode([t])[0] for t in texts])


REASONS = {"declines": "declined", "low_confidence": "low confidence", "handoffs": "handoff", "thumbs_down": "thumbs down",
           "tickets": "ticket"}


def group(rows: list[dict], embedder, *, distance: float = 0.45) -> list[Cluster]:
    """Cluster the distinct questions ``rows`` (from ``Analytics.frequent``) by meaning."""
    if not rows:
        return []
    by_text = {r["question"]: r for r in rows}
    if len(rows) == 1:
        members = [[rows[0]["question"]]]
    else:
        # Every row qualifies (threshold above any confidence), singletons kept (min_size=1), and every
        # member listed (examples=len): find_gaps is used for its clustering and typicality order only.
        items = [SimpleNamespace(question=r["question"], confidence=r["confidence"], handoff=False, feedback=None, sources=[])
                 for r in rows]
        found = find_gaps(items, embedder, threshold=2.0, distance=distance, min_size=1, examples=len(rows))
        members = [g.examples for g in found]
    clusters = []
    for texts in members:
        qs = sorted((by_text[t] for t in texts), key=lambda r: (-r["n"], str(r["question"])))
        volume = sum(r["n"] for r in qs)
        sources = Counter()
        for r in qs:
            for s in r.get("sources") or []:
                sources[(s.get("title"), s.get("url"))] += r["n"]
        reasons = {label: sum(int(r.get(k) or 0) for r in qs) for k, label in REASONS.items()}
        clusters.append(Cluster(
            id=hashlib.sha256(qs[0]["question"].encode()).hexdigest()[:12], volume=volume, last=max(r["last"] for r in qs),
            questions=qs, reasons={k: v for k, v in reasons.items() if v},
            closest=[{"title": t, "url": u, "times": n} for (t, u), n in sources.most_common(3)],
            confidence=sum(r["confidence"] * r["n"] for r in qs) / volume))
    return clusters


def rank(clusters: list[Cluster], by: str = "volume") -> list[Cluster]:
    """By volume (then recency), or by recency (then volume)."""
    if by == "recent":
        return sorted(clusters, key=lambda c: (str(c.last), c.volume), reverse=True)
    return sorted(clusters, key=lambda c: (c.volume, str(c.last)), reverse=True)


class Clusterer:
    """Clusters of the most asked questions, or of the gap questions, cached per (filters, newest turn)."""

    def __init__(self, analytics: Analytics, embedder, *, limit: int = 300, keep: int = 32) -> None:
        self.analytics, self.embedder, self.limit, self.keep = analytics, CachedEmbedder(embedder), limit, keep
        self.cache: OrderedDict[tuple, list[Cluster]] = OrderedDict()
        self.running: dict[tuple, threading.Lock] = {}
        self.lock = threading.Lock()

    def clusters(self, f: Filters, *, gaps_only: bool) -> list[Cluster]:
        # A new turn recomputes; so does a new minute (feedback and tickets change old turns' reasons).
        key = (f, gaps_only, self.analytics.newest_turn(), int(time.time() // 60))
        with self.lock:
            if key in self.cache:
                self.cache.move_to_end(key)
                return self.cache[key]
            running = self.running.setdefault(key, threading.Lock())
        with running:  # one computation per key: a second view waits for the first instead of repeating it
            with self.lock:
                if key in self.cache:
                    return self.cache[key]
            found = group(self.analytics.frequent(f, gaps_only=gaps_only, limit=self.limit), self.embedder)
            with self.lock:
                self.cache[key] = found
                self.running.pop(key, None)
                while len(self.cache) > self.keep:
                    self.cache.popitem(last=False)
        return found

    def warm(self, f: Filters) -> None:
        """Compute the default views' clusters ahead of the first visit (at sign-in, in a thread): the
        first embedding of a few hundred questions takes seconds on two cores (BENCHMARKS.md)."""
        for gaps_only in (True, False):
            try:
                self.clusters(f, gaps_only=gaps_only)
            except Exception as exc:  # noqa: BLE001 - a warm-up must never break signing in; the page reports errors
                print(f"nectarine console: warming the question clusters failed: {type(exc).__name__}: {exc}", flush=True)
