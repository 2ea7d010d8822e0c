"""Loaders turn files into Documents: Markdown with front matter, HTML, plain text and BEIR JSONL.

Each loader raises :class:`SkipFile` with a reason a person can act on; the pipeline records it and
moves on, so one bad file never aborts a run.

>>> docs = load_file(Path("corpus/docs/admin/sso-saml.md"), root=Path("corpus"))  # doctest: +SKIP
>>> docs[0].id, docs[0].source
('docs/admin/sso-saml', <SourceType.DOCS: 'docs'>)
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml

from ..types import Document, SourceType
from ..versions import Version, VersionError, VersionSpec

MAX_FILE_BYTES = 5 * 1024 * 1024
IGNORE_FILE = ".nectarineignore"


class SkipFile(Exception):
    """A file that cannot be ingested; ``str(exc)`` says why and what to do."""


@dataclass
class Skipped:
    path: str
    reason: str


class Loader(Protocol):
    """Reads one file into zero or more Documents."""

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
        date = dt.date.fromtimestamp(path.stat().st_mtime)
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
        from bs4 import BeautifulSoup

        text = decode_text(raw, path)
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
            for tag in main.find_all(self.BOILERPLATE):
                tag.decompose()
            for tag in main.find_all(True):
                if tag.attrs is not None and self.BOILERPLATE_HINTS.search(" ".join(tag.get("class", [])) + " " + (tag.get("id") or "")) and tag.name not in {"code", "pre", "table"}:
                    tag.decompose()
            h1 = main.find("h1")
            if h1 is not None:
                title = title or h1.get_text(" ", strip=True)
                h1.decompose()
            body = _html_to_markdown(main)
        if not body.strip():
            raise SkipFile("no main content found in the HTML page")
        return [build_document(path=path, root=root, meta=meta, text=body, title=title, fmt="markdown")]


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

    Bad lines are reported, good lines are kept; the file is skipped only if no line is usable.
    """

    suffixes = (".jsonl",)

    def __init__(self) -> None:
        self.bad_lines: list[Skipped] = []

    def load(self, path: Path, root: Path, raw: bytes) -> list[Document]:
        text = decode_text(raw, path)
        docs: list[Document] = []
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise SkipFile("not a JSON object")
                meta = dict(record.get("metadata") or {})
                meta["id"] = record.get("_id", record.get("id"))
                if meta["id"] is None:
                    raise SkipFile("no '_id' field")
                meta["id"] = str(meta["id"])
                title = str(record.get("title") or "").strip() or None
                body = str(record.get("text") or "")
                docs.append(build_document(path=None, root=root, meta=meta, text=body, title=title or meta["id"], fmt="text"))
            except json.JSONDecodeError as exc:
                self.bad_lines.append(Skipped(f"{path}:{lineno}", f"invalid JSON ({exc.msg}); each line must be one JSON object"))
            except SkipFile as exc:
                self.bad_lines.append(Skipped(f"{path}:{lineno}", str(exc)))
        if not docs:
            raise SkipFile("no valid BEIR records ({'_id', 'title', 'text'} per line)")
        return docs


LOADERS: dict[str, type] = {}
for _loader in (MarkdownLoader, TextLoader, HtmlLoader, BeirJsonlLoader):
    for _suffix in _loader.suffixes:
        LOADERS[_suffix] = _loader


# --------------------------------------------------------------------------- discovery


def _ignore_patterns(root: Path) -> list[str]:
    ignore = root / IGNORE_FILE
    if not ignore.is_file():
        return []
    return [ln.strip() for ln in ignore.read_text().splitlines() if ln.strip() and not ln.startswith("#")]


def discover(paths: Iterable[Path]) -> Iterator[tuple[Path, Path]]:
    """Yield ``(file, root)`` for every file under ``paths``; hidden and ignored files are passed over.

    A folder may hold a ``.nectarineignore`` with glob patterns (relative to it) of files that are
    not part of the knowledge base, such as its README.
    """
    for given in paths:
        given = Path(given)
        if not given.exists():
            raise FileNotFoundError(f"{given}: no such file or folder; pass the folder that holds your docs, e.g. corpus/")
        if given.is_file():
            yield given, given.parent
            continue
        patterns = _ignore_patterns(given)
        for path in sorted(given.rglob("*")):
            rel = path.relative_to(given)
            if any(part.startswith(".") for part in rel.parts) or not path.is_file():
                continue
            if any(fnmatch.fnmatch(rel.as_posix(), pat) for pat in patterns):
                continue
            yield path, given


def read_source(path: Path, *, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a source file, refusing oversized and unreadable ones with a reason."""
    if path.suffix.lower() not in LOADERS:
        raise SkipFile(f"unsupported file type {path.suffix or '(no extension)'}; supported: {', '.join(sorted(LOADERS))}")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise SkipFile(f"file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:g} MB limit; split it or raise --max-file-mb")
        return path.read_bytes()
    except OSError as exc:
        raise SkipFile(f"cannot read the file: {exc.strerror or exc}") from None


def load_file(path: Path, root: Path, raw: bytes | None = None) -> tuple[list[Document], list[Skipped]]:
    """Load one file, returning its documents and any partial problems (bad JSONL lines)."""
    if raw is None:
        raw = read_source(path)
    loader = LOADERS[path.suffix.lower()]()
    docs = loader.load(path, root, raw)
    return docs, list(getattr(loader, "bad_lines", []))
