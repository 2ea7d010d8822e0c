"""The on-disk index: FAISS vectors, a BM25 index and a chunk table, published atomically.

Layout of an index folder::

    indexes/default/
      CURRENT                 name of the live generation (replaced atomically)
      gen-20261126-101500-1a2b/
        manifest.json         model, dimensions, chunker settings, counts, fingerprint, build time
        chunks.sqlite         one row per chunk (row number = FAISS id = BM25 row)
        vectors.npy           unit vectors, float32, row-aligned (kept for incremental re-use)
        dense.faiss           exact inner product (flat) or HNSW
        meta.npz              per-row source type and version range, for fast filtering
        bm25/                 bm25s index
        files.json            source files, their fingerprints and chunk ids (for incremental updates)
      .staging-<uuid>/        a build in progress; removed if the build dies

A build writes a whole generation into a staging folder, renames it, and only then rewrites
``CURRENT``. A crash or Ctrl-C at any point leaves the previous generation live and loadable.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import shutil
import sqlite3
import struct
import uuid
from array import array
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from .. import __version__
from ..types import Choice, Chunk, SourceType
from ..versions import VersionSpec
from .lexical import LexicalBuilder, LexicalIndex
from ..errors import IndexLoadError  # noqa: F401 - defined under the one error root

FORMAT_VERSION = 1
CURRENT = "CURRENT"
KEEP_GENERATIONS = 2
SOURCE_CODES = {s: i for i, s in enumerate(SourceType)}


class DenseKind(Choice):
    FLAT = "flat"  # exact inner product: best under ~100,000 chunks
    HNSW = "hnsw"  # approximate graph search for larger indexes


class DenseSettings(BaseModel):
    kind: DenseKind = DenseKind.FLAT
    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = 96


class Manifest(BaseModel):
    format_version: int = FORMAT_VERSION
    nectarine_version: str = __version__
    model: dict
    dimension: int
    chunker: dict
    dense: DenseSettings = DenseSettings()
    counts: dict[str, int] = Field(default_factory=dict)
    corpus_fingerprint: str = ""
    built_at: str = Field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    build_seconds: float = 0.0


def version_bounds(spec: str) -> tuple[int, int]:
    """A version range as two sortable integers, [low, high)."""
    s = VersionSpec.parse(spec)
    enc = lambda t: t[0] * 1_000_000 + t[1] * 1_000 + t[2]  # noqa: E731
    return enc(s.low), enc(s.high)


# --------------------------------------------------------------------------- writing


def build_dense(vectors: np.ndarray, settings: DenseSettings):
    import faiss

    dim = vectors.shape[1]
    if settings.kind is DenseKind.HNSW:
        index = faiss.IndexHNSWFlat(dim, settings.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = settings.hnsw_ef_construction
        index.hnsw.efSearch = settings.hnsw_ef_search
    else:
        index = faiss.IndexFlatIP(dim)
    if len(vectors):
        # Building is parallel even though searching is not: all cores for the add, then back to one
        # thread, so a reader in this process (the service re-indexing) keeps its fast searches.
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        try:
            index.add(vectors)
        finally:
            faiss.omp_set_num_threads(1)
    return index


def write_generation(
    root: Path,
    chunks: Sequence[Chunk],
    vectors: np.ndarray,
    manifest: Manifest,
    files: dict,
    *,
    embed_keys: Sequence[str],
    show_progress: bool = False,
) -> Path:
    """Write a complete generation beside the live one, then publish it. Returns its folder."""
    import faiss

    root.mkdir(parents=True, exist_ok=True)
    cleanup_staging(root)
    staging = root / f".staging-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        # One pass over the chunks (a sequence may stream them from disk: nectarine.ingest.spool), keeping
        # only compact arrays: the chunk table, the filter arrays and the BM25 postings.
        meta, lexical = _write_chunk_table(staging / "chunks.sqlite", chunks, embed_keys)
        np.save(staging / "vectors.npy", vectors)
        if manifest.dense.kind is DenseKind.FLAT:
            write_flat_index(staging / "dense.faiss", vectors)
        else:
            faiss.write_index(build_dense(vectors, manifest.dense), str(staging / "dense.faiss"))
        np.savez(staging / "meta.npz", **meta)
        lexical.build().save(staging / "bm25")
        del lexical
        (staging / "files.json").write_text(json.dumps(files))
        (staging / "manifest.json").write_text(manifest.model_dump_json(indent=2))
        _fsync_tree(staging)
        name = f"gen-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"
        final = root / name
        os.rename(staging, final)
        publish(root, name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    prune_generations(root)
    return final


def publish(root: Path, generation: str) -> None:
    """Point CURRENT at ``generation`` with one atomic rename."""
    tmp = root / f".{CURRENT}.{uuid.uuid4().hex[:8]}"
    tmp.write_text(generation + "\n")
    with tmp.open("rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, root / CURRENT)
    dir_fd = os.open(root, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as f:
                os.fsync(f.fileno())


def cleanup_staging(root: Path) -> None:
    """Remove folders left by builds that died (a live build's staging is only in its own process)."""
    for p in root.glob(".staging-*"):
        shutil.rmtree(p, ignore_errors=True)
    for p in root.glob(f".{CURRENT}.*"):
        p.unlink(missing_ok=True)
    for p in root.glob(".spool-*"):  # an ingest's chunk spool (nectarine.ingest.spool): ".spool-<pid>-<id>..."
        pid = p.name.split("-")[1]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            p.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def prune_generations(root: Path, keep: int = KEEP_GENERATIONS) -> None:
    """Keep the live generation and the newest others; readers of an old one keep their open files."""
    live = current_generation(root)
    gens = sorted((p for p in root.glob("gen-*") if p.is_dir()), key=lambda p: p.name, reverse=True)
    kept = 0
    for gen in gens:
        if gen.name == live:
            continue
        kept += 1
        if kept >= keep:
            shutil.rmtree(gen, ignore_errors=True)


@contextmanager
def folder_lock(folder: Path, name: str, *, wait: bool = True) -> Iterator[bool]:
    """True while this process holds the lock file ``name`` in ``folder`` (an flock: across the processes,
    and hosts on a shared disk, that use the folder); False at once when ``wait`` is off and another holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / name, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def current_generation(root: Path) -> str | None:
    try:
        name = (root / CURRENT).read_text().strip()
    except FileNotFoundError:
        return None
    return name or None


def _write_chunk_table(path: Path, chunks: Iterable[Chunk], embed_keys: Iterable[str]) -> tuple[dict[str, np.ndarray], LexicalBuilder]:
    """Write the chunk table; returns the filter arrays (``meta.npz``) and the BM25 builder, filled on the way."""
    source, low, high = array("b"), array("q"), array("q")
    bounds: dict[str, tuple[int, int]] = {}
    lexical = LexicalBuilder()
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA journal_mode=OFF")
        con.execute(
            "CREATE TABLE chunks (row INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, doc_id TEXT NOT NULL, "
            "embed_key TEXT NOT NULL, data TEXT NOT NULL)"
        )
        batch: list[tuple] = []
        for i, (c, k) in enumerate(zip(chunks, embed_keys)):
            batch.append((i, c.id, c.doc_id, k, c.model_dump_json()))
            if c.versions not in bounds:
                bounds[c.versions] = version_bounds(c.versions)
            lo, hi = bounds[c.versions]
            source.append(SOURCE_CODES[c.source])
            low.append(lo)
            high.append(hi)
            lexical.add(c.embed_text)
            if len(batch) >= 2048:
                con.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?, ?)", batch)
                batch.clear()
        con.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?, ?)", batch)
        con.execute("CREATE INDEX chunks_doc ON chunks(doc_id)")
        con.commit()
    finally:
        con.close()
    meta = {"source": np.array(source, dtype=np.int8), "version_low": np.array(low, dtype=np.int64),
            "version_high": np.array(high, dtype=np.int64)}
    return meta, lexical


def write_flat_index(path: Path, vectors: np.ndarray) -> None:
    """Write ``vectors`` as a FAISS ``IndexFlatIP`` file straight from the array: the same bytes as
    ``faiss.write_index(build_dense(vectors, flat))``, without FAISS's own copy of every vector (1.5 GB
    for a million 384-dimension chunks, on top of the array itself)."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, d = vectors.shape
    # An empty index is: fourcc "IxFI", d (int32), ntotal (int64), two unused int64, is_trained (bool),
    # the metric (int32), then the vectors as one vector of floats: its length (uint64), the floats.
    header = bytearray(faiss.serialize_index(faiss.IndexFlatIP(d)).tobytes())
    if len(header) != 45 or header[:4] != b"IxFI" or struct.unpack_from("<iq", header, 4) != (d, 0) or any(header[37:]):
        faiss.write_index(build_dense(vectors, DenseSettings()), str(path))  # a FAISS with another layout
        return
    struct.pack_into("<q", header, 8, n)
    struct.pack_into("<Q", header, 37, n * d)
    with open(path, "wb") as f:
        f.write(header)
        vectors.tofile(f)


# --------------------------------------------------------------------------- reading


def _stored_ntotal(path: Path) -> int:
    """The vector count in a FAISS index file's header (fourcc, d as int32, then ntotal as int64), unread."""
    with open(path, "rb") as f:
        head = f.read(16)
    return struct.unpack_from("<q", head, 8)[0] if len(head) == 16 else -1


class IndexReader:
    """A loaded generation: FAISS, BM25, filter arrays, and chunk rows fetched on demand."""

    def __init__(self, folder: Path, manifest: Manifest, *, mmap: bool = True, dense: bool = True) -> None:
        import faiss

        # One query at a time: a second OpenMP thread made a flat search of 200,000 vectors slower
        # (28 ms against 16 ms) and fought onnxruntime's threads (61 ms). BENCHMARKS.md.
        faiss.omp_set_num_threads(1)
        self.folder = folder
        self.manifest = manifest
        # dense=False (an ingest reading the previous generation) skips the FAISS index: a second copy
        # of every vector (1.5 GB for a million chunks) that only searching needs.
        self.dense = faiss.read_index(str(folder / "dense.faiss")) if dense else None
        if self.dense is not None and manifest.dense.kind is DenseKind.HNSW:
            faiss.downcast_index(self.dense).hnsw.efSearch = manifest.dense.hnsw_ef_search
        self.lexical = LexicalIndex.load(folder / "bm25", mmap=mmap)
        meta = np.load(folder / "meta.npz")
        self.source_codes = meta["source"]
        self.version_low = meta["version_low"]
        self.version_high = meta["version_high"]
        self.vectors = np.load(folder / "vectors.npy", mmap_mode="r" if mmap else None)
        # check_same_thread=False: rows are read-only, and the service reads from worker threads.
        self._db = sqlite3.connect(f"file:{folder / 'chunks.sqlite'}?mode=ro", uri=True, check_same_thread=False)
        self.size = int(self.dense.ntotal) if self.dense is not None else _stored_ntotal(folder / "dense.faiss")
        if self.size != len(self.source_codes):
            raise IndexLoadError(f"{folder}: dense index and chunk table disagree; rebuild with --rebuild")

    @classmethod
    def open(cls, root: Path, *, mmap: bool = True, dense: bool = True) -> IndexReader:
        root = Path(root)
        gen = current_generation(root)
        if gen is None:
            hint = f"nectarine ingest corpus/ --index {root}"
            raise IndexLoadError(f"no index at {root}; build one with: {hint}")
        folder = root / gen
        try:
            manifest = Manifest.model_validate_json((folder / "manifest.json").read_text())
        except FileNotFoundError:
            raise IndexLoadError(f"{folder} has no manifest; rebuild with: nectarine ingest corpus/ --index {root} --rebuild") from None
        except ValueError as exc:
            raise IndexLoadError(f"{folder}/manifest.json is unreadable ({exc.__class__.__name__}); rebuild with --rebuild") from None
        if manifest.format_version != FORMAT_VERSION:
            raise IndexLoadError(
                f"index at {root} has format {manifest.format_version}, this Nectarine reads format {FORMAT_VERSION}; "
                f"rebuild it: nectarine ingest corpus/ --index {root} --rebuild"
            )
        return cls(folder, manifest, mmap=mmap, dense=dense)

    def chunks(self, rows: Iterable[int]) -> list[Chunk]:
        rows = [int(r) for r in rows]
        if not rows:
            return []
        placeholders = ",".join("?" * len(rows))
        found = {r: d for r, d in self._db.execute(f"SELECT row, data FROM chunks WHERE row IN ({placeholders})", rows)}
        return [Chunk.model_validate_json(found[r]) for r in rows]

    def chunk_by_id(self, chunk_id: str) -> Chunk | None:
        row = self._db.execute("SELECT data FROM chunks WHERE id = ?", (chunk_id,)).fetchone()
        return Chunk.model_validate_json(row[0]) if row else None

    def all_rows(self) -> Iterable[tuple[int, str, str, str]]:
        """(row, chunk id, embed key, chunk JSON) for every chunk, in row order."""
        yield from self._db.execute("SELECT row, id, embed_key, data FROM chunks ORDER BY row")

    def embed_keys(self) -> Iterable[tuple[int, str]]:
        """(row, embed key) for every chunk, in row order, without reading the chunks themselves."""
        yield from self._db.execute("SELECT row, embed_key FROM chunks ORDER BY row")

    def doc_sources(self) -> dict[str, str]:
        """Document id -> source type, for every document in the index."""
        q = "SELECT doc_id, json_extract(data, '$.source') FROM chunks GROUP BY doc_id"
        return dict(self._db.execute(q))

    def files(self) -> dict:
        return json.loads((self.folder / "files.json").read_text())

    def close(self) -> None:
        self._db.close()
