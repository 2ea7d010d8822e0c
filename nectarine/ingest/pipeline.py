"""Incremental ingestion: files -> documents -> chunks -> vectors -> a new index generation.

Re-ingesting compares content: unchanged files reuse their chunks without being parsed, unchanged
passages reuse their vectors, and only new or changed passages are embedded. Chunks of deleted or
changed documents do not reach the new generation, so they can never be retrieved again.

The same rules hold for every kind of source (:mod:`nectarine.ingest.sources`): folders of files, a
website (``https://docs.example.com/sitemap.xml``; an unchanged page costs one 304) and a git
repository (``git:/srv/docs?ref=main``; only files whose blob changed are read).

>>> report = ingest(["corpus/"], "indexes/default", model="fake")  # a hashing test embedder; omit model= for MiniLM
>>> report.added, report.removed
(19, 0)
>>> ingest(["corpus/"], "indexes/default").up_to_date  # nothing changed, nothing embedded (the index keeps its model)
True
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..index.embedder import DEFAULT_BACKEND, DEFAULT_MODEL, Embedder, get_embedder
from ..index.store import DenseSettings, IndexLoadError, IndexReader, Manifest, current_generation, write_generation
from ..types import Chunk
from .chunker import ChunkerSettings, ChunkStats, StructureAwareChunker
from .loaders import MAX_FILE_BYTES, SkipFile, Skipped
from .spool import ChunkSpool
from .sources import FileSource, Source, SourceItem, is_url, parse_source
from .safety import RULES_VERSION, Flagged, trusted_domains as default_trusted, unsafe_reasons
from ..errors import NothingIngested  # noqa: F401 - defined under the one error root

ProgressFn = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class IngestReport:
    index_dir: str
    documents: int = 0
    chunks: int = 0
    added: int = 0  # chunks of documents that were not in the index
    changed: int = 0  # new chunks of documents that were (their old chunks count as removed)
    removed: int = 0
    unchanged: int = 0
    embedded: int = 0  # vectors computed in this run (the rest were re-used)
    files: int = 0  # files and pages offered by the sources
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[Skipped] = field(default_factory=list)  # ingested, but worth knowing (a page that redirected)
    flagged: list[Flagged] = field(default_factory=list)  # passages kept out of answers (nectarine.ingest.safety)
    chunk_stats: ChunkStats = field(default_factory=ChunkStats)
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    generation: str | None = None
    up_to_date: bool = False

    @property
    def chunks_per_second(self) -> float:
        return self.chunks / self.seconds if self.seconds else 0.0


def embed_key(chunk: Chunk, vector_space: str) -> str:
    """Vectors are re-used when the embedded text and the vector space (model, precision) are the same."""
    return hashlib.sha256(f"{vector_space}\x1f{chunk.embed_text}".encode()).hexdigest()[:24]


def vector_space(embedder: Embedder) -> str:
    return getattr(embedder, "vector_space", embedder.name)


def _compatible(prev: IndexReader, embedder: Embedder, rebuild: bool) -> bool:
    built = prev.manifest.model
    if built.get("vector_space", built.get("name")) != vector_space(embedder) or prev.manifest.dimension != embedder.dimension:
        if rebuild:
            return False
        raise IndexLoadError(
            f"the index at {prev.folder.parent} was built with {built.get('vector_space', built.get('name'))!r} "
            f"({prev.manifest.dimension} dimensions), not {vector_space(embedder)!r} ({embedder.dimension}); "
            "vectors from two models cannot be mixed. Rebuild it with --rebuild"
        )
    return not rebuild


def ingest(
    paths: Iterable[str | Path | Source],
    index_dir: str | Path,
    *,
    embedder: Embedder | None = None,
    model: str | None = None,
    backend: str | None = None,
    chunker: ChunkerSettings | None = None,
    dense: DenseSettings | None = None,
    rebuild: bool = False,
    max_file_bytes: int = MAX_FILE_BYTES,
    batch_size: int = 16,
    progress: ProgressFn | None = None,
    trusted_domains: Iterable[str] | None = None,
    embedder_options: dict | None = None,
    web_options: dict | None = None,
) -> IngestReport:
    """Build or incrementally update the index at ``index_dir`` from files under ``paths``.

    ``paths`` may also hold URLs (a sitemap, or a start URL to crawl), ``git:PATH?ref=..&subdir=..``
    and :class:`~nectarine.ingest.sources.Source` objects (see :func:`~nectarine.ingest.sources.parse_source`;
    ``web_options`` such as ``max_pages`` and ``rate`` go to every website source).

    Every passage is screened for poisoned content (:mod:`nectarine.ingest.safety`); ``trusted_domains``
    adds domains the docs may send readers to (besides nectain.com and the defaults there);
    ``embedder_options`` (``threads``, ``cache_dir``) go to ``get_embedder`` when no ``embedder`` is given.
    """
    sources = sources_from(paths, max_file_bytes=max_file_bytes, web_options=web_options)
    for source in sources:
        source.check()  # a wrong path or a repository that is not one fails here, before any work
    extra = tuple(d for source in sources for d in source.trusted_domains())
    run = _Build(Path(index_dir), rebuild=rebuild, max_file_bytes=max_file_bytes, progress=progress,
                 trusted=default_trusted([*(trusted_domains or []), *extra]))
    try:
        run.open_previous(embedder, model, backend, chunker, embedder_options or {})
        run.collect(sources)
        if run.diff():
            return run.finish_up_to_date()
        chunks = run.assemble()
        vectors, keys = run.embed(chunks, batch_size)
        return run.publish(chunks, vectors, keys, dense)
    finally:
        run.close()


def sources_from(paths: Iterable[str | Path | Source], *, max_file_bytes: int = MAX_FILE_BYTES,
                 web_options: dict | None = None) -> list[Source]:
    """The sources named by ``paths``: files and folders together form one :class:`FileSource`."""
    files: list[Path] = []
    others: list[Source] = []
    for p in paths:
        if isinstance(p, (str, Path)) and not (isinstance(p, str) and (is_url(p) or p.startswith("git:"))):
            files.append(Path(p))
        else:
            others.append(parse_source(p, **(web_options or {})))
    return ([FileSource(files, max_file_bytes=max_file_bytes)] if files else []) + others


class _Build:
    """One ingest run, step by step: discover, open the previous generation, load and chunk what
    changed, diff, assemble the chunk list (screening passages for poisoned content), embed what is
    new (re-using every vector it can), and publish a new generation atomically."""

    def __init__(self, index_dir: Path, *, rebuild: bool, max_file_bytes: int, progress: ProgressFn | None,
                 trusted: tuple[str, ...]) -> None:
        self.t0 = time.perf_counter()
        self.index_dir, self.rebuild, self.max_file_bytes = index_dir, rebuild, max_file_bytes
        self.report = IngestReport(index_dir=str(index_dir))
        self.tick = progress or (lambda stage, done, total: None)
        self.trusted = trusted
        self.safety_key = {"rules": RULES_VERSION, "trusted": list(trusted)}
        # Freshly chunked passages go to disk as they are produced (nectarine.ingest.spool): memory holds
        # ids, not chunks, so a million-passage corpus ingests in bounded memory.
        self.spool: ChunkSpool | None = None
        self.order: list[str] = []  # every chunk id of the new generation, in order
        self.file_records: dict[str, dict] = {}
        self.doc_owner: dict[str, str] = {}  # document id -> the file it came from

    def open_previous(self, embedder: Embedder | None, model: str | None, backend: str | None, chunker: ChunkerSettings | None,
                      embedder_options: dict) -> None:
        """The live generation (if any) and the settings to build with: those not given keep the existing index's."""
        prev: IndexReader | None = None
        if current_generation(self.index_dir) is not None:
            try:
                prev = IndexReader.open(self.index_dir, dense=False)  # re-uses vectors and rows, never searches
            except IndexLoadError:
                if not self.rebuild:
                    raise
        built = prev.manifest if prev is not None and not self.rebuild else None
        self.settings = chunker or (ChunkerSettings(**built.chunker) if built else ChunkerSettings())
        if embedder is None:
            embedder = get_embedder(model or (built.model["name"] if built else DEFAULT_MODEL),
                                    backend or (built.model.get("backend", DEFAULT_BACKEND) if built else DEFAULT_BACKEND), **embedder_options)
        self.embedder = embedder
        if prev is not None and not _compatible(prev, embedder, self.rebuild):
            prev = None
        self.prev = prev
        record = prev.files() if prev else {}
        self.prev_files = record.get("files", {})
        # Flags stored by a build with the same rules and trusted domains are re-used; otherwise every
        # passage is screened again (and the index rewritten, vectors re-used).
        self.prev_safety = record.get("safety") or {}
        self.same_safety = self.prev_safety.get("key") == self.safety_key
        self.same_chunking = prev is not None and prev.manifest.chunker == self.settings.as_dict()

    def collect(self, sources: list[Source]) -> None:
        """Read every item of every source: an unchanged one keeps its chunk ids, a new or changed one is
        loaded and chunked, one that cannot be read is reported (and kept or dropped as its source says)."""
        report = self.report
        chunker_ = StructureAwareChunker(self.settings, count_wordpieces=self.embedder.count_wordpieces)
        conditional = self.same_chunking
        if self.spool is None:
            self.spool = ChunkSpool(self.index_dir)
        done = 0
        for source in sources:
            report.skipped.extend(getattr(source, "skipped", []))  # passed over while discovering
            total = len(getattr(source, "files", None) or [])
            for item in source.items(self.prev_files, conditional):
                self.tick("read", done, max(total, done + 1))
                done += 1
                report.files += 1
                self._collect_item(item, chunker_, conditional)
            report.notes.extend(Skipped(source.label, note) for note in getattr(source, "notes", []))
        self.tick("read", done, done)
        report.stage_seconds["load_and_chunk"] = time.perf_counter() - self.t0

    def _collect_item(self, item: SourceItem, chunker_: StructureAwareChunker, conditional: bool) -> None:
        report = self.report
        report.notes.extend(Skipped(item.label, note) for note in item.notes)
        old = self.prev_files.get(item.key)
        same_origin = old is not None and old.get("root") == item.origin
        if item.problem is not None:
            report.skipped.append(Skipped(item.label, item.problem))
            if item.keep_previous and conditional and same_origin:
                self._keep(item.label, item.key, old)
            return
        if conditional and same_origin and (item.read is None or old["sha256"] == item.digest):
            self._keep(item.label, item.key, {**old, **item.record})
            return
        if item.read is None:
            report.skipped.append(Skipped(item.label, "reported unchanged, but the index holds no copy of it; "
                                                      "run the ingest again with --rebuild"))
            return
        ids: list[str] = []
        doc_ids: list[str] = []
        spool, mark = self.spool, self.spool.mark()
        try:
            for doc in item.read():
                if isinstance(doc, Skipped):
                    report.skipped.append(doc)
                    continue
                if doc.id in self.doc_owner:
                    report.skipped.append(Skipped(f"{item.label} ({doc.id})", f"duplicate document id (also in {self.doc_owner[doc.id]}); "
                                                                                 "give one of them another id"))
                    continue
                self.doc_owner[doc.id] = item.label
                doc_ids.append(doc.id)
                doc_chunks, stats = chunker_.chunk(doc)
                report.chunk_stats.add(stats)
                for c in doc_chunks:
                    spool.add(_screened(c, self.trusted))
                    ids.append(c.id)
        except Exception as exc:  # a loader bug on one odd file must not abort the run
            for d in doc_ids:
                self.doc_owner.pop(d, None)
            spool.rollback(mark)
            reason = str(exc) if isinstance(exc, SkipFile) else f"could not be parsed ({exc.__class__.__name__}: {exc})"
            report.skipped.append(Skipped(item.label, reason))
            return
        self.order.extend(ids)
        report.documents += len(doc_ids)
        self.file_records[item.key] = {**item.record, "sha256": item.digest, "root": item.origin, "doc_ids": doc_ids, "chunk_ids": ids}

    def _keep(self, label: str, key: str, old: dict) -> None:
        """An unchanged file or page: its documents and chunk ids carry over without reading them."""
        dup = next((d for d in old["doc_ids"] if d in self.doc_owner), None)
        if dup is not None:
            self.report.skipped.append(Skipped(label, f"duplicate document id {dup!r} (also in {self.doc_owner[dup]})"))
            return
        self.doc_owner.update({d: label for d in old["doc_ids"]})
        self.order.extend(old["chunk_ids"])
        self.file_records[key] = old
        self.report.documents += len(old["doc_ids"])

    def diff(self) -> bool:
        """Count added, changed, unchanged and removed passages; True when the live index is up to date."""
        report, prev = self.report, self.prev
        self.order = list(dict.fromkeys(self.order))
        report.chunks = len(self.order)
        if not self.order:
            report.seconds = time.perf_counter() - self.t0
            raise NothingIngested(_nothing_message(report))
        self.prev_ids: dict[str, int] = {}
        self.prev_keys: dict[str, int] = {}
        prev_docs: set[str] = set()
        if prev is not None:
            for row, cid, key, _data in prev.all_rows():
                self.prev_ids[cid] = row
                self.prev_keys.setdefault(key, row)
            for rec in self.prev_files.values():
                prev_docs.update(rec["doc_ids"])
        new_set = set(self.order)
        report.unchanged = sum(1 for cid in self.order if cid in self.prev_ids)
        report.removed = sum(1 for cid in self.prev_ids if cid not in new_set)
        for cid, doc_id in self.spool.new_ids() if self.spool is not None else ():
            if cid in self.prev_ids:
                continue
            if doc_id in prev_docs:
                report.changed += 1
            else:
                report.added += 1
        return (prev is not None and self.same_safety and report.added == report.changed == report.removed == 0
                and len(self.prev_ids) == len(self.order))

    def finish_up_to_date(self) -> IngestReport:
        report = self.report
        report.up_to_date = True
        report.flagged = [Flagged(**f) for f in self.prev_safety.get("flagged", [])]
        report.generation = self.prev.folder.name
        report.seconds = time.perf_counter() - self.t0
        return report

    def assemble(self) -> Sequence[Chunk]:
        """The new generation's chunks in order: re-used records come from the previous chunk table.

        They are written to the spool and returned as a sequence that reads them back on demand
        (:class:`~nectarine.ingest.spool.SpooledChunks`); only flagged passages are kept, for the report."""
        flagged: list[Chunk] = []
        if self.spool is None:
            self.spool = ChunkSpool(self.index_dir)

        def rows() -> Iterable[str]:
            for start in range(0, len(self.order), 512):
                block = self.order[start:start + 512]
                new = self.spool.lookup(block)
                missing = [cid for cid in block if cid not in new]
                old = dict(zip(missing, self.prev.chunks(self.prev_ids[cid] for cid in missing))) if missing else {}
                for cid in block:
                    rescreen = not self.same_safety and cid in self.prev_ids
                    if cid in new and not rescreen:
                        is_flagged, data = new[cid]
                        if is_flagged:
                            flagged.append(Chunk.model_validate_json(data))
                        yield data
                        continue
                    chunk = Chunk.model_validate_json(new[cid][1]) if cid in new else old[cid]
                    if rescreen:
                        chunk = _screened(chunk, self.trusted)
                    if chunk.flags:
                        flagged.append(chunk)
                    yield chunk.model_dump_json()

        chunks = self.spool.assemble(rows())
        self.report.flagged = [Flagged(doc_id=c.doc_id, path=self.doc_owner.get(c.doc_id, ""),
                                       heading=" › ".join(c.heading_path) or c.title, reasons=list(c.flags), chunk_id=c.id)
                               for c in flagged]
        return chunks

    def embed(self, chunks: list[Chunk], batch_size: int) -> tuple[np.ndarray, list[str]]:
        """Vectors for every chunk: re-used when the same text was embedded by the same model before, else computed."""
        t_embed = time.perf_counter()
        embedder = self.embedder
        keys = [embed_key(c, vector_space(embedder)) for c in chunks]
        vectors = np.zeros((len(chunks), embedder.dimension), dtype=np.float32)
        todo: list[int] = []
        for i, k in enumerate(keys):
            row = self.prev_keys.get(k)
            if row is not None:
                vectors[i] = self.prev.vectors[row]
            else:
                todo.append(i)
        step = max(batch_size * 4, 256)
        for start in range(0, len(todo), step):
            self.tick("embed", start, len(todo))
            part = todo[start : start + step]
            vectors[part] = embedder.encode([chunks[i].embed_text for i in part], batch_size=batch_size)
        self.tick("embed", len(todo), len(todo))
        self.report.embedded = len(todo)
        self.report.stage_seconds["embed"] = time.perf_counter() - t_embed
        return vectors, keys

    def publish(self, chunks: Sequence[Chunk], vectors: np.ndarray, keys: list[str], dense: DenseSettings | None) -> IngestReport:
        """Write the new generation beside the live one and switch to it atomically."""
        report, prev, embedder = self.report, self.prev, self.embedder
        t_write = time.perf_counter()
        self.tick("write", 0, 1)
        manifest = Manifest(
            model=embedder.describe() if hasattr(embedder, "describe") else {"name": embedder.name, "dimension": embedder.dimension},
            dimension=embedder.dimension,
            chunker=self.settings.as_dict(),
            dense=dense or (prev.manifest.dense if prev else DenseSettings()),
            counts={"documents": report.documents, "chunks": len(chunks), "files": len(self.file_records)},
            corpus_fingerprint=hashlib.sha256("\n".join(self.order).encode()).hexdigest()[:16],
        )
        if prev is not None:
            prev.close()
        folder = write_generation(
            self.index_dir, chunks, vectors, manifest,
            {"files": self.file_records, "skipped": [s.__dict__ for s in report.skipped],
             "safety": {"key": self.safety_key, "flagged": [f.__dict__ for f in report.flagged]}},
            embed_keys=keys,
        )
        self.tick("write", 1, 1)
        report.stage_seconds["write"] = time.perf_counter() - t_write
        report.generation = folder.name
        report.seconds = time.perf_counter() - self.t0
        # Record the real build time in the manifest now that it is known.
        manifest.build_seconds = round(report.seconds, 3)
        (folder / "manifest.json").write_text(manifest.model_dump_json(indent=2))
        return report


    def close(self) -> None:
        """Remove the spool (the published generation holds its own copy of every chunk)."""
        if self.spool is not None:
            self.spool.close()
            self.spool = None


def _screened(chunk: Chunk, trusted: tuple[str, ...]) -> Chunk:
    """The chunk with its safety flags (nectarine.ingest.safety) set from its text and headings."""
    flags = unsafe_reasons("\n".join([*chunk.heading_path[1:], chunk.text]), trusted)
    return chunk if flags == chunk.flags else chunk.model_copy(update={"flags": flags})


def _nothing_message(report: IngestReport) -> str:
    if not report.files:
        return "no files or pages found; pass a folder of .md, .html, .txt or BEIR .jsonl files, a sitemap URL or git:PATH"
    reasons = "; ".join(f"{s.path}: {s.reason}" for s in report.skipped[:5])
    return f"nothing could be ingested from {report.files} file(s) or page(s): {reasons}"
