"""The offline answerer: composes an answer from the retrieved passages themselves. No LLM, no network.

It splits the top passages into units (sentences, list items, table rows, code blocks), scores each
with the learned unit scorer (:mod:`nectarine.answer.scorer`), and composes for the kind of question
(:mod:`nectarine.answer.kinds`):

- **how-to**: the numbered list that holds the steps, whole and in order, with its lead-in and the
  prerequisites stated before it;
- **what changed** in a version range: the release notes of each version in the range, labelled;
- anything else (an error, a setting, a yes/no, a concept): the best units, without repeating one
  another, up to a length budget; a lead-in brings what it introduces, a table row its header.

It never quotes a page intro ("This page explains..."), a lead-in without its list, or a table row
without its header. When the passage that answers says the feature needs a later version than the
user's, a one-line notice goes before the quote (``AnswerDraft.lead``). Every other word of the
answer is a word of a passage, so it can state nothing the passages do not, and no instruction
inside a passage or a question can change what it does: it only selects text.

>>> passages = nec.search("how long is the idle timeout", k=3)
>>> OfflineAnswerer(max_words=60).answer("how long is the idle timeout", passages).text  # doctest: +ELLIPSIS
'...idle...minutes...[1]...'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence

from ..index.lexical import lexical_tokens
from ..retrieve.history import condense
from ..types import AskContext, Message, SearchResult, SourceType
from ..versions import Version, VersionSpec, find_version
from .base import AnswerDraft
from .kinds import QuestionKind, in_range, needs_version, question_kind, version_range
from .scorer import FEATURES, Question, Scored, UnitScorer, default_scorer, is_intro, score_units
from .units import Unit
from .verify import _numbers

_FIT, _CONFLICT = FEATURES.index("version_fit"), FEATURES.index("version_conflict")
PREREQUISITE = re.compile(r"\b(you need|you must|requires?|required|only (administrators|admins|owners)|before you|prerequisite|"
                          r"make sure|must be|needs? (the|an?|to)|available (from|on|in))\b", re.I)


class OfflineAnswerer:
    name = "offline"
    # What the assistant asks of any answerer, instead of testing for the name "offline":
    extractive = True  # it only quotes the passages, so its draft needs no model-output verification or fallback
    wants_idf = True  # build it with the live index's term statistics: cls(idf=reader.lexical.idf, ...)

    # Selection defaults chosen on the dev splits of eval/nectain and mtrag-govt (scripts/tune_composer.py, BENCHMARKS.md).
    def __init__(self, *, max_words: int = 140, max_passages: int = 5, idf: Callable[[Sequence[str]], dict[str, float]] | None = None,
                 max_list_items: int = 15, scorer: UnitScorer | None = None, relative: float = 0.5, floor: float = 0.5,
                 max_units: int = 3) -> None:
        self.max_words = max_words
        self.max_passages = max_passages
        self.idf = idf
        self.max_list_items = max_list_items
        self.scorer = scorer or default_scorer()
        self.relative = relative  # a unit joins when its score is at least this share of the best one's ...
        self.floor = floor  # ... and at least this
        self.max_units = max_units

    # ------------------------------------------------------------------ analysis
    def analyse(self, question: str, passages: Sequence[SearchResult], history: Sequence[Message | dict] = (),
                version: str | None = None) -> tuple[Question, list[Scored]]:
        """The question as the scorer sees it (a follow-up carries its earlier turns' words at half weight), and the scored units."""
        follow = condense(question, history)
        q = Question.of(question, self.idf, extra=follow.context if follow.is_follow_up else "", kind=question_kind(question),
                        version=version)
        if not q.weights or not passages:
            return q, []
        # "what changed since 4.3" brings the release notes of the range after the top passages: all of them count
        depth = len(passages) if q.kind == QuestionKind.CHANGES else self.max_passages
        return q, score_units(q, passages, scorer=self.scorer, max_passages=depth)

    def answer(self, question: str, passages: Sequence[SearchResult], *, history: Sequence[Message | dict] = (),
               context: AskContext | None = None) -> AnswerDraft:
        version = (context.version if context else None) or find_version(question)
        q, scored = self.analyse(question, passages, history, version)
        top = max((c.p for c in scored), default=0.0)
        signals = {"unit_top": round(top, 4), "kind": q.kind.value,
                   "unit_coverage": round(max((c.features[1] for c in scored), default=0.0), 4)}
        if not scored:
            return AnswerDraft("", self.name, signals=signals)
        picked: list[Unit] | None = None
        if q.kind == QuestionKind.CHANGES:
            picked = self._changes(q, scored, version)
        if picked is None and q.kind == QuestionKind.TROUBLESHOOT:
            picked = self._error_section(q, scored)
        steps_rejected = False
        if picked is None and q.kind in (QuestionKind.HOW_TO, QuestionKind.AVAILABILITY, QuestionKind.FACT):
            picked = self._steps(q, scored)
            steps_rejected = picked is None and q.kind == QuestionKind.HOW_TO
        if picked is None:
            # when no numbered list holds what a how-to asks, a step of some other procedure is not the answer
            picked = self._select(q, [c for c in scored if not (steps_rejected and c.unit.kind == "item" and c.unit.ordered)],
                                  how_to=q.kind == QuestionKind.HOW_TO)
        if not picked:
            return AnswerDraft("", self.name, signals=signals)
        # units left out for being only about another version still tell what the feature needs, unless the answer
        # already holds one for the user's version ("Up to 4.2 ..." beside "From 4.3 ...")
        hint = list(picked)
        if version and not any(c.features[_FIT] for c in scored if any(c.unit is u for u in picked)):
            hint += [c.unit for c in scored if c.unit.passage == picked[0].passage and c.features[_CONFLICT]]
        lead = version_notice(hint, passages, version, q.kind)
        return AnswerDraft(render(picked, labels=q.kind == QuestionKind.CHANGES, passages=passages), self.name, lead=lead, signals=signals)

    def stream(self, question: str, passages: Sequence[SearchResult], *, history: Sequence[Message | dict] = (),
               context: AskContext | None = None) -> Iterator[str]:
        text = self.answer(question, passages, history=history, context=context).text
        for piece in re.split(r"(?<=\s)", text):  # word by word, so the panel streams the same way for every answerer
            yield piece

    # ------------------------------------------------------------------ composition
    def _select(self, q: Question, scored: list[Scored], *, how_to: bool) -> list[Unit]:
        """The best units, without repeating one another, up to the length budget."""
        ranked = sorted((c for c in scored if _quotable(c.unit)), key=lambda c: -c.p)
        if not ranked:
            return []
        best = ranked[0].p
        picked: list[Scored] = []
        covered: set[str] = set()
        numbers: set[str] = set()
        words = 0
        for c in ranked:
            if picked and (c.p < max(self.floor, self.relative * best) or words >= self.max_words or len(picked) >= self.max_units):
                break
            if any(_jaccard(c.tokens, o.tokens) > 0.6 for o in picked):
                continue  # says again what a picked unit says
            if picked and c.features[_CONFLICT] and not c.features[_FIT]:
                continue  # only about versions other than the user's (feature "version_conflict")
            if (picked and not (set(q.weights) & c.tokens) - covered and not _numbers(c.unit.text) - numbers
                    and any(_jaccard(c.tokens, o.tokens) > 0.3 for o in picked)):
                continue  # close to a picked unit, and adds neither a question word nor a number the answer lacks
            picked.append(c)
            covered |= set(q.weights) & c.tokens
            numbers |= _numbers(c.unit.text)
            words += len(c.unit.text.split())
        return self._complete([c.unit for c in picked], scored, how_to=how_to)

    def _steps(self, q: Question, scored: list[Scored]) -> list[Unit] | None:
        """The numbered list that holds the steps, when one scores close to the best unit: whole, with lead-in and prerequisites."""
        lists: dict[tuple[int, int], list[Scored]] = {}
        for c in scored:
            if c.unit.kind == "item" and c.unit.ordered:
                lists.setdefault((c.unit.passage, c.unit.group), []).append(c)
        if not lists:
            return None
        best_any = max(c.p for c in scored)

        def strength(items: list[Scored]) -> float:
            return max(c.p for c in items) + 0.5 * sum(c.p for c in items) / len(items)

        key, items = max(lists.items(), key=lambda kv: strength(kv[1]))
        if max(c.p for c in items) < (0.6 if q.kind == QuestionKind.HOW_TO else 0.9) * best_any:
            return None
        # the list (with its headings and lead-in) must hold the question's rare words as well as the best unit does
        passage, first = key[0], min(c.unit.order for c in items)
        top = max(scored, key=lambda c: c.p)
        context = set().union(*(c.tokens for c in items), *(c.tokens for c in scored
                                                            if c.unit.passage == passage and c.unit.order == first - 1))
        context |= set(lexical_tokens(" ".join(items[0].result.heading_path)))
        if top not in items and q.coverage(context) < top.features[1]:  # feature 1: the unit's coverage with its headings
            return None
        # and the rare words of this turn ("rotate" in "and how do I rotate its certificate?") as well as any other unit does
        def rare(tokens) -> float:
            return sum(q.weights[t] for t in q.rare & set(tokens))

        in_list = {id(c) for c in items}
        others = [rare(c.tokens | set(lexical_tokens(" ".join(c.result.heading_path)))) for c in scored if id(c) not in in_list]
        if others and rare(context) < max(others):
            return None
        same = sorted((c for c in scored if c.unit.passage == passage), key=lambda c: c.unit.order)
        before = [c for c in same if c.unit.order < first and c.unit.kind == "sentence"]
        out: list[Unit] = []
        for c in before:
            lead_in = c.unit.order == first - 1 and c.unit.text.rstrip().endswith(":")
            if lead_in or (PREREQUISITE.search(c.unit.text) and not is_intro(c.unit.text)) or c.p >= max(self.floor, 0.8 * best_any):
                out.append(c.unit)
        out.extend(c.unit for c in sorted(items, key=lambda c: c.unit.order)[: self.max_list_items])
        return out

    def _error_section(self, q: Question, scored: list[Scored]) -> list[Unit] | None:
        """For a pasted error code: its section read through (cause, fix, workaround or fixed version), up to the budget."""
        if not q.codes:
            return None
        top = max(scored, key=lambda c: c.p)
        heading = " ".join(top.result.heading_path).upper()
        if not any(code in heading or code in top.unit.text.upper() for code in q.codes):
            return None
        same = sorted((c for c in scored if c.unit.passage == top.unit.passage and _quotable(c.unit)), key=lambda c: c.unit.order)
        out, words = [], 0
        for c in same:
            if c.unit.kind not in ("sentence", "item") or (c.unit.order < top.unit.order and c.p < self.floor):
                continue
            if words >= self.max_words:
                break
            out.append(c.unit)
            words += len(c.unit.text.split())
        return out or None

    def _changes(self, q: Question, scored: list[Scored], version: str | None) -> list[Unit] | None:
        """Release notes of the versions asked about, the best one or two units of each, in version order."""
        lo, hi = version_range(q.text, version)
        if lo is None and hi is None:
            return None
        by_version: dict[str, list[Scored]] = {}
        for c in scored:
            chunk = c.result.chunk
            if chunk.source != SourceType.RELEASE_NOTES or not chunk.version or not _quotable(c.unit):
                continue
            if in_range(chunk.version, lo, hi, exact=lo is None):
                by_version.setdefault(chunk.version, []).append(c)
        if not by_version:
            return None
        out: list[Unit] = []
        for v in sorted(by_version, key=lambda v: Version.parse(v).floor):
            best = sorted(by_version[v], key=lambda c: -c.p)[:2 if len(by_version) > 2 else 4]
            out.extend(c.unit for c in best)
        return out

    def _complete(self, picked: list[Unit], scored: list[Scored], *, how_to: bool) -> list[Unit]:
        """Keep steps whole: a picked numbered step brings its whole list (for a how-to); a lead-in brings what it introduces."""
        by_passage: dict[int, list[Unit]] = {}
        for c in scored:
            by_passage.setdefault(c.unit.passage, []).append(c.unit)
        out = list(picked)
        seen = {(u.passage, u.order) for u in picked}
        for u in list(picked):
            siblings: list[Unit] = []
            units = sorted(by_passage.get(u.passage, []), key=lambda v: v.order)
            if u.kind == "item" and u.ordered and how_to:
                siblings = [v for v in units if v.group == u.group]
            elif u.text.rstrip().endswith(":"):
                following = [v for v in units if v.order > u.order]
                if following and following[0].kind in ("item", "code", "row"):
                    first = following[0]
                    siblings = [v for v in following if v.group == first.group and first.group != -1] or [first]
            for v in siblings[: self.max_list_items]:
                if (v.passage, v.order) not in seen:
                    out.append(v)
                    seen.add((v.passage, v.order))
        # a lead-in whose list could not come along would dangle: drop it
        keep = []
        for u in out:
            if u.text.rstrip().endswith(":") and not any(v.passage == u.passage and v.order == u.order + 1 for v in out):
                continue
            keep.append(u)
        return keep


def _quotable(u: Unit) -> bool:
    """Not a page intro, not a lone lead-in, not a "None." placeholder."""
    text = u.text.strip()
    return not is_intro(text) and not (u.kind == "sentence" and text.endswith(":")) and len(text) > 3 and text not in ("None.", "None")


def _jaccard(a: frozenset[str] | set[str], b: frozenset[str] | set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def version_notice(picked: Sequence[Unit], passages: Sequence[SearchResult], version: str | None, kind: QuestionKind) -> str:
    """A one-line notice when what the answer quotes needs a later Nectain version than the user's ("" when it does not).

    The need is read from the cited page's version range (``versions: ">=4.4"``) or from what the
    quoted text says ("available from 4.3", "since Nectain 4.2").
    """
    if not version or not picked:
        return ""
    try:
        mine = Version.parse(version).floor
    except ValueError:
        return ""
    first = picked[0].passage
    needed: str | None = None
    chunk = passages[first].chunk if first < len(passages) else None
    if chunk is not None and chunk.source != SourceType.RELEASE_NOTES:
        try:
            low = VersionSpec.parse(chunk.versions).low  # the page applies from this release on
        except ValueError:
            low = (0, 0, 0)
        if low > mine:
            needed = ".".join(map(str, low[: 3 if low[2] else 2]))
    if needed is None and kind in (QuestionKind.AVAILABILITY, QuestionKind.HOW_TO, QuestionKind.FACT, QuestionKind.SETTING):
        needed = needs_version(" ".join(u.text for u in picked if u.passage == first)[:2000])
    if needed is None:
        return ""
    if Version.parse(needed).floor <= mine:
        return ""
    return f"You are on Nectain {version}; this needs Nectain {needed} or later, so it is not available to you until you upgrade."


_FENCE = re.compile(r"^\s*(```|~~~)")


def render(units: list[Unit], *, labels: bool = False, passages: Sequence[SearchResult] = ()) -> str:
    """Markdown with one citation per sentence, item or block, grouped by passage in source order.

    ``labels``: start each passage's units with its release ("**4.4.0**") when passages are release notes.
    """
    if labels and passages:
        order = {i: (Version.parse(p.chunk.version).floor if p.chunk.version else (0, 0, 0)) for i, p in enumerate(passages)}
        units = sorted(units, key=lambda u: (order.get(u.passage, (0, 0, 0)), u.passage, u.order))
    else:
        units = sorted(units, key=lambda u: (u.passage, u.order))
    blocks: list[str] = []
    prose: list[str] = []

    def flush() -> None:
        if prose:
            blocks.append(" ".join(prose))
            prose.clear()

    last: Unit | None = None
    labelled: set[int] = set()
    for u in units:
        mark = f"[{u.passage + 1}]"
        label = ""
        if labels and passages and u.passage not in labelled and passages[u.passage].chunk.version:
            label = f"**{passages[u.passage].chunk.version}:** "
            labelled.add(u.passage)
        if labels and label:
            flush()
            text = re.sub(r"^\s*([-*+]|\d{1,3}[.)])\s+", "", u.text.split("\n")[0]) if u.kind == "item" else u.text
            blocks.append(f"- {label}{' '.join(text.split())} {mark}")
            last = None
            continue
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
            # a block without its fence gets one; blank lines inside would split it into pieces, so they go
            code = u.text if _FENCE.match(u.text) else "```\n" + re.sub(r"\n\s*\n", "\n", u.text.strip("\n")) + "\n```"
            blocks.append(f"{code}\n{mark}")
        last = u
    flush()
    return dedupe_markers("\n\n".join(_renumber(b) for b in blocks))


_ORDERED = re.compile(r"^(\s{0,3})(\d{1,3})[.)]\s+", re.M)


def _renumber(block: str) -> str:
    """Numbered items quoted without the rest of their list (not 1, 2, 3...) become bullets: "4." alone means nothing."""
    numbers = [int(m.group(2)) for m in _ORDERED.finditer(block) if not m.group(1)]
    if not numbers or numbers == list(range(1, len(numbers) + 1)):
        return block
    return _ORDERED.sub(lambda m: f"{m.group(1)}- " if not m.group(1) else m.group(0), block)


_REPEATED = re.compile(r"(\[\d{1,3}\])(?:\s*\1)+")


def dedupe_markers(text: str) -> str:
    """``[1] [1]`` becomes ``[1]``."""
    return _REPEATED.sub(r"\1", text)
