"""What the assistant does with a verified answer: give it, decline it, or give it and recommend support.

A pure function of the signals ``Nectarine.ask`` computed, so every rule is visible in one place and
tested as a table (tests/answer/test_decision.py). The order is the precedence:

1. **out of scope** (nothing in the docs is about it, or the message tries to change the assistant's
   instructions): a fixed reply, no citations, no handoff;
2. **escalation** (an outage for everyone, a security incident, data loss, nobody can sign in, asking
   for a person): the answer stands, and support is recommended whatever the docs say;
3. **nothing verified**: "not found", and support is recommended;
4. **low confidence**: the answer stands, and support is recommended with the reasons;
5. **unsafe evidence** overrides 1, 3 and 4 (and adds to 2): when the passage that matched best asked
   for secrets to be sent or pointed outside the trusted domains and was withheld, and what is left
   cannot answer (or comes from the same page), the reply declines and recommends support.

>>> decide(Signals(text="Sessions end after 30 minutes [1].", confidence=0.9, threshold=0.6)).kind
'answer'
>>> decide(Signals(text="", confidence=0.9, threshold=0.6)).handoff_reason
'no passage answers the question'
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ingest.safety import SEND_SECRET
from .base import NO_ANSWER

NOT_FOUND = NO_ANSWER  # the same words whether the model or the assistant finds nothing
OUT_OF_SCOPE = ("I can only help with Nectain: its features, settings, errors and releases. "
                "This question is outside what Nectain's documentation covers.")
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


@dataclass(frozen=True)
class Verdict:
    kind: str  # answer | out_of_scope | not_found | unsafe
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
        verdict = Verdict("answer", s.text or NOT_FOUND, bool(s.text), s.confidence, True, f"needs support: {s.escalation}", why)
    elif not s.text:
        verdict = Verdict("not_found", NOT_FOUND, False, s.confidence, True, "no passage answers the question", why)
    elif low:
        verdict = Verdict("answer", s.text, True, s.confidence, True, f"low confidence ({s.confidence:.2f}): " + "; ".join(why), why)
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
