"""The ticket store on SQLite and on a real PostgreSQL server, idempotent submission, and the outbox
delivering to a real webhook receiver and a real SMTP server on loopback."""

import json
import threading
import uuid

import pytest

from nectarine.handoff.delivery import EmailSink, WebhookSink
from nectarine.handoff.draft import TicketDraft
from nectarine.errors import StoreError
from nectarine.store import TicketStore, masked
from nectarine.store.tickets import scoped_key
from support.postgres import fresh_database
from support.receivers import Inbox, Receiver



@pytest.fixture(scope="session")
def postgres_url():
    with fresh_database("nectarine_test") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'nectarine.db'}"
    return request.getfixturevalue("postgres_url")


def draft(title="Nobody can log in", priority="Highest", session="s-1") -> TicketDraft:
    return TicketDraft(title=title, description="What the user reports", priority=priority, session_id=session)


def test_submit_is_idempotent(store_url):
    store = TicketStore(store_url)
    key = uuid.uuid4().hex
    first = store.submit(draft(), key)
    again = store.submit(draft(), key)  # the double click
    assert again.id == first.id and first.status == "submitted"
    assert [t.id for t in store.list(session_id="s-1") if t.idempotency_key == scoped_key("s-1", key)] == [first.id]
    assert store.get(first.id).draft["title"] == "Nobody can log in"
    assert len(store.outbox(first.id)) == 1


def test_concurrent_double_submit_makes_one_ticket(store_url):
    store = TicketStore(store_url)
    key = uuid.uuid4().hex
    results = []
    threads = [threading.Thread(target=lambda: results.append(store.submit(draft(), key).id)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1


def test_draft_status_and_validation(store_url):
    store = TicketStore(store_url)
    row = store.save_draft(draft(session="s-2"))
    assert store.get(row.id).status == "draft"
    with pytest.raises(ValueError, match="idempotency_key"):
        store.submit(draft(), "")


def test_sqlite_uses_wal(tmp_path):
    store = TicketStore(f"sqlite:///{tmp_path / 'x.db'}")
    with store.engine.connect() as con:
        assert con.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_unreachable_database_names_the_url_with_the_password_masked():
    url = "postgresql+psycopg://nectarine:hunter2@127.0.0.1:1/tickets"
    with pytest.raises(StoreError) as exc:
        TicketStore(url)
    assert "postgresql+psycopg://nectarine:***@127.0.0.1:1/tickets" in str(exc.value) and "hunter2" not in str(exc.value)
    assert masked(url).endswith("@127.0.0.1:1/tickets")


# ---------------------------------------------------------------- delivery


def test_webhook_delivery_survives_a_receiver_outage_and_a_restart(tmp_path):
    url = f"sqlite:///{tmp_path / 'tickets.db'}"
    receiver = Receiver("s3cr3t")
    port = receiver.port
    receiver.stop()  # the support system is down

    store = TicketStore(url, backoff_seconds=0)
    ticket = store.submit(draft(), "key-1", sinks=["webhook"])
    sinks = {"webhook": WebhookSink(f"http://127.0.0.1:{port}/hook", "s3cr3t", timeout=2)}
    assert store.deliver_due(sinks) == 0
    entry = store.outbox(ticket.id)[0]
    assert entry.status == "pending" and entry.attempts == 1 and "Connect" in entry.last_error
    del store  # the process stops

    receiver = Receiver("s3cr3t", port)  # everything comes back
    try:
        restarted = TicketStore(url, backoff_seconds=0)
        assert restarted.deliver_due(sinks) == 1
        assert restarted.deliver_due(sinks) == 0  # delivered once, never again
        assert restarted.get(ticket.id).status == "delivered"
        assert len(receiver.received) == 1 and receiver.received[0][1]["ticket_id"] == ticket.id
    finally:
        receiver.stop()


def test_wrong_signature_secret_is_refused_and_retried_with_backoff(tmp_path):
    receiver = Receiver("right")
    try:
        store = TicketStore(f"sqlite:///{tmp_path / 't.db'}", backoff_seconds=60, max_attempts=2)
        ticket = store.submit(draft(), "k", sinks=["webhook"])
        sinks = {"webhook": WebhookSink(f"http://127.0.0.1:{receiver.port}/hook", "wrong")}
        assert store.deliver_due(sinks) == 0
        first = store.outbox(ticket.id)[0]
        assert "401" in first.last_error
        assert store.deliver_due(sinks) == 0 and store.outbox(ticket.id)[0].attempts == 1  # not due yet: backing off
        store.deliver_due(sinks, at=first.next_attempt_at)
        assert store.outbox(ticket.id)[0].status == "failed" and store.get(ticket.id).status == "failed"
        assert receiver.received == []
    finally:
        receiver.stop()


def test_email_delivery_through_a_real_smtp_server(tmp_path):
    from aiosmtpd.controller import Controller

    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        store = TicketStore(f"sqlite:///{tmp_path / 't.db'}")
        ticket = store.submit(draft(title="Exports fail for the sales team", priority="High"), "mail-1", sinks=["email"])
        sinks = {"email": EmailSink("127.0.0.1", controller.port, "nectarine@example.test", "support@example.test")}
        assert store.deliver_due(sinks) == 1
        (envelope,) = inbox.messages
        text = envelope.content.decode()
        assert envelope.rcpt_tos == ["support@example.test"]
        assert "Subject: [High] Exports fail for the sales team" in text and f"X-Nectarine-Ticket: {ticket.id}" in text
    finally:
        controller.stop()


def test_processes_starting_together_migrate_a_fresh_database_once(tmp_path):
    """Service workers start at the same moment; each opens the store, and a fresh database must come out whole."""
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    code = f"from nectarine.store import TicketStore; TicketStore({url!r})"
    procs = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True) for _ in range(4)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    assert TicketStore(url).list() == []


def test_a_reused_key_is_scoped_to_its_session_and_conflicts_on_other_content(store_url):
    from nectarine.errors import IdempotencyConflict

    store = TicketStore(store_url)
    mine = store.submit(draft(), "same-key")
    theirs = store.submit(draft(session="s-other"), "same-key")
    assert theirs.id != mine.id and theirs.session_id == "s-other"  # never someone else's ticket
    with pytest.raises(IdempotencyConflict, match="new key"):
        store.submit(draft().model_copy(update={"title": "Something else"}), "same-key")
    assert store.get(mine.id).title == "Nobody can log in"


def test_what_is_delivered_is_redacted_again(tmp_path):
    """A draft stored before a detector existed (here: stored without redaction) is redacted on its way out."""
    store = TicketStore(f"sqlite:///{tmp_path / 't.db'}")
    raw = draft(title="Card 4111 1111 1111 1111 declined").model_copy(
        update={"description": "reach me at jane.doe@acme-corp.io or +44 20 7946 0958; aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"})
    ticket = store.submit(raw, "old-1", sinks=["webhook"])
    receiver = Receiver("s")
    try:
        assert store.deliver_due({"webhook": WebhookSink(f"http://127.0.0.1:{receiver.port}/hook", "s")}) == 1
    finally:
        receiver.stop()
    sent = json.dumps(receiver.received[0][1])
    assert receiver.received[0][1]["ticket_id"] == ticket.id
    for secret in ("4111 1111 1111 1111", "jane.doe@acme-corp.io", "7946 0958", "wJalrXUtnFEMI"):
        assert secret not in sent, secret
