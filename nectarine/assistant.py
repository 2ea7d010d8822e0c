"""The in-process entry point: load an index once, then search (and, later, ask and hand off).

>>> from nectarine import Nectarine, ingest
>>> _ = ingest(["corpus/"], "indexes/default", model="fake")   # a hashing test embedder; omit model= for MiniLM
>>> nec = Nectarine.load("indexes/default")
>>> for r in nec.search("I'm on 4.1, how long before an idle session ends?", k=3):  # doctest: +ELLIPSIS
...     print(r.rank, r.title, "›", r.heading_path[-1], r.url)
1 Idle session timeout › Timeout up to 4.2 https://docs.example.test/admin/session-timeout#timeout-up-to-42
...
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .answer.decision import NOT_FOUND, OUT_OF_SCOPE, UNSAFE_CONTACT, UNSAFE_SECRETS, Signals, decide  # noqa: F401 - re-exported
from .index.embedder import Embedder, get_embedder
from .index.store import IndexLoadError, IndexReader, current_generation
from .ingest.pipeline import vector_space
from .retrieve.hybrid import HybridRetriever, RetrieverSettings, SearchMode
from .errors import InputTooLarge
from .types import MAX_QUESTION_CHARS, Answer, AskContext, Filters, Message, SearchResult, SourceType



@dataclass(frozen=True)
class _Live:
    """One index generation and what is built over it, swapped as a whole when a new one is published."""

    reader: IndexReader
    retriever: HybridRetriever
    offline: object  # the extractive fallback every answer can use
    answerer: object  # the configured answerer (the fallback itself by default)
    trusted: tuple[str, ...] | None = None  # the trusted domains the index was screened with

    @classmethod
    def over(cls, reader: IndexReader, embedder: Embedder, settings: RetrieverSettings | None, configured: _Configured) -> _Live:
        from .answer.base import get_answerer

        try:
            trusted = tuple(reader.files().get("safety", {}).get("key", {}).get("trusted") or ()) or None
        except (OSError, ValueError):
            trusted = None
        offline = get_answerer(FALLBACK_ANSWERER, idf=reader.lexical.idf)
        return cls(reader, HybridRetriever(reader, embedder, settings), offline, configured.for_generation(reader, offline), trusted)


FALLBACK_ANSWERER = "offline"  # extractive: what an answer falls back on when a model is unavailable or unverifiable


class _Configured:
    """The answerer asked for, built once; or, if it reads the index's term statistics (``wants_idf``),
    once per index generation, so a re-index never leaves it on the old statistics."""

    def __init__(self, name: str, options: dict | None) -> None:
        from .plugins import ANSWERERS, load

        self.name, self.options = name, dict(options or {})
        self.cls = load(ANSWERERS, name)
        self.per_generation = getattr(self.cls, "wants_idf", False)
        self.fixed = None if self.per_generation else self.cls(**self.options)

    @classmethod
    def given(cls, answerer) -> _Configured:
        self = cls.__new__(cls)
        self.name, self.options, self.cls = getattr(answerer, "name", "custom"), {}, type(answerer)
        self.per_generation, self.fixed = False, answerer
        return self

    def for_generation(self, reader: IndexReader, fallback):
        if not self.per_generation:
            return self.fixed
        if self.name == FALLBACK_ANSWERER and not self.options:
            return fallback
        return self.cls(idf=reader.lexical.idf, **self.options)


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
        from .answer.confidence import ConfidenceModel
        from .answer.verify import CitationVerifier

        self.embedder = embedder
        self._configured = _Configured(answerer, answerer_options)
        self._live = _Live.over(reader, embedder, settings, self._configured)
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
        embedder_options: dict | None = None,
    ) -> Nectarine:
        """Open the live generation of ``index_dir`` with the embedding model it was built with.

        ``embedder_options``: keyword arguments for :func:`~nectarine.index.embedder.get_embedder`
        when no ``embedder`` is given (``threads``, ``cache_dir``).

        ``allow_flagged``: document ids or paths (``docs/how-to/page``, ``corpus/docs/how-to/page.md``;
        ``"*"`` for all) whose passages flagged as unsafe at ingest an administrator has checked and
        allows as evidence. Other flagged passages are never used in answers (see :meth:`ask`).
        """
        reader = IndexReader.open(Path(index_dir))
        built = reader.manifest.model
        if embedder is None:
            embedder = get_embedder(built["name"], backend or built.get("backend", "torch"), **(embedder_options or {}))
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
    def answerer(self):
        return self._live.answerer

    @answerer.setter
    def answerer(self, answerer) -> None:
        """Use an answerer object built elsewhere (kept across re-indexes)."""
        import dataclasses

        self._configured = _Configured.given(answerer)
        self._live = dataclasses.replace(self._live, answerer=answerer)

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
        self._live = _Live.over(reader, self.embedder, live.retriever.settings, self._configured)
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

        >>> nec.ask("how long before an idle session ends?", context={"version": "4.2"}).text
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
        if len(question) > MAX_QUESTION_CHARS:
            raise InputTooLarge(f"the question is {len(question):,} characters; ask in at most {MAX_QUESTION_CHARS:,} "
                                "(attach long logs to a ticket draft instead)")
        ctx = AskContext.model_validate(context) if isinstance(context, dict) else (context or AskContext())
        history = [m if isinstance(m, Message) else Message.model_validate(m) for m in (history or [])]
        return _Asking(self, self._live, question, history, ctx).run(k, on_delta)

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

    def draft_ticket(self, conversation, context=None, attachments=None, *, personal_data: bool = True):
        """A prefilled, redacted support ticket for the user to review (see nectarine.handoff.draft)."""
        from .answer.policy import detect_language
        from .handoff.draft import draft_ticket
        from .handoff.priority import PriorityClassifier

        if getattr(self, "_priority", None) is None:
            self._priority = PriorityClassifier.load(embedder=None)
        return draft_ticket(conversation, context, attachments, classifier=self._priority, detect_language=detect_language,
                            personal_data=personal_data, summarize=getattr(self.answerer, "english_summary", None))

    # ------------------------------------------------------------------ tickets and conversations
    @property
    def tickets(self):
        """The ticket store (``attach_store``), or one in SQLite under ``data/``."""
        if getattr(self, "_tickets", None) is None:
            from .store import TicketStore

            self.attach_store(TicketStore())
        return self._tickets

    @property
    def conversations(self):
        """The conversation log: on the ticket store's database unless another was attached."""
        if getattr(self, "_conversations", None) is None:
            from .store import ConversationLog

            self._conversations = ConversationLog(self.tickets.db)
        return self._conversations

    def attach_store(self, tickets, conversations=None) -> None:
        """Use this ``TicketStore`` (and ``ConversationLog``; by default one on the same database)."""
        self._tickets, self._conversations = tickets, conversations

    @property
    def has_store(self) -> bool:
        return getattr(self, "_tickets", None) is not None

    def submit_ticket(self, draft, idempotency_key: str, sinks=("default",)):
        """Store a submitted ticket and queue its delivery; the same key returns the same ticket.

        The draft is redacted again first: the user may have pasted a secret while editing it.
        """
        return self.tickets.submit(draft.redacted(), idempotency_key, sinks)

    def get_ticket(self, ticket_id: str):
        return self.tickets.get(ticket_id)


class _Asking:
    """One question on its way through ``Nectarine.ask``, step by step: policy, rewrite, retrieve
    (and screen), answer (with the offline fallback), verify (with the offline fallback), confidence,
    then the decision (``nectarine.answer.decision``). Each step records its time."""

    def __init__(self, nec: Nectarine, live: _Live, question: str, history: list, ctx: AskContext) -> None:
        self.nec, self.live, self.question, self.history, self.ctx = nec, live, question, history, ctx
        self.timings: dict[str, float] = {}
        self.notes: list[str] = []

    def _timed(self, name: str, step, *args):
        import time

        t = time.perf_counter()
        try:
            return step(*args)
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - t

    def run(self, k: int, on_delta: Callable[[str], None] | None) -> Answer:
        import dataclasses
        import time

        t0 = time.perf_counter()
        language, esc = self._timed("policy", self.policy)
        query, search_history = self._timed("rewrite", self.rewrite, language)
        # The question's language holds for the query unless a model rewrote it (in English).
        results, unsafe, unsafe_docs = self._timed("retrieve", self.retrieve, query, search_history, k,
                                                   language if query == self.question else None)
        draft, answerer = self._timed("answer", self.answer, results, on_delta)
        verified, answerer = self._timed("verify", self.verify, draft, results, answerer)
        confidence, ev, why, out_of_scope, injection = self._timed("confidence", self.score, results, verified, esc, draft)
        cited_unsafe = {r.chunk.id for r in results if r.chunk.doc_id in unsafe_docs}
        model = self.nec.confidence
        verdict = decide(Signals(text=verified.text, confidence=confidence, threshold=model.threshold,
                                 out_of_scope=out_of_scope, injection=injection, escalation=esc.label if esc else None,
                                 reasons=tuple(why), unsafe=tuple(unsafe),
                                 cites_unsafe_page=any(c.chunk_id in cited_unsafe for c in verified.citations),
                                 decline_threshold=model.decline_threshold, covered=model.covered(ev), searched=ev.searched,
                                 closest=_closest(results)))
        if verdict.kind == "answer" and verdict.keep_citations and draft.lead:
            verdict = dataclasses.replace(verdict, text=f"{draft.lead}\n\n{verdict.text}")
        if language != "en":
            from .answer.policy import SUPPORT_LANGUAGE_NOTE

            self.notes.insert(0, SUPPORT_LANGUAGE_NOTE)
        self.timings["total"] = time.perf_counter() - t0
        return self.build(verdict, verified, answerer, language, ev, results, draft)

    def policy(self):
        """The question's language, and whether it must go to support whatever the docs say."""
        from .answer.policy import detect_language, escalation

        return detect_language(self.question), escalation(self.question)

    def rewrite(self, language: str) -> tuple[str, list]:
        """With an LLM: the follow-up rewritten to stand alone, and translated, for retrieval only."""
        from .answer.base import AnswererUnavailable

        answerer = self.live.answerer
        rewrite = getattr(answerer, "standalone_query", None) if getattr(answerer, "rewrite_queries", True) else None
        if rewrite is not None and (self.history or language != "en"):
            try:
                return rewrite(self.question, self.history), []
            except AnswererUnavailable:
                pass
        return self.question, self.history

    def retrieve(self, query: str, search_history: list, k: int, language: str | None = None):
        """The passages for the question; for "what changed in/since X", the release notes of that range as well."""
        from .answer.kinds import QuestionKind, in_range, question_kind, version_range

        results = self.live.retriever.retrieve(query, k, filters=Filters(version=self.ctx.version), history=search_history,
                                               language=language)
        if question_kind(self.question) == QuestionKind.CHANGES:
            lo, hi = version_range(self.question, self.ctx.version)
            if lo is not None or hi is not None:
                notes = self.live.retriever.retrieve(query, 3 * k, filters=Filters(sources=[SourceType.RELEASE_NOTES]), history=search_history,
                                                     language=language)
                have = {r.chunk.id for r in results}
                extra = [r for r in notes if r.chunk.id not in have and r.chunk.version and in_range(r.chunk.version, lo, hi, exact=lo is None)]
                results = [r.model_copy(update={"rank": i}) for i, r in enumerate(results + extra[: 2 * k], 1)]
        return self.nec._screen(self.question, results, self.live)

    def answer(self, results: list[SearchResult], on_delta):
        """The configured answerer's draft; the offline one's when the model is unavailable."""
        from .answer.base import AnswererUnavailable, draft_from_text

        answerer, offline = self.live.answerer, self.live.offline
        kwargs = {"history": self.history, "context": self.ctx}
        try:
            if on_delta is not None and not _extractive(answerer) and results:
                parts: list[str] = []
                for delta in answerer.stream(self.question, results, **kwargs):
                    parts.append(delta)
                    on_delta(delta)
                draft = draft_from_text(answerer.name, "".join(parts))
            else:
                draft = answerer.answer(self.question, results, **kwargs)
        except AnswererUnavailable as exc:
            answerer, draft = offline, offline.answer(self.question, results, **kwargs)
            self.notes.append(f"The language model is unavailable ({exc}); this answer was composed directly from the docs.")
        self.notes.extend(draft.notes)
        return draft, answerer

    def verify(self, draft, results: list[SearchResult], answerer):
        """Every sentence checked against the passage it cites; if nothing a model wrote holds, the passages' own words."""
        live, verifier = self.live, self.nec.verifier
        vectors = None
        if not _extractive(answerer) and results and all(r.row is not None for r in results):
            vectors = np.asarray(live.reader.vectors[[r.row for r in results]])  # semantic support for generated text
        verified = verifier.verify(draft.text, results, vectors)
        if not _extractive(answerer) and not verified.text and results:
            dropped = len(verified.sentences)
            fallback = verifier.verify(live.offline.answer(self.question, results, history=self.history, context=self.ctx).text, results)
            if fallback.text:
                verified, answerer = fallback, live.offline
                self.notes.append(f"The language model's answer could not be verified against the docs ({dropped} sentence(s) removed); "
                                  "this answer was composed directly from them.")
        return verified, answerer

    def score(self, results: list[SearchResult], verified, esc, draft):
        """Confidence from the evidence, the reasons in words, and whether the question is out of scope."""
        from .answer.confidence import evidence_features, reasons
        from .answer.units import looks_like_injection

        model = self.nec.confidence
        unit_top, unit_coverage = draft.signals.get("unit_top"), draft.signals.get("unit_coverage")
        if unit_top is None:  # a model's draft: how well the best quotable unit answers, from the offline scorer
            _, scored = self.live.offline.analyse(self.question, results, self.history, self.ctx.version)
            unit_top = max((c.p for c in scored), default=0.0)
            unit_coverage = max((c.features[1] for c in scored), default=0.0)
        gate = self.live.retriever.follow_gate(self.question, self.history) if self.history else None
        ev = evidence_features(self.question, results, verified.text, verified.supported_rate, self.live.reader.lexical.idf,
                               version=self.ctx.version, unit_top=unit_top, unit_coverage=unit_coverage or 0.0,
                               gate=(gate.best_cosine, gate.weight) if gate else None)
        confidence = model.predict(ev)
        injection = looks_like_injection(self.question)  # "ignore your instructions...": answered like any off-topic message
        out_of_scope = (model.out_of_scope(ev) or injection) and esc is None
        supported = sum(1 for c in verified.sentences if c.supported)
        why = reasons(ev, version=self.ctx.version, results=results, sentences_total=len(verified.sentences),
                      sentences_supported=supported, out_of_scope=out_of_scope)
        if injection:
            why.insert(0, "the message asks the assistant to change its instructions")
        return confidence, ev, why, out_of_scope, injection

    def build(self, verdict, verified, answerer, language: str, ev, results, draft) -> Answer:
        from .answer.confidence import FEATURES
        from .answer.kinds import question_kind
        from .answer.offline import dedupe_markers
        from .answer.units import escape_html

        return Answer(
            question=self.question,
            text=escape_html(dedupe_markers(verdict.text)),
            kind=verdict.kind,
            question_kind=draft.signals.get("kind") or question_kind(self.question).value,
            citations=verified.citations if verdict.keep_citations else [],
            confidence=round(float(verdict.confidence), 4),
            reasons=list(verdict.reasons),
            handoff_recommended=verdict.handoff,
            handoff_reason=verdict.handoff_reason,
            language=language,
            notes=self.notes,
            answerer=answerer.name,
            sentences=verified.sentences,
            supported_rate=round(verified.supported_rate, 4),
            evidence={f: round(v, 4) for f, v in zip(FEATURES, ev.vector())},
            results=results,
            timings_ms={k_: round(v * 1000, 2) for k_, v in self.timings.items()},
            session_id=self.ctx.session_id,
        )


def _closest(results: list[SearchResult], n: int = 3) -> tuple[tuple[str, str], ...]:
    """(title, url) of the closest distinct pages, for a decline: the page title and its deepest heading."""
    out: dict[str, tuple[str, str]] = {}
    for r in results:
        if r.chunk.doc_id not in out and r.chunk.url:
            path = r.chunk.heading_path
            title = path[0] + (f" › {path[-1]}" if len(path) > 1 else "") if path else r.chunk.title
            out[r.chunk.doc_id] = (title, r.chunk.url)
        if len(out) >= n:
            break
    return tuple(out.values())


def _extractive(answerer) -> bool:
    """An answerer that only quotes the passages: its draft needs no model-output verification or fallback."""
    return getattr(answerer, "extractive", False)
