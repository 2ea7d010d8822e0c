"""Where documents come from: folders of files, a website, a git repository. One shape for all three.

A source yields :class:`SourceItem` objects, one per file or page, each under a stable ``key``. The
pipeline (:mod:`nectarine.ingest.pipeline`) keeps an item whose content is unchanged without reading
it again, reads the others, and drops from the index every key no source yields any more (a deleted
file, a page gone from the sitemap or answering 404). What each source adds:

* :class:`FileSource`: files and folders (``corpus/``); a BEIR ``.jsonl`` corpus is streamed.
* :class:`~nectarine.ingest.web.WebSource`: a sitemap (``https://host/sitemap.xml``) or a crawl from
  a start URL, with robots.txt, a rate limit and conditional requests (:mod:`nectarine.ingest.web`).
* :class:`~nectarine.ingest.git.GitSource`: a docs-as-code repository at a ref (:mod:`nectarine.ingest.git`).

:func:`parse_source` turns the strings the CLI and ``NECTARINE_SOURCES`` take into sources:

>>> parse_source("corpus/").label
'corpus'
>>> parse_source("https://docs.example.com/sitemap.xml").mode
'sitemap'
>>> src = parse_source("git:/srv/docs?ref=main&subdir=docs")
>>> src.ref, src.subdir
('main', 'docs')
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import parse_qs, urlsplit

from ..errors import SkipFile, SourceError
from ..types import Document
from .loaders import MAX_FILE_BYTES, Skipped, discover, iter_file, open_stream, read_source, streams


@dataclass
class SourceItem:
    """One file or page a source offers.

    ``read`` yields its Documents (and a :class:`Skipped` per bad record); ``None`` means the source
    knows it is unchanged (an HTTP 304), so the previous copy is kept unread. ``problem`` says why it
    could not be read: with ``keep_previous`` the copy from the last ingest stays (a timeout, a 5xx),
    without it the item leaves the index (a 404, a page robots.txt forbids). ``record`` is stored with
    the item in the index (validators, dates) and handed back to the source on the next run.
    """

    key: str
    label: str  # what the report shows: a path or a URL
    origin: str  # the folder or site it belongs to; an item moved to another origin is read again
    digest: str = ""
    read: Callable[[], Iterable[Document | Skipped]] | None = None
    record: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # worth knowing, not a failure: "redirected to ..."
    problem: str | None = None
    keep_previous: bool = False


@runtime_checkable
class Source(Protocol):
    """A place documents come from."""

    label: str

    def check(self) -> None:
        """Fail fast (before any work) when the source cannot be used at all, saying what to do."""

    def items(self, previous: dict[str, dict], conditional: bool) -> Iterator[SourceItem]:
        """Every item, given the records of the last ingest (``key -> record``); with ``conditional``
        False (the chunking changed, or a rebuild), every item must be read, none may be skipped unread."""

    def trusted_domains(self) -> tuple[str, ...]:
        """Domains passages from this source may link to without being flagged (a site's own host)."""


class FileSource:
    """Files and folders (see :func:`nectarine.ingest.loaders.discover` for what is passed over)."""

    def __init__(self, paths: Iterable[str | Path], *, max_file_bytes: int = MAX_FILE_BYTES) -> None:
        self.paths = [Path(p) for p in paths]
        self.label = ", ".join(str(p) for p in self.paths)
        self.max_file_bytes = max_file_bytes
        self.skipped: list[Skipped] = []
        self.files: list[tuple[Path, Path]] | None = None

    def check(self) -> None:
        self.files = list(discover(self.paths, self.skipped))  # a wrong path raises FileNotFoundError here

    def trusted_domains(self) -> tuple[str, ...]:
        return ()

    def items(self, previous: dict[str, dict], conditional: bool) -> Iterator[SourceItem]:
        if self.files is None:
            self.check()
        for path, root in self.files or []:
            yield self._item(path, root)

    def _item(self, path: Path, root: Path) -> SourceItem:
        item = SourceItem(key=str(path.resolve()), label=str(path), origin=str(root.resolve()))
        try:
            if streams(path):
                # A corpus of any size: hashed piece by piece, read again (re-hashed) only if it changed.
                with open_stream(path, root=root) as f:
                    item.digest = _sha256(f)
                item.read = lambda: _streamed(item, path, root)
            else:
                raw = read_source(path, max_bytes=self.max_file_bytes, root=root)
                item.digest = hashlib.sha256(raw).hexdigest()
                item.read = lambda: iter_file(path, root, raw=raw)
        except SkipFile as exc:
            item.problem = str(exc)
        except Exception as exc:  # a loader plugin that fails to import: this file is skipped, not the run
            item.problem = f"could not be read ({exc.__class__.__name__}: {exc})"
        return item


def _sha256(f) -> str:
    h = hashlib.sha256()
    while part := f.read(1 << 20):
        h.update(part)
    return h.hexdigest()


class _HashingReader:
    """A binary stream that hashes what is read through it (so a streamed file is read once per pass)."""

    def __init__(self, f) -> None:
        self.f, self.hash = f, hashlib.sha256()

    def readline(self, size: int = -1) -> bytes:
        line = self.f.readline(size)
        self.hash.update(line)
        return line

    def read(self, size: int = -1) -> bytes:
        part = self.f.read(size)
        self.hash.update(part)
        return part


def _streamed(item: SourceItem, path: Path, root: Path) -> Iterator[Document | Skipped]:
    with open_stream(path, root=root) as f:
        reader = _HashingReader(f)
        yield from iter_file(path, root, stream=reader)
        while reader.read(1 << 20):  # whatever follows the last line, so the digest covers the file
            pass
    item.digest = reader.hash.hexdigest()  # what was actually read, should the file have changed since


# --------------------------------------------------------------------------- from strings


def is_url(text: str) -> bool:
    return str(text).lower().startswith(("http://", "https://"))


def parse_source(text: str | Path | Source, *, crawl: bool | None = None, **web_options) -> Source:
    """A source from what the CLI and ``NECTARINE_SOURCES`` take:

    * a file or folder: ``corpus/``;
    * a URL: a sitemap when its path ends in ``.xml`` (``https://host/sitemap.xml``), else a start URL
      to crawl (same origin); ``crawl=False`` refuses a start URL instead (the CLI wants ``--crawl``);
    * ``git:PATH`` with optional ``?ref=REF&subdir=DIR``: the files of a local git repository at a ref.

    ``web_options`` (``max_depth``, ``max_pages``, ``rate``, ``timeout``, ...) go to :class:`WebSource`.
    """
    if not isinstance(text, (str, Path)):
        return text
    raw = str(text)
    if is_url(raw):
        from .web import WebSource

        sitemap = urlsplit(raw).path.lower().endswith((".xml", ".xml.gz"))
        if not sitemap and crawl is False:
            raise SourceError(f"{raw} is not a sitemap (its path does not end in .xml); give the sitemap's URL, "
                              "or add --crawl to follow links from this page")
        return WebSource(raw, mode="sitemap" if sitemap else "crawl", **web_options)
    if raw.startswith("git:"):
        from .git import GitSource

        parts = urlsplit(raw[4:])
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        unknown = set(query) - {"ref", "subdir"}
        if unknown:
            raise SourceError(f"{raw}: unknown option {', '.join(sorted(unknown))}; a git source takes ref= and subdir=, "
                              "e.g. git:/srv/docs?ref=main&subdir=docs")
        return GitSource(parts.path, ref=query.get("ref"), subdir=query.get("subdir"))
    return FileSource([raw])
