"""Every request and response body of the HTTP API, with its limits.

Limits are part of the schema, so OpenAPI shows them and FastAPI answers 422 past them: nothing
unbounded reaches a regex, the tokenizer, the priority classifier or the database. The body as a
whole is also capped (``NECTARINE_MAX_BODY_BYTES``, on the bytes received), and strings with lone
surrogates or numbers that are not finite are refused before any route runs (see ``app.Guard``).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from ..handoff.draft import AttachedLog, Attachment, Environment, Suggestion, TicketDraft
from ..types import MAX_QUESTION_CHARS, MAX_URL_CHARS, Answer, AskContext, Message

MAX_ATTACHMENT_CHARS = 200_000  # a pasted log; the draft keeps its head, tail and error lines
MAX_ATTACHMENTS = 10
MAX_COMMENT_CHARS = 2_000
SESSION_ID = r"^[A-Za-z0-9_-]+$"
TURN_ID = r"^[A-Za-z0-9_-]{16,64}$"  # opaque and random: a client cannot guess another session's turn

Short = Annotated[str, Field(max_length=300)]
Url = Annotated[str, Field(max_length=MAX_URL_CHARS)]
Line = Annotated[str, Field(max_length=2_000)]


class AskRequest(BaseModel):
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    history: list[Message] = Field(default_factory=list, max_length=40)
    context: AskContext = Field(default_factory=AskContext)


class AskResponse(BaseModel):
    answer: Answer
    turn_id: str | None = Field(default=None, description="Opaque id of the stored turn, for feedback (with the session id).")


class ChatRequest(BaseModel):
    message: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    session_id: str | None = Field(default=None, min_length=8, max_length=64, pattern=SESSION_ID)
    context: AskContext = Field(default_factory=AskContext)


class FeedbackRequest(BaseModel):
    turn_id: str = Field(pattern=TURN_ID)
    helpful: bool
    comment: str | None = Field(default=None, max_length=MAX_COMMENT_CHARS)
    session_id: str = Field(min_length=1, max_length=64, description="The session the turn belongs to; no other session can rate it.")


class CitationRef(BaseModel):
    """A source the assistant already suggested, as the panel sends it back with the conversation."""

    title: Short = ""
    url: Url = ""
    heading_path: list[Short] = Field(default_factory=list, max_length=10)


class DraftMessage(Message):
    citations: list[CitationRef] = Field(default_factory=list, max_length=20)


class AttachmentIn(Attachment):
    content: str | None = Field(default=None, max_length=MAX_ATTACHMENT_CHARS)
    reference: Url | None = None


class DraftRequest(BaseModel):
    conversation: list[DraftMessage] = Field(min_length=1, max_length=60)
    context: AskContext = Field(default_factory=AskContext)
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)


class EnvironmentIn(Environment):
    os: Short | None = None
    os_version: Short | None = None
    browser: Short | None = None
    browser_version: Short | None = None
    device: Short | None = None
    user_agent: Annotated[str, Field(max_length=512)] | None = None
    screen: Short | None = None
    locale: Short | None = None
    time_zone: Short | None = None
    page_url: Url | None = None
    other: dict[Short, Short] = Field(default_factory=dict, max_length=20)


class AttachedLogIn(AttachedLog):
    name: Short
    text: str = Field(max_length=MAX_ATTACHMENT_CHARS)
    error_lines: list[Line] = Field(default_factory=list, max_length=200)
    note: Short = ""


class SuggestionIn(Suggestion):
    title: Short
    url: Url


class TicketDraftIn(TicketDraft):
    """A draft as the user submits it (possibly edited): the same fields, bounded."""

    title: str = Field(min_length=1, max_length=300)
    description: str = Field(max_length=20_000)
    already_suggested: list[SuggestionIn] = Field(default_factory=list, max_length=20)
    nectain_version: Short | None = None
    version_source: Short | None = None
    environment: EnvironmentIn = Field(default_factory=EnvironmentIn)
    logs: list[AttachedLogIn] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)
    error_messages: list[Line] = Field(default_factory=list, max_length=50)
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)
    priority_rationale: Line = ""
    priority_signals: list[Short] = Field(default_factory=list, max_length=20)
    priority_set_by: Short = "assistant"
    language: Annotated[str, Field(max_length=35)] = "en"
    english_summary: Annotated[str, Field(max_length=20_000)] | None = None
    expected_first_response: Short = ""
    missing_information: list[Short] = Field(default_factory=list, max_length=20)
    redactions: dict[Short, int] = Field(default_factory=dict, max_length=50)
    transcript: list[Message] = Field(default_factory=list, max_length=60)
    session_id: str | None = Field(default=None, max_length=64)


class SubmitRequest(BaseModel):
    draft: TicketDraftIn
    priority: str | None = Field(default=None, max_length=16)  # the user's choice, if they changed it


class TicketResponse(BaseModel):
    id: str
    status: str
    priority: str
    title: str


class TicketView(TicketResponse):
    draft: TicketDraft


class SourceResponse(BaseModel):
    chunk_id: str
    title: str
    heading_path: list[str]
    url: str
    versions: str
    text: str
    date: str | None = None  # the page's date (ISO), when known: the panel shows "updated <date>"


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    ready: bool
    worker: int
    generation: str | None = None
    # The last sync of NECTARINE_SOURCES (nectarine.api.sync): outcome, times, error, counts; absent without sources.
    sync: dict | None = None
    # The index share (NECTARINE_INDEX_SHARE, nectarine.api.share): last pull/publish, outcome, error; absent without one.
    share: dict | None = None


class ReindexResponse(BaseModel):
    generation: str
    up_to_date: bool
    documents: int
    chunks: int
    added: int
    changed: int
    removed: int
    embedded: int
    skipped: list[str]
    flagged: list[str] = Field(default_factory=list, description="Passages flagged as unsafe at ingest (kept out of answers).")
    seconds: float


class IndexStats(BaseModel):
    generation: str
    chunks: int
    model: str | None = None
    backend: str | None = None


class Stats(BaseModel):
    model_config = ConfigDict(extra="allow")  # the store's counts: turns, sessions, handoffs, feedback, tickets

    index: IndexStats


class Problem(BaseModel):
    detail: Any


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem}, 403: {"model": Problem}, 413: {"model": Problem}, 429: {"model": Problem}, 503: {"model": Problem}}
