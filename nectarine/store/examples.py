"""Example questions for the panel's empty state: the questions asked most often that were answered
well, read from the conversation log (read-only).

A question qualifies when several different sessions asked it (so one user's question, which may be
personal, is never shown to others) and every time it was answered confidently, without a handoff or
a thumbs-down. Questions count as the same when they match after case, punctuation and spacing.

>>> from types import SimpleNamespace
>>> log = ConversationLog("sqlite:///data/nectarine.db")
>>> good = SimpleNamespace(text="In the Admin Console.", confidence=0.9, handoff_recommended=False, answerer="offline",
...                        citations=[], language="en")
>>> for session in ("s-1", "s-2", "s-3"):
...     _ = log.record_turn("How do I set up SSO?", good, session_id=session)
>>> _ = log.record_turn("Why is my invoice for Acme wrong?", good, session_id="s-1")  # one session: private
>>> popular_questions(log)
['How do I set up SSO?']
"""

from __future__ import annotations

import re
from collections import defaultdict

from sqlalchemy import select

from .conversations import ConversationLog, TurnRow

MIN_SESSIONS = 3  # asked by at least this many sessions: common, not one person's
MIN_CONFIDENCE = 0.75  # the panel's "Confident" level
MAX_CHARS = 120  # an example is a short question, not a pasted log
RECENT_TURNS = 5000  # the newest turns only: what people ask now, and a bounded read


def _key(question: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", question.casefold()).split())


def popular_questions(log: ConversationLog, *, limit: int = 4, min_sessions: int = MIN_SESSIONS,
                      min_confidence: float = MIN_CONFIDENCE, recent: int = RECENT_TURNS) -> list[str]:
    """The most asked questions that were answered well, most asked first, each in its most used wording."""
    q = (select(TurnRow.question, TurnRow.session_id, TurnRow.confidence, TurnRow.handoff, TurnRow.feedback)
         .order_by(TurnRow.id.desc()).limit(recent))
    with log.engine.connect() as conn:
        rows = conn.execute(q).all()
    sessions: dict[str, set] = defaultdict(set)
    wordings: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    bad: set[str] = set()
    for question, session, confidence, handoff, feedback in rows:
        text = " ".join(question.split())
        key = _key(text)
        if not key or len(text) > MAX_CHARS or "[" in text or not text.isprintable():  # "[": redacted, like [EMAIL]
            continue
        if confidence < min_confidence or handoff or (feedback or 0) < 0:
            bad.add(key)
            continue
        sessions[key].add(session)
        wordings[key][text] += 1
    ranked = sorted((k for k in sessions if k not in bad and len(sessions[k]) >= min_sessions),
                    key=lambda k: (-len(sessions[k]), k))
    return [max(wordings[k].items(), key=lambda kv: (kv[1], kv[0]))[0] for k in ranked[:limit]]
