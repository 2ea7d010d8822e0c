"""Tickets stored through SQLAlchemy 2 (SQLite by default, PostgreSQL by URL), delivered through an outbox.

A ticket's life: ``draft`` -> ``submitted`` -> ``delivered`` (or ``failed`` after the last retry).
Submission is idempotent: the client sends an idempotency key, and a double click makes one ticket.
Delivery goes through an outbox table, so a ticket submitted while the support system is down waits
in the database (through any number of restarts) and is delivered once it is back.

>>> store = TicketStore("sqlite:///data/nectarine.db")          # doctest: +SKIP
>>> ticket = store.submit(draft, idempotency_key="a1b2c3")       # doctest: +SKIP
>>> store.deliver_due([WebhookSink("https://support.example/hook", secret="...")])  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import uuid
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, create_engine, event, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from .draft import TicketDraft
from ..errors import IdempotencyConflict, StoreError  # noqa: F401 - defined under the one error root
from ..settings import DEFAULT_DATABASE_URL

MIGRATIONS = Path(__file__).with_name("migrations")


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    pass


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


class TurnRow(Base):
    """One question and its answer, redacted, with the user's feedback: what the docs team mines for gaps."""

    __tablename__ = "turns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # What clients see: random, so no one can rate (or find) another session's turn by counting.
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: secrets.token_urlsafe(16))
    session_id: Mapped[str | None] = mapped_column(String(128), index=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float] = mapped_column(Float)
    handoff: Mapped[bool] = mapped_column(Boolean)
    answerer: Mapped[str] = mapped_column(String(32))
    sources: Mapped[list] = mapped_column(JSON)
    language: Mapped[str] = mapped_column(String(8))
    feedback: Mapped[int | None] = mapped_column(Integer, nullable=True)  # +1 thumbs up, -1 thumbs down
    feedback_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now, index=True)


def masked(url: str) -> str:
    """The URL (a database's, Redis's) with any password replaced by ***; never raises, even on a malformed URL."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def migrate(url: str) -> None:
    """Bring the database schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    with _migration_lock(url):
        command.upgrade(cfg, "head")


@contextmanager
def _migration_lock(url: str):
    """One migrating process at a time: service workers start together, and two upgrades of a fresh
    database would both try to create its tables. SQLite: a lock file beside the database;
    PostgreSQL: an advisory lock held on its own connection for the upgrade."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        import fcntl

        with open(f"{parsed.database}.migrate-lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    elif parsed.get_backend_name() == "postgresql":
        from sqlalchemy import text

        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(727274)"))  # "NECTA" on a phone keypad
                try:
                    yield
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(727274)"))
        finally:
            engine.dispose()
    else:
        yield


class TicketStore:
    def __init__(self, url: str = DEFAULT_DATABASE_URL, *, max_attempts: int = 8, backoff_seconds: float = 30.0) -> None:
        self.url = url
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # A ping before each checkout finds PostgreSQL connections the server dropped; SQLite has none to drop.
        self.engine = create_engine(url, pool_pre_ping=parsed.get_backend_name() != "sqlite")
        if parsed.get_backend_name() == "sqlite":
            @event.listens_for(self.engine, "connect")
            def _wal(dbapi_conn, _record):  # readers never wait for the writer
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")  # WAL: a commit no longer waits for fsync; the file stays consistent
                cur.execute("PRAGMA busy_timeout=5000")
                cur.close()
        try:
            with self.engine.connect():
                pass
            migrate(url)
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise StoreError(f"cannot reach the ticket database at {masked(url)}: {reason}. "
                             "Check that the server runs and the URL (NECTARINE_DATABASE_URL) is right") from None

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

    # ------------------------------------------------------------------ conversations
    def record_turn(self, question: str, answer, *, session_id: str | None = None, at: dt.datetime | None = None) -> str:
        """Store a question and its Answer, secrets and personal data redacted first. Returns the turn's
        public id (random; feedback needs it and the session id)."""
        from .redact import redact

        public_id = secrets.token_urlsafe(16)
        row = dict(public_id=public_id, session_id=session_id, question=redact(question, personal=True).text,
                   answer=redact(answer.text, personal=True).text,
                   confidence=float(answer.confidence), handoff=bool(answer.handoff_recommended), answerer=answer.answerer,
                   sources=[{"title": " › ".join(c.heading_path), "url": c.url} for c in answer.citations],
                   language=answer.language, created_at=at or now())
        # One Core INSERT, not an ORM unit of work: this runs on every answer (about 1 ms less each).
        with self.engine.begin() as conn:
            conn.execute(insert(TurnRow), row)
        return public_id

    def record_feedback(self, turn_id: str, helpful: bool, comment: str | None = None, *, session_id: str) -> None:
        """Thumbs up or down on a turn (by its public id), only by the session it belongs to."""
        from .redact import redact

        with Session(self.engine, expire_on_commit=False) as s, s.begin():
            row = s.scalar(select(TurnRow).where(TurnRow.public_id == turn_id))
            if row is None or not session_id or row.session_id != session_id:
                raise KeyError(f"no conversation turn {turn_id} in this session")
            row.feedback = 1 if helpful else -1
            row.feedback_comment = redact(comment[:2000], personal=True).text if comment else None

    def session_turns(self, session_id: str, limit: int = 6) -> list[TurnRow]:
        """The session's last ``limit`` turns, oldest first: the history a follow-up is read with."""
        with Session(self.engine, expire_on_commit=False) as s:
            q = select(TurnRow).where(TurnRow.session_id == session_id).order_by(TurnRow.id.desc()).limit(limit)
            return list(reversed(list(s.scalars(q))))

    def stats(self) -> dict:
        """Counts for the admin dashboard: conversations, feedback, handoffs, tickets by status and priority."""
        from sqlalchemy import func

        with Session(self.engine) as s:
            turns = s.scalar(select(func.count(TurnRow.id))) or 0
            sessions = s.scalar(select(func.count(func.distinct(TurnRow.session_id)))) or 0
            handoffs = s.scalar(select(func.count(TurnRow.id)).where(TurnRow.handoff.is_(True))) or 0
            feedback = dict(s.execute(select(TurnRow.feedback, func.count(TurnRow.id)).where(TurnRow.feedback.is_not(None))
                                      .group_by(TurnRow.feedback)).all())
            by_status = dict(s.execute(select(TicketRow.status, func.count(TicketRow.id)).group_by(TicketRow.status)).all())
            by_priority = dict(s.execute(select(TicketRow.priority, func.count(TicketRow.id)).group_by(TicketRow.priority)).all())
            mean_conf = s.scalar(select(func.avg(TurnRow.confidence)))
        return {"turns": turns, "sessions": sessions, "handoff_rate": round(handoffs / turns, 4) if turns else None,
                "mean_confidence": round(float(mean_conf), 4) if mean_conf is not None else None,
                "feedback": {"helpful": feedback.get(1, 0), "unhelpful": feedback.get(-1, 0)},
                "tickets": {"by_status": by_status, "by_priority": by_priority}}

    def turns(self, since: dt.datetime | None = None, limit: int | None = None) -> list[TurnRow]:
        with Session(self.engine, expire_on_commit=False) as s:
            q = select(TurnRow).order_by(TurnRow.created_at).limit(limit)
            if since is not None:
                q = q.where(TurnRow.created_at >= since)
            return list(s.scalars(q))


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
        from .redact import redact

        def walk(value):
            if isinstance(value, str):
                return redact(value, personal=True).text
            if isinstance(value, list):
                return [walk(v) for v in value]
            if isinstance(value, dict):
                return {k: walk(v) for k, v in value.items()}
            return value

        return walk(draft)
