"""The lexical side of the index: tokenisation and a bm25s index.

Tokens keep compound identifiers whole *and* split (``AUTH-1003`` gives ``auth-1003``, ``auth`` and
``1003``), so a pasted error code matches exactly while its parts still match loosely.

>>> lexical_tokens("Error AUTH-1003 after upgrading to 4.3.1")
['error', 'auth-1003', 'auth', '1003', 'after', 'upgrad', '4.3.1']
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

_TOKEN = re.compile(r"[^\W_]+(?:[-_.][^\W_]+)*", re.UNICODE)
_SPLIT = re.compile(r"[-_.]")


@functools.lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


@functools.lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def lexical_tokens(text: str) -> list[str]:
    """Lower-cased, stemmed tokens without stopwords; a compound ("AUTH-1003") also yields its parts."""
    return list(_tokens(text))


# Answering tokenizes the same passages for every question: cached, they cost nothing the second
# time (the offline answer went from 26 to N ms, BENCHMARKS.md). Bounded, so memory stays flat.
@functools.lru_cache(maxsize=50_000)
def _tokens(text: str) -> tuple[str, ...]:
    stop, stem = _stopwords(), _stemmer()
    out: list[str] = []
    for match in _TOKEN.finditer(text.lower()):
        token = match.group(0)
        parts = _SPLIT.split(token)
        if len(parts) > 1:
            out.append(token)
            out.extend(stem.stemWord(p) for p in parts if len(p) > 1 and p not in stop)
        elif token not in stop and (len(token) > 1 or token.isdigit()):
            out.append(stem.stemWord(token))
    return tuple(out)


class LexicalIndex:
    """BM25 (bm25s, Lucene variant) over chunk texts, scoring every chunk for a query at once."""

    def __init__(self, retriever) -> None:
        self.retriever = retriever
        self.vocab: dict[str, int] = retriever.vocab_dict

    @classmethod
    def build(cls, texts: Sequence[str], *, show_progress: bool = False) -> LexicalIndex:
        import bm25s

        retriever = bm25s.BM25(method="lucene")
        # An empty document still needs one token so bm25s keeps the row alignment.
        retriever.index([lexical_tokens(t) or [""] for t in texts], show_progress=show_progress)
        return cls(retriever)

    def save(self, folder: Path) -> None:
        self.retriever.save(str(folder))

    @classmethod
    def load(cls, folder: Path, *, mmap: bool = True) -> LexicalIndex:
        import bm25s

        return cls(bm25s.BM25.load(str(folder), mmap=mmap))

    def scores(self, query: str | Sequence[str]) -> np.ndarray:
        """BM25 score of every chunk (zeros where no query term occurs)."""
        tokens = lexical_tokens(query) if isinstance(query, str) else list(query)
        ids = [self.vocab[t] for t in tokens if t in self.vocab]
        n = int(self.retriever.scores["num_docs"])
        if not ids:
            return np.zeros(n, dtype=np.float32)
        return np.asarray(self.retriever.get_scores_from_ids(ids), dtype=np.float32)

    def containing(self, tokens: Sequence[str], rows: Sequence[int]) -> dict[str, set[int]]:
        """For each token, which of ``rows`` contain it (read from the postings, no re-tokenising)."""
        indptr, indices = self.retriever.scores["indptr"], self.retriever.scores["indices"]
        wanted = np.asarray(rows)
        out = {}
        for t in tokens:
            i = self.vocab.get(t)
            if i is None:
                out[t] = set()
                continue
            postings = indices[indptr[i]:indptr[i + 1]]
            out[t] = set(wanted[np.isin(wanted, postings)].tolist())
        return out

    def idf(self, tokens: Sequence[str]) -> dict[str, float]:
        """BM25's inverse document frequency of each token (a token not in the index gets the maximum)."""
        indptr = self.retriever.scores["indptr"]
        n = int(self.retriever.scores["num_docs"])
        out = {}
        for t in tokens:
            i = self.vocab.get(t)
            df = int(indptr[i + 1] - indptr[i]) if i is not None else 0
            out[t] = float(np.log(1 + (n - df + 0.5) / (df + 0.5)))
        return out
