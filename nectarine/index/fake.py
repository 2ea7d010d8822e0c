"""A FAKE embedder for tests: deterministic feature hashing, no model, no weights, numpy only.

**This is not a language model and must not serve real users.** It exists so that the fast test
tier (``pytest -m "not slow"``) can exercise chunking, ingest, fusion, answer composition, policy and
the API in seconds, without loading MiniLM. It is registered like any other embedder (entry point
``fake`` in ``nectarine.embedders``), so it also shows how a third-party embedder plugs in.

What it does: lower-cased words (minus a few English stop words), a crude stem of each, word
bigrams and character trigrams are hashed (signed, so collisions cancel rather than pile up) into
384 dimensions with sublinear term weights, and the vector is L2-normalised. Two texts are close
when they share words or word fragments, so hybrid retrieval still finds the page that uses the
words of the question; it knows no synonyms ("sign in" is not "log in").

An index built with it records the vector space ``fake-hash-v1``: it loads with this embedder
(``Nectarine.load(index, embedder=FakeEmbedder())``, or ``Nectarine.load(index)``, which finds it by
name) and is refused, with :class:`~nectarine.errors.IndexLoadError`, with a real model.

>>> fake = FakeEmbedder()
>>> fake.encode(["reset my password", "resetting passwords"]).shape
(2, 384)
>>> round(float(fake.encode(["reset my password"])[0] @ fake.encode(["reset my password"])[0]), 4)
1.0
"""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter
from collections.abc import Sequence

import numpy as np

WORD = re.compile(r"[^\W_]+", re.UNICODE)
PIECE = re.compile(r"[^\W_]+|[^\w\s]|_", re.UNICODE)  # BERT-like pre-tokenisation: words, and each punctuation mark
STOP = frozenset(
    "a an and are as at be by can do does for from how i if in is it its me my of on or our so that the their "
    "then there this to was we what when where which who why will with you your".split()
)
SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "es", "ed", "ly", "s")


def _stem(word: str) -> str:
    for suffix in SUFFIXES:
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _features(text: str) -> Counter:
    words = [w for w in WORD.findall(text.lower()) if w not in STOP]
    feats: Counter = Counter()
    for w in words:
        feats["w:" + w] += 1.0
        feats["s:" + _stem(w)] += 1.0
        padded = f"<{w}>"
        grams = [padded[i : i + 3] for i in range(len(padded) - 2)]
        for g in grams:
            feats["c:" + g] += 1.0 / len(grams)  # a word's fragments weigh about as much as the word
    for a, b in zip(words, words[1:]):
        feats[f"b:{a} {b}"] += 0.5
    if not feats:  # punctuation or stop words only: still a unit vector, from the raw characters
        feats["raw:" + text.strip().lower()] = 1.0
    return feats


class FakeEmbedder:
    """A deterministic hashing FAKE for tests (see the module docstring); the same interface as the real embedder.

    ``model`` and ``backend`` are accepted (and ignored) so ``get_embedder("fake")`` and an index's
    manifest can name it like any embedder.
    """

    name = "fake"
    vector_space = "fake-hash-v1"
    dimension = 384
    max_wordpieces = 256  # MiniLM's input limit, so chunks are sized as they would be for the real model

    def __init__(self, model: str = "fake", *, backend: str | None = None, **_: object) -> None:
        self.backend = "hashing"

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dimension, dtype=np.float64)
        for feature, count in _features(text).items():
            h = zlib.crc32(feature.encode("utf-8"))
            sign = 1.0 if (h >> 31) & 1 else -1.0
            v[h % self.dimension] += sign * (1.0 + math.log(count) if count >= 1 else count)
        norm = np.linalg.norm(v)
        if norm == 0:  # every feature cancelled out (practically never): any fixed unit vector
            v[0], norm = 1.0, 1.0
        return v / norm

    def encode(self, texts: Sequence[str], *, batch_size: int = 32, show_progress: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, one row per text (``batch_size`` and ``show_progress`` are ignored)."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = self._vector(text)
        return out

    def count_wordpieces(self, texts: Sequence[str]) -> list[int]:
        """An estimate of BERT word pieces (erring high): each punctuation mark one, a long word several."""
        return [sum(1 if len(t) <= 6 else 1 + (len(t) - 3) // 4 for t in PIECE.findall(text)) for text in texts]

    def describe(self) -> dict:
        return {"name": self.name, "kind": "fake", "dimension": self.dimension, "backend": self.backend,
                "vector_space": self.vector_space, "max_wordpieces": self.max_wordpieces}
