"""Chunks on disk while an ingest runs, so its memory does not grow with the corpus (issue 16).

An ingest used to hold every :class:`~nectarine.types.Chunk` of the new generation in Python lists,
about 3 KiB each (8 KiB per passage for the whole build): a million-passage BEIR corpus needed ~8 GiB.
Now each chunk is written, as it is produced, to a SQLite file beside the index
(``<index>/.spool-<pid>-<id>.sqlite``, removed when the ingest ends; one left by a killed build is
removed by the next one), and the pipeline keeps in memory only what the diff needs: chunk ids,
document ids and the file records.

:class:`SpooledChunks` is the new generation's chunk list as a read-only ``Sequence``: ``len``,
iteration (streamed, a fresh connection each time) and indexing (a block of rows at a time, cached),
which is all that embedding and ``write_generation`` ask of it.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from ..types import Chunk

_BATCH = 1024
_BLOCK = 512  # rows fetched at once by SpooledChunks[i]


class ChunkSpool:
    """Freshly chunked passages (table ``new``) and the new generation in order (table ``assembled``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.created_root = not root.exists()
        root.mkdir(parents=True, exist_ok=True)
        self.path = root / f".spool-{os.getpid()}-{uuid.uuid4().hex[:8]}.sqlite"
        self.con = sqlite3.connect(self.path, check_same_thread=False)
        self.con.execute("PRAGMA journal_mode=OFF")
        self.con.execute("PRAGMA synchronous=OFF")
        self.con.execute("CREATE TABLE new (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, doc_id TEXT NOT NULL, "
                         "flagged INTEGER NOT NULL, data TEXT NOT NULL)")
        self.con.execute("CREATE TABLE assembled (pos INTEGER PRIMARY KEY, data TEXT NOT NULL)")
        self.count = 0  # chunks in ``new``
        self._batch: list[tuple] = []
        self._indexed = False
        self.lock = threading.Lock()

    # ------------------------------------------------------------------ new chunks

    def add(self, chunk: Chunk) -> None:
        self._batch.append((self.count, chunk.id, chunk.doc_id, 1 if chunk.flags else 0, chunk.model_dump_json()))
        self.count += 1
        if len(self._batch) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._batch:
            self.con.executemany("INSERT INTO new VALUES (?, ?, ?, ?, ?)", self._batch)
            self._batch.clear()

    def mark(self) -> int:
        return self.count

    def rollback(self, mark: int) -> None:
        """Forget the chunks added since ``mark`` (a file that failed half-way)."""
        self._batch = [row for row in self._batch if row[0] < mark]
        self.con.execute("DELETE FROM new WHERE seq >= ?", (mark,))
        self.count = mark

    def new_ids(self) -> Iterator[tuple[str, str]]:
        """(chunk id, document id) of every new chunk, in the order they were produced."""
        self._flush()
        self.con.commit()
        read = sqlite3.connect(self.path)
        try:
            yield from read.execute("SELECT id, doc_id FROM new ORDER BY seq")
        finally:
            read.close()

    def lookup(self, ids: Sequence[str]) -> dict[str, tuple[bool, str]]:
        """chunk id -> (flagged, chunk JSON) for those of ``ids`` that are new (the last one, if produced twice)."""
        if not self._indexed:
            self._flush()
            self.con.execute("CREATE INDEX new_id ON new(id)")
            self._indexed = True
        q = ("SELECT id, flagged, data FROM new WHERE seq IN "
             f"(SELECT MAX(seq) FROM new WHERE id IN ({','.join('?' * len(ids))}) GROUP BY id)")
        return {cid: (bool(flagged), data) for cid, flagged, data in self.con.execute(q, list(ids))}

    # ------------------------------------------------------------------ the new generation

    def assemble(self, rows: Iterable[str]) -> SpooledChunks:
        """Store the new generation's chunks (JSON, in order) and return them as a sequence."""
        n = 0
        batch: list[tuple[int, str]] = []
        for data in rows:
            batch.append((n, data))
            n += 1
            if len(batch) >= _BATCH:
                self.con.executemany("INSERT INTO assembled VALUES (?, ?)", batch)
                batch.clear()
        self.con.executemany("INSERT INTO assembled VALUES (?, ?)", batch)
        self.con.execute("DELETE FROM new")  # no longer needed: the file stops growing here
        self.con.commit()
        return SpooledChunks(self, n)

    def close(self) -> None:
        self.con.close()
        self.path.unlink(missing_ok=True)
        if self.created_root:
            try:
                self.root.rmdir()  # only if nothing was published into it
            except OSError:
                pass


class SpooledChunks(Sequence[Chunk]):
    """The new generation's chunks, read from the spool on demand (see the module docstring)."""

    def __init__(self, spool: ChunkSpool, n: int) -> None:
        self.spool, self.n = spool, n
        self._block: tuple[int, list[Chunk]] = (-1, [])

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[Chunk]:
        read = sqlite3.connect(self.spool.path)  # its own connection: iterations and lookups may interleave
        try:
            for (data,) in read.execute("SELECT data FROM assembled ORDER BY pos"):
                yield Chunk.model_validate_json(data)
        finally:
            read.close()

    def _rows(self, start: int, stop: int) -> list[Chunk]:
        with self.spool.lock:
            cur = self.spool.con.execute("SELECT data FROM assembled WHERE pos >= ? AND pos < ? ORDER BY pos", (start, stop))
            return [Chunk.model_validate_json(d) for (d,) in cur]

    def __getitem__(self, i):
        if isinstance(i, slice):
            start, stop, step = i.indices(self.n)
            if step != 1:
                return [self[j] for j in range(start, stop, step)]
            return self._rows(start, stop) if stop > start else []
        if i < 0:
            i += self.n
        if not 0 <= i < self.n:
            raise IndexError(i)
        first, rows = self._block
        if not first <= i < first + len(rows):
            first = i - i % _BLOCK
            rows = self._rows(first, first + _BLOCK)
            self._block = (first, rows)
        return rows[i - first]
