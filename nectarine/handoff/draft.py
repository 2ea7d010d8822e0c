"""The prefilled support ticket: everything the Support Center page says a good ticket holds.

"To receive the best response from our team, your ticket should include: technical details (logs,
environment specifications, and the Nectain version), error messages (screenshots or the exact
text), system information (operating system, browser version, other configuration)." The draft
fills in what it can, lists what is still missing, and is redacted before anything is stored.

**Bounded work.** A draft costs time linear in bounded inputs, whatever a caller passes in-process
(the service's schemas limit sizes too; the library does not rely on them):

- each turn is read up to ``MAX_TURN_CHARS`` (its head and tail) and the transcript keeps the first
  turn and the latest ones within ``MAX_TRANSCRIPT_CHARS``, before redaction runs;
- the priority classifier, the language detector and the version and error-code patterns read the
  user's own words capped at ``MAX_CLASSIFIER_CHARS`` (``classifier_input``), never the raw logs;
- logs are read up to ``MAX_DRAFT_LOG_CHARS`` all together (each cut by ``logs.cap_log`` and
  ``logs.cap_lines`` before redaction and ``bound_log`` scan them);
- the user agent is parsed from its first ``MAX_USER_AGENT_CHARS`` characters, at most
  ``MAX_CONSOLE_ERRORS`` console errors are read, each up to ``MAX_CONSOLE_ERROR_CHARS``.

>>> from nectarine.handoff.priority import PriorityClassifier
>>> from nectarine.index.embedder import get_embedder
>>> classifier = PriorityClassifier.load(embedder=get_embedder("fake"))  # a hashing test embedder; by default MiniLM
>>> draft = draft_ticket([{"role": "user", "content": "Nobody can log in: AUTH-1003"}], {"version": "4.3.1"}, classifier=classifier)
>>> draft.priority, draft.missing_information
('Highest', ['logs (Help › Diagnostics › Download logs)', 'screenshots', 'operating system and browser version'])
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Sequence

from pydantic import BaseModel, Field, field_validator

from ..types import MAX_CONSOLE_ERROR_CHARS, MAX_MESSAGE_CHARS, MAX_URL_CHARS, MAX_USER_AGENT_CHARS, AskContext, Message
from ..versions import find_version
from .logs import BoundedLog, bound_log, cap_lines, cap_log, decode_log, error_messages
from .priority import MAX_CLASSIFIER_CHARS, Priority, bounded_text
from .redact import redact

EXPECTED_FIRST_RESPONSE = "within 24 hours"  # Support Center page, "Response Times"
SUPPORT_LANGUAGE = "en"  # "The official support language is English."
MAX_TITLE = 120

# The caps (why each value: one line each). MAX_USER_AGENT_CHARS (512) and MAX_CONSOLE_ERROR_CHARS
# (1,000) are the service schema's own limits, from nectarine.types.
MAX_TURN_CHARS = MAX_MESSAGE_CHARS  # a transcript turn is a types.Message, which holds at most 8,000 characters
MAX_TRANSCRIPT_CHARS = 64_000  # turns kept (the first and the latest): 16 full-length questions; bounds redaction and the ticket
MAX_DRAFT_LOG_CHARS = 1_000_000  # log characters a draft reads, all logs together: 5x the service's 200 KB attachment limit
MAX_CONSOLE_ERRORS = 50  # the panel sends the page's last few; the schema allows 50
MAX_ENV_CHARS = MAX_URL_CHARS  # screen, locale, time zone and page URL are stored as given: no longer than a URL


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
    """Browser, OS and device from the first ``MAX_USER_AGENT_CHARS`` of a user agent (real ones are under 300)."""
    if not user_agent:
        return {}
    from ua_parser import parse

    user_agent = user_agent[:MAX_USER_AGENT_CHARS]  # ua-parser's patterns cost time with the length

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


def classifier_input(user_texts: Sequence[str]) -> str:
    """The user's own words as the classifier and the patterns read them: at most ``MAX_CLASSIFIER_CHARS``."""
    return bounded_text("\n".join(user_texts), MAX_CLASSIFIER_CHARS)


def _turns_kept(sizes: list[int], users: list[bool], budget: int = MAX_TRANSCRIPT_CHARS) -> list[int]:
    """Indices of the turns kept: the first, then the latest that fit in ``budget``, and a user turn always."""
    if sum(sizes) <= budget:
        return list(range(len(sizes)))
    kept, room = {0}, budget - sizes[0]
    for i in range(len(sizes) - 1, 0, -1):
        if sizes[i] > room:
            break
        kept.add(i)
        room -= sizes[i]
    if not any(users[i] for i in kept):
        kept.add(max(i for i, u in enumerate(users) if u))
    return sorted(kept)


def draft_ticket(
    conversation: Sequence[Message | dict],
    context: AskContext | dict | None = None,
    attachments: Sequence[Attachment | dict] | None = None,
    *,
    classifier=None,
    detect_language=None,
    personal_data: bool = True,
    summarize=None,
) -> TicketDraft:
    """Build the draft. ``conversation`` messages may carry ``citations`` ([{title, url}]) on assistant turns.

    Steps: the conversation (bounded, redacted once), the pages already suggested, the logs (bounded
    before anything reads them), the version (panel, conversation, then logs), the environment, the
    error messages, the priority and language, what is still missing, and the description.
    Everything is redacted, personal data included unless ``personal_data=False``."""
    ctx = AskContext.model_validate(context) if isinstance(context, dict) else (context or AskContext())
    files = [a if isinstance(a, Attachment) else Attachment.model_validate(a) for a in (attachments or [])]
    redactions: Counter[str] = Counter()

    def clean(text: str) -> str:
        r = redact(text, personal=personal_data)
        redactions.update(r.counts)
        return r.text

    turns, omitted = _conversation(conversation, clean)
    user_texts = [c for r, c, _ in turns if r == "user"]
    words = classifier_input(user_texts)  # what the classifier and every pattern below read
    logs = _logs(files, clean)
    version, source = _version(ctx, words, logs)
    env = Environment(**parse_user_agent(ctx.user_agent), screen=_short(ctx.screen), locale=_short(ctx.language),
                      time_zone=_short(ctx.time_zone), page_url=_short(ctx.page_url))
    errors = _errors(words, logs, ctx, clean)
    if classifier is None:
        from .priority import PriorityClassifier

        classifier = PriorityClassifier.load()
    verdict = classifier.classify(words)
    if detect_language is None:
        from ..answer.policy import detect_language
    language = detect_language(words)
    suggested = _suggested(turns)
    english = _english_summary(summarize, user_texts)
    return TicketDraft(
        title=_title(user_texts[0]),
        description=_description(user_texts, suggested, omitted),
        already_suggested=list(suggested.values()),
        nectain_version=version,
        version_source=source,
        environment=env,
        logs=logs,
        error_messages=errors,
        attachments=[a.model_copy(update={"content": None}) for a in files],
        priority=verdict.priority,
        priority_rationale=verdict.rationale,
        priority_signals=verdict.signals,
        suggested_priority=verdict.priority,
        language=language,
        needs_translation=language != SUPPORT_LANGUAGE and english is None,
        english_summary=english,
        missing_information=_missing(version, logs, errors, files, env),
        redactions=dict(redactions),
        transcript=[Message(role=r if r in ("user", "assistant") else "user", content=c) for r, c, _ in turns],
        session_id=ctx.session_id,
    )


def _conversation(conversation: Sequence[Message | dict], clean) -> tuple[list[tuple[str, str, list]], int]:
    """The turns a ticket keeps (role, redacted text, citations), and how many were left out."""
    raw = [(r, c, cites) for r, c, cites in (_content(m) for m in conversation) if c.strip()]
    if not any(r == "user" for r, _, _ in raw):
        raise ValueError("conversation: at least one user message is needed to draft a ticket")
    # Bounded before redaction: each turn to MAX_TURN_CHARS, the transcript to MAX_TRANSCRIPT_CHARS.
    raw = [(r, bounded_text(c, MAX_TURN_CHARS), cites) for r, c, cites in raw]
    kept = _turns_kept([len(c) for _, c, _ in raw], [r == "user" for r, _, _ in raw])
    # Each text redacted once (and cut again if redaction made it longer than a Message holds).
    return [(r, clean(c)[:MAX_TURN_CHARS], cites) for r, c, cites in (raw[i] for i in kept)], len(raw) - len(kept)


def _suggested(turns) -> dict[str, Suggestion]:
    """The pages the assistant already cited, by URL (support sees what did not help)."""
    suggested: dict[str, Suggestion] = {}
    for _, _, cites in turns:
        for c in cites:
            url = str(c.get("url", "")) if isinstance(c, dict) else str(getattr(c, "url", ""))
            title = " › ".join(c.get("heading_path") or []) or c.get("title", url) if isinstance(c, dict) else " › ".join(c.heading_path)
            if url:
                suggested.setdefault(url, Suggestion(title=title, url=url))
    return suggested


def _logs(files: list[Attachment], clean) -> list[AttachedLog]:
    """Each attached log bounded (head, tail and every error line) and redacted, within the draft's log budget."""
    logs: list[AttachedLog] = []
    budget = MAX_DRAFT_LOG_CHARS
    for a in files:
        if a.kind != "log" or a.content is None:
            continue
        if budget <= 0:
            logs.append(AttachedLog(name=a.name, text="", total_lines=0, kept_lines=0, error_lines=[],
                                    note=f"not read: a draft reads at most {MAX_DRAFT_LOG_CHARS:,} characters of logs"))
            continue
        # Cut before anything reads it: to the draft's remaining log budget, and each line to MAX_LINE_CHARS.
        capped = cap_log(a.content, budget)
        budget -= min(len(a.content), budget)  # a log that was cut used up the budget
        text = decode_log(capped.encode("utf-8", "surrogatepass"), a.name)  # refuses pasted binary
        cleaned = clean(cap_lines(text))
        bounded: BoundedLog = bound_log(cleaned, max_chars=max(len(cleaned), MAX_DRAFT_LOG_CHARS))  # already cut
        logs.append(AttachedLog(name=a.name, text=bounded.text, total_lines=bounded.total_lines, kept_lines=bounded.kept_lines,
                                error_lines=bounded.error_lines, note=bounded.note))
    return logs


def _version(ctx: AskContext, words: str, logs: list[AttachedLog]) -> tuple[str | None, str | None]:
    """The Nectain version and where it came from: the panel, the conversation, or the logs."""
    if ctx.version:
        return ctx.version, "panel"
    version = find_version(words)
    if version:
        return version, "conversation"
    for log in logs:
        version = find_version(log.text)
        if version:
            return version, "logs"
    return None, None


def _short(value):
    return value[:MAX_ENV_CHARS] if isinstance(value, str) else value


def _errors(words: str, logs: list[AttachedLog], ctx: AskContext, clean) -> list[str]:
    """Error messages from the user's words, the logs' error lines and the page's console, once each."""
    errors = error_messages(words, *(ln for log in logs for ln in log.error_lines))
    for e in list(ctx.console_errors or [])[:MAX_CONSOLE_ERRORS]:
        errors.append(clean(e[:MAX_CONSOLE_ERROR_CHARS])[:300])
    return list(dict.fromkeys(errors))


def _missing(version, logs, errors, files: list[Attachment], env: Environment) -> list[str]:
    """What the Support Center page asks for that the draft does not have yet, with where to find it."""
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
    return missing


def _english_summary(summarize, user_texts: list[str]) -> str | None:
    """With an LLM configured, an English summary for support (a translation when needed), redacted."""
    if summarize is None:
        return None
    try:
        return redact(summarize(user_texts)).text.strip() or None
    except Exception:  # noqa: BLE001 - the model is down: the draft says "needs translation" instead
        return None


def _description(user_texts: list[str], suggested: dict, omitted: int) -> str:
    asked = len(user_texts)
    lines = [f"The user wrote {asked} message{'s' if asked > 1 else ''} to Nectarine."
             + (f" Nectarine suggested {len(suggested)} page{'s' if len(suggested) != 1 else ''} (listed below), which did not resolve it."
                if suggested else " No documentation page resolved it.")]
    if omitted:
        lines.append(f"({omitted:,} earlier message{'s' if omitted > 1 else ''} of a long conversation left out of this ticket.)")
    return ("What the user reports, in their words:\n\n" + "\n\n".join(f"> {t}".replace("\n", "\n> ") for t in user_texts)
            + "\n\nAssistant's summary: " + " ".join(lines))


__all__ = ["Attachment", "TicketDraft", "draft_ticket"]
