"""The data that flows between Nectarine's stages, defined once.

ingest:   files  -> Document -> Chunk
index:    Chunk  -> (vectors, BM25 postings, chunk table)
retrieve: query  -> SearchResult (a scored Chunk)
"""

from __future__ import annotations

import enum
import re
from datetime import date as Date
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer, model_validator

from .errors import OptionError  # noqa: F401 - defined under the one error root


class Choice(str, enum.Enum):
    """An enum whose ``from_str`` fails with the list of valid values."""

    @classmethod
    def from_str(cls, value: str | Choice) -> Choice:
        if isinstance(value, cls):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            valid = ", ".join(m.value for m in cls)
            raise OptionError(f"unknown {cls.__name__} {value!r}; choose one of: {valid}") from None


class VersionMode(Choice):
    DEMOTE = "demote"  # passages for other versions rank lower
    EXCLUDE = "exclude"  # and are dropped


class SourceType(Choice):
    DOCS = "docs"
    BLOG = "blog"
    RELEASE_NOTES = "release-notes"
    SUPPORT = "support"


class Document(BaseModel):
    """One page of the knowledge base, as loaded from a file or a JSONL record."""

    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    text: str  # Markdown body (HTML is converted to Markdown on load)
    source: SourceType = SourceType.DOCS
    url: str = ""
    versions: str = "all"  # see nectarine.versions for the grammar
    version: str | None = None  # a release note's own version
    date: Date | None = None
    language: str = "en"
    path: str | None = None  # the file it came from, if any
    metadata: dict[str, Any] = Field(default_factory=dict)


class Chunk(BaseModel):
    """A retrievable passage: one section of a document, or a budget-sized piece of one."""

    model_config = ConfigDict(frozen=True)

    id: str  # stable, derived from content (see ingest.chunker.chunk_id)
    doc_id: str
    text: str  # the passage as shown and cited
    title: str
    heading_path: list[str] = Field(default_factory=list)  # [Page, Section, Subsection]
    anchor: str = ""  # the deepest heading's anchor ("" for text before the first heading)
    section_ids: list[str] = Field(default_factory=list)  # doc#anchor of this and every enclosing section
    url: str = ""  # with #anchor
    source: SourceType = SourceType.DOCS
    versions: str = "all"
    version: str | None = None
    date: Date | None = None
    language: str = "en"
    n_tokens: int = 0  # tiktoken tokens of `text`
    position: int = 0  # order within the document
    # Why the passage must not be given as advice (nectarine.ingest.safety); empty for a safe one.
    # Added later: indexes written before it load with [] and are screened again on the next ingest.
    flags: list[str] = Field(default_factory=list)

    @property
    def embed_text(self) -> str:
        """What the embedding model and BM25 see: the heading path gives a short passage its topic."""
        return f"{' › '.join(self.heading_path)}\n\n{self.text}" if self.heading_path else self.text


class SearchResult(BaseModel):
    """A chunk with its fused score and the dense and lexical parts of it."""

    chunk: Chunk
    score: float
    dense_score: float | None = None  # cosine similarity, if the chunk was a dense candidate
    lexical_score: float | None = None  # BM25 score, if it was a lexical candidate
    dense_rank: int | None = None
    lexical_rank: int | None = None
    version_match: bool = True
    relevance: float | None = None  # the learned reranker's P(this passage answers the question); None when it is off
    rank: int = 0
    row: int | None = Field(default=None, exclude=True)  # position in the index (for its stored vector)

    # Flat accessors, so callers write result.title rather than result.chunk.title.
    @property
    def id(self) -> str:
        return self.chunk.id

    @property
    def text(self) -> str:
        return self.chunk.text

    @property
    def title(self) -> str:
        return self.chunk.title

    @property
    def url(self) -> str:
        return self.chunk.url

    @property
    def heading_path(self) -> list[str]:
        return self.chunk.heading_path

    @property
    def source(self) -> SourceType:
        return self.chunk.source


# Field limits: every text that reaches a regex, the tokenizer, the classifier or the store is bounded
# first. The HTTP API answers 422 past them (OpenAPI shows them); in-process callers get a ValidationError.
MAX_QUESTION_CHARS = 4_000  # a question, from the panel or in-process
MAX_MESSAGE_CHARS = 8_000  # one turn of history: an answer is far shorter, a question at most 4,000
MAX_URL_CHARS = 2_048  # what browsers and proxies commonly accept
MAX_USER_AGENT_CHARS = 512  # real user agents are under 300
MAX_CONSOLE_ERROR_CHARS = 1_000


class Message(BaseModel):
    """One turn of a conversation, as the panel and other services send it."""

    role: str = Field(pattern="^(user|assistant|system)$")
    content: str = Field(max_length=MAX_MESSAGE_CHARS)


class Filters(BaseModel):
    """What a search may return.

    ``version`` is the user's Nectain version: chunks that do not apply to it are demoted
    (``version_mode="demote"``) or dropped (``"exclude"``).
    """

    sources: list[SourceType] | None = None
    version: str | None = None
    version_mode: VersionMode = VersionMode.DEMOTE


_ANCHOR_DROP = re.compile(r"[^\w\- ]", re.UNICODE)


def slugify(heading: str) -> str:
    """The anchor of a heading, as GitHub and the eval data compute it.

    >>> slugify("Fix error `AUTH-1003`: SSO assertion")
    'fix-error-auth-1003-sso-assertion'
    """
    text = heading.replace("`", "").strip().lower()
    return _ANCHOR_DROP.sub("", text).replace(" ", "-")


# --------------------------------------------------------------------------- answering


class AskContext(BaseModel):
    """What the chat panel knows about the user; every field is optional."""

    version: str | None = Field(default=None, max_length=32)  # the user's Nectain version, from the host page
    page_url: str | None = Field(default=None, max_length=MAX_URL_CHARS)
    user_agent: str | None = Field(default=None, max_length=MAX_USER_AGENT_CHARS)
    language: str | None = Field(default=None, max_length=35)  # the browser's language, e.g. "de-DE" (BCP 47 tags fit in 35)
    session_id: str | None = Field(default=None, max_length=64)
    screen: str | None = Field(default=None, max_length=32)  # e.g. "1920x1080"
    time_zone: str | None = Field(default=None, max_length=64)  # e.g. "Europe/Berlin"
    # the host page's last errors
    console_errors: list[Annotated[str, Field(max_length=MAX_CONSOLE_ERROR_CHARS)]] = Field(default_factory=list, max_length=50)

    @field_validator("version")
    @classmethod
    def _a_version(cls, v: str | None) -> str | None:
        from .versions import Version

        if v is None or not v.strip():
            return None
        Version.parse(v.strip())  # a VersionError (a ValueError) names what was wrong
        return v.strip()


class Citation(BaseModel):
    """A numbered source: the passage an answer sentence rests on, and the span quoted from it."""

    number: int
    chunk_id: str
    title: str
    heading_path: list[str]
    url: str
    source: SourceType
    versions: str = "all"
    quote: str  # the supporting span, verbatim from the passage
    # The page's date (front matter, a web page's own date, a git file's last commit; else the file's
    # modification time): ISO "YYYY-MM-DD" in JSON, absent (None) when unknown. Filled in from the
    # cited passage by Answer when the citation is built without it.
    date: Date | None = None

    @model_serializer(mode="wrap")
    def _date_only_when_known(self, handler):
        data = handler(self)
        if data.get("date") is None:
            data.pop("date", None)  # absent when unknown, rather than null
        return data


class SentenceCheck(BaseModel):
    """The verdict on one answer sentence."""

    text: str
    citations: list[int]
    supported: bool
    support: float  # 0..1, the best of lexical and semantic support
    note: str = ""  # e.g. "citation moved from [3] to [1]", "removed: no passage supports it"


class Answer(BaseModel):
    question: str
    text: str  # Markdown with [n] markers; raw HTML from documents is escaped
    kind: str = "answer"  # answer | not_found (the docs do not cover it: an honest decline) | out_of_scope | unsafe
    question_kind: str | None = None  # how-to, troubleshoot, setting, changes, availability, comparison, concept, fact
    citations: list[Citation] = Field(default_factory=list)
    confidence: float = 0.0
    reasons: list[str] = Field(default_factory=list)  # why the confidence is what it is
    handoff_recommended: bool = False
    handoff_reason: str | None = None
    language: str = "en"
    notes: list[str] = Field(default_factory=list)  # shown to the user: language, fallbacks
    answerer: str = "offline"
    sentences: list[SentenceCheck] = Field(default_factory=list)
    supported_rate: float = 1.0
    evidence: dict[str, float] = Field(default_factory=dict)  # the features behind the confidence
    results: list[SearchResult] = Field(default_factory=list, exclude=True)  # the passages it drew on
    timings_ms: dict[str, float] = Field(default_factory=dict)
    session_id: str | None = None

    @model_validator(mode="after")
    def _dated_citations(self) -> Answer:
        """Every citation carries its passage's date (freshness: the panel shows "updated <date>")."""
        if any(c.date is None for c in self.citations) and self.results:
            dates = {r.chunk.id: r.chunk.date for r in self.results}
            self.citations = [c if c.date is not None or dates.get(c.chunk_id) is None
                              else c.model_copy(update={"date": dates[c.chunk_id]}) for c in self.citations]
        return self
