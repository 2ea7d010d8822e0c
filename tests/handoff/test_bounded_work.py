"""Bounded work in ticket drafting and escalation: huge inputs are capped before any costly step reads them.

No timings here (scripts/bench_draft_worst_case.py measures them): each test shows that what reaches
the classifier, the patterns and the caches is bounded, and that the draft is still right.
"""

from __future__ import annotations

import random

import pytest

from nectarine.answer import policy
from nectarine.handoff import logs as logs_module
from nectarine.handoff.draft import (
    MAX_DRAFT_LOG_CHARS,
    MAX_TURN_CHARS,
    Attachment,
    classifier_input,
    draft_ticket,
    parse_user_agent,
)
from nectarine.handoff.logs import MAX_IMPORTANT_LINES, bound_log, cap_log, error_messages
from nectarine.handoff.priority import (
    EMBEDDING_CACHE_SIZE,
    MAX_CLASSIFIER_CHARS,
    LRUCache,
    PriorityClassifier,
    bounded_text,
    signals,
)
from nectarine.types import AskContext

MB = 1_000_000
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36"
WORDS = "the export of our sales report opens the dashboard page and we click save again today".split()


@pytest.fixture(scope="module")
def classifier():
    return PriorityClassifier.load()


class Recording:
    """The real classifier, remembering what it was given."""

    def __init__(self, inner):
        self.inner, self.texts = inner, []

    def classify(self, text):
        self.texts.append(text)
        return self.inner.classify(text)


def _filler(chars: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(chars // 5))[:chars]


def _huge_log() -> tuple[str, int]:
    lines = [f"2026-11-20 09:{(i // 60) % 60:02}:{i % 60:02} INFO  http  GET /api/v2/forms 200 12ms req_{i:08x}" for i in range(2 * MB // 60)]
    lines[3] = "2026-11-20 09:00:03 ERROR auth AUTH-1003 SSO assertion could not be validated."
    lines[len(lines) // 2] = "2026-11-20 09:30:00 ERROR wf WF-3003 lost in the middle, which the draft does not read"
    lines[-2] = "2026-11-20 10:59:58 ERROR report REP-5040 The report query took longer than 120 seconds and was cancelled."
    text = "\n".join(lines)
    assert len(text) > 2 * MB
    return text, len(lines)


def test_huge_draft_is_bounded_and_sane(classifier):
    message = "Since 9am nobody in the company can log in, we get AUTH-1003. " + _filler(2 * MB) + " Still broken after the upgrade to 4.3.1."
    log, log_lines = _huge_log()
    ctx = AskContext.model_construct(user_agent=(UA + " ") * (100_000 // (len(UA) + 1)), console_errors=["Uncaught TypeError " * 10_000] * 500)
    rec = Recording(classifier)
    draft = draft_ticket([{"role": "user", "content": message}], ctx, [Attachment(name="client.log", kind="log", content=log), Attachment(name="more.log", kind="log", content="ERROR x\n" * 100)],
                         classifier=rec, detect_language=policy.detect_language)

    # The classifier read the capped user words, through the capping function itself, never the logs.
    assert len(rec.texts) == 1 and len(rec.texts[0]) <= MAX_CLASSIFIER_CHARS
    turn = bounded_text(message, MAX_TURN_CHARS)
    assert rec.texts[0] == classifier_input([turn])
    assert "AUTH-1003" in rec.texts[0] and "INFO  http" not in rec.texts[0]
    # The draft: a priority, the start of the message, a bounded description and transcript.
    assert draft.priority in ("Highest", "High", "Normal", "Low") and draft.priority_rationale
    assert draft.title.startswith("Since 9am nobody in the company can log in")
    assert len(draft.transcript) == 1 and len(draft.transcript[0].content) <= MAX_TURN_CHARS
    assert "upgrade to 4.3.1" in draft.transcript[0].content  # the tail of a long message is kept too
    assert draft.nectain_version == "4.3.1" and draft.language == "en"
    assert len(draft.description) < 2 * MAX_TURN_CHARS
    # The log: bounded, honest about what was cut, error lines from its head and tail kept.
    attached, unread = draft.logs
    assert unread.name == "more.log" and not unread.text and f"{MAX_DRAFT_LOG_CHARS:,} characters" in unread.note  # past the budget
    assert attached.total_lines == log_lines
    assert attached.kept_lines < 500 and len(attached.text) < 100_000
    assert "cut unread" not in attached.text and "characters in the middle were not read" in attached.note
    assert any("AUTH-1003 SSO assertion" in ln for ln in attached.error_lines)
    assert any("REP-5040 The report query" in ln for ln in attached.error_lines)
    assert "REP-5040 The report query" in attached.text and "WF-3003" not in attached.text
    assert {"AUTH-1003", "REP-5040"} <= set(draft.error_messages)
    # The environment: parsed from the user agent's first 512 characters.
    assert draft.environment.browser == "Chrome" and len(draft.environment.user_agent) <= 512
    # Console errors: at most 50, each short.
    assert len(draft.error_messages) <= 100 and all(len(e) <= 300 for e in draft.error_messages)


def test_every_cap_holds_on_its_own():
    huge = "100 " * (MB // 4)  # the headcount pattern's old quadratic case
    assert len(bounded_text(huge)) <= MAX_CLASSIFIER_CHARS
    assert signals(huge)["headcount_log"] == 0.0
    assert signals("7" * 10_000 + " users")["headcount_log"] == pytest.approx(12.0)  # no int() of 10,000 digits
    assert signals("We have 1,200 users and none can log in")["headcount_log"] == pytest.approx(3.0795, abs=1e-3)
    assert classifier_input(["a" * MB, "b" * MB]).startswith("a") and classifier_input(["a" * MB, "b" * MB]).endswith("b")
    assert len(classifier_input(["a" * MB, "b" * MB])) <= MAX_CLASSIFIER_CHARS
    assert len(parse_user_agent(UA * 1000)["user_agent"]) <= 512
    capped = cap_log("x\n" * MB, 10_000)
    assert len(capped) < 10_100 and "cut unread" in capped
    assert len(error_messages(" ".join(f"AUTH-{i:04d}" for i in range(5_000)))) == logs_module.MAX_ERROR_MESSAGES


def test_a_log_of_only_errors_stays_bounded():
    log = "\n".join(f"2026-11-20 10:00:00 ERROR auth AUTH-1003 failure number {i}" for i in range(20_000))
    bounded = bound_log(log)
    assert bounded.total_lines == 20_000 and bounded.kept_lines <= 60 + 120 + MAX_IMPORTANT_LINES
    assert bounded.error_lines[0].endswith("number 0") and bounded.error_lines[-1].endswith("number 19999")
    assert len(bounded.error_lines) == logs_module.MAX_ERROR_LINES
    assert "first and last" in bounded.note


def test_a_private_key_is_never_cut_in_half():
    key = "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(f"MIIEowIBAAKCAQEA7v1{i:04d}" for i in range(50)) + "\n-----END RSA PRIVATE KEY-----\n"
    line = "INFO ok\n"  # 8 characters: with a cap of 100,000 the head ends at line 2,500, the tail starts 80,000 from the end
    layouts = [(before, 20_000) for before in range(2_350, 2_520, 15)] + [(30_000, after) for after in range(9_850, 10_010, 15)]
    for before, after in layouts:
        capped = cap_log(line * before + key + line * after, 100_000)
        head, marker, tail = capped.partition("cut unread")
        assert marker
        for part in (head, tail):
            assert part.count("BEGIN RSA") == part.count("END RSA"), (before, after)
            assert ("MIIEowIBAAKCAQEA7v1" in part) == ("BEGIN RSA" in part), (before, after)


def test_lru_stays_at_maxsize_after_many_distinct_drafts(classifier, monkeypatch):
    assert PriorityClassifier._embeddings.maxsize == EMBEDDING_CACHE_SIZE
    small = LRUCache(maxsize=4)
    monkeypatch.setattr(PriorityClassifier, "_embeddings", small)
    texts = [f"Ticket {i}: the {random.Random(i).choice(WORDS)} button does nothing for me" for i in range(12)]
    for i, text in enumerate(texts):
        draft = draft_ticket([{"role": "user", "content": text + " " + "x" * (50_000 * (i % 2))}], classifier=classifier,
                             detect_language=lambda _: "en")
        assert draft.priority
        assert len(small) == min(i + 1, 4)
    assert all(len(digest) == 16 for _, digest in small._data)  # keyed by a digest, not the text: bytes per entry are bounded
    # The first draft's embedding was evicted: classifying it again adds it back and evicts the oldest...
    before = set(small._data)
    classifier.classify(texts[0])
    after = set(small._data)
    assert len(after) == 4 and len(after - before) == 1
    # ... and a second time it is a hit: nothing changes.
    classifier.classify(texts[0])
    assert set(small._data) == after
    with pytest.raises(ValueError):
        LRUCache(0)


def test_escalation_on_a_megabyte_question_returns():
    filler = _filler(MB, seed=1)
    assert policy.escalation(filler) is None
    tail = policy.escalation(filler + " Since this morning nobody can log in at all.")
    assert tail is not None and tail.reason == "login-all"
    head = policy.escalation("We were hacked: someone logged in as our CFO. " + filler)
    assert head is not None and head.reason == "security"
    assert policy.escalation("everyone " * (MB // 9)) is None
    assert policy.escalation("x" * MB) is None
    assert policy.detect_language(filler) == "en"
    assert policy.detect_language("y" * MB + "/" + "z" * MB) == "en"
    assert len(policy._parts("a" * MB)[0]) + len(policy._parts("a" * MB)[1]) == policy.MAX_ESCALATION_CHARS


def test_in_process_ask_refuses_a_question_past_its_limit(nec):
    from nectarine.errors import InputTooLarge, NectarineError
    from pydantic import ValidationError

    with pytest.raises(InputTooLarge, match="at most 4,000"):
        nec.ask("why " * 300_000)
    assert issubclass(InputTooLarge, NectarineError)
    with pytest.raises(ValidationError, match="8000"):  # history turns are bounded by the Message schema
        nec.ask("and then?", history=[{"role": "user", "content": "x" * 9000}])
