"""What every answerer shares: one small interface, and lookup by name through entry points.

An answerer turns a question and numbered passages into a draft whose sentences cite the passages
as ``[1]``, ``[2]``... Verification, confidence and handoff happen after it, the same for all.

>>> answerer = get_answerer("offline")
>>> passages = nec.search("How do I rotate the SAML certificate?", k=3)
>>> draft = answerer.answer("How do I rotate the SAML certificate?", passages)
>>> draft.text.splitlines()[0]
'Upload the new IdP signing certificate before the old one expires, or users get `AUTH-1003`. [1]'
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..types import AskContext, Message, SearchResult
from ..errors import AnswererUnavailable  # noqa: F401 - defined under the one error root


@dataclass
class AnswerDraft:
    text: str  # Markdown with [n] markers, n = 1-based position in the passages given
    answerer: str
    notes: list[str] = field(default_factory=list)
    lead: str = ""  # a notice the assistant puts before the verified text (the offline answerer's version gap)
    signals: dict = field(default_factory=dict)  # what the answerer saw, for confidence and evaluation (unit_top, kind)


NO_ANSWER = "I could not find this in Nectain's documentation, blog or release notes."


def draft_from_text(name: str, text: str) -> AnswerDraft:
    """A generated reply as a draft; the model's own "not found" becomes empty, and the assistant says so itself."""
    text = text.strip()
    if not text or text.startswith(NO_ANSWER[:30]):
        return AnswerDraft("", name)
    return AnswerDraft(text, name)


class Answerer(Protocol):
    name: str

    def answer(
        self, question: str, passages: Sequence[SearchResult], *, history: Sequence[Message | dict] = (), context: AskContext | None = None
    ) -> AnswerDraft: ...

    def stream(
        self, question: str, passages: Sequence[SearchResult], *, history: Sequence[Message | dict] = (), context: AskContext | None = None
    ) -> Iterator[str]:
        """Text as it is produced; the default yields the whole answer at once."""
        ...


def get_answerer(name: str, **options) -> Answerer:
    """The answerer installed as ``name`` (entry point group ``nectarine.answerers``), built with ``options``.

    Built-ins (``offline``, ``openai``, ``llamacpp``) and third-party answerers are found the same
    way (:mod:`nectarine.plugins`); an unknown name raises :class:`~nectarine.errors.OptionError`
    listing the installed ones.
    """
    from ..plugins import ANSWERERS, load

    return load(ANSWERERS, name)(**options)
