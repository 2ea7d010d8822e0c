"""Citation verification, the same for every answerer.

Each claim of an answer (a sentence, a list item, a code block or table) is checked against the
passage it cites, and against the other retrieved passages:

- supported: quoted verbatim, or its content words (lexical support) and meaning (cosine of MiniLM
  vectors; no NLI or cross-encoder model can be had offline here) match, and every number it states
  appears in the passage;
- a claim that cites the wrong passage is re-attached to the one that supports it;
- citations to passages that were not retrieved are dropped;
- an unsupported claim is removed (or flagged, in ``mode="flag"``).

Citations are renumbered in order of first use, and each carries the span it rests on.

>>> passages = nec.search("how long is the idle timeout", k=3)
>>> v = CitationVerifier().verify("From Nectain 4.3 the idle timeout defaults to 60 minutes [1]. It can be switched off [1].", passages)
>>> v.text, v.supported_rate
('From Nectain 4.3 the idle timeout defaults to 60 minutes [1].', 0.5)
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..index.lexical import lexical_tokens
from ..types import Choice, Citation, SearchResult, SentenceCheck
from .units import split_sentences


class VerifyMode(Choice):
    REMOVE = "remove"  # an unsupported sentence is dropped
    FLAG = "flag"  # kept, marked unverified

MARKER = re.compile(r"\s*\[(\d{1,3})\]")
NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*")
_MD_NOISE = re.compile(r"[*_`>#|]+")


@dataclass
class Claim:
    text: str  # without markers
    cited: list[int]  # 0-based passage indices, as written
    kind: str  # prose | item | block
    block: int  # which Markdown block it came from


@dataclass
class Verified:
    text: str
    citations: list[Citation]
    sentences: list[SentenceCheck] = field(default_factory=list)
    supported_rate: float = 1.0
    removed: int = 0
    moved: int = 0
    dropped_citations: int = 0


# Passages come back for many questions and each is checked against every claim: these are cached.
@functools.lru_cache(maxsize=8_192)
def _norm(text: str) -> str:
    return " ".join(_MD_NOISE.sub(" ", text).lower().split())


@functools.lru_cache(maxsize=8_192)
def _numbers(text: str) -> frozenset[str]:
    return frozenset(NUMBER.findall(text))


@functools.lru_cache(maxsize=8_192)
def _token_set(text: str) -> frozenset[str]:
    return frozenset(lexical_tokens(text))


def claims_of(markdown: str) -> list[Claim]:
    """Split an answer into checkable claims, keeping their citation markers apart."""
    claims: list[Claim] = []
    for b, block in enumerate(re.split(r"\n\s*\n", markdown.strip())):
        if not block.strip():
            continue
        lines = block.splitlines()
        if lines[0].lstrip().startswith(("```", "~~~", "|")):
            cited = [int(n) - 1 for n in MARKER.findall(block)]
            claims.append(Claim(MARKER.sub("", block).strip(), cited, "block", b))
        elif re.match(r"\s{0,3}([-*+]|\d{1,3}[.)])\s", lines[0]):
            items, current = [], ""
            for line in lines:
                if re.match(r"\s{0,3}([-*+]|\d{1,3}[.)])\s", line) and current:
                    items.append(current)
                    current = line
                else:
                    current = f"{current}\n{line}" if current else line
            items.append(current)
            for item in items:
                claims.append(Claim(MARKER.sub("", item).strip(), [int(n) - 1 for n in MARKER.findall(item)], "item", b))
        else:
            for sentence in _sentences_with_markers(block):
                cited = [int(n) - 1 for n in MARKER.findall(sentence)]
                claims.append(Claim(MARKER.sub("", sentence).strip(), cited, "prose", b))
    return [c for c in claims if c.text]


def _sentences_with_markers(block: str) -> list[str]:
    """Sentences, each keeping the markers that follow it ("... minutes [1]. Next ..." or "... minutes. [1] Next")."""
    text = " ".join(block.split())
    text = re.sub(r"\.\s*((?:\[\d{1,3}\]\s*)+)", lambda m: " " + m.group(1).strip() + ". ", text)  # "x. [1]" -> "x [1]."
    return split_sentences(text)


class CitationVerifier:
    def __init__(self, embedder=None, *, lexical_threshold: float = 0.8, blended_lexical: float = 0.5,
                 semantic_threshold: float = 0.6, mode: VerifyMode | str = "remove") -> None:
        self.embedder = embedder
        self.lexical_threshold = lexical_threshold
        self.blended_lexical = blended_lexical
        self.semantic_threshold = semantic_threshold
        self.mode = VerifyMode.from_str(mode)

    def support(self, claim: str, passage: SearchResult, claim_vec: np.ndarray | None, passage_vec: np.ndarray | None) -> tuple[float, bool]:
        """Support of a claim by one passage in [0, 1], and whether it counts as supported."""
        text = passage.chunk.embed_text
        if len(_norm(claim)) > 12 and _norm(claim) in _norm(text):
            return 1.0, True
        if _numbers(claim) - _numbers(text):
            return 0.0, False  # states a number the passage does not: the classic invented detail
        toks = _token_set(claim)
        if not toks:
            return 0.0, False
        lexical = len(toks & _token_set(text)) / len(toks)
        semantic = float(claim_vec @ passage_vec) if claim_vec is not None and passage_vec is not None else 0.0
        ok = lexical >= self.lexical_threshold or (lexical >= self.blended_lexical and semantic >= self.semantic_threshold)
        return max(lexical, semantic) if ok else min(lexical, semantic if semantic else lexical), ok

    def verify(self, markdown: str, passages: Sequence[SearchResult], passage_vectors: np.ndarray | None = None) -> Verified:
        claims = claims_of(markdown)
        if not claims:
            return Verified("", [], [], 1.0)
        claim_vecs = None
        if self.embedder is not None and passage_vectors is not None:
            need = [c.text for c in claims]
            claim_vecs = self.embedder.encode(need)
        n = len(passages)
        checks: list[SentenceCheck] = []
        kept: list[tuple[Claim, list[int]]] = []
        supported = dropped = moved = removed = 0
        for i, claim in enumerate(claims):
            cv = claim_vecs[i] if claim_vecs is not None else None
            valid = [p for p in claim.cited if 0 <= p < n]
            dropped += len(claim.cited) - len(valid)
            scores = {p: self.support(claim.text, passages[p], cv, passage_vectors[p] if passage_vectors is not None else None) for p in range(n)}
            good = [p for p in valid if scores[p][1]]
            note = ""
            if not good:
                others = sorted((p for p in range(n) if scores[p][1]), key=lambda p: -scores[p][0])
                if others:
                    good = others[:1]
                    moved += 1
                    was = ", ".join(f"[{p + 1}]" for p in claim.cited) or "no citation"
                    note = f"citation moved from {was} to [{good[0] + 1}]"
            best = max((scores[p][0] for p in good), default=max((s for s, _ in scores.values()), default=0.0))
            if good:
                supported += 1
                kept.append((claim, good))
            else:
                removed += 1
                note = "removed: no retrieved passage supports it" if self.mode is VerifyMode.REMOVE else "unverified"
                if self.mode is VerifyMode.FLAG:
                    kept.append((claim, []))
            checks.append(SentenceCheck(text=claim.text, citations=[p + 1 for p in good], supported=bool(good), support=round(best, 3), note=note))

        text, citations, final_number = self._render(kept, passages)
        for check in checks:  # report the final numbers
            check.citations = [final_number[p - 1] for p in check.citations if (p - 1) in final_number]
        return Verified(text, citations, checks, supported / len(claims), removed, moved, dropped)

    def _render(self, kept: list[tuple[Claim, list[int]]], passages: Sequence[SearchResult]) -> tuple[str, list[Citation], dict[int, int]]:
        """The answer text with final [n] numbers, its citations, and passage index -> final number.

        Nothing is kept on the instance: one verifier serves concurrent requests (the service's
        load benchmark caught citations numbered by another request's mapping when it was).
        """
        order: list[int] = []
        for _, ps in kept:
            for p in ps:
                if p not in order:
                    order.append(p)
        final_number = {p: i + 1 for i, p in enumerate(order)}
        quotes: dict[int, list[str]] = {p: [] for p in order}
        blocks: dict[int, list[str]] = {}
        kinds: dict[int, str] = {}
        for claim, ps in kept:
            marks = " ".join(f"[{final_number[p]}]" for p in ps) if ps else "(unverified)"
            for p in ps:
                quotes[p].append(_quote(claim.text, passages[p].text))
            if claim.kind == "block":
                piece = f"{claim.text}\n{marks}"
            elif claim.kind == "item":
                first, _, rest = claim.text.partition("\n")
                piece = f"{first} {marks}" + (f"\n{rest}" if rest else "")
            else:
                piece = claim.text[:-1] + f" {marks}{claim.text[-1]}" if claim.text[-1:] in ".!?:" else f"{claim.text} {marks}"
            blocks.setdefault(claim.block, []).append(piece)
            kinds[claim.block] = claim.kind
        parts = []
        for b in sorted(blocks):
            sep = " " if kinds[b] == "prose" else "\n"
            parts.append(sep.join(blocks[b]))
        citations = [
            Citation(
                number=final_number[p], chunk_id=passages[p].chunk.id, title=passages[p].chunk.title,
                heading_path=passages[p].chunk.heading_path, url=passages[p].chunk.url, source=passages[p].chunk.source,
                versions=passages[p].chunk.versions, quote=" … ".join(dict.fromkeys(quotes[p]))[:600],
            )
            for p in order
        ]
        return "\n\n".join(parts), citations, final_number


def _quote(claim: str, passage: str) -> str:
    """The span of the passage a claim rests on: the claim itself if verbatim, else the closest sentence."""
    if _norm(claim) in _norm(passage):
        return claim if len(claim) < 400 else claim[:397] + "…"
    toks = set(lexical_tokens(claim))
    best = max(split_sentences(passage) or [passage], key=lambda s: len(toks & set(lexical_tokens(s))))
    return best[:400]
