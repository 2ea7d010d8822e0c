"""Passages as answer units: sentences, list items, code blocks and tables, with their Markdown intact.

The offline answerer picks units; the verifier checks answer sentences against them. A numbered
step keeps its number and the list it belongs to, so steps can be quoted whole and in order.
"""

from __future__ import annotations

import functools
import html
import re
from dataclasses import dataclass

from ..ingest.chunker import parse_sections

# A sentence ends at . ! ? followed by space and an upper-case letter, a digit, a quote or a bracket,
# but not after common abbreviations or inside version numbers ("4.3.1") and paths.
_ABBREV = r"(?<!\be\.g\.)(?<!\bi\.e\.)(?<!\betc\.)(?<!\bvs\.)(?<!\bNo\.)(?<!\bDr\.)(?<!\bMr\.)(?<!\bMs\.)"
SENTENCE_END = re.compile(_ABBREV + r"(?<=[.!?\x01])\s+(?=[A-Z0-9\"'(`*\[\x00])")
LIST_ITEM = re.compile(r"^(\s{0,3})([-*+]|\d{1,3}[.)])\s+")


@dataclass
class Unit:
    text: str  # Markdown, as in the passage
    kind: str  # sentence | item | code | table
    passage: int  # index of the passage in the retrieved list
    order: int  # position within the passage
    group: int = -1  # list or table id (its items or rows share it), else -1
    ordered: bool = False  # an item of a numbered list
    header: str = ""  # a table row's header lines


_PROTECT = re.compile(r"`[^`]+`|\"[^\"]{1,200}\"")


def split_sentences(text: str) -> list[str]:
    """Sentences of a paragraph; code spans and short quotations (pasted error messages) are never cut."""
    text = " ".join(text.split())
    kept: list[str] = []

    def hide(m: re.Match) -> str:
        kept.append(m.group(0))
        ends = m.group(0)[-2:-1] in ".!?" and m.group(0).endswith('"')  # a quoted sentence ends one
        return f"\x00{len(kept) - 1}\x00" + ("\x01" if ends else "")

    masked = _PROTECT.sub(hide, text)
    restore = lambda s: re.sub(r"\x00(\d+)\x00", lambda m: kept[int(m.group(1))], s).replace("\x01", "")  # noqa: E731
    return [restore(s).strip() for s in SENTENCE_END.split(masked) if s.strip()]


def passage_units(text: str, passage: int) -> list[Unit]:
    """The passage's units, numbered as passage ``passage`` of the retrieved list."""
    return [Unit(t, kind, passage, order, group, ordered, header) for t, kind, order, group, ordered, header in _units(text)]


@functools.lru_cache(maxsize=8_192)  # the same passages come back for many questions; parsing them is the cost
def _units(text: str) -> tuple[tuple, ...]:
    passage = -1
    units: list[Unit] = []
    group = 0
    for section in parse_sections(text):
        for block in section.blocks:
            if block.kind == "table":
                group += 1
                lines = block.text.splitlines()
                header = "\n".join(lines[:2])
                for row in lines[2:] if len(lines) > 2 else lines:
                    units.append(Unit(row, "row", passage, len(units), group, header=header))
            elif block.kind in ("code", "html"):
                units.append(Unit(block.text, "code", passage, len(units)))
            elif block.kind == "list":
                group += 1
                for item in _list_items(block.text):
                    ordered = bool(re.match(r"\s{0,3}\d", item))
                    units.append(Unit(item, "item", passage, len(units), group, ordered))
            else:
                body = re.sub(r"^>\s?", "", block.text, flags=re.M) if block.kind == "quote" else block.text
                for s in split_sentences(body):
                    units.append(Unit(s, "sentence", passage, len(units)))
    return tuple((u.text, u.kind, u.order, u.group, u.ordered, u.header) for u in units)


def _list_items(block: str) -> list[str]:
    items: list[str] = []
    for line in block.splitlines():
        if LIST_ITEM.match(line) and (not items or len(LIST_ITEM.match(line).group(1)) <= 1):
            items.append(line.rstrip())
        elif items:
            items[-1] += "\n" + line.rstrip()
        elif line.strip():
            items.append(line.rstrip())
    return [i for i in items if i.strip()]


INJECTION = re.compile(
    r"(ignore|disregard|forget) (all |any )?(the )?(previous|prior|above|earlier|your) (instructions|rules|prompts?)|"
    r"\byou are now\b|\bsystem prompt\b|^\s*(system|assistant|developer)\s*:|\bjailbreak|\bDAN\b|"
    r"\b(reveal|print|show) (your|the) (instructions|rules|prompt)",
    re.I | re.M,
)


def looks_like_injection(text: str) -> bool:
    """Text addressed to an AI rather than to a reader: never quoted in an answer, whoever wrote it."""
    return bool(INJECTION.search(text))


_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)


def escape_html(markdown: str) -> str:
    """Escape raw HTML in Markdown prose, leaving code spans and fenced blocks as they are.

    The panel renders Markdown without raw HTML as well; this makes the answer text inert even for
    a client that does not.
    """
    out, in_fence = [], False
    for line in markdown.split("\n"):
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
            out.append(line)
            continue
        if in_fence:
            out.append(line)
            continue
        parts, last = [], 0
        for m in _CODE_SPAN.finditer(line):
            parts.append(html.escape(line[last : m.start()], quote=False))
            parts.append(m.group(0))
            last = m.end()
        parts.append(html.escape(line[last:], quote=False))
        out.append(_neutralise_links("".join(parts)))
    return "\n".join(out)


_LINK = re.compile(r"\]\(\s*(?:javascript|data|vbscript):\S*", re.I)


def _neutralise_links(line: str) -> str:
    """Markdown links to script URLs lose their target: `[x](javascript:...)` becomes `[x](#)`."""
    return _LINK.sub("](#)", line)
