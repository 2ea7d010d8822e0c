"""The lexical side of the index: tokenisation and a bm25s index.

Tokens keep compound identifiers whole *and* split (``AUTH-1003`` gives ``auth-1003``, ``auth`` and
``1003``), so a pasted error code matches exactly while its parts still match loosely.

>>> lexical_tokens("Error AUTH-1003 after upgrading to 4.3.1")
['error', 'auth-1003', 'auth', '1003', 'after', 'upgrad', '4.3.1']
"""

from __future__ import annotations

import functools
import re
from array import array
from collections.abc import Iterable, Sequence
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
    return _tokenize(text)


def _tokenize(text: str) -> tuple[str, ...]:
    """:func:`lexical_tokens` without the cache (building an index sees every passage once)."""
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
    def build(cls, texts: Iterable[str], *, show_progress: bool = False) -> LexicalIndex:
        """The index of ``texts`` (any iterable: they are tokenised one at a time, see :class:`LexicalBuilder`)."""
        builder = LexicalBuilder()
        for text in texts:
            builder.add(text)
        return builder.build()

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


class LexicalBuilder:
    """Builds the bm25s index (Lucene BM25, k1=1.5, b=0.75) one passage at a time, in compact arrays.

    ``bm25s.BM25.index`` wants every passage's tokens as Python lists at once: about 1.5 KiB per passage,
    1.5 GiB for a million. Here each passage leaves only its distinct token ids and their counts
    (8 bytes per distinct term, in ``array`` buffers) and its length; ``build`` then computes the same
    scores as bm25s (``tests/index/test_ingest_memory.py`` compares them) into the same CSC matrix and
    hands them to a ``bm25s.BM25``, so saving, loading and scoring are bm25s's own.
    """

    k1, b = 1.5, 0.75
    _FLUSH = 65_536  # raw token ids gathered before they are reduced to (term, count) pairs

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self.doc_len = array("l")  # tokens per passage, repeats included
        self.doc_terms = array("l")  # distinct terms per passage
        self.term = array("i")  # per (passage, distinct term): the term id ...
        self.tf = array("f")  # ... and how often it occurs in the passage
        self._raw = array("i")
        self._raw_docs = array("l")

    def add(self, text: str) -> None:
        # An empty passage still gets one token (""), as it did with bm25s, so rows stay aligned.
        tokens = _tokenize(text) or ("",)
        vocab = self.vocab
        ids = [vocab.setdefault(t, len(vocab)) for t in tokens]
        self._raw.extend(ids)
        self._raw_docs.append(len(ids))
        self.doc_len.append(len(ids))
        if len(self._raw) >= self._FLUSH:
            self._flush()

    def _flush(self) -> None:
        if not self._raw_docs:
            return
        raw = np.frombuffer(self._raw, dtype=np.int32)
        lens = np.frombuffer(self._raw_docs, dtype=np.int64)
        doc = np.repeat(np.arange(len(lens), dtype=np.int64), lens)
        pairs, counts = np.unique(doc * (len(self.vocab) + 1) + raw, return_counts=True)  # sorted by passage, then term
        pair_doc = pairs // (len(self.vocab) + 1)
        self.term.frombytes((pairs - pair_doc * (len(self.vocab) + 1)).astype(np.int32).tobytes())
        self.tf.frombytes(counts.astype(np.float32).tobytes())
        self.doc_terms.frombytes(np.bincount(pair_doc, minlength=len(lens)).astype(np.int64).tobytes())
        del raw, lens
        self._raw, self._raw_docs = array("i"), array("l")

    def build(self) -> LexicalIndex:
        import bm25s
        import scipy.sparse as sp

        self._flush()
        n_docs, n_vocab = len(self.doc_len), len(self.vocab)
        term = np.frombuffer(self.term, dtype=np.int32)
        nnz = len(term)
        doc_len = np.frombuffer(self.doc_len, dtype=np.int64)
        avg_len = doc_len.mean() if n_docs else 0.0
        # bm25s: idf = log(1 + (N - df + 0.5) / (df + 0.5)) stored as float32; tf / (k1 (1 - b + b l/avg) + tf)
        # computed in float64 (a float32 tf with numpy float64 scalars), times the float32 idf, stored as float32.
        df = np.bincount(term, minlength=n_vocab).astype(np.float64)
        idf = np.log(1 + (n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
        idf[df == 0] = 0
        scores = np.empty(nnz, dtype=np.float32)
        tf = np.frombuffer(self.tf, dtype=np.float32)
        indptr = np.zeros(n_docs + 1, dtype=np.int64)
        np.cumsum(np.frombuffer(self.doc_terms, dtype=np.int64), out=indptr[1:])
        step = 1 << 18
        for start in range(0, nnz, step):  # in slices: ~10 MB of temporaries at a time
            end = min(nnz, start + step)
            rows = np.searchsorted(indptr, np.arange(start, end), side="right") - 1
            t = tf[start:end].astype(np.float64)
            norm = self.k1 * ((1 - self.b) + self.b * doc_len[rows] / avg_len)
            scores[start:end] = idf[term[start:end]].astype(np.float64) * (t / (norm + t))
        self.tf = array("f")
        del tf
        index_dtype = np.int32 if nnz < 2**31 else np.int64
        # Passage-major (CSR) to term-major (CSC, what bm25s stores): scipy's conversion needs no
        # permutation array, only the output (8 bytes per posting).
        csc = sp.csr_matrix((scores, term, indptr.astype(index_dtype)), shape=(n_docs, n_vocab)).tocsc()
        del scores, term
        self.term = array("i")
        retriever = bm25s.BM25(method="lucene")
        retriever.scores = {"data": csc.data.astype(np.float32, copy=False), "indices": csc.indices.astype(np.int32, copy=False),
                            "indptr": csc.indptr.astype(np.int64), "num_docs": n_docs}
        vocab = self.vocab
        if "" not in vocab:
            vocab[""] = max(vocab.values(), default=-1) + 1
        retriever.vocab_dict = vocab
        retriever.nonoccurrence_array = None
        retriever.unique_token_ids_set = set(vocab.values())
        return LexicalIndex(retriever)
