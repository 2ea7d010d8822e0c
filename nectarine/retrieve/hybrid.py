"""Hybrid retrieval: FAISS dense search and BM25, fused, filtered, version-aware and de-duplicated.

>>> from nectarine import ingest
>>> from nectarine.index.embedder import get_embedder
>>> from nectarine.index.store import IndexReader
>>> _ = ingest(["corpus/"], "indexes/default", model="fake")  # a hashing test embedder; omit model= for MiniLM
>>> retriever = HybridRetriever(IndexReader.open("indexes/default"), get_embedder("fake"))  # the index's embedder
>>> [r.chunk.doc_id for r in retriever.retrieve("AUTH-1003 after rotating the IdP cert", k=3)]  # doctest: +ELLIPSIS
['docs/sso', ...]
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from ..index.embedder import Embedder
from ..index.multilingual import DEPTH as MULTILINGUAL_DEPTH
from ..index.multilingual import MultilingualSide, fuse_ranks
from ..index.store import SOURCE_CODES, DenseKind, IndexReader
from ..types import Choice, Filters, Message, SearchResult, SourceType, VersionMode
from ..versions import Version, find_version
from .history import gate_weight, last_exchange
from .rerank import Pool, Reranker, default_reranker, features

_CHANGES_INTENT = re.compile(
    r"\b(what('?s| is| has)? (new|changed|different)|changes?( in| since)?|changelog|release notes?|new in|fixed in|"
    r"introduced|since (version|v?\d)|after (the )?upgrad\w*|upgrad\w+ to|known issues?|deprecat\w*|removed in)\b",
    re.I,
)


class FusionMethod(Choice):
    RRF = "rrf"  # reciprocal rank fusion
    WEIGHTED = "weighted"  # convex combination of cosine and max-normalised BM25


@dataclass(frozen=True)
class FollowGate:
    best_cosine: float  # the question alone against the whole index
    weight: float  # of the last exchange in the query
    context: str  # the last exchange


class SearchMode(Choice):
    HYBRID = "hybrid"
    DENSE = "dense"
    BM25 = "bm25"


@dataclass
class RetrieverSettings:
    """Fusion and re-ranking knobs, tuned on the eval dev split by scripts/tune_retrieval.py (BENCHMARKS.md)."""

    fusion: FusionMethod = FusionMethod.WEIGHTED  # a name is accepted too, and parsed once
    rrf_k: int = 60
    dense_weight: float = 0.7  # share of the dense side in either fusion
    candidates: int = 50  # per side, before fusion
    dedupe_threshold: float = 0.97  # cosine above which two chunks count as the same passage
    # Version awareness. On the dev split, demoting every passage for another version cost 4 points
    # of nDCG@10 ("I'm on 4.1, can I use OIDC?" needs the page that says "from 4.2"), so only a
    # passage superseded by a similar one for the user's version is demoted; that costs 0.002.
    version_penalty: float = 0.85  # score factor for a passage superseded for the user's version
    sibling_threshold: float = 0.8  # cosine above which a matching passage supersedes a non-matching one
    changes_boost: float = 1.25  # "what changed" questions: release notes up to the user's version
    history_weight: float = 0.7  # (dev: 0.7 >= 1.0 on both sets, 0.5 loses 0.02 on mtrag-govt) scales the gate's weight of the last exchange in a follow-up's query
    # The follow-up gate (retrieve/history.py): the last exchange joins with weight clip((high - s) / span, 0, 1),
    # s = the question alone's best cosine to any passage. Chosen on both benchmarks' dev splits (BENCHMARKS.md).
    history_gate_high: float = 0.6
    history_gate_span: float = 0.2
    version_from_query: bool = False  # read "I'm on 4.1" from the question when the caller gave no version (dev: -0.004)
    # The learned reranker (retrieve/rerank.py) reorders the fused top ``rerank_depth`` in hybrid mode.
    rerank: bool = True
    rerank_depth: int = 30
    # Questions not in English also search the index's e5 side, when one was built (`nectarine index multilingual`):
    # eval/crosslingual dev, non-English questions +0.082 (eval/nectain) and +0.155 (mtrag-govt) nDCG@10.
    multilingual: bool = True

    def __post_init__(self) -> None:
        self.fusion = FusionMethod.from_str(self.fusion)

    def as_dict(self) -> dict:
        return {**asdict(self), "fusion": self.fusion.value}


def _encode_version(t: tuple[int, int, int]) -> int:
    return t[0] * 1_000_000 + t[1] * 1_000 + t[2]


class HybridRetriever:
    """Ranks chunks of one loaded index for a query."""

    def __init__(self, reader: IndexReader, embedder: Embedder, settings: RetrieverSettings | None = None, cache_size: int = 2048) -> None:
        if embedder.dimension != reader.manifest.dimension:
            raise ValueError(f"embedder has {embedder.dimension} dimensions, the index {reader.manifest.dimension}")
        self.reader = reader
        self.embedder = embedder
        self.settings = settings or RetrieverSettings()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()
        self._reranker: Reranker | None = None  # None: the shipped model (rerank.json), if fitted
        self._side: MultilingualSide | None | bool = False  # False: not looked for yet

    # ------------------------------------------------------------------ query embedding
    def embed_query(self, text: str) -> np.ndarray:
        with self._cache_lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
                return hit
        vec = self.embedder.encode([text])[0]
        with self._cache_lock:
            self._cache[text] = vec
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return vec

    # ------------------------------------------------------------------ filters
    def _masks(self, filters: Filters, version: str | None) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(allowed, version_match): boolean arrays over rows, or None when everything passes."""
        allowed = None
        if filters.sources:
            codes = [SOURCE_CODES[SourceType.from_str(s)] for s in filters.sources]
            allowed = np.isin(self.reader.source_codes, codes)
        match = None
        if version:
            v = Version.parse(version)
            floor, ceiling = _encode_version(v.floor), _encode_version(v.ceiling)
            low, high = self.reader.version_low, self.reader.version_high
            notes = self.reader.source_codes == SOURCE_CODES[SourceType.RELEASE_NOTES]
            # A release note applies to everyone on its version or later; other pages to their range.
            match = np.where(notes, low < ceiling, (low < ceiling) & (high > floor))
            if filters.version_mode is VersionMode.EXCLUDE:
                allowed = match if allowed is None else allowed & match
        return allowed, match

    def follow_gate(self, query: str, history: Sequence[Message | dict] | None, qvec: np.ndarray | None = None) -> FollowGate:
        """How much of the last exchange a question takes (0 without history): the question alone's best cosine to
        any passage decides (``RetrieverSettings.history_gate_*``). Also evidence for the confidence model."""
        context = last_exchange(history)
        if not context or self.reader.size == 0:
            return FollowGate(0.0, 0.0, "")
        qvec = self.embed_query(query) if qvec is None else qvec
        _, best = self._dense_search(qvec, 1, None)
        s = self.settings
        cosine = float(best[0]) if best else 0.0
        return FollowGate(cosine, s.history_weight * gate_weight(cosine, s.history_gate_high, s.history_gate_span), context)

    # ------------------------------------------------------------------ search
    def retrieve(
        self,
        query: str,
        k: int = 5,
        *,
        filters: Filters | None = None,
        history: Sequence[Message | dict] | None = None,
        mode: str | SearchMode = SearchMode.HYBRID,
        pool_only: bool = False,
        language: str | None = None,
    ) -> list[SearchResult]:
        """``language``: the query's, when the caller has detected it (``Nectarine.ask`` has); otherwise it is
        detected here, and only when the index has a multilingual side (detection costs about 7 ms)."""
        mode = SearchMode.from_str(mode)
        side = self.multilingual if mode is SearchMode.HYBRID and not pool_only and query.strip() else None
        if side is not None:
            if language is None:
                from ..answer.policy import detect_language

                language = detect_language(query)
            if language != "en":
                return self._with_multilingual(side, query, k, filters or Filters(), history)
        return self._retrieve(query, k, filters=filters, history=history, mode=mode, pool_only=pool_only)

    @property
    def multilingual(self) -> MultilingualSide | None:
        """The index's e5 side (index/multilingual.py), loaded on first use; None when none was built or it is off."""
        if not self.settings.multilingual:
            return None
        if self._side is False:
            self._side = MultilingualSide.load(self.reader)
        return self._side

    def _with_multilingual(self, side: MultilingualSide, query: str, k: int, filters: Filters, history) -> list[SearchResult]:
        """A question not in English: the hybrid ranking fused with e5's (reciprocal ranks); scores become the fused ones."""
        base = self._retrieve(query, max(k, MULTILINGUAL_DEPTH), filters=filters, history=history, mode=SearchMode.HYBRID)
        version = filters.version or (find_version(query) if self.settings.version_from_query else None)
        allowed, match = self._masks(filters, version)
        by_row = {r.row: r for r in base}
        fused = fuse_ranks([r.row for r in base], side.search(query, MULTILINGUAL_DEPTH, allowed))[:k]
        missing = [row for row, _ in fused if row not in by_row]
        chunks = dict(zip(missing, self.reader.chunks(missing)))
        qvec = self.embed_query(query)
        out = []
        for rank, (row, score) in enumerate(fused, 1):
            if row in by_row:
                out.append(by_row[row].model_copy(update={"score": round(score, 6), "rank": rank}))
            else:
                out.append(SearchResult(chunk=chunks[row], score=round(score, 6), dense_score=round(float(self.reader.vectors[row] @ qvec), 6),
                                        version_match=True if match is None else bool(match[row]), rank=rank, row=row))
        return out

    def _retrieve(
        self,
        query: str,
        k: int,
        *,
        filters: Filters | None,
        history: Sequence[Message | dict] | None,
        mode: SearchMode,
        pool_only: bool = False,
    ) -> list[SearchResult]:
        s = self.settings
        filters = filters or Filters()
        n = self.reader.size
        if n == 0 or not query.strip():
            return []
        version = filters.version or (find_version(query) if s.version_from_query else None)
        allowed, match = self._masks(filters, version)
        pool = min(n, max(s.candidates, k * 4))

        # Dense side: the query vector, plus the last exchange as far as the gate lets it in.
        qvec = self.embed_query(query)
        gate = self.follow_gate(query, history, qvec)
        if gate.weight > 0:
            qvec = qvec + gate.weight * self.embed_query(gate.context)
            qvec = (qvec / np.linalg.norm(qvec)).astype(np.float32)
        dense_ids, dense_scores = self._dense_search(qvec, pool, allowed) if mode is not SearchMode.BM25 else ([], [])

        # Lexical side: BM25 over every chunk, the earlier turns added at a lower weight.
        lex = None
        if mode is not SearchMode.DENSE:
            lex = self.reader.lexical.scores(query)
            if gate.weight > 0:
                # Each part normalised to its own best match, so a long earlier exchange cannot drown
                # the follow-up's own terms.
                context = self.reader.lexical.scores(gate.context)
                lex = lex / max(float(lex.max()), 1e-9) + gate.weight * context / max(float(context.max()), 1e-9)
            if allowed is not None:
                lex = np.where(allowed, lex, 0.0)
        lex_ids: list[int] = []
        if lex is not None:
            top = np.argpartition(-lex, min(pool, n - 1))[:pool] if n > pool else np.arange(n)
            lex_ids = [int(i) for i in top[np.argsort(-lex[top])] if lex[i] > 0]

        dense_rank = {int(i): r for r, i in enumerate(dense_ids)}
        lex_rank = {i: r for r, i in enumerate(lex_ids)}
        cand = list(dict.fromkeys([*map(int, dense_ids), *lex_ids]))
        if not cand:
            return []
        cand_arr = np.array(cand)
        cos = np.asarray(self.reader.vectors[np.sort(cand_arr)] @ qvec, dtype=np.float32)
        cos_by_row = dict(zip(np.sort(cand_arr).tolist(), cos.tolist()))
        lex_max = float(lex.max()) if lex is not None and lex.max() > 0 else 1.0

        changes = version is not None and bool(_CHANGES_INTENT.search(query))
        notes_code = SOURCE_CODES[SourceType.RELEASE_NOTES]
        scored = []
        fuse = self._fusion(mode, cos_by_row, lex, lex_max, dense_rank, lex_rank)  # chosen once, not per row
        raw: dict[int, float] = {}
        for row in cand:
            score = raw[row] = fuse(row)
            ok = True if match is None else bool(match[row])
            if ok and changes and self.reader.source_codes[row] == notes_code:
                score *= s.changes_boost
            scored.append((score, row, ok))
        if match is not None:
            scored = self._demote_superseded(scored)
        scored.sort(key=lambda t: -t[0])

        fetched: dict = {}
        relevance: dict[int, float] = {}
        # A "what changed" question for a known version keeps the fused order and its release-note rule: such
        # questions are too few in the dev splits for the reranker to have learned it (it put a page for an
        # older version above the release notes).
        reranker = self.reranker if mode is SearchMode.HYBRID and s.rerank and not changes else None
        if reranker is not None or pool_only:
            depth = min(len(scored), max(s.rerank_depth, k))
            top = scored[:depth]
            rows = [row for _, row, _ in top]
            fetched = dict(zip(rows, self.reader.chunks(rows)))
            q_alone = self.embed_query(query)
            pool = Pool(
                query=query,
                texts=[fetched[r].text for r in rows], titles=[fetched[r].title for r in rows],
                headings=[fetched[r].heading_path for r in rows], doc_ids=[fetched[r].doc_id for r in rows],
                positions=[fetched[r].position for r in rows], n_tokens=[fetched[r].n_tokens for r in rows],
                sources=[fetched[r].source.value for r in rows], fused=[t[0] for t in top],
                cos=[cos_by_row[r] for r in rows],
                cos_question=np.asarray(self.reader.vectors[rows] @ q_alone, dtype=np.float32).tolist(),
                lex=[float(lex[r]) / lex_max if lex is not None else 0.0 for r in rows],
                dense_rank=[dense_rank.get(r) for r in rows], lex_rank=[lex_rank.get(r) for r in rows],
                version_ok=[t[2] for t in top], gate=gate.weight, contains=lambda terms: self._contains(terms, rows),
                extra={"rows": rows, "chunks": [fetched[r] for r in rows]},
            )
            if pool_only:
                return pool
            X = features(pool, self.reader.lexical.idf)
            # The version rules (a "what changed" boost for release notes, the demotion of a superseded passage)
            # apply to the reranker's probability as they did to the fused score.
            factor = np.array([t[0] / raw[t[1]] if raw[t[1]] > 0 else 1.0 for t in top])
            p = reranker.score(X) * factor
            relevance = dict(zip(rows, p.tolist()))
            # The rest keep their fused order below the reranked top.
            floor = float(p.min()) if len(p) else 1.0
            rest = scored[depth:]
            rest_top = rest[0][0] if rest and rest[0][0] > 0 else 1.0
            scored = sorted(((float(pi), row, ok) for pi, (_, row, ok) in zip(p, top)), key=lambda t: -t[0])
            scored += [(floor * 0.5 * max(sc, 0.0) / rest_top, row, ok) for sc, row, ok in rest]

        picked, fetched = self._collapse_duplicates(scored, k, fetched)
        missing = [row for _, row, _ in picked if row not in fetched]
        fetched.update(zip(missing, self.reader.chunks(missing)))
        chunks = [fetched[row] for _, row, _ in picked]
        return [
            SearchResult(
                chunk=chunk,
                score=round(float(score), 6),
                dense_score=round(cos_by_row[row], 6),
                lexical_score=round(float(lex[row]), 6) if lex is not None else None,
                dense_rank=dense_rank.get(row),
                lexical_rank=lex_rank.get(row),
                version_match=ok,
                relevance=round(relevance[row], 6) if row in relevance else None,
                rank=rank,
                row=row,
            )
            for rank, ((score, row, ok), chunk) in enumerate(zip(picked, chunks), 1)
        ]

    def _contains(self, terms: Sequence[str], rows: Sequence[int]) -> list[set[str]]:
        """Per row, which of ``terms`` its indexed text holds."""
        found = self.reader.lexical.containing(terms, rows)
        return [{t for t in terms if row in found[t]} for row in rows]

    def candidate_pool(self, query: str, *, filters: Filters | None = None, history: Sequence[Message | dict] | None = None) -> Pool | None:
        """The fused top candidates of a hybrid search, as the reranker sees them (scripts/train_reranker.py)."""
        return self.retrieve(query, self.settings.rerank_depth, filters=filters, history=history, pool_only=True) or None

    @property
    def reranker(self) -> Reranker | None:
        return self._reranker if self._reranker is not None else default_reranker()

    def _fusion(self, mode: SearchMode, cos_by_row: dict, lex, lex_max: float, dense_rank: dict, lex_rank: dict):
        """The score of one candidate row: dense alone, BM25 alone, or their fusion (weighted or RRF)."""
        s = self.settings
        if mode is SearchMode.DENSE:
            return lambda row: cos_by_row[row]
        if mode is SearchMode.BM25:
            return lambda row: float(lex[row])
        if s.fusion is FusionMethod.WEIGHTED:
            return lambda row: s.dense_weight * cos_by_row[row] + (1 - s.dense_weight) * float(lex[row]) / lex_max

        def rrf(row: int) -> float:
            score = 0.0
            if row in dense_rank:
                score += 2 * s.dense_weight / (s.rrf_k + dense_rank[row] + 1)
            if row in lex_rank:
                score += 2 * (1 - s.dense_weight) / (s.rrf_k + lex_rank[row] + 1)
            return score

        return rrf

    def _demote_superseded(self, scored: list[tuple[float, int, bool]]) -> list[tuple[float, int, bool]]:
        """Demote a passage for another version only when a passage for the user's version covers the same ground.

        "Timeout up to 4.2" gives way to "Timeout from 4.3" for a 4.4 user. But a passage that is
        the only one on its topic stays put, even if it does not apply: for "I'm on 4.1, can I use
        OIDC?" the right answer is the page that says "available from 4.2".
        """
        s = self.settings
        matching = [row for _, row, ok in scored if ok]
        if not matching or s.version_penalty >= 1.0:
            return scored
        mvecs = np.asarray(self.reader.vectors[np.sort(matching)])
        out = []
        for score, row, ok in scored:
            if not ok and float(np.max(mvecs @ np.asarray(self.reader.vectors[row]))) >= s.sibling_threshold:
                score *= s.version_penalty if score > 0 else 1 / s.version_penalty
            out.append((score, row, ok))
        return out

    def _dense_search(self, qvec: np.ndarray, pool: int, allowed: np.ndarray | None) -> tuple[list[int], list[float]]:
        import faiss

        params = None
        if allowed is not None:
            if not allowed.any():
                return [], []
            bitmap = np.packbits(allowed.astype(np.uint8), bitorder="little")
            selector = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bitmap))
            params = faiss.SearchParametersHNSW(sel=selector) if self.reader.manifest.dense.kind is DenseKind.HNSW else faiss.SearchParameters(sel=selector)
        scores, ids = self.reader.dense.search(qvec.reshape(1, -1), pool, params=params)
        keep = ids[0] >= 0
        return ids[0][keep].tolist(), scores[0][keep].tolist()

    def _collapse_duplicates(self, scored: list[tuple[float, int, bool]], k: int, fetched: dict) -> tuple[list[tuple[float, int, bool]], dict]:
        """Keep the best of near-identical passages (the same paragraph on two pages, say)."""
        picked: list[tuple[float, int, bool]] = []
        kept_vecs: list[np.ndarray] = []
        kept_texts: set[str] = set()
        rows = [row for _, row, _ in scored[: max(k * 3, 20)]]
        missing = [row for row in rows if row not in fetched]
        fetched = {**fetched, **dict(zip(missing, self.reader.chunks(missing)))}  # returned, so the caller does not read them again
        texts = {row: " ".join(c.text.lower().split()) for row, c in fetched.items()}
        for item in scored:
            row = item[1]
            text = texts.get(row)
            if text is not None and text in kept_texts:
                continue
            vec = np.asarray(self.reader.vectors[row])
            if kept_vecs and float(np.max(np.stack(kept_vecs) @ vec)) >= self.settings.dedupe_threshold:
                continue
            picked.append(item)
            kept_vecs.append(vec)
            if text is not None:
                kept_texts.add(text)
            if len(picked) == k:
                break
        return picked, fetched
