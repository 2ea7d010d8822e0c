"""Loaders turn files into Documents: Markdown with front matter, HTML, plain text and BEIR JSONL.

Each loader raises :class:`SkipFile` with a reason a person can act on; the pipeline records it and
moves on, so one bad file never aborts a run.

A single page is refused past ``max_bytes`` (5 MiB by default). A BEIR ``.jsonl`` corpus is not one
page: its loader *streams* (``iter_documents``), one line at a time, so a corpus of any size is read
in bounded memory and only a single record is held to the per-page limit.

>>> docs, problems = load_file(Path("corpus/docs/sso.md"), root=Path("corpus"))
>>> docs[0].id, docs[0].source, problems
('docs/sso', <SourceType.DOCS: 'docs'>, [])
"""

from __future__ import annotations

import datetime as dt
import errno
import fnmatch
import io
import json
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import yaml

from ..types import Document, SourceType
from ..versions import Version, VersionError, VersionSpec
from ..errors import SkipFile  # noqa: F401 - defined under the one error root

MAX_FILE_BYTES = 5 * 1024 * 1024  # one page (or one JSONL record); a streamed JSONL corpus has no total limit
MIB = 1024 * 1024
IGNORE_FILE = ".nectarineignore"


def human_bytes(n: int | float) -> str:
    """A size as people read it, in binary units (the limits are binary: 5 MiB is 5,242,880 bytes).

    >>> human_bytes(5 * 1024 * 1024), human_bytes(13_107_200), human_bytes(1000)
    ('5 MiB', '12.5 MiB', '1,000 bytes')
    """
    if n >= MIB:
        return f"{n / MIB:.1f}".removesuffix(".0") + " MiB"
    if n >= 10 * 1024:
        return f"{n / 1024:.0f} KiB"
    return f"{int(n):,} bytes"


@dataclass
class Skipped:
    path: str
    reason: str


class Loader(Protocol):
    """Reads one file into zero or more Documents.

    A loader for files that hold many records (BEIR JSONL) may also set ``streams = True`` and define
    ``iter_documents(path, root, stream) -> Iterator[Document | Skipped]``: it is then given the open
    file and never the whole of it, and the file has no size limit (each record still has one).
    """

    suffixes: tuple[str, ...]

    def load(self, path: Path, root: Path, raw: bytes) -> list[Document]: ...


# --------------------------------------------------------------------------- helpers


def decode_text(raw: bytes, path: Path) -> str:
    if not raw.strip():
        raise SkipFile("empty file")
    if b"\x00" in raw[:8192]:
        raise SkipFile("binary file (contains NUL bytes); only text formats can be ingested")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SkipFile(
            f"not valid UTF-8 (byte {exc.start}); re-save the file as UTF-8"
        ) from None


def _doc_id(path: Path, root: Path) -> str:
    try:
        rel = path.relative_to(root)
    except ValueError:
        rel = Path(path.name)
    return rel.with_suffix("").as_posix()


def _humanize(stem: str) -> str:
    return re.sub(r"[-_]+", " ", stem).strip().capitalize()


def _as_date(value: Any, field: str) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise SkipFile(f"front matter field {field!r} is not a date (YYYY-MM-DD): {value!r}") from None


def build_document(
    *, path: Path | None, root: Path, meta: dict[str, Any], text: str, title: str | None, fmt: str = "markdown"
) -> Document:
    """Fill in every Document field from metadata, deriving what is missing from the path.

    Derivations: id from the path below the ingest root; source from the first folder
    (``docs/``, ``blog/``, ``release-notes/``, ``support/``); a release note's version from its
    file name; url ``/<id>``; date from the file's modification time; language ``en``.
    """
    doc_id = str(meta.get("id") or (_doc_id(path, root) if path else ""))
    if not doc_id:
        raise SkipFile("record has no id")
    first_folder = doc_id.split("/", 1)[0]
    try:
        source = SourceType.from_str(meta.get("source") or meta.get("type") or (
            first_folder if first_folder in {s.value for s in SourceType} else "docs"))
    except ValueError as exc:
        raise SkipFile(f"front matter: {exc}") from None

    version = meta.get("version")
    if version is None and source is SourceType.RELEASE_NOTES and path is not None:
        try:
            version = str(Version.parse(path.stem))
        except VersionError:
            version = None
    versions = meta.get("versions") or meta.get("applies_to") or (version if version else "all")
    if isinstance(versions, list):
        versions = ", ".join(map(str, versions))  # a list of specs means all of them
    try:
        VersionSpec.parse(str(versions))
        if version is not None:
            version = str(Version.parse(str(version)))
    except VersionError as exc:
        raise SkipFile(f"front matter: {exc}") from None

    date = _as_date(meta.get("date"), "date")
    if date is None and path is not None:
        try:
            date = dt.date.fromtimestamp(path.stat().st_mtime)
        except OSError:  # not on disk (a file read from a git commit): the caller sets the date
            date = None
    title = str(meta.get("title") or title or _humanize(Path(doc_id).name))
    if not text.strip():
        raise SkipFile("no text after the front matter")
    known = {"id", "title", "source", "type", "url", "versions", "applies_to", "version", "date", "language", "lang"}
    return Document(
        id=doc_id,
        title=title,
        text=text,
        source=source,
        url=str(meta.get("url") or f"/{doc_id}"),
        versions=str(versions),
        version=str(version) if version else None,
        date=date,
        language=str(meta.get("language") or meta.get("lang") or "en"),
        path=str(path) if path else None,
        metadata={"format": fmt, **{k: v for k, v in meta.items() if k not in known and _jsonable(v)}},
    )


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
        return True
    except (TypeError, ValueError):
        return False


_H1_RE = re.compile(r"^# +(.+?)\s*#*\s*$", re.M)


def _take_h1(body: str) -> tuple[str | None, str]:
    """A leading ``# Title`` becomes the document title rather than a section."""
    stripped = body.lstrip()
    m = _H1_RE.match(stripped)
    if m:
        return m.group(1).strip(), stripped[m.end():]
    return None, body


# --------------------------------------------------------------------------- loaders


class MarkdownLoader:
    suffixes = (".md", ".markdown", ".mdx")

    def load(self, path: Path, root: Path, raw: bytes) -> list[Document]:
        text = decode_text(raw, path)
        meta, body = split_front_matter(text)
        h1, body = _take_h1(body)
        return [build_document(path=path, root=root, meta=meta, text=body, title=h1)]


_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """YAML front matter and the body after it; a broken block is an error, never silently dropped."""
    m = _FRONT_MATTER.match(text)
    if not m:
        if text.startswith("---\n") and "\n---" not in text[4:]:
            raise SkipFile("front matter is not closed; end it with a line of three dashes (---)")
        return {}, text
    try:
        meta = yaml.safe_load(m.group(1))
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        raise SkipFile(f"malformed YAML front matter{where}: {problem}; fix the block between the '---' lines") from None
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise SkipFile("front matter is not a mapping of 'key: value' lines")
    return meta, text[m.end():]


class TextLoader:
    suffixes = (".txt", ".text")

    def load(self, path: Path, root: Path, raw: bytes) -> list[Document]:
        text = decode_text(raw, path)
        first, _, rest = text.strip().partition("\n")
        title = first.strip() if rest.strip() and len(first) < 120 else None
        return [build_document(path=path, root=root, meta={}, text=rest if title else text, title=title, fmt="text")]


class HtmlLoader:
    """Keeps the page's main content and drops navigation, headers, footers and banners.

    Metadata comes from ``<title>``, ``<link rel=canonical>``, ``<html lang>`` and
    ``<meta name="nectain:versions|source|date|version">``. Heading ``id`` attributes become anchors.
    """

    suffixes = (".html", ".htm")
    BOILERPLATE = ("script", "style", "noscript", "nav", "header", "footer", "aside", "form", "iframe", "svg", "button")
    BOILERPLATE_HINTS = re.compile(r"cookie|banner|breadcrumb|sidebar|navbar|menu|feedback|share|subscribe", re.I)

    def load(self, path: Path, root: Path, raw: bytes) -> list[Document]:
        meta, title, body = self.parse(decode_text(raw, path))
        return [build_document(path=path, root=root, meta=meta, text=body, title=title, fmt="markdown")]

    @classmethod
    def parse(cls, text: str) -> tuple[dict[str, Any], str | None, str]:
        """``(metadata, title, Markdown body)`` of an HTML page (shared with the website source)."""
        from bs4 import BeautifulSoup

        soup = BeautifulSoup(text, "lxml")
        meta: dict[str, Any] = {}
        for tag in soup.find_all("meta"):
            name = (tag.get("name") or tag.get("property") or "").lower()
            if name.startswith("nectain:"):
                meta[name.split(":", 1)[1]] = tag.get("content", "")
            elif name == "og:url":
                meta.setdefault("url", tag.get("content"))
        canonical = soup.find("link", rel="canonical")
        if canonical and canonical.get("href"):
            meta["url"] = canonical["href"]
        if soup.html and soup.html.get("lang"):
            meta.setdefault("language", soup.html["lang"].split("-")[0])
        title = soup.title.get_text(" ", strip=True) if soup.title else None

        main = soup.find("article") or soup.find("main") or soup.find(attrs={"role": "main"})
        if main is None:
            body = _trafilatura_markdown(text)
        else:
            for tag in main.find_all(cls.BOILERPLATE):
                tag.decompose()
            for tag in main.find_all(True):
                if tag.attrs is not None and cls.BOILERPLATE_HINTS.search(" ".join(tag.get("class", [])) + " " + (tag.get("id") or "")) and tag.name not in {"code", "pre", "table"}:
                    tag.decompose()
            h1 = main.find("h1")
            if h1 is not None:
                title = title or h1.get_text(" ", strip=True)
                h1.decompose()
            body = _html_to_markdown(main)
        if not body.strip():
            raise SkipFile("no main content found in the HTML page")
        return meta, title, body


def _html_to_markdown(element: Any) -> str:
    from markdownify import MarkdownConverter

    class AnchoredConverter(MarkdownConverter):
        def convert_hN(self, n, el, text, parent_tags):  # noqa: N802 (markdownify's naming)
            out = super().convert_hN(n, el, text, parent_tags)
            anchor = el.get("id")
            return out.rstrip("\n") + f" {{#{anchor}}}\n\n" if anchor and out.strip() else out

    md = AnchoredConverter(heading_style="ATX", bullets="-", code_language_callback=_code_language).convert_soup(element)
    return re.sub(r"\n{3,}", "\n\n", md).strip() + "\n"


def _code_language(el: Any) -> str | None:
    code = el.find("code") if el.name == "pre" else el
    for cls in (code.get("class") or []) if code is not None else []:
        if cls.startswith("language-"):
            return cls.split("-", 1)[1]
    return None


def _trafilatura_markdown(html: str) -> str:
    import trafilatura

    return trafilatura.extract(html, output_format="markdown", include_tables=True, include_links=False) or ""


class BeirJsonlLoader:
    """BEIR corpus format: one ``{"_id", "title", "text", "metadata"}`` object per line.

    Bad lines are reported, good lines are kept; the file is skipped only if no line is usable. The
    file is streamed (``iter_documents``): memory holds one line at a time, whatever the corpus size,
    and a line over ``max_record_bytes`` is reported and passed over without being held whole.
    """

    suffixes = (".jsonl",)
    streams = True

    def __init__(self, max_record_bytes: int = MAX_FILE_BYTES) -> None:
        self.bad_lines: list[Skipped] = []
        self.max_record_bytes = max_record_bytes

    def load(self, path: Path, root: Path, raw: bytes) -> list[Document]:
        decode_text(raw, path)  # empty or binary: the whole file is refused, as before
        docs: list[Document] = []
        for item in self.iter_documents(path, root, io.BytesIO(raw)):
            if isinstance(item, Skipped):
                self.bad_lines.append(item)
            else:
                docs.append(item)
        if not docs:
            raise SkipFile("no valid BEIR records ({'_id', 'title', 'text'} per line)")
        return docs

    def iter_documents(self, path: Path, root: Path, stream: BinaryIO) -> Iterator[Document | Skipped]:
        """Each line's Document, or a :class:`Skipped` naming the line and what is wrong with it.

        Raises :class:`SkipFile` when the file holds no usable record at all (empty, or binary)."""
        limit = self.max_record_bytes
        good = 0
        for lineno, line in enumerate(_bounded_lines(stream, limit), 1):
            if line is None:
                yield Skipped(f"{path}:{lineno}", f"record is over the {human_bytes(limit)} limit for a single page; split it")
                continue
            if lineno == 1:
                if b"\x00" in line[:8192]:
                    raise SkipFile("binary file (contains NUL bytes); only text formats can be ingested")
                line = line.removeprefix(b"\xef\xbb\xbf")
            if not line.strip():
                continue
            try:
                doc = self._record(line, root)
            except UnicodeDecodeError as exc:
                yield Skipped(f"{path}:{lineno}", f"not valid UTF-8 (byte {exc.start}); re-save the file as UTF-8")
            except json.JSONDecodeError as exc:
                yield Skipped(f"{path}:{lineno}", f"invalid JSON ({exc.msg}); each line must be one JSON object")
            except SkipFile as exc:
                yield Skipped(f"{path}:{lineno}", str(exc))
            else:
                good += 1
                yield doc
        if not good:
            raise SkipFile("no valid BEIR records ({'_id', 'title', 'text'} per line)")

    @staticmethod
    def _record(line: bytes, root: Path) -> Document:
        record = json.loads(line.decode("utf-8"))
        if not isinstance(record, dict):
            raise SkipFile("not a JSON object")
        meta = dict(record.get("metadata") or {})
        meta["id"] = record.get("_id", record.get("id"))
        if meta["id"] is None:
            raise SkipFile("no '_id' field")
        meta["id"] = str(meta["id"])
        title = str(record.get("title") or "").strip() or None
        body = str(record.get("text") or "")
        return build_document(path=None, root=root, meta=meta, text=body, title=title or meta["id"], fmt="text")


def _bounded_lines(stream: BinaryIO, limit: int) -> Iterator[bytes | None]:
    """The lines of ``stream`` (without their newline), each read with at most ``limit + 1`` bytes in
    memory; a longer line is drained in pieces and given as ``None``."""
    while True:
        line = stream.readline(limit + 1)
        if not line:
            return
        if len(line) > limit and not line.endswith(b"\n"):
            while True:  # the rest of an oversized line, never held whole
                rest = stream.readline(1 << 20)
                if not rest or rest.endswith(b"\n"):
                    break
            yield None
            continue
        yield line.rstrip(b"\r\n")


def supported_suffixes() -> list[str]:
    """The file suffixes a loader is installed for (entry point group ``nectarine.loaders``), sorted."""
    from ..plugins import LOADERS, names

    return names(LOADERS)


def check_supported(path: Path) -> str:
    """``path``'s suffix if a loader is installed for it (nothing imported), else :class:`SkipFile` saying what is."""
    from ..plugins import LOADERS, registry

    suffix = path.suffix.lower()
    if suffix not in registry(LOADERS):
        raise SkipFile(f"unsupported file type {path.suffix or '(no extension)'}; supported: {', '.join(supported_suffixes())}")
    return suffix


def loader_for(path: Path) -> type[Loader]:
    """The loader installed for ``path``'s suffix, built-in or a plugin's (:mod:`nectarine.plugins`).

    An unsupported suffix raises :class:`SkipFile`; a plugin that fails to import raises
    :class:`~nectarine.plugins.PluginError` naming it (ingest reports the file as skipped with that reason).
    """
    from ..plugins import LOADERS, load

    return load(LOADERS, check_supported(path))


# --------------------------------------------------------------------------- discovery


def _ignore_patterns(root: Path) -> list[str]:
    ignore = root / IGNORE_FILE
    if not ignore.is_file():
        return []
    return [ln.strip() for ln in ignore.read_text().splitlines() if ln.strip() and not ln.startswith("#")]


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device file"
    return "not a regular file"


def _inside(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def discover(paths: Iterable[Path], skipped: list[Skipped] | None = None) -> Iterator[tuple[Path, Path]]:
    """Yield ``(file, root)`` for every file under ``paths``; hidden and ignored files are passed over.

    A folder may hold a ``.nectarineignore`` with glob patterns (relative to it) of files that are
    not part of the knowledge base, such as its README.

    Ingest stays inside the folders it is given. Nothing is opened here (``lstat``/``stat`` only), and
    these are passed over and, if ``skipped`` is given, reported there with the reason:

    * a link whose target resolves outside the folder (to ``/etc/passwd``, say);
    * named pipes, sockets and device files (opening a FIFO would block forever);
    * link loops, dangling links, and links to a folder already walked (a folder loop);
    * a second path to the same file (a link inside the folder): the file is read once.
    """
    note = skipped.append if skipped is not None else (lambda _s: None)
    for given in paths:
        given = Path(given)
        try:
            st = given.stat()
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise FileNotFoundError(f"{given}: a symbolic link loop; pass the folder that holds your docs, e.g. corpus/") from None
            raise FileNotFoundError(f"{given}: no such file or folder; pass the folder that holds your docs, e.g. corpus/") from None
        if stat.S_ISREG(st.st_mode):
            yield given, given.parent
            continue
        if not stat.S_ISDIR(st.st_mode):
            note(Skipped(str(given), f"{_kind(st.st_mode)}, not a document; only regular files are read"))
            continue
        yield from _walk(given, note)


def _walk(given: Path, note) -> Iterator[tuple[Path, Path]]:
    root_real = Path(os.path.realpath(given))
    patterns = _ignore_patterns(given)
    found: list[tuple[Path, Path, bool]] = []  # (path as walked, real path, reached through a link)
    seen_dirs = {root_real}
    stack = [given]
    linked: list[tuple[Path, Path]] = []  # folders reached through a link: walked after the real ones
    while stack or linked:
        if not stack:
            path, real = linked.pop(0)
            if real in seen_dirs:
                if _inside(Path(os.path.realpath(path.parent)), real):
                    note(Skipped(str(path), f"links back to an enclosing folder ({real}), a loop; each folder is walked once"))
                else:
                    note(Skipped(str(path), f"links to a folder already walked ({real}); its files are read once"))
                continue
            seen_dirs.add(real)
            stack.append(path)
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            note(Skipped(str(folder), f"cannot list the folder: {exc.strerror or exc}"))
            continue
        subdirs = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                mode = os.lstat(path).st_mode
            except OSError:
                continue  # removed while walking
            link = stat.S_ISLNK(mode)
            if link:
                target = os.readlink(path)
                try:
                    mode = os.stat(path).st_mode
                except OSError as exc:
                    if exc.errno == errno.ELOOP:
                        note(Skipped(str(path), f"a symbolic link loop (-> {target}); remove or fix the link"))
                    else:
                        note(Skipped(str(path), f"a dangling symbolic link (-> {target}, which does not exist); remove or fix the link"))
                    continue
                real = Path(os.path.realpath(path))
                if not _inside(real, root_real):
                    note(Skipped(str(path), f"links outside the corpus folder to {real}; copy the file in if it belongs to the docs"))
                    continue
            else:
                real = Path(os.path.realpath(path)) if stat.S_ISDIR(mode) else path
            if stat.S_ISDIR(mode):
                if link:
                    linked.append((path, real))
                else:
                    seen_dirs.add(real)
                    subdirs.append(path)
            elif stat.S_ISREG(mode):
                rel = path.relative_to(given)
                if any(fnmatch.fnmatch(rel.as_posix(), pat) for pat in patterns):
                    continue
                found.append((path, Path(os.path.realpath(path)), link))
            else:
                note(Skipped(str(path), f"{_kind(mode)}, not a document; only regular files are read"))
        stack.extend(reversed(subdirs))
    # Files first, then links to them: the same file is read once, under its own name.
    found.sort(key=lambda t: t[0].parts)
    owner: dict[Path, Path] = {real: path for path, real, link in found if not link}
    for path, real, link in found:
        if link:
            if real in owner:
                note(Skipped(str(path), f"the same file as {owner[real]} (a link inside the corpus folder); it is read once"))
                continue
            owner[real] = path
        yield path, given


def _open_checked(path: Path, root: Path | None) -> tuple[int, os.stat_result]:
    """An O_NOFOLLOW, non-blocking descriptor of ``path``'s real file, and its fstat; special files refused."""
    check_supported(path)  # an unsupported type is refused before the file is opened
    real = os.path.realpath(path)
    if root is not None and not _inside(Path(real), Path(os.path.realpath(root))):
        raise SkipFile(f"links outside the corpus folder to {real}; copy the file in if it belongs to the docs")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(real, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SkipFile("the file was replaced by a symbolic link while reading; run the ingest again") from None
        raise SkipFile(f"cannot read the file: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SkipFile(f"{_kind(st.st_mode)}, not a document; only regular files are read")
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def read_source(path: Path, *, max_bytes: int = MAX_FILE_BYTES, root: Path | None = None) -> bytes:
    """The bytes of a source file, refusing oversized, unreadable and special ones with a reason.

    The file is opened once (its real path, without following a link at the last step, without
    blocking on a pipe) and the size check and the read use that descriptor, so a file swapped or
    grown between the check and the read cannot slip through. With ``root``, a file whose real path
    has left ``root`` since it was discovered is refused.
    """
    fd, st = _open_checked(path, root)
    try:
        if st.st_size > max_bytes:
            raise SkipFile(f"file is {human_bytes(st.st_size)}, over the {human_bytes(max_bytes)} limit for a single page; "
                           "split it or raise --max-file-mb")
        parts, left = [], max_bytes + 1
        while left > 0:
            part = os.read(fd, min(left, 1 << 20))
            if not part:
                break
            parts.append(part)
            left -= len(part)
        raw = b"".join(parts)
        if len(raw) > max_bytes:
            raise SkipFile(f"file grew past the {human_bytes(max_bytes)} limit while being read; split it or raise --max-file-mb")
        return raw
    except OSError as exc:
        raise SkipFile(f"cannot read the file: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def open_stream(path: Path, *, root: Path | None = None) -> BinaryIO:
    """``path`` opened for streaming (a BEIR JSONL corpus), with the checks of :func:`read_source` but no
    size limit: the caller reads it piece by piece. Close it (it is a context manager)."""
    fd, _st = _open_checked(path, root)
    try:
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb", buffering=1 << 20)
    except BaseException:
        os.close(fd)
        raise


def streams(path: Path) -> bool:
    """True when ``path``'s loader reads it as a stream (no whole-file size limit)."""
    return bool(getattr(loader_for(path), "streams", False))


def iter_file(path: Path, root: Path, *, max_bytes: int = MAX_FILE_BYTES, stream: BinaryIO | None = None,
              raw: bytes | None = None) -> Iterator[Document | Skipped]:
    """Every Document of one file, and a :class:`Skipped` for each bad record in it, in order.

    A streaming loader (BEIR JSONL) reads ``stream`` (or the file, opened with :func:`open_stream`)
    line by line; any other loader gets the whole file (``raw``, or read within ``max_bytes``).
    Raises :class:`SkipFile` when the whole file must be skipped.
    """
    loader = loader_for(path)()
    if getattr(loader, "streams", False) and raw is None:
        if stream is not None:
            yield from loader.iter_documents(path, root, stream)
            return
        with open_stream(path, root=root) as f:
            yield from loader.iter_documents(path, root, f)
        return
    if raw is None:
        raw = read_source(path, max_bytes=max_bytes)
    docs = loader.load(path, root, raw)
    yield from getattr(loader, "bad_lines", [])
    yield from docs


def load_file(path: Path, root: Path, raw: bytes | None = None) -> tuple[list[Document], list[Skipped]]:
    """Load one file, returning its documents and any partial problems (bad JSONL lines).

    Without ``raw``, a JSONL corpus is streamed (no size limit) and any other file read within the
    single-page limit. For a corpus too big to hold as a list, iterate :func:`iter_file` instead.
    """
    docs: list[Document] = []
    bad: list[Skipped] = []
    for item in iter_file(path, root, raw=raw):
        (bad if isinstance(item, Skipped) else docs).append(item)
    return docs, bad
