"""The prefilled support ticket: everything the Support Center page says a good ticket holds.

"To receive the best response from our team, your ticket should include: technical details (logs,
environment specifications, and the Nectain version), error messages (screenshots or the exact
text), system information (operating system, browser version, other configuration)." The draft
fills in what it can, lists what is still missing, and is redacted before anything is stored.

>>> draft = draft_ticket([{"role": "user", "content": "Nobody can log in: AUTH-1003"}], {"version": "4.3.1"})  # doctest: +SKIP
>>> draft.priority, draft.missing_information
('Highest', ['logs', 'screenshots', 'operating system and browser'])
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Sequence

from pydantic import BaseModel, Field, field_validator

from ..types import AskContext, Message
from ..versions import find_version
from .logs import BoundedLog, bound_log, decode_log, error_messages
from .priority import Priority
from .redact import redact

EXPECTED_FIRST_RESPONSE = "within 24 hours"  # Support Center page, "Response Times"
SUPPORT_LANGUAGE = "en"  # "The official support language is English."
MAX_TITLE = 120


class Attachment(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    kind: str = Field(default="file", pattern="^(log|screenshot|file)$")
    content: str | None = None  # logs: the text (bounded and redacted in the draft)
    reference: str | None = None  # screenshots and files: where the file is (upload id, URL)
    size: int | None = Field(default=None, ge=0)


class AttachedLog(BaseModel):
    name: str
    text: str
    total_lines: int
    kept_lines: int
    error_lines: list[str]
    note: str = ""


class Environment(BaseModel):
    os: str | None = None
    os_version: str | None = None
    browser: str | None = None
    browser_version: str | None = None
    device: str | None = None
    user_agent: str | None = None
    screen: str | None = None
    locale: str | None = None
    time_zone: str | None = None
    page_url: str | None = None
    other: dict[str, str] = Field(default_factory=dict)


class Suggestion(BaseModel):
    title: str
    url: str


class TicketDraft(BaseModel):
    """A ticket for the user to review, edit and send. Every text in it has been redacted."""

    title: str
    description: str
    already_suggested: list[Suggestion] = Field(default_factory=list)
    nectain_version: str | None = None
    version_source: str | None = None  # panel | conversation | logs
    environment: Environment = Field(default_factory=Environment)
    logs: list[AttachedLog] = Field(default_factory=list)
    error_messages: list[str] = Field(default_factory=list)
    attachments: list[Attachment] = Field(default_factory=list)
    priority: str
    priority_rationale: str = ""
    priority_signals: list[str] = Field(default_factory=list)
    suggested_priority: str | None = None  # what the assistant suggested, kept when the user changes it
    priority_set_by: str = "assistant"  # assistant | user
    language: str = "en"
    needs_translation: bool = False
    english_summary: str | None = None
    expected_first_response: str = EXPECTED_FIRST_RESPONSE
    missing_information: list[str] = Field(default_factory=list)
    redactions: dict[str, int] = Field(default_factory=dict)
    transcript: list[Message] = Field(default_factory=list)
    session_id: str | None = None
    created_at: dt.datetime = Field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))

    @field_validator("priority", "suggested_priority")
    @classmethod
    def _valid_priority(cls, v: str | None) -> str | None:
        return None if v is None else Priority.from_str(v).value

    def redacted(self) -> TicketDraft:
        """Every text in the draft redacted again: the user may have typed or pasted a secret while editing it."""
        from .redact import redact

        found: dict[str, int] = {}

        def walk(value):
            if isinstance(value, str):
                r = redact(value)
                for kind, n in r.counts.items():
                    found[kind] = found.get(kind, 0) + n
                return r.text
            if isinstance(value, list):
                return [walk(v) for v in value]
            if isinstance(value, dict):
                return {k: walk(v) for k, v in value.items()}
            return value

        data = self.model_dump(mode="json")
        redactions = data.pop("redactions")
        data = walk(data)
        if not found:
            return self
        data["redactions"] = {k: redactions.get(k, 0) + found.get(k, 0) for k in {*redactions, *found}}
        return TicketDraft.model_validate(data)

    def with_priority(self, priority: str) -> TicketDraft:
        """The user's choice of priority; the draft records that they changed it, and from what."""
        new = Priority.from_str(priority).value
        if new == self.priority:
            return self
        return self.model_copy(update={"priority": new, "priority_set_by": "user",
                                       "suggested_priority": self.suggested_priority or self.priority})


def _content(m: Message | dict) -> tuple[str, str, list]:
    if isinstance(m, Message):
        return m.role, m.content, []
    return str(m.get("role", "user")), str(m.get("content", "")), list(m.get("citations") or [])


def _title(text: str) -> str:
    first = re.split(r"(?<=[.!?])\s|\n", text.strip(), maxsplit=1)[0].strip() or text.strip()
    first = re.sub(r"\s+", " ", first)
    return first if len(first) <= MAX_TITLE else first[: MAX_TITLE - 1].rsplit(" ", 1)[0] + "…"


def parse_user_agent(user_agent: str | None) -> dict:
    if not user_agent:
        return {}
    from ua_parser import parse

    r = parse(user_agent)
    ver = lambda o: ".".join(p for p in (o.major, o.minor, o.patch) if p) if o else None  # noqa: E731
    out = {"user_agent": user_agent}
    if r.user_agent:
        out.update(browser=r.user_agent.family, browser_version=ver(r.user_agent))
    if r.os:
        out.update(os=r.os.family, os_version=ver(r.os))
    if r.device and r.device.family not in ("Other", None):
        out["device"] = r.device.family
    return out


def draft_ticket(
    conversation: Sequence[Message | dict],
    context: AskContext | dict | None = None,
    attachments: Sequence[Attachment | dict] | None = None,
    *,
    classifier=None,
    detect_language=None,
    summary: str | None = None,
    personal_data: bool = False,
    summarize=None,
) -> TicketDraft:
    """Build the draft. ``conversation`` messages may carry ``citations`` ([{title, url}]) on assistant turns."""
    ctx = AskContext.model_validate(context) if isinstance(context, dict) else (context or AskContext())
    files = [a if isinstance(a, Attachment) else Attachment.model_validate(a) for a in (attachments or [])]
    redactions: Counter[str] = Counter()

    def clean(text: str) -> str:
        r = redact(text, personal=personal_data)
        redactions.update(r.counts)
        return r.text

    turns = [(r, clean(c), cites) for r, c, cites in (_content(m) for m in conversation) if c.strip()]  # each text redacted once
    user_texts = [c for r, c, _ in turns if r == "user"]
    if not user_texts:
        raise ValueError("conversation: at least one user message is needed to draft a ticket")
    transcript = [Message(role=r if r in ("user", "assistant") else "user", content=c) for r, c, _ in turns]
    suggested = {}
    for r, _, cites in turns:
        for c in cites:
            url = str(c.get("url", "")) if isinstance(c, dict) else str(getattr(c, "url", ""))
            title = " › ".join(c.get("heading_path") or []) or c.get("title", url) if isinstance(c, dict) else " › ".join(c.heading_path)
            if url:
                suggested.setdefault(url, Suggestion(title=title, url=url))

    logs: list[AttachedLog] = []
    for a in files:
        if a.kind == "log" and a.content is not None:
            text = decode_log(a.content.encode("utf-8", "surrogatepass"), a.name)  # refuses pasted binary
            bounded: BoundedLog = bound_log(clean(text))
            logs.append(AttachedLog(name=a.name, text=bounded.text, total_lines=bounded.total_lines, kept_lines=bounded.kept_lines,
                                    error_lines=bounded.error_lines, note=bounded.note))
    references = [a.model_copy(update={"content": None}) for a in files]

    all_user = "\n".join(user_texts)
    version, source = ctx.version, "panel" if ctx.version else None
    if not version:
        version = find_version(all_user)
        source = "conversation" if version else None
    if not version:
        for log in logs:
            version = find_version(log.text)
            if version:
                source = "logs"
                break

    env = Environment(**parse_user_agent(ctx.user_agent), screen=ctx.screen, locale=ctx.language, time_zone=ctx.time_zone, page_url=ctx.page_url)
    errors = error_messages(all_user, *(ln for log in logs for ln in log.error_lines))
    for e in ctx.console_errors:
        errors.append(clean(e)[:300])
    errors = list(dict.fromkeys(errors))

    if classifier is None:
        from .priority import PriorityClassifier

        classifier = PriorityClassifier.load()
    verdict = classifier.classify(all_user)
    if detect_language is None:
        from ..answer.policy import detect_language as detect_language_
        detect_language = detect_language_
    language = detect_language(all_user)

    missing = []
    if not version:
        missing.append("Nectain version (Help › About Nectain)")
    if not logs:
        missing.append("logs (Help › Diagnostics › Download logs)")
    if not errors:
        missing.append("the exact error message or code")
    if not any(a.kind == "screenshot" for a in files):
        missing.append("screenshots")
    if not (env.os and env.browser):
        missing.append("operating system and browser version")

    english = None
    if summarize is not None:  # an LLM is configured: support gets an English summary (a translation if needed)
        try:
            english = redact(summarize(user_texts)).text.strip() or None
        except Exception:  # the model is down: the draft says "needs translation" instead
            english = None

    first = user_texts[0]
    asked = len(user_texts)
    summary_lines = [summary] if summary else [
        f"The user wrote {asked} message{'s' if asked > 1 else ''} to Nectarine."
        + (f" Nectarine suggested {len(suggested)} page{'s' if len(suggested) != 1 else ''} (listed below), which did not resolve it." if suggested else " No documentation page resolved it.")
    ]
    description = "What the user reports, in their words:\n\n" + "\n\n".join(f"> {t}".replace("\n", "\n> ") for t in user_texts) \
        + "\n\nAssistant's summary: " + " ".join(summary_lines)

    return TicketDraft(
        title=_title(first),
        description=description,
        already_suggested=list(suggested.values()),
        nectain_version=version,
        version_source=source,
        environment=env,
        logs=logs,
        error_messages=errors,
        attachments=references,
        priority=verdict.priority,
        priority_rationale=verdict.rationale,
        priority_signals=verdict.signals,
        suggested_priority=verdict.priority,
        language=language,
        needs_translation=language != SUPPORT_LANGUAGE and english is None,
        english_summary=english,
        missing_information=missing,
        redactions=dict(redactions),
        transcript=transcript,
        session_id=ctx.session_id,
    )


__all__ = ["Attachment", "TicketDraft", "draft_ticket"]
