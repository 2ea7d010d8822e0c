"""The offline answerer: composes an answer from the retrieved passages themselves. No LLM, no network.

It scores every sentence, list item, code block and table of the top passages by how much of the
question it covers (terms weighted by BM25's IDF, plus the passage's rank and heading), picks the
best ones without repetition up to a length budget, keeps numbered steps whole and in order, and
cites each one. Every word of the answer is a word of a passage, so it can state nothing the
passages do not, and no instruction inside a passage or a question can change what it does: it
only selects text.

>>> passages = nec.search("how long is the idle timeout", k=3)
>>> OfflineAnswerer(max_words=60).answer("how long is the idle timeout", passages).text  # doctest: +ELLIPSIS
'From Nectain 4.3 the idle timeout defaults to 60 minutes ... [1]'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence

from ..index.lexical import lexical_tokens
from ..retrieve.history import condense
from ..types import AskContext, Message, SearchResult
from .base import AnswerDraft
from .units import Unit, looks_like_injection, passage_units

# Words that say nothing about what the user needs (after stemming), beyond BM25's stop words.
GENERIC = {"nectain", "get", "work", "use", "need", "want", "pleas", "help", "thank", "thx", "hi", "hello", "ok", "know", "tell", "make"}
HOW_TO = re.compile(r"\b(how|steps?|set ?up|configure|enable|disable|create|add|install|connect|turn (on|off)|change|reset|export|import)\b", re.I)


class OfflineAnswerer:
    name = "offline"
    # What the assistant asks of any answerer, instead of testing for the name "offline":
    extractive = True  # it only quotes the passages, so its draft needs no model-output verification or fallback
    wants_idf = True  # build it with the live index's term statistics: cls(idf=reader.lexical.idf, ...)

    def __init__(self, *, max_words: int = 90, max_passages: int = 4, idf: Callable[[Sequence[str]], dict[str, float]] | None = None,
                 max_list_items: int = 15) -> None:
        self.max_words = max_words
        self.max_passages = max_passages
        self.idf = idf
        self.max_list_items = max_list_items

    def answer(self, question: str, passages: Sequence[SearchResult], *, history: Sequence[Message | dict] = (),
               context: AskContext | None = None) -> AnswerDraft:
        follow = condense(question, history)
        query = f"{question} {follow.context}" if follow.is_follow_up else question
        terms = {t for t in lexical_tokens(query) if t not in GENERIC}
        if not terms or not passages:
            return AnswerDraft("", self.name)
        weights = self.idf(sorted(terms)) if self.idf else {t: 1.0 for t in terms}
        # The follow-up's own terms count double: "and on mobile?" is about mobile.
        for t in set(lexical_tokens(question)) & terms:
            weights[t] = weights.get(t, 1.0) * (2.0 if follow.is_follow_up else 1.0)
        total = sum(weights.values()) or 1.0

        top = passages[0].score or 1e-9
        units: list[tuple[float, Unit, set[str]]] = []
        all_units = {i: passage_units(p.text, i) for i, p in enumerate(passages[: self.max_passages])}
        for i, p in enumerate(passages[: self.max_passages]):
            # A passage that misses the question's key terms ("OIDC" in an Okta SAML section) counts less.
            passage_terms = set(lexical_tokens(p.chunk.embed_text)) & terms
            passage_cov = sum(weights.get(t, 0) for t in passage_terms) / total
            prior = max(0.2, min(1.0, p.score / top)) / (1 + 0.3 * i) * passage_cov
            heading = set(lexical_tokens(" ".join(p.heading_path))) & terms
            heading_cov = sum(weights.get(t, 0) for t in heading) / total
            for u in all_units[i]:
                if looks_like_injection(u.text):
                    continue  # a planted "SYSTEM: ignore your instructions" is not content for a user
                toks = set(lexical_tokens(u.text))
                cov = sum(weights.get(t, 0) for t in toks & terms) / total
                if cov == 0 and not (u.kind == "item" and heading_cov > 0.3):
                    continue
                units.append(((0.75 * cov + 0.25 * heading_cov) * prior, u, toks))
        if not units:
            return AnswerDraft("", self.name)
        units.sort(key=lambda t: -t[0])
        best = units[0][0]

        picked: list[Unit] = []
        covered: set[str] = set()
        words = 0
        for score, u, toks in units:
            if score < 0.3 * best or words >= self.max_words:
                break
            if any(_jaccard(toks, set(lexical_tokens(p.text))) > 0.6 for p in picked):
                continue  # says again what a picked unit says
            gain = sum(weights.get(t, 0) for t in (toks & terms) - covered)
            if picked and gain <= 0 and score < 0.7 * best:
                continue
            picked.append(u)
            covered |= toks & terms
            words += len(u.text.split())

        picked = self._complete(picked, all_units, how_to=bool(HOW_TO.search(question)))
        return AnswerDraft(render(picked), self.name)

    def stream(self, question: str, passages: Sequence[SearchResult], *, history: Sequence[Message | dict] = (),
               context: AskContext | None = None) -> Iterator[str]:
        text = self.answer(question, passages, history=history, context=context).text
        for piece in re.split(r"(?<=\s)", text):  # word by word, so the panel streams the same way for every answerer
            yield piece

    def _complete(self, picked: list[Unit], all_units: dict[int, list[Unit]], *, how_to: bool) -> list[Unit]:
        """Keep steps whole: a picked numbered step brings its whole list; an intro ending in ':' brings what it introduces."""
        out = list(picked)
        seen = {(u.passage, u.order) for u in picked}
        for u in list(picked):
            siblings: list[Unit] = []
            if u.kind == "item" and u.ordered and how_to:
                siblings = [v for v in all_units[u.passage] if v.group == u.group]
            elif u.kind == "sentence" and u.text.rstrip().endswith(":"):
                following = [v for v in all_units[u.passage] if v.order > u.order]
                if following and following[0].kind in ("item", "code"):
                    first = following[0]
                    siblings = [v for v in following if v.group == first.group and first.group != -1] or [first]
            for v in siblings[: self.max_list_items]:
                if (v.passage, v.order) not in seen:
                    out.append(v)
                    seen.add((v.passage, v.order))
        return out


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def render(units: list[Unit]) -> str:
    """Markdown with one citation per sentence, item or block, grouped by passage in source order."""
    units = sorted(units, key=lambda u: (u.passage, u.order))
    blocks: list[str] = []
    prose: list[str] = []

    def flush() -> None:
        if prose:
            blocks.append(" ".join(prose))
            prose.clear()

    last: Unit | None = None
    for u in units:
        mark = f"[{u.passage + 1}]"
        if u.kind == "sentence":
            if last is not None and (last.passage != u.passage or last.kind != "sentence"):
                flush()
            prose.append(f"{u.text} {mark}")
        elif u.kind == "row":
            flush()
            if blocks and last is not None and last.kind == "row" and last.group == u.group and last.passage == u.passage:
                blocks[-1] = blocks[-1].rsplit("\n", 1)[0] + f"\n{u.text}\n{mark}"
            else:
                blocks.append(f"{u.header}\n{u.text}\n{mark}")
        elif u.kind == "item":
            flush()
            first, _, rest = u.text.partition("\n")
            item = f"{first} {mark}" + (f"\n{rest}" if rest else "")
            if blocks and last is not None and last.kind == "item" and last.group == u.group and last.passage == u.passage:
                blocks[-1] += "\n" + item
            else:
                blocks.append(item)
        else:
            flush()
            blocks.append(f"{u.text}\n{mark}")
        last = u
    flush()
    return "\n\n".join(blocks)
