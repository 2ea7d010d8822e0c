"""The handoff decision as a table: each row is one rule of nectarine.answer.decision, and its precedence."""

import pytest

from nectarine.answer.decision import NOT_FOUND, OUT_OF_SCOPE, UNSAFE_CONTACT, UNSAFE_SECRETS, Signals, decide
from nectarine.ingest.safety import OUTSIDE, SEND_SECRET

TEXT = "Idle sessions end after 30 minutes [1]."
ROWS = [
    # signals                                                                   kind           text          cites  handoff  reason starts
    (dict(),                                                                     "answer",      TEXT,         True,  False,   None),
    (dict(confidence=0.4),                                                       "answer",      TEXT,         True,  True,    "low confidence (0.40)"),
    (dict(text=""),                                                              "not_found",   NOT_FOUND,    False, True,    "no passage answers"),
    (dict(out_of_scope=True),                                                    "out_of_scope", OUT_OF_SCOPE, False, False,   None),
    (dict(out_of_scope=True, confidence=0.9),                                    "out_of_scope", OUT_OF_SCOPE, False, False,   None),
    (dict(escalation="security incident"),                                       "answer",      TEXT,         True,  True,    "needs support: security incident"),
    (dict(escalation="data loss", text=""),                                      "answer",      NOT_FOUND,    False, True,    "needs support: data loss"),
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
