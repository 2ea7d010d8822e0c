"""The in-process entry point: load an index once, then search (and, later, ask and hand off).

>>> from nectarine import Nectarine
>>> nec = Nectarine.load("indexes/default")                              # doctest: +SKIP
>>> for r in nec.search("I'm on 4.1, how long before an idle session ends?", k=3):  # doctest: +SKIP
...     print(r.rank, r.title, "›", r.heading_path[-1], r.url)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .answer.base import NO_ANSWER
from .index.embedder import Embedder, get_embedder
from .index.store import IndexLoadError, IndexReader, current_generation
from .ingest.pipeline import vector_space
from .retrieve.hybrid import HybridRetriever, RetrieverSettings, SearchMode
from .types import Answer, AskContext, Filters, Message, SearchResult, SourceType

NOT_FOUND = NO_ANSWER  # the same words whether the model or the assistant finds nothing
OUT_OF_SCOPE = ("I can only help with Nectain: its features, settings, errors and releases. "
                "This question is outside what Nectain's documentation covers.")
UNSAFE_SECRETS = ("I can't give advice from the page that matches this question: it asks for credentials or personal data "
                  "to be sent outside Nectain. Please contact Nectain support.")
UNSAFE_CONTACT = ("I can't give advice from the page that matches this question: it sends you to an address outside Nectain. "
                  "Please contact Nectain support.")


@dataclass(frozen=True)
class _Live:
    """One index generation and what is built over it, swapped as a whole when a new one is published."""

    reader: IndexReader
    retriever: HybridRetriever
    offline: object
    trusted: tuple[str, ...] | None = None  # the trusted domains the index was screened with

    @classmethod
    def over(cls, reader: IndexReader, embedder: Embedder, settings: RetrieverSettings | None) -> _Live:
        from .answer.base import get_answerer

        try:
            trusted = tuple(reader.files().get("safety", {}).get("key", {}).get("trusted") or ()) or None
        except (OSError, ValueError):
            trusted = None
        return cls(reader, HybridRetriever(reader, embedder, settings), get_answerer("offline", idf=reader.lexical.idf), trusted)


def _allow_list(items: Sequence[str] | None) -> frozenset[str]:
    """Document ids from ids or paths: ``corpus/docs/a.md`` and ``./docs/a`` both allow ``docs/a``."""
    out = set()
    for item in items or ():
        item = str(item).strip().replace("\\", "/")
        for suffix in (".md", ".markdown", ".mdx", ".html", ".htm", ".txt", ".text"):
            if item.lower().endswith(suffix):
                item = item[: -len(suffix)]
                break
        while item.startswith("./"):
            item = item[2:]
        if item:
            out.add(item.strip("/") if item != "*" else item)
    return frozenset(out)


class Nectarine:
    """Nectain's assistant over one index."""

    def __init__(self, reader: IndexReader, embedder: Embedder, settings: RetrieverSettings | None = None, *,
                 answerer: str = "offline", answerer_options: dict | None = None,
                 allow_flagged: Sequence[str] | None = None) -> None:
        from .answer.base import get_answerer
        from .answer.confidence import ConfidenceModel
        from .answer.verify import CitationVerifier

        self.embedder = embedder
        self._live = _Live.over(reader, embedder, settings)
        self.answerer = self.offline if answerer == "offline" else get_answerer(answerer, **(answerer_options or {}))
        self.verifier = CitationVerifier(embedder)
        self.confidence = ConfidenceModel.load()
        self.allow_flagged = _allow_list(allow_flagged)

    @classmethod
    def load(
        cls,
        index_dir: str | Path,
        *,
        embedder: Embedder | None = None,
        backend: str | None = None,
        settings: RetrieverSettings | None = None,
        answerer: str = "offline",
        answerer_options: dict | None = None,
        allow_flagged: Sequence[str] | None = None,
    ) -> Nectarine:
        """Open the live generation of ``index_dir`` with the embedding model it was built with.

        ``allow_flagged``: document ids or paths (``docs/how-to/page``, ``corpus/docs/how-to/page.md``;
        ``"*"`` for all) whose passages flagged as unsafe at ingest an administrator has checked and
        allows as evidence. Other flagged passages are never used in answers (see :meth:`ask`).
        """
        reader = IndexReader.open(Path(index_dir))
        built = reader.manifest.model
        if embedder is None:
            embedder = get_embedder(built["name"], backend or built.get("backend", "torch"))
        elif vector_space(embedder) != built.get("vector_space", built["name"]) or embedder.dimension != reader.manifest.dimension:
            raise IndexLoadError(
                f"index at {index_dir} was built with {built.get('vector_space', built['name'])!r} ({reader.manifest.dimension} "
                f"dimensions); the given embedder is {vector_space(embedder)!r} ({embedder.dimension}). Rebuild the index with "
                f"that model (nectarine ingest ... --index {index_dir} --model {embedder.name} --rebuild) "
                "or load it without an embedder"
            )
        return cls(reader, embedder, settings, answerer=answerer, answerer_options=answerer_options, allow_flagged=allow_flagged)

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        filters: Filters | dict | None = None,
        history: Sequence[Message | dict] | None = None,
        mode: str | SearchMode = SearchMode.HYBRID,
        sources: Sequence[str | SourceType] | None = None,
        version: str | None = None,
    ) -> list[SearchResult]:
        """Ranked passages for ``query``.

        ``filters`` (or the ``sources``/``version`` shortcuts) restrict or demote results;
        ``history`` is the conversation so far, as ``{"role", "content"}`` messages.

        Passages flagged as unsafe at ingest are returned too, marked: ``result.chunk.flags`` lists
        why, so the docs team can find and fix them. Only :meth:`ask` keeps them out.
        """
        if isinstance(filters, dict):
            filters = Filters.model_validate(filters)
        filters = filters or Filters()
        if sources is not None or version is not None:
            filters = filters.model_copy(update={
                **({"sources": [SourceType.from_str(s) for s in sources]} if sources is not None else {}),
                **({"version": version} if version is not None else {}),
            })
        return self._live.retriever.retrieve(query, k, filters=filters, history=history, mode=mode)

    # A request reads ``_live`` once and uses that generation throughout, so a swap never mixes two.
    @property
    def reader(self) -> IndexReader:
        return self._live.reader

    @property
    def retriever(self) -> HybridRetriever:
        return self._live.retriever

    @property
    def offline(self):
        return self._live.offline

    @property
    def manifest(self):
        return self.reader.manifest

    def refresh(self) -> bool:
        """Switch to the newest published generation, if it changed (another process may have re-indexed).

        Requests in flight finish on the generation they started with; the old one is released
        when they drop it (its files stay readable after pruning, as the open handles keep them).
        """
        live = self._live
        root = live.reader.folder.parent
        if current_generation(root) in (None, live.reader.folder.name):
            return False
        reader = IndexReader.open(root)
        self._live = _Live.over(reader, self.embedder, live.retriever.settings)
        return True

    def warm_up(self) -> None:
        """Load what the first question would otherwise wait for: the model, the index pages, the language detector."""
        from .answer.policy import detect_language

        detect_language("Wie lange dauert es, bis eine Sitzung abläuft?")
        self.search("warm up", k=1)

    def ask(
        self,
        question: str,
        history: Sequence[Message | dict] | None = None,
        context: AskContext | dict | None = None,
        *,
        k: int = 6,
        on_delta: Callable[[str], None] | None = None,
    ) -> Answer:
        """Answer ``question`` from the docs, with numbered citations, a confidence and a handoff verdict.

        >>> nec.ask("how long before an idle session ends?", context={"version": "4.2"}).text  # doctest: +SKIP
        'Up to Nectain 4.2 an idle session ends after 30 minutes [1].'

        ``on_delta`` receives a language model's text as it is generated, before verification; the
        returned Answer holds the verified text, which replaces it. (The offline answerer composes
        its answer at once, so it sends nothing there; callers stream its verified text themselves.)

        Passages flagged at ingest as asking for secrets to be sent, or pointing outside the trusted
        domains (:mod:`nectarine.ingest.safety`), are screened before any answerer sees them: the
        unsafe blocks are cut out, and a passage with nothing else left is withheld. If what was
        withheld was the question's best evidence and the rest cannot answer it, the answer declines,
        cites nothing and recommends support. Documents in ``allow_flagged`` are used as they are.
        """
        import time

        from .answer.base import AnswererUnavailable, draft_from_text
        from .answer.confidence import FEATURES, evidence_features, reasons
        from .answer.policy import SUPPORT_LANGUAGE_NOTE, detect_language, escalation
        from .answer.units import escape_html, looks_like_injection

        live = self._live
        clock = time.perf_counter
        t0 = clock()
        timings: dict[str, float] = {}
        ctx = AskContext.model_validate(context) if isinstance(context, dict) else (context or AskContext())
        history = list(history or [])

        language = detect_language(question)
        esc = escalation(question)
        timings["policy"] = clock() - t0

        t = clock()
        query, search_history = question, history
        rewrite = getattr(self.answerer, "standalone_query", None)
        if rewrite is not None and (history or language != "en"):
            # With an LLM: the follow-up rewritten to stand alone, and translated, for retrieval only.
            try:
                query, search_history = rewrite(question, history), []
            except AnswererUnavailable:
                pass
            timings["rewrite"] = clock() - t
            t = clock()
        results = live.retriever.retrieve(query, k, filters=Filters(version=ctx.version), history=search_history)
        results, unsafe, unsafe_docs = self._screen(question, results, live)
        timings["retrieve"] = clock() - t

        t = clock()
        notes: list[str] = []
        answerer = self.answerer
        try:
            if on_delta is not None and answerer is not live.offline and results:
                parts: list[str] = []
                for delta in answerer.stream(question, results, history=history, context=ctx):
                    parts.append(delta)
                    on_delta(delta)
                draft = draft_from_text(answerer.name, "".join(parts))
            else:
                draft = answerer.answer(question, results, history=history, context=ctx)
        except AnswererUnavailable as exc:
            answerer = live.offline
            draft = live.offline.answer(question, results, history=history, context=ctx)
            notes.append(f"The language model is unavailable ({exc}); this answer was composed directly from the docs.")
        notes.extend(draft.notes)
        timings["answer"] = clock() - t

        t = clock()
        vectors = None
        if answerer is not live.offline and results and all(r.row is not None for r in results):
            vectors = np.asarray(live.reader.vectors[[r.row for r in results]])  # semantic support for generated text
        verified = self.verifier.verify(draft.text, results, vectors)
        if answerer is not live.offline and not verified.text and results:
            # Nothing the model wrote could be verified: give the user the passages' own words instead.
            dropped = len(verified.sentences)
            verified = self.verifier.verify(live.offline.answer(question, results, history=history, context=ctx).text, results)
            if verified.text:
                answerer = live.offline
                notes.append(f"The language model's answer could not be verified against the docs ({dropped} sentence(s) removed); "
                             "this answer was composed directly from them.")
        timings["verify"] = clock() - t

        t = clock()
        ev = evidence_features(question, results, verified.text, verified.supported_rate, live.reader.lexical.idf, version=ctx.version)
        confidence = self.confidence.predict(ev)
        injection = looks_like_injection(question)  # "ignore your instructions...": answered like any off-topic message
        out_of_scope = (self.confidence.out_of_scope(ev) or injection) and esc is None
        supported = sum(1 for c in verified.sentences if c.supported)
        why = reasons(ev, version=ctx.version, results=results, sentences_total=len(verified.sentences),
                      sentences_supported=supported, out_of_scope=out_of_scope)
        if injection:
            why.insert(0, "the message asks the assistant to change its instructions")
        timings["confidence"] = clock() - t

        text, citations = verified.text, verified.citations
        handoff, handoff_reason = False, None
        if out_of_scope:
            text, citations, confidence = OUT_OF_SCOPE, [], min(confidence, 0.05)
        elif esc is not None:
            handoff, handoff_reason = True, f"needs support: {esc.label}"
        elif not text:
            text, citations = NOT_FOUND, []
            handoff, handoff_reason = True, "no passage answers the question"
        elif confidence < self.confidence.threshold:
            handoff, handoff_reason = True, f"low confidence ({confidence:.2f}): " + "; ".join(why)
        # The rest of a page whose matching passage asked for secrets is no better evidence for this question.
        from_unsafe_page = any(c.chunk_id in {r.chunk.id for r in results if r.chunk.doc_id in unsafe_docs} for c in citations)
        if unsafe and not injection and (out_of_scope or not verified.text or confidence < self.confidence.threshold or from_unsafe_page):
            # The page that matches asks for secrets or sends the reader elsewhere: decline, hand off.
            from .ingest.safety import SEND_SECRET

            text = UNSAFE_SECRETS if SEND_SECRET in unsafe else UNSAFE_CONTACT
            citations, confidence = [], min(confidence, 0.05)
            handoff = True
            handoff_reason = ((handoff_reason + "; ") if esc is not None else "") + (
                "the passage that matches the question is flagged as unsafe (" + "; ".join(unsafe) +
                ") and was kept out of the answer; support should answer, and the docs team review the page")
            why.insert(0, "the best-matching passage is flagged as unsafe: " + "; ".join(unsafe))
        if language != "en":
            notes.insert(0, SUPPORT_LANGUAGE_NOTE)
        timings["total"] = clock() - t0
        return Answer(
            question=question,
            text=escape_html(text),
            citations=citations,
            confidence=round(float(confidence), 4),
            reasons=why,
            handoff_recommended=handoff,
            handoff_reason=handoff_reason,
            language=language,
            notes=notes,
            answerer=answerer.name,
            sentences=verified.sentences,
            supported_rate=round(verified.supported_rate, 4),
            evidence={f: round(v, 4) for f, v in zip(FEATURES, ev.vector())},
            results=results,
            timings_ms={k_: round(v * 1000, 2) for k_, v in timings.items()},
            session_id=ctx.session_id,
        )

    def _allowed(self, doc_id: str) -> bool:
        allow = self.allow_flagged
        return "*" in allow or doc_id in allow or any(a.endswith("/" + doc_id) for a in allow)

    def _screen(self, question: str, results: list[SearchResult], live: _Live) -> tuple[list[SearchResult], list[str], set[str]]:
        """The results an answerer may see; the reasons (categories) and documents if the best evidence was withheld.

        A flagged passage loses its unsafe blocks; one with under eight words left is withheld whole.
        The withheld part was the best evidence when it outranked every passage kept, or, cut from a
        passage that stays, matches the question's terms at least as well as what is left of it.
        """
        import re

        from .index.lexical import lexical_tokens
        from .ingest.safety import reason_category, unsafe_blocks

        if not any(r.chunk.flags for r in results):
            return results, [], set()
        kept: list[SearchResult] = []
        withheld: list[tuple[SearchResult, bool]] = []  # (result, it was the best evidence)
        terms = set(lexical_tokens(question))
        idf = live.reader.lexical.idf(sorted(terms)) if terms else {}

        def match(text: str) -> float:
            return sum(idf.get(t, 0.0) for t in terms & set(lexical_tokens(text)))

        for r in results:
            if not r.chunk.flags or self._allowed(r.chunk.doc_id):
                kept.append(r)
                continue
            clean, removed = unsafe_blocks(r.chunk.text, live.trusted)
            if removed and len(re.findall(r"\w+", clean)) >= 8:
                best = match("\n\n".join(removed)) >= match(clean) and not kept
                kept.append(r.model_copy(update={"chunk": r.chunk.model_copy(update={"text": clean})}))
                if best:
                    withheld.append((r, True))
            else:
                withheld.append((r, not kept))
        kept = [r.model_copy(update={"rank": i}) for i, r in enumerate(kept, 1)]
        unsafe: list[str] = []
        docs: set[str] = set()
        for r, best in withheld:
            if best:
                unsafe.extend(c for c in map(reason_category, r.chunk.flags) if c not in unsafe)
                docs.add(r.chunk.doc_id)
        return kept, unsafe, docs

    def draft_ticket(self, conversation, context=None, attachments=None, *, personal_data: bool = False):
        """A prefilled, redacted support ticket for the user to review (see nectarine.handoff.draft)."""
        from .answer.policy import detect_language
        from .handoff.draft import draft_ticket
        from .handoff.priority import PriorityClassifier

        if getattr(self, "_priority", None) is None:
            self._priority = PriorityClassifier.load(embedder=None)
        return draft_ticket(conversation, context, attachments, classifier=self._priority, detect_language=detect_language,
                            personal_data=personal_data, summarize=getattr(self.answerer, "english_summary", None))

    # ------------------------------------------------------------------ tickets
    @property
    def tickets(self):
        """The ticket store: ``$NECTARINE_DATABASE_URL``, or SQLite under ``data/``."""
        if getattr(self, "_store", None) is None:
            import os

            from .handoff.store import TicketStore

            self._store = TicketStore(os.environ.get("NECTARINE_DATABASE_URL", "sqlite:///data/nectarine.db"))
        return self._store

    def attach_store(self, store) -> None:
        """Use this ticket and conversation store (a ``TicketStore``) instead of the default one."""
        self._store = store

    def submit_ticket(self, draft, idempotency_key: str, sinks=("default",)):
        """Store a submitted ticket and queue its delivery; the same key returns the same ticket.

        The draft is redacted again first: the user may have pasted a secret while editing it.
        """
        return self.tickets.submit(draft.redacted(), idempotency_key, sinks)

    def get_ticket(self, ticket_id: str):
        return self.tickets.get(ticket_id)
