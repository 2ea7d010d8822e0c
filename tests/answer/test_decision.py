"""The handoff decision as a table: each row is one rule of nectarine.answer.decision, and its precedence."""

import pytest

from nectarine.answer.decision import HEDGE, OUT_OF_SCOPE, UNSAFE_CONTACT, UNSAFE_SECRETS, Signals, decide, decline_text
from nectarine.ingest.safety import OUTSIDE, SEND_SECRET

TEXT = "Idle sessions end after 30 minutes [1]."
HEDGED = f"{HEDGE}\n\n{TEXT}"  # a low-confidence answer says first that it may not answer exactly
DECLINE = decline_text()  # "Nectain's documentation does not cover this. ..."
ROWS = [
    # signals                                                                   kind           text          cites  handoff  reason starts
    (dict(),                                                                     "answer",      TEXT,         True,  False,   None),
    (dict(confidence=0.4),                                                       "answer",      HEDGED,       True,  True,    "low confidence (0.40)"),
    (dict(text=""),                                                              "not_found",   DECLINE,      False, True,    "the docs do not cover"),
    (dict(confidence=0.2, decline_threshold=0.3),                                "not_found",   DECLINE,      False, True,    "the docs do not cover"),
    (dict(confidence=0.35, decline_threshold=0.3),                               "answer",      HEDGED,       True,  True,    "low confidence (0.35)"),
    (dict(confidence=0.35, decline_threshold=0.3, covered=0.2),                  "not_found",   DECLINE,      False, True,    "the docs do not cover"),
    (dict(confidence=0.2, decline_threshold=0.3, covered=0.5),                   "answer",      HEDGED,       True,  True,    "low confidence (0.20)"),
    (dict(out_of_scope=True),                                                    "out_of_scope", OUT_OF_SCOPE, False, False,   None),
    (dict(out_of_scope=True, confidence=0.9),                                    "out_of_scope", OUT_OF_SCOPE, False, False,   None),
    (dict(escalation="security incident"),                                       "answer",      TEXT,         True,  True,    "needs support: security incident"),
    (dict(escalation="data loss", text=""),                                      "answer",      DECLINE,      False, True,    "needs support: data loss"),
    (dict(escalation="data loss", confidence=0.1, decline_threshold=0.3),        "answer",      TEXT,         True,  True,    "needs support: data loss"),
    (dict(escalation="data loss", confidence=0.1),                               "answer",      TEXT,         True,  True,    "needs support: data loss"),
    # Unsafe evidence: declines when what is left cannot answer, or comes from the same page...
    (dict(unsafe=(SEND_SECRET,), text=""),                                       "unsafe",      UNSAFE_SECRETS, False, True,  "the passage that matches"),
    (dict(unsafe=(OUTSIDE,), confidence=0.3),                                    "unsafe",      UNSAFE_CONTACT, False, True,  "the passage that matches"),
    (dict(unsafe=(SEND_SECRET,), cites_unsafe_page=True),                        "unsafe",      UNSAFE_SECRETS, False, True,  "the passage that matches"),
    (dict(unsafe=(OUTSIDE,), out_of_scope=True),                                 "unsafe",      UNSAFE_CONTACT, False, True,  "the passage that matches"),
    (dict(unsafe=(SEND_SECRET,), escalation="security incident", text=""),       "unsafe",      UNSAFE_SECRETS, False, True,  "needs support: security incident; the passage"),
    # ...but not when a confident answer from other pages stands, nor for an injection attempt.
    (dict(unsafe=(SEND_SECRET,)),                                                "answer",      TEXT,         True,  False,   None),
    (dict(unsafe=(SEND_SECRET,), injection=True, out_of_scope=True),             "out_of_scope", OUT_OF_SCOPE, False, False,   None),
]


@pytest.mark.parametrize("changes,kind,text,cites,handoff,reason", ROWS)
def test_decision_table(changes, kind, text, cites, handoff, reason):
    signals = Signals(**{"text": TEXT, "confidence": 0.9, "threshold": 0.6, "reasons": ("the passages cover the question",), **changes})
    verdict = decide(signals)
    assert (verdict.kind, verdict.text, verdict.keep_citations, verdict.handoff) == (kind, text, cites, handoff)
    if reason is None:
        assert verdict.handoff_reason is None
    else:
        assert verdict.handoff_reason.startswith(reason)
    if kind in ("out_of_scope", "unsafe"):
        assert verdict.confidence <= 0.05
    else:
        assert verdict.confidence == signals.confidence


def test_unsafe_reasons_come_first_for_the_user():
    verdict = decide(Signals(text="", confidence=0.2, threshold=0.6, reasons=("few passages match",), unsafe=(SEND_SECRET,)))
    assert verdict.reasons[0].startswith("the best-matching passage is flagged as unsafe") and verdict.reasons[1] == "few passages match"


def test_decline_names_what_was_searched_and_links_the_closest_pages():
    verdict = decide(Signals(text=TEXT, confidence=0.1, threshold=0.6, decline_threshold=0.3, searched=("Google Chat", "webhook"),
                             closest=(("Slack and Microsoft Teams", "https://docs.nectain.com/how-to/slack-and-teams"),
                                      ("Webhooks", "https://docs.nectain.com/how-to/webhooks"))))
    assert verdict.kind == "not_found" and verdict.handoff and not verdict.keep_citations
    first, _, rest = verdict.text.partition(". ")
    assert first == "Nectain's documentation does not cover this"  # one plain sentence first
    assert '"Google Chat", "webhook"' in rest
    assert "[Slack and Microsoft Teams](https://docs.nectain.com/how-to/slack-and-teams)" in rest and "[Webhooks](" in rest
    assert "ticket" in rest and "30 minutes" not in verdict.text  # links, never sentences from the pages


def test_decline_text_cannot_be_turned_into_markup_by_the_question():
    text = decline_text(('x"](javascript:alert(1))', "<img src=x>"), (("T]( javascript:x", "javascript:alert(1)"),))
    assert "<img" not in text and "](" not in text and "(javascript" not in text  # words stay words; the script URL is no link
