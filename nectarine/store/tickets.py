"""Tickets, delivered through an outbox.

A ticket's life: ``draft`` -> ``submitted`` -> ``delivered`` (or ``failed`` after the last retry).
Submission is idempotent: the client sends an idempotency key, scoped to its session, and a double
click makes one ticket. Delivery goes through an outbox table, so a ticket submitted while the
support system is down waits in the database (through any number of restarts) and is delivered
once it is back. Drafts are redacted again on the way out.

>>> store = TicketStore("sqlite:///data/nectarine.db")
>>> draft = TicketDraft(title="Nobody can log in", description="AUTH-1003 since 9am", priority="Highest", session_id="s-1")
>>> ticket = store.submit(draft, idempotency_key="a1b2c3", sinks=["webhook"])
>>> store.submit(draft, idempotency_key="a1b2c3", sinks=["webhook"]).id == ticket.id  # a double click makes one ticket
True
>>> class Printer:  # a sink: nectarine.handoff.delivery has WebhookSink(url, secret) and EmailSink
...     def send(self, ticket_id, draft, *, delivery_id):
...         print("delivered:", draft["title"])
>>> store.deliver_due({"webhook": Printer()})
delivered: Nobody can log in
1
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Sequence

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..errors import IdempotencyConflict
from ..handoff.draft import TicketDraft
from ..settings import DEFAULT_DATABASE_URL
from .database import Base, Database, now


class TicketRow(Base):
    __tablename__ = "tickets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True, nullable=True)
    session_id: Mapped[str | None] = mapped_column(String(128), index=True)
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    priority: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(300))
    draft: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # sha256 of the submitted draft: the same idempotency key with other content is a conflict, not a repeat
    request_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)


class OutboxRow(Base):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), index=True)
    sink: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class TicketStore:
    """Tickets and their delivery outbox. Give it a database URL, or a ``Database`` shared with a ``ConversationLog``."""

    def __init__(self, db: Database | str = DEFAULT_DATABASE_URL, *, max_attempts: int = 8, backoff_seconds: float = 30.0) -> None:
        self.db = db if isinstance(db, Database) else Database(db)
        self.url, self.engine = self.db.url, self.db.engine
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds

    # ------------------------------------------------------------------ writing
    def save_draft(self, draft: TicketDraft) -> TicketRow:
        with Session(self.engine, expire_on_commit=False) as s, s.begin():
            row = TicketRow(id=uuid.uuid4().hex, session_id=draft.session_id, status="draft", priority=draft.priority,
                            title=draft.title[:300], draft=draft.model_dump(mode="json"))
            s.add(row)
        return row

    def submit(self, draft: TicketDraft, idempotency_key: str, sinks: Sequence[str] = ("default",)) -> TicketRow:
        """Store a submitted ticket and queue its delivery.

        The key is scoped to the draft's session: the same key with the same content returns the same
        ticket (a double click makes one); the same key with other content raises IdempotencyConflict;
        another session's key never finds this session's ticket."""
        if not idempotency_key or len(idempotency_key) > 128:
            raise ValueError("idempotency_key: send a unique string of 1 to 128 characters per submission")
        key = scoped_key(draft.session_id, idempotency_key)
        content = draft.model_dump(mode="json")
        # What the ticket says, not when its draft was made: a draft rebuilt from the same conversation is a repeat.
        same = {k: v for k, v in content.items() if k != "created_at"}
        digest = hashlib.sha256(json.dumps(same, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        existing = self.by_key(key)
        if existing is not None:
            return _same(existing, digest)
        try:
            with Session(self.engine, expire_on_commit=False) as s, s.begin():
                row = TicketRow(id=uuid.uuid4().hex, idempotency_key=key, session_id=draft.session_id, request_hash=digest,
                                status="submitted", priority=draft.priority, title=draft.title[:300], draft=content)
                s.add(row)
                s.flush()
                for sink in sinks:
                    s.add(OutboxRow(ticket_id=row.id, sink=sink))
        except IntegrityError:  # a concurrent double click won the race: return its ticket
            found = self.by_key(key)
            if found is None:
                raise
            return _same(found, digest)
        return row

    # ------------------------------------------------------------------ reading
    def by_key(self, key: str) -> TicketRow | None:
        with Session(self.engine, expire_on_commit=False) as s:
            return s.scalar(select(TicketRow).where(TicketRow.idempotency_key == key))

    def get(self, ticket_id: str) -> TicketRow | None:
        with Session(self.engine, expire_on_commit=False) as s:
            return s.get(TicketRow, ticket_id)

    def list(self, limit: int = 50, session_id: str | None = None) -> list[TicketRow]:
        with Session(self.engine, expire_on_commit=False) as s:
            q = select(TicketRow).order_by(TicketRow.created_at.desc()).limit(limit)
            if session_id:
                q = q.where(TicketRow.session_id == session_id)
            return list(s.scalars(q))

    def outbox(self, ticket_id: str) -> list[OutboxRow]:
        with Session(self.engine, expire_on_commit=False) as s:
            return list(s.scalars(select(OutboxRow).where(OutboxRow.ticket_id == ticket_id)))

    # ------------------------------------------------------------------ delivery
    def deliver_due(self, sinks: dict, *, at: dt.datetime | None = None) -> int:
        """Try every outbox entry that is due; returns how many were delivered. Safe to call repeatedly."""
        at = at or now()
        delivered = 0
        with Session(self.engine, expire_on_commit=False) as s:
            due = list(s.scalars(select(OutboxRow).where(OutboxRow.status == "pending", OutboxRow.next_attempt_at <= at)
                                 .order_by(OutboxRow.id).with_for_update(skip_locked=True)))
            for entry in due:
                ticket = s.get(TicketRow, entry.ticket_id)
                sink = sinks.get(entry.sink)
                entry.attempts += 1
                try:
                    if sink is None:
                        raise RuntimeError(f"no sink named {entry.sink!r} is configured")
                    sink.send(ticket.id, _redacted(ticket.draft), delivery_id=f"{ticket.id}-{entry.id}")
                except Exception as exc:  # the target is down or refused: retry later with backoff
                    entry.last_error = f"{type(exc).__name__}: {exc}"[:1000]
                    if entry.attempts >= self.max_attempts:
                        entry.status, ticket.status, ticket.last_error = "failed", "failed", entry.last_error
                    else:
                        entry.next_attempt_at = at + dt.timedelta(seconds=self.backoff_seconds * 2 ** (entry.attempts - 1))
                else:
                    entry.status, entry.delivered_at, entry.last_error = "delivered", at, None
                    if all(o.status == "delivered" for o in s.scalars(select(OutboxRow).where(OutboxRow.ticket_id == ticket.id))):
                        ticket.status = "delivered"
                    delivered += 1
                ticket.updated_at = at
                s.commit()  # one entry at a time: a crash never loses a delivery that happened
        return delivered

    def stats(self) -> dict:
        """Tickets by status and by priority."""
        with Session(self.engine) as s:
            by_status = dict(s.execute(select(TicketRow.status, func.count(TicketRow.id)).group_by(TicketRow.status)).all())
            by_priority = dict(s.execute(select(TicketRow.priority, func.count(TicketRow.id)).group_by(TicketRow.priority)).all())
        return {"by_status": by_status, "by_priority": by_priority}


def scoped_key(session_id: str | None, idempotency_key: str) -> str:
    """The stored form of an idempotency key: bound to its session, so keys cannot collide across sessions."""
    return hashlib.sha256(f"{session_id or ''}\x00{idempotency_key}".encode()).hexdigest()


def _same(row: TicketRow, digest: str) -> TicketRow:
    if row.request_hash is not None and row.request_hash != digest:
        raise IdempotencyConflict("this Idempotency-Key was already used for a different ticket in this session; "
                                  "send a new key for a new ticket")
    return row


def _redacted(draft: dict) -> dict:
    """A stored draft redacted once more on its way out (drafts stored before a detector existed included)."""
    from pydantic import ValidationError

    try:
        return TicketDraft.model_validate(draft).redacted().model_dump(mode="json")
    except ValidationError:  # a draft stored by an older version: redact its texts as they are
        from ..handoff.redact import redact

        def walk(value):
            if isinstance(value, str):
                return redact(value, personal=True).text
            if isinstance(value, list):
                return [walk(v) for v in value]
            if isinstance(value, dict):
                return {k: walk(v) for k, v in value.items()}
            return value

        return walk(draft)
