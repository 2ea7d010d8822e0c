"""The conversation log: each question and its answer (redacted), with the user's feedback: what the
docs team mines for coverage gaps. Turns are found by a random public id, and rated only by the
session that asked.

>>> log = ConversationLog(Database("sqlite:///data/nectarine.db"))
>>> answer = nec.ask("how do I rotate the SAML cert?")
>>> turn = log.record_turn("how do I rotate the SAML cert?", answer, session_id="s-1")
>>> log.record_feedback(turn, helpful=True, session_id="s-1")
>>> log.stats()["feedback"]
{'helpful': 1, 'unhelpful': 0}
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, String, Text, func, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..settings import DEFAULT_DATABASE_URL
from .database import Base, Database, now


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
    # For the docs team's console (migration 0004): filters and the decline and latency charts.
    kind: Mapped[str | None] = mapped_column(String(16), nullable=True)  # answer | not_found | out_of_scope | unsafe
    version: Mapped[str | None] = mapped_column(String(32), nullable=True)  # the user's Nectain version
    latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    source_type: Mapped[str | None] = mapped_column(String(16), nullable=True)  # the first citation's


class ConversationLog:
    """Turns and feedback. Give it a database URL, or a ``Database`` shared with a ``TicketStore``."""

    def __init__(self, db: Database | str = DEFAULT_DATABASE_URL) -> None:
        self.db = db if isinstance(db, Database) else Database(db)
        self.engine = self.db.engine

    def record_turn(self, question: str, answer, *, session_id: str | None = None, at: dt.datetime | None = None,
                    version: str | None = None) -> str:
        """Store a question and its Answer, secrets and personal data redacted first. Returns the turn's
        public id (random; feedback needs it and the session id)."""
        from ..handoff.redact import redact

        public_id = secrets.token_urlsafe(16)
        row = dict(public_id=public_id, session_id=session_id, question=redact(question, personal=True).text,
                   answer=redact(answer.text, personal=True).text,
                   confidence=float(answer.confidence), handoff=bool(answer.handoff_recommended), answerer=answer.answerer,
                   sources=[{"title": " › ".join(c.heading_path), "url": c.url} for c in answer.citations],
                   language=answer.language, created_at=at or now(), kind=getattr(answer, "kind", None), version=version,
                   latency_ms=(getattr(answer, "timings_ms", None) or {}).get("total"),
                   source_type=answer.citations[0].source.value if answer.citations else None)
        # One Core INSERT, not an ORM unit of work: this runs on every answer (about 1 ms less each).
        with self.engine.begin() as conn:
            conn.execute(insert(TurnRow), row)
        return public_id

    def record_feedback(self, turn_id: str, helpful: bool, comment: str | None = None, *, session_id: str) -> None:
        """Thumbs up or down on a turn (by its public id), only by the session it belongs to."""
        from ..handoff.redact import redact

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
        """Counts for the admin dashboard: turns, sessions, handoff rate, mean confidence, feedback."""
        with Session(self.engine) as s:
            turns = s.scalar(select(func.count(TurnRow.id))) or 0
            sessions = s.scalar(select(func.count(func.distinct(TurnRow.session_id)))) or 0
            handoffs = s.scalar(select(func.count(TurnRow.id)).where(TurnRow.handoff.is_(True))) or 0
            feedback = dict(s.execute(select(TurnRow.feedback, func.count(TurnRow.id)).where(TurnRow.feedback.is_not(None))
                                      .group_by(TurnRow.feedback)).all())
            mean_conf = s.scalar(select(func.avg(TurnRow.confidence)))
        return {"turns": turns, "sessions": sessions, "handoff_rate": round(handoffs / turns, 4) if turns else None,
                "mean_confidence": round(float(mean_conf), 4) if mean_conf is not None else None,
                "feedback": {"helpful": feedback.get(1, 0), "unhelpful": feedback.get(-1, 0)}}

    def turns(self, since: dt.datetime | None = None, limit: int | None = None) -> list[TurnRow]:
        with Session(self.engine, expire_on_commit=False) as s:
            q = select(TurnRow).order_by(TurnRow.created_at).limit(limit)
            if since is not None:
                q = q.where(TurnRow.created_at >= since)
            return list(s.scalars(q))
