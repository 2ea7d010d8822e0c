"""Structure-aware chunking: split on headings first, then pack blocks into a token budget.

Blocks (paragraphs, lists, code fences, tables) come from markdown-it, so a ``#`` comment inside a
code block is never mistaken for a heading. A code block or table is kept whole when it fits the
embedding model's input; only a block larger than that is cut, by lines, with a table's header
repeated and a code fence re-opened in every piece.

>>> from nectarine.ingest.loaders import load_file
>>> (document,), _ = load_file(Path("corpus/docs/sso.md"), root=Path("corpus"))
>>> chunker = StructureAwareChunker(ChunkerSettings(max_tokens=200))
>>> chunks, stats = chunker.chunk(document)
>>> chunks[2].heading_path
['Single sign-on', 'Configure SAML', 'Rotate the certificate']
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from markdown_it import MarkdownIt

from ..types import Chunk, Document, slugify
from ..versions import narrow, versions_from_heading

_md = MarkdownIt("commonmark").enable("table")
_ANCHOR_ATTR = re.compile(r"\s*\{#([\w\-]+)\}\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(`\[])")
_LIST_ITEM = re.compile(r"^\s{0,3}(?:[-*+]|\d{1,3}[.)])\s", re.M)


@functools.lru_cache(maxsize=1)
def _cl100k():
    """cl100k_base from the copy llama-index-core ships, so tiktoken never downloads it."""
    import importlib.util
    import os

    import tiktoken

    spec = importlib.util.find_spec("llama_index.core")
    if spec and spec.submodule_search_locations:
        cache = Path(next(iter(spec.submodule_search_locations))) / "_static" / "tiktoken_cache"
        if cache.is_dir():
            os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(cache))
    return tiktoken.get_encoding("cl100k_base")


def tiktoken_counter() -> Callable[[str], int]:
    """Token counts with tiktoken's cl100k_base (what the chunk budget is measured in)."""
    return lambda text: len(_cl100k().encode(text, disallowed_special=()))


@dataclass(frozen=True)
class ChunkerSettings:
    """Chunking knobs; they are recorded in the index manifest."""

    max_tokens: int = 200  # soft budget per chunk, tiktoken tokens (measured: see BENCHMARKS.md)
    min_tokens: int = 24  # a trailing piece smaller than this is merged into its neighbour
    embed_limit: int = 256  # the embedding model's input limit, in its own word pieces
    version: int = 1  # bump when chunking logic changes, so old chunk ids are not reused

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Block:
    kind: str  # paragraph | list | code | table | quote | html | other
    text: str


@dataclass
class Section:
    headings: list[tuple[str, str]]  # (heading text, anchor), outermost first
    blocks: list[Block] = field(default_factory=list)


@dataclass
class ChunkStats:
    """What the budget and the embedding limit forced; reported after ingestion."""

    chunks: int = 0
    split_for_embed_limit: int = 0  # chunks that had to be cut again to fit the embedding model
    cut_mid_text: int = 0  # pieces with no boundary to cut at, cut between characters (nothing is dropped)
    oversized_blocks: int = 0  # code blocks or tables that had to be cut

    def add(self, other: ChunkStats) -> None:
        for k, v in asdict(other).items():
            setattr(self, k, getattr(self, k) + v)


def parse_sections(markdown: str) -> list[Section]:
    """Group Markdown blocks under their heading path."""
    lines = markdown.splitlines()
    sections = [Section(headings=[])]
    stack: list[tuple[int, str, str]] = []  # (level, text, anchor)
    tokens = _md.parse(markdown)
    seen_anchors: dict[str, int] = {}
    for i, tok in enumerate(tokens):
        if tok.level != 0 or tok.map is None or tok.nesting == -1:
            continue
        start, end = tok.map
        if tok.type == "heading_open":
            level = int(tok.tag[1:])
            raw = tokens[i + 1].content.strip()
            m = _ANCHOR_ATTR.search(raw)
            text = _ANCHOR_ATTR.sub("", raw).strip() if m else raw
            anchor = m.group(1) if m else slugify(_plain(text))
            if anchor in seen_anchors:  # GitHub's rule for repeated headings
                seen_anchors[anchor] += 1
                anchor = f"{anchor}-{seen_anchors[anchor]}"
            else:
                seen_anchors[anchor] = 0
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, _plain(text), anchor))
            sections.append(Section(headings=[(t, a) for _, t, a in stack]))
            continue
        kind = {
            "paragraph_open": "paragraph",
            "bullet_list_open": "list",
            "ordered_list_open": "list",
            "fence": "code",
            "code_block": "code",
            "table_open": "table",
            "blockquote_open": "quote",
            "html_block": "html",
        }.get(tok.type, "other")
        text = "\n".join(lines[start:end]).strip("\n")
        if text.strip():
            sections[-1].blocks.append(Block(kind, text))
    return [s for s in sections if s.blocks]


def _plain(text: str) -> str:
    """Heading text without Markdown emphasis or code marks."""
    return re.sub(r"[*_`]+", "", text).strip()


def chunk_id(doc: Document, heading_path: Sequence[str], text: str, settings: ChunkerSettings) -> str:
    """Stable id from content: the same passage of the same document always gets the same id."""
    h = hashlib.sha256()
    for part in (doc.id, doc.title, doc.url, doc.versions, doc.version or "", str(doc.date or ""),
                 doc.source.value, doc.language, " › ".join(heading_path), text, str(settings.version)):
        h.update(part.encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()[:20]


class StructureAwareChunker:
    """Headings first, then a token budget; never cuts a code block or table if it can be avoided."""

    def __init__(
        self,
        settings: ChunkerSettings | None = None,
        count_tokens: Callable[[str], int] | None = None,
        count_wordpieces: Callable[[Sequence[str]], list[int]] | None = None,
    ) -> None:
        self.settings = settings or ChunkerSettings()
        self.count_tokens = count_tokens or tiktoken_counter()
        # Without the embedder's tokenizer, tiktoken tokens stand in (close for English prose).
        self.count_wordpieces = count_wordpieces or (lambda texts: [self.count_tokens(t) for t in texts])

    # ------------------------------------------------------------------ public
    def chunk(self, doc: Document) -> tuple[list[Chunk], ChunkStats]:
        stats = ChunkStats()
        if doc.metadata.get("format") == "text":
            sections = [Section(headings=[], blocks=[Block("paragraph", p) for p in re.split(r"\n\s*\n", doc.text) if p.strip()])]
        else:
            sections = parse_sections(doc.text)
        pieces: list[tuple[Section, str]] = []
        for section in sections:
            for text in self._pack(section.blocks, stats):
                pieces.append((section, text))

        # Enforce the embedding limit on what is actually embedded (heading path + text).
        final: list[tuple[Section, str]] = []
        for section, text in pieces:
            heading_path = [doc.title] + [h for h, _ in section.headings]
            final.extend((section, t) for t in self._fit_embed_limit(heading_path, text, stats))

        chunks = []
        for position, (section, text) in enumerate(final):
            heading_path = [doc.title] + [h for h, _ in section.headings]
            anchor = section.headings[-1][1] if section.headings else ""
            section_ids = [doc.id] + [f"{doc.id}#{a}" for _, a in section.headings]
            versions = doc.versions
            for heading, _ in section.headings:  # "Timeout from 4.3" narrows the page's range
                versions = narrow(versions, versions_from_heading(heading))
            base_url = doc.url.split("#", 1)[0]
            chunks.append(
                Chunk(
                    id=chunk_id(doc, heading_path, text, self.settings),
                    doc_id=doc.id,
                    text=text,
                    title=doc.title,
                    heading_path=heading_path,
                    anchor=anchor,
                    section_ids=section_ids,
                    url=f"{base_url}#{anchor}" if anchor else base_url,
                    source=doc.source,
                    versions=versions,
                    version=doc.version,
                    date=doc.date,
                    language=doc.language,
                    n_tokens=self.count_tokens(text),
                    position=position,
                )
            )
        stats.chunks = len(chunks)
        return _dedupe_ids(chunks), stats

    # ------------------------------------------------------------------ packing
    def _pack(self, blocks: list[Block], stats: ChunkStats) -> list[str]:
        """Greedily pack whole blocks into the budget, splitting only blocks larger than it."""
        budget = self.settings.max_tokens
        units: list[tuple[str, int]] = []
        for block in blocks:
            n = self.count_tokens(block.text)
            if n <= budget or (block.kind in {"code", "table"} and n <= self.settings.embed_limit - 40):
                units.append((block.text, n))
            else:
                if block.kind in {"code", "table"}:
                    stats.oversized_blocks += 1
                units.extend((t, self.count_tokens(t)) for t in self._split_block(block, budget))
        out: list[str] = []
        current: list[str] = []
        size = 0
        for text, n in units:
            if current and size + n > budget:
                out.append("\n\n".join(current))
                current, size = [], 0
            current.append(text)
            size += n
        if current:
            tail = "\n\n".join(current)
            if out and size < self.settings.min_tokens and self.count_tokens(out[-1]) + size <= budget + self.settings.min_tokens:
                out[-1] = out[-1] + "\n\n" + tail
            else:
                out.append(tail)
        return out

    def _split_block(self, block: Block, budget: int) -> list[str]:
        if block.kind == "code":
            return self._split_lines(block.text, budget, code=True)
        if block.kind == "table":
            return self._split_lines(block.text, budget, table=True)
        if block.kind == "list":
            starts = [m.start() for m in _LIST_ITEM.finditer(block.text)] or [0]
            if starts[0] != 0:
                starts.insert(0, 0)
            items = [block.text[a:b].strip("\n") for a, b in zip(starts, starts[1:] + [len(block.text)])]
            return self._group(items, budget, sep="\n")
        sentences = _SENTENCE_END.split(block.text)
        return self._group(sentences, budget, sep=" ")

    def _group(self, parts: list[str], budget: int, sep: str) -> list[str]:
        out, current, size = [], [], 0
        for part in parts:
            n = self.count_tokens(part)
            if n > budget:  # one enormous sentence or item: cut by lines, then words
                if current:
                    out.append(sep.join(current))
                    current, size = [], 0
                out.extend(self._split_lines(part, budget))
                continue
            if current and size + n > budget:
                out.append(sep.join(current))
                current, size = [], 0
            current.append(part)
            size += n
        if current:
            out.append(sep.join(current))
        return out

    def _split_lines(self, text: str, budget: int, code: bool = False, table: bool = False) -> list[str]:
        lines = text.split("\n")
        head: list[str] = []
        tail_fence = ""
        if code and lines and lines[0].lstrip().startswith(("```", "~~~")):
            head = [lines[0]]
            tail_fence = lines[-1] if len(lines) > 1 and lines[-1].strip().startswith(lines[0].strip()[:3]) else lines[0].strip()[:3]
            lines = lines[1:-1] if lines[-1] == tail_fence else lines[1:]
        elif table and len(lines) > 2:
            head, lines = lines[:2], lines[2:]
        head_n = self.count_tokens("\n".join(head + ([tail_fence] if tail_fence else [])))
        room = max(16, budget - head_n)
        out, current, size = [], [], 0

        def flush() -> None:
            if current:
                out.append("\n".join(head + current + ([tail_fence] if tail_fence else [])))

        for line in lines:
            n = self.count_tokens(line)
            if n > room:  # a single line longer than the budget: cut it by words
                flush()
                current, size = [], 0
                words, piece = line.split(" "), []
                for w in words:
                    if piece and self.count_tokens(" ".join(piece + [w])) > room:
                        out.append("\n".join(head + [" ".join(piece)] + ([tail_fence] if tail_fence else [])))
                        piece = []
                    piece.append(w)
                if piece:
                    current, size = [" ".join(piece)], self.count_tokens(" ".join(piece))
                continue
            if current and size + n > room:
                flush()
                current, size = [], 0
            current.append(line)
            size += n + 1
        flush()
        return out

    # ------------------------------------------------------------------ embedding limit
    def _fit_embed_limit(self, heading_path: list[str], text: str, stats: ChunkStats) -> list[str]:
        """Cut a piece again (at blocks, then lines, then words) until heading path + text fits."""
        prefix = " › ".join(heading_path) + "\n\n"
        limit = self.settings.embed_limit - 2  # [CLS] and [SEP]
        if self.count_wordpieces([prefix + text])[0] <= limit:
            return [text]
        stats.split_for_embed_limit += 1
        return self._halve(prefix, text, limit, stats)

    def _halve(self, prefix: str, text: str, limit: int, stats: ChunkStats, depth: int = 0) -> list[str]:
        if self.count_wordpieces([prefix + text])[0] <= limit:
            return [text]
        for sep in ("\n\n", "\n", ". ", " "):
            parts = text.split(sep)
            if len(parts) > 1:
                if sep == " " and depth > 30:
                    break
                mid = len(parts) // 2
                a, b = sep.join(parts[:mid]), sep.join(parts[mid:])
                if sep == ". ":
                    a += "."
                return self._halve(prefix, a, limit, stats, depth + 1) + self._halve(prefix, b, limit, stats, depth + 1)
        # One unbreakable token run longer than the model's input: cut by characters.
        stats.cut_mid_text += 1
        half = len(text) // 2
        return self._halve(prefix, text[:half], limit, stats, depth + 1) + self._halve(prefix, text[half:], limit, stats, depth + 1)


def _dedupe_ids(chunks: list[Chunk]) -> list[Chunk]:
    """Identical passages within one document section (rare) keep one copy."""
    seen: set[str] = set()
    out = []
    for c in chunks:
        if c.id not in seen:
            seen.add(c.id)
            out.append(c)
    return out
