"""Follow-up questions: fold the conversation into the retrieval query, without an LLM.

The retriever uses the **gate** (:func:`last_exchange`, :func:`gate_weight`): the last exchange joins
the query with a weight that grows as the question alone gets further from every passage. Measured on
both benchmarks' dev splits (BENCHMARKS.md), it replaced the shape test below (:func:`condense`),
which could not tell a new topic from a follow-up over nine words; the offline answerer still uses
``condense`` to weigh a follow-up's own words.

"and on mobile?" after "how do I set up SSO with Okta" is not searchable on its own. A follow-up is
recognised by its shape (short, opens with a connective, or leans on a pronoun), and the previous
user turns are added to it: to the dense query as a down-weighted second vector, and to the BM25
query as extra terms.

>>> condense("and on mobile?", [{"role": "user", "content": "How do I set up SSO with Okta?"}])
FollowUp(query='and on mobile?', context='How do I set up SSO with Okta?', is_follow_up=True)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..types import Message

_CONNECTIVE = re.compile(
    r"^(and|also|but|or|so|then|ok(ay)?|what about|how about|same for|and what|what if|does that|is that|is it|can i also|"
    r"und|et|y|e|en|i)\b",
    re.I,
)
_PRONOUN = re.compile(r"\b(it|its|that|this|these|those|they|them|there|one|ones|same|such|he|she)\b", re.I)


@dataclass(frozen=True)
class FollowUp:
    query: str
    context: str  # earlier user turns that the query leans on ("" when it stands alone)
    is_follow_up: bool


def _content(m: Message | dict) -> tuple[str, str]:
    if isinstance(m, Message):
        return m.role, m.content
    return str(m.get("role", "")), str(m.get("content", ""))


def condense(query: str, history: Sequence[Message | dict] | None, *, turns: int = 2, max_words: int = 9) -> FollowUp:
    """Decide whether ``query`` is a follow-up and, if so, which earlier turns it needs."""
    user_turns = [c for r, c in (_content(m) for m in (history or [])) if r == "user" and c.strip()]
    if not user_turns:
        return FollowUp(query, "", False)
    words = query.split()
    follow = bool(_CONNECTIVE.match(query.strip())) or len(words) <= max_words and bool(_PRONOUN.search(query)) or len(words) <= 4
    if not follow:
        return FollowUp(query, "", False)
    return FollowUp(query, " ".join(user_turns[-turns:]), True)


_MARKERS = re.compile(r"\s*\[\d{1,3}\]")


def last_exchange(history: Sequence[Message | dict] | None) -> str:
    """The previous user turn and the assistant answer that followed it (citation markers dropped): what a
    follow-up leans on. "" without a user turn.

    >>> last_exchange([{"role": "user", "content": "How do I set up SSO?"}, {"role": "assistant", "content": "Open Security [1]."}])
    'How do I set up SSO? Open Security.'
    """
    turns = [_content(m) for m in (history or [])]
    users = [i for i, (r, c) in enumerate(turns) if r == "user" and c.strip()]
    if not users:
        return ""
    i = users[-1]
    answer = next((c for r, c in turns[i + 1:] if r == "assistant" and c.strip()), "")
    return _MARKERS.sub("", f"{turns[i][1].strip()} {answer.strip()}".strip())


def gate_weight(best_cosine: float, high: float = 0.6, span: float = 0.2) -> float:
    """How much of the last exchange a follow-up takes: none when the question alone already finds a close
    passage (cosine ``high`` or more), all of it when its best passage is ``span`` below that.

    >>> [round(gate_weight(s), 2) for s in (0.7, 0.5, 0.3)]
    [0.0, 0.5, 1.0]
    """
    return float(min(1.0, max(0.0, (high - best_cosine) / span)))
