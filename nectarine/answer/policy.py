"""When to hand off whatever retrieval finds, which language a message is in, and what is out of scope.

Some messages go to support because no document can fix them (the Support Center's Highest-priority
examples: an outage for everyone, a security breach, data loss, nobody can log in), or because the
user asks for a person. These are rules, not a model: they must fire on a calm one-liner as surely
as on a panicked essay, and never on anger alone.

**Bounded work.** The rules read at most ``MAX_ESCALATION_CHARS`` of a message (its head and its
tail, matched separately), the language detector at most ``MAX_LANGUAGE_CHARS``; every pattern is
linear in what it reads, so a megabyte pasted into a question costs what a long question costs.

>>> escalation("Nobody in the company can log in since 9am")
Escalation(reason='login-all', label='nobody can log in', match='Nobody in the company can log in')
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from .. import signals

# The caps (why each value: one line each). A question from the panel is at most 4,000 characters.
MAX_ESCALATION_CHARS = 8_000  # the rules read the head and tail 4,000 of a message: a whole panel question, and where it ends
MAX_LANGUAGE_CHARS = 4_000  # lingua is as sure after a few hundred characters; its cost grows with the text (~0.7 s per MB)

# The rules, in the order they are tried. Each concept is defined once, in ``nectarine/signals.py``,
# and the ticket priority reads the same compiled patterns, so the two cannot disagree about a message.
RULES: list[tuple[str, str, re.Pattern]] = [
    ("human-request", "asks for a person", signals.HUMAN_REQUEST.regex),
    ("security", "security incident or unauthorised access", signals.SECURITY.regex),
    ("data-loss", "data loss or corruption", signals.DATA_LOSS.regex),
    ("login-all", "nobody can log in", signals.EVERYONE_CANNOT_SIGN_IN.regex),
    ("outage", "outage for everyone", signals.TOTAL_OUTAGE.regex),
]
# "everyone gets AUTH-1003": a documented error, but company-wide, so the documented fix did not fix it.
_COMPANY_WIDE_ERROR = signals.EVERYONE_GETS_ERROR.regex


@dataclass(frozen=True)
class Escalation:
    reason: str
    label: str
    match: str


def _parts(message: str, limit: int = MAX_ESCALATION_CHARS) -> list[str]:
    """The message, or its head and tail halves of ``limit`` (matched apart, so no match spans the cut)."""
    if len(message) <= limit:
        return [message]
    return [message[: limit // 2], message[len(message) - limit // 2:]]


def escalation(message: str) -> Escalation | None:
    """The first handoff rule that a message meets, if any (reading at most ``MAX_ESCALATION_CHARS`` of it)."""
    parts = _parts(message)
    for reason, label, pattern in RULES:
        for part in parts:
            m = pattern.search(part)
            if m:
                return Escalation(reason, label, m.group(0).strip())
    for part in parts:
        m = _COMPANY_WIDE_ERROR.search(part)
        if m:
            return Escalation("outage", "an error that affects everyone", m.group(0).strip())
    return None


# --------------------------------------------------------------------------- language

LANGUAGES = ("ENGLISH", "GERMAN", "FRENCH", "SPANISH", "ITALIAN", "PORTUGUESE", "DUTCH", "POLISH", "RUSSIAN", "UKRAINIAN", "JAPANESE", "CHINESE", "SWEDISH", "TURKISH")


@functools.lru_cache(maxsize=1)
def _detector():
    from lingua import Language, LanguageDetectorBuilder

    return LanguageDetectorBuilder.from_languages(*(getattr(Language, n) for n in LANGUAGES)).build()


# Error codes, paths and pasted log lines say nothing about the user's language. A path is matched
# from the start of its run of non-spaces only: "\S+[/.]\S+" tried from every character of a long
# run rescanned the rest of it each time (quadratic).
_NOT_LANGUAGE = re.compile(r"\b[A-Z]{2,}-\d+\b|(?<!\S)\S+[/\\.]\S+|`[^`]*`")


def detect_language(text: str, default: str = "en") -> str:
    """ISO 639-1 code of the message's language (lingua), from its first ``MAX_LANGUAGE_CHARS``; short or mixed text falls back to English."""
    text = text[:MAX_LANGUAGE_CHARS]
    words = re.findall(r"\w+", text)
    if len(words) < 3 and not re.search(r"[^\x00-\x7f]", text):
        return default
    cleaned = _NOT_LANGUAGE.sub(" ", text)
    confidences = _detector().compute_language_confidence_values(cleaned)
    if not confidences:
        return default
    top, second = confidences[0], confidences[1] if len(confidences) > 1 else None
    if top.language.name != "ENGLISH" and (top.value < 0.35 or (second is not None and top.value < 2 * second.value)):
        return default
    return top.language.iso_code_639_1.name.lower()


SUPPORT_LANGUAGE_NOTE = "English is Nectain's support language, so I answer in English."
