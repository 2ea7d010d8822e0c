"""What the assistant does with a verified answer: give it, decline it, or give it and recommend support.

A pure function of the signals ``Nectarine.ask`` computed, so every rule is visible in one place and
tested as a table (tests/answer/test_decision.py). The order is the precedence:

1. **out of scope** (nothing in the docs is about it, or the message tries to change the assistant's
   instructions): a fixed reply, no citations, no handoff;
2. **escalation** (an outage for everyone, a security incident, data loss, nobody can sign in, asking
   for a person): the answer stands, and support is recommended whatever the docs say;
3. **the docs do not cover it** (nothing verified, or confidence below the decline threshold): an
   honest decline in one sentence, what was searched, the closest pages as links (never sentences
   from them), and support is recommended;
4. **low confidence**: the answer stands after one sentence saying it may not answer exactly, and
   support is recommended with the reasons;
5. **unsafe evidence** overrides 1, 3 and 4 (and adds to 2): when the passage that matched best asked
   for secrets to be sent or pointed outside the trusted domains and was withheld, and what is left
   cannot answer (or comes from the same page), the reply declines and recommends support.

>>> decide(Signals(text="Sessions end after 30 minutes [1].", confidence=0.9, threshold=0.6)).kind
'answer'
>>> decide(Signals(text="", confidence=0.9, threshold=0.6)).handoff_reason
'the docs do not cover this question'
>>> print(decline_text(("Google Chat",), (("Slack and Microsoft Teams", "https://docs.nectain.com/how-to/slack-and-teams"),)))
Nectain's documentation does not cover this. I searched the docs, blog and release notes for "Google Chat"; the closest page is [Slack and Microsoft Teams](https://docs.nectain.com/how-to/slack-and-teams), and it does not answer the question. You can send the question to Nectain support with the ticket below.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ingest.safety import SEND_SECRET
from .base import NO_ANSWER

NOT_FOUND = NO_ANSWER  # the same words whether the model or the assistant finds nothing
OUT_OF_SCOPE = ("I can only help with Nectain: its features, settings, errors and releases. "
                "This question is outside what Nectain's documentation covers.")
HEDGE = "The docs may not answer this exactly; here is the closest they come."  # before a low-confidence answer
UNSAFE_SECRETS = ("I can't give advice from the page that matches this question: it asks for credentials or personal data "
                  "to be sent outside Nectain. Please contact Nectain support.")
UNSAFE_CONTACT = ("I can't give advice from the page that matches this question: it sends you to an address outside Nectain. "
                  "Please contact Nectain support.")


@dataclass(frozen=True)
class Signals:
    """What ``ask`` knows once the answer is verified."""

    text: str  # the verified answer ("" when nothing could be verified)
    confidence: float
    threshold: float
    out_of_scope: bool = False
    injection: bool = False  # the message tries to change the assistant's instructions
    escalation: str | None = None  # the label of a message that goes to support whatever the docs say
    reasons: tuple[str, ...] = ()  # why the confidence is what it is, in words
    unsafe: tuple[str, ...] = ()  # categories of the withheld best evidence (nectarine.ingest.safety)
    cites_unsafe_page: bool = False  # the answer cites the rest of a page whose best passage was withheld
    decline_threshold: float = 0.0  # below this, the docs are taken not to cover the question ...
    covered: float | None = None  # ... by this probability (the coverage model's; the confidence when None)
    searched: tuple[str, ...] = ()  # the question's key words, as the user wrote them
    closest: tuple[tuple[str, str], ...] = ()  # (title, url) of the closest pages, for a decline


@dataclass(frozen=True)
class Verdict:
    kind: str  # answer | out_of_scope | not_found (an honest decline) | unsafe
    text: str
    keep_citations: bool
    confidence: float
    handoff: bool
    handoff_reason: str | None = None
    reasons: tuple[str, ...] = field(default=())


def decide(s: Signals) -> Verdict:
    """The reply, its handoff and its confidence, from the signals (see the module docstring for the rules)."""
    low = s.confidence < s.threshold
    why = tuple(s.reasons)
    if s.out_of_scope:
        verdict = Verdict("out_of_scope", OUT_OF_SCOPE, False, min(s.confidence, 0.05), False, None, why)
    elif s.escalation is not None:
        verdict = Verdict("answer", s.text or decline_text(s.searched, s.closest), bool(s.text), s.confidence, True,
                          f"needs support: {s.escalation}", why)
    elif not s.text or (s.confidence if s.covered is None else s.covered) < s.decline_threshold:
        verdict = Verdict("not_found", decline_text(s.searched, s.closest), False, s.confidence, True,
                          "the docs do not cover this question", why)
    elif low:
        verdict = Verdict("answer", f"{HEDGE}\n\n{s.text}", True, s.confidence, True,
                          f"low confidence ({s.confidence:.2f}): " + "; ".join(why), why)
    else:
        verdict = Verdict("answer", s.text, True, s.confidence, False, None, why)
    if s.unsafe and not s.injection and (s.out_of_scope or not s.text or low or s.cites_unsafe_page):
        categories = "; ".join(s.unsafe)
        reason = ("the passage that matches the question is flagged as unsafe (" + categories +
                  ") and was kept out of the answer; support should answer, and the docs team review the page")
        if s.escalation is not None:
            reason = f"needs support: {s.escalation}; {reason}"
        verdict = Verdict("unsafe", UNSAFE_SECRETS if SEND_SECRET in s.unsafe else UNSAFE_CONTACT, False, min(s.confidence, 0.05),
                          True, reason, ("the best-matching passage is flagged as unsafe: " + categories, *why))
    return verdict


def is_notice(sentence: str) -> bool:
    """A sentence the assistant adds itself, uncited: the low-confidence hedge or a version-gap notice."""
    s = " ".join(sentence.split())
    return s == HEDGE or (s.startswith("You are on Nectain ") and "needs Nectain" in s)


def decline_text(searched: tuple[str, ...] = (), closest: tuple[tuple[str, str], ...] = ()) -> str:
    """The honest decline: one plain sentence, what was searched, the closest pages as links, and the ticket."""
    parts = ["Nectain's documentation does not cover this."]
    terms = ", ".join(f'"{_plain(t)}"' for t in searched[:4] if _plain(t))
    pages = [f"[{_plain(title)}]({url})" for title, url in closest[:3] if title and url.startswith(("https://", "http://", "/"))]
    searched_in = "I searched the docs, blog and release notes" + (f" for {terms}" if terms else "")
    if len(pages) == 1:
        parts.append(f"{searched_in}; the closest page is {pages[0]}, and it does not answer the question.")
    elif pages:
        parts.append(f"{searched_in}; the closest pages are {', '.join(pages[:-1])} and {pages[-1]}, and none of them answers the question.")
    else:
        parts.append(searched_in + ".")
    parts.append("You can send the question to Nectain support with the ticket below.")
    return " ".join(parts)


def _plain(text: str) -> str:
    """Words safe to show inside quotes or link text: no brackets, quotes, backticks, stars or line breaks, at most 60 characters."""
    return " ".join(str(text).translate(str.maketrans("", "", '[]()"`<>*\\')).split())[:60]
