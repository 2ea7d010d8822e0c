"""Handoff: redaction, bounded logs, the ticket draft and the priority classifier."""

import pytest
from pydantic import ValidationError

from nectarine.handoff.draft import Attachment, TicketDraft, draft_ticket, parse_user_agent
from nectarine.handoff.logs import LogError, bound_log, decode_log, error_messages
from nectarine.handoff.priority import PriorityClassifier, signals
from nectarine.handoff.redact import redact
from nectarine.types import OptionError

LOG_SAMPLE = """2026-11-20 09:14:01 INFO  http  GET /api/v2/forms 200 12ms req_8f2a
2026-11-20 09:14:02 DEBUG db    pool checkout conn=postgresql://nectain:S3cr3t!pw@db.internal:5432/nectain
2026-11-20 09:14:03 INFO  auth  Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlLXNpZw
2026-11-20 09:14:03 WARN  http  Cookie: nct_session=8b1f0c9d2e3a4f5b6c7d; theme=dark
2026-11-20 09:14:04 ERROR auth  AUTH-1003 SSO assertion could not be validated. client_secret=Zm9vYmFyYmF6cXV4 user=ana@example.com
2026-11-20 09:14:05 INFO  cfg   loaded smtp password: hunter2  api_key=sk_live_51HxAbCdEfGhIjKlMnOp
-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEA7v1
-----END RSA PRIVATE KEY-----
"""


def test_redaction_on_a_realistic_log():
    r = redact(LOG_SAMPLE)
    for secret in ("S3cr3t!pw", "eyJhbGciOiJIUzI1NiJ9", "8b1f0c9d2e3a4f5b6c7d", "Zm9vYmFyYmF6cXV4", "hunter2", "sk_live_51HxAbCdEfGhIjKlMnOp", "MIIEowIBAAKCAQEA7v1"):
        assert secret not in r.text, secret
    # Personal data is redacted by default too: everything stored and delivered goes through here.
    assert r.counts == {"connection-string": 1, "bearer-token": 1, "cookie": 1, "api-key": 2, "password": 1, "private-key": 1, "email": 1}
    assert "postgresql://nectain:[REDACTED:connection-string]@db.internal" in r.text
    assert "AUTH-1003 SSO assertion could not be validated." in r.text  # what support needs stays
    assert "ana@example.com" not in r.text
    secrets_only = redact(LOG_SAMPLE, personal=False)
    assert "ana@example.com" in secrets_only.text and "email" not in secrets_only.counts
    personal = redact(LOG_SAMPLE + "call me on +49 30 1234567")
    assert personal.counts["email"] == 1 and personal.counts["phone"] == 1


def test_redaction_is_idempotent():
    once = redact(LOG_SAMPLE)
    twice = redact(once.text)
    assert twice.text == once.text and twice.counts == {}


def test_bounded_log_keeps_head_tail_and_every_error():
    lines = [f"2026-11-20 09:00:{i % 60:02} INFO ok {i}" for i in range(100_000)]
    lines[50_000] = "2026-11-20 10:00:00 ERROR WorkflowEngine WF-3003 No assignee could be resolved for step Approve."
    lines[50_001] = "    at com.nectain.wf.Engine.assign(Engine.java:211)"
    lines[70_000] = 'Traceback (most recent call last):'
    log = bound_log("\n".join(lines), max_lines=400)
    assert log.total_lines == 100_000 and log.kept_lines < 400
    assert "WF-3003 No assignee" in log.text and "Engine.java:211" in log.text and "Traceback" in log.text
    assert log.text.startswith("2026-11-20 09:00:00 INFO ok 0") and log.text.endswith("INFO ok 99999")
    assert "lines cut …" in log.text and "kept" in log.note
    assert sum(int(x.replace(",", "")) for x in __import__("re").findall(r"… ([\d,]+) lines? cut", log.text)) == log.cut_lines


def test_binary_and_undecodable_logs_get_a_clear_error():
    with pytest.raises(LogError, match="binary"):
        decode_log(b"\x89PNG\x00\x00data", "shot.png")
    with pytest.raises(LogError, match="not UTF-8"):
        decode_log("café au lait".encode("latin-1"), "weird.log")


def test_error_messages_are_exact():
    found = error_messages('We get AUTH-1002 "Your account is temporarily locked. Try again in 15 minutes." and a 429 RATE_LIMITED')
    assert found == ["AUTH-1002", "RATE_LIMITED", "Your account is temporarily locked. Try again in 15 minutes."]


def test_user_agent_is_parsed():
    env = parse_user_agent("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15")
    assert env["browser"] == "Safari" and env["browser_version"].startswith("17.5") and env["os"] == "Mac OS X"


# ---------------------------------------------------------------- priority


@pytest.fixture(scope="module")
def classifier():
    return PriorityClassifier.load()


@pytest.mark.parametrize(
    ("text", "priority"),
    [
        ("Hi, just so you know: since this morning nobody in our company can log in. Thanks.", "Highest"),
        ("URGENT!!!!! THE SAVE BUTTON IS 2 PIXELS OFF ON THE EXPENSE FORM. FIX IT NOW!!!", "Low"),
        ("I can't submit the payroll approval and the bank deadline is in two hours; everyone else seems fine.", "High"),
        ("Someone logged in as our CFO from an IP in another country and exported the customer list.", "Highest"),
        ("Could you add a dark mode? Would be nice to have.", "Low"),
        ("Alle Mitarbeiter können sich seit heute früh nicht mehr anmelden, Nectain ist nicht erreichbar.", "Highest"),
    ],
)
def test_priority_hard_cases(classifier, text, priority):
    verdict = classifier.classify(text)
    assert verdict.priority == priority, verdict.rationale
    assert verdict.closest_example and verdict.rationale.startswith(priority)


def test_signals_ignore_tone():
    calm, angry = signals("The typo on the login page says 'Pasword'."), signals("URGENT!!! THE TYPO ON THE LOGIN PAGE SAYS 'PASWORD'!!!")
    assert calm == angry


# ---------------------------------------------------------------- the draft


def test_draft_holds_what_the_support_page_asks_for(classifier):
    ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36"
    draft = draft_ticket(
        [{"role": "user", "content": 'Since the upgrade to 4.3.0 the CSV export of our sales report fails with "The report query took longer than 120 seconds and was cancelled." (REP-5040) for the whole sales team.'},
         {"role": "assistant", "content": "Export to XLSX instead [1].", "citations": [{"title": "Performance", "url": "https://docs.nectain.com/troubleshooting/performance#rep-5040"}]},
         {"role": "user", "content": "XLSX is not an option, my token=abcdef0123456789 if you need it. Can I talk to a human?"}],
        {"user_agent": ua, "session_id": "sess-1", "screen": "1920x1080", "time_zone": "Europe/Berlin", "language": "en-GB",
         "console_errors": ["Uncaught TypeError: Cannot read properties of undefined (reading 'rows')"]},
        [Attachment(name="client.log", kind="log", content=LOG_SAMPLE)],
        classifier=classifier,
    )
    assert draft.title.startswith("Since the upgrade to 4.3.0 the CSV export")
    assert draft.nectain_version == "4.3.0" and draft.version_source == "conversation"
    assert draft.environment.browser == "Chrome" and draft.environment.os == "Windows" and draft.environment.time_zone == "Europe/Berlin"
    assert "REP-5040" in draft.error_messages and "The report query took longer than 120 seconds and was cancelled." in draft.error_messages
    assert any("Cannot read properties" in e for e in draft.error_messages)
    assert draft.already_suggested[0].url.endswith("#rep-5040")
    assert draft.priority in ("High", "Highest") and draft.priority_rationale
    assert draft.expected_first_response == "within 24 hours" and draft.language == "en" and not draft.needs_translation
    assert draft.missing_information == ["screenshots"]
    assert "abcdef0123456789" not in draft.model_dump_json() and "hunter2" not in draft.model_dump_json()
    assert draft.redactions["api-key"] >= 2 and draft.redactions["password"] == 1
    assert draft.session_id == "sess-1" and len(draft.transcript) == 3
    assert draft.logs[0].error_lines and draft.attachments[0].content is None  # the raw log is not kept


def test_user_can_change_priority_and_the_draft_records_it(classifier):
    draft = draft_ticket([{"role": "user", "content": "There is a typo on the dashboard title."}], classifier=classifier)
    assert draft.priority == "Low" and draft.priority_set_by == "assistant"
    changed = draft.with_priority("normal")
    assert changed.priority == "Normal" and changed.priority_set_by == "user" and changed.suggested_priority == "Low"
    with pytest.raises(OptionError, match="choose one of: Highest, High, Normal, Low"):
        draft.with_priority("P1")


def test_non_english_draft_is_flagged_for_translation(classifier):
    draft = draft_ticket([{"role": "user", "content": "Seit dem Update auf 4.6.0 stürzt die App bei allen Außendienstmitarbeitern ständig ab."}], classifier=classifier)
    assert draft.language == "de" and draft.needs_translation
    assert "Nectain version" not in " ".join(draft.missing_information)


def test_invalid_draft_input_names_the_field(classifier):
    with pytest.raises(ValueError, match="at least one user message"):
        draft_ticket([{"role": "assistant", "content": "hi"}], classifier=classifier)
    with pytest.raises(ValidationError, match="kind"):
        Attachment(name="x", kind="video")
    with pytest.raises(ValidationError, match="priority"):
        TicketDraft(title="t", description="d", priority="urgent")
