"""What the docs team's console shows, computed by the database: SQL aggregates over turns, tickets and
reviews, the same on SQLite and PostgreSQL. Nothing here reads every turn into Python: each query
groups in SQL (by day, by question, by cited section, by latency bucket) and returns at most a few
thousand rows, which Python only reshapes.

Definitions (one place, so the charts and the tests agree):

- **question**: one stored turn;
- **deflected**: answered (not declined), not handed off, and its session filed no ticket;
- **handoff**: the answer recommended a ticket; **decline**: the docs did not cover it (``kind = not_found``);
- **latency p50/p95**: nearest rank over 10 ms buckets (the figure is the bucket's upper edge, so at
  most 10 ms above the exact value);
- **gap turn**: declined, confidence under the threshold, handed off, thumbs down, or its session filed a ticket.

Turns stored before the console's columns (``kind``, ``version``, ``latency_ms``, ``source_type``)
existed count in every total, and match no filter on those columns.
"""

from __future__ import annotations

import datetime as dt
import math
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text, and_, case, column, exists, func, literal, or_, select, table, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

from .database import Base, Database, now
from .tickets import OutboxRow, TicketRow

GAP_CONFIDENCE = 0.5  # the `gaps` command's default threshold
DECLINES = ("not_found",)
LATENCY_BUCKET_MS = 10

# The turns table as the console reads it: the ORM model (conversations.TurnRow) predates the console's columns.
turns = table("turns", column("id", Integer), column("public_id", String), column("session_id", String), column("question", Text),
              column("answer", Text), column("confidence", Float), column("handoff"), column("answerer", String),
              column("sources", JSON), column("language", String), column("feedback", Integer), column("feedback_comment", Text),
              column("created_at", DateTime(timezone=True)), column("kind", String), column("version", String),
              column("latency_ms", Float), column("source_type", String))
tickets = TicketRow.__table__
outbox = OutboxRow.__table__


class ReviewRow(Base):
    """A reviewer's verdict on one answer, with the reference answer, its nuggets and the sections that
    answer it: one question of the evaluation set grown from real traffic."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    turn_id: Mapped[int] = mapped_column(ForeignKey("turns.id", ondelete="CASCADE"), unique=True)
    verdict: Mapped[str] = mapped_column(String(8))  # right | wrong
    question: Mapped[str] = mapped_column(Text)
    reference: Mapped[str] = mapped_column(Text)
    nuggets: Mapped[list] = mapped_column(JSON)  # [{"text": ..., "vital": bool}]
    sections: Mapped[list] = mapped_column(JSON)  # ["doc#anchor", ...]
    reviewer: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now, index=True)


# ---------------------------------------------------------------------------- dialect-neutral helpers


class day_of(FunctionElement):
    """The UTC calendar day of a timestamp; ``str(day)[:10]`` is 'YYYY-MM-DD' on both databases."""

    type = String()
    inherit_cache = True


@compiles(day_of)
def _day_sqlite(element, compiler, **kw):  # SQLAlchemy stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC here)
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 10)"


@compiles(day_of, "postgresql")
def _day_pg(element, compiler, **kw):  # a date, read back as text by the callers (to_char per row cost 2x the scan)
    return f"CAST((({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC') AS DATE)"


class bucket_of(FunctionElement):
    """``floor(x / LATENCY_BUCKET_MS)`` as an integer (SQLite's CAST truncates, PostgreSQL's rounds)."""

    type = Integer()
    inherit_cache = True


@compiles(bucket_of)
def _bucket_sqlite(element, compiler, **kw):
    return f"CAST(({compiler.process(element.clauses, **kw)}) / {LATENCY_BUCKET_MS} AS INTEGER)"


@compiles(bucket_of, "postgresql")
def _bucket_pg(element, compiler, **kw):
    return f"CAST(floor(({compiler.process(element.clauses, **kw)}) / {LATENCY_BUCKET_MS}) AS INTEGER)"


def _count_if(condition: ColumnElement) -> ColumnElement:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _session_ticket() -> ColumnElement:
    # IN over the ticketed sessions, not a correlated EXISTS: PostgreSQL hashes the set once instead of
    # probing the index per turn (115,801 probes were half of the 180-day overview).
    ticketed = select(tickets.c.session_id).where(tickets.c.session_id.is_not(None))
    return and_(turns.c.session_id.is_not(None), turns.c.session_id.in_(ticketed))


def _declined() -> ColumnElement:
    return turns.c.kind.in_(DECLINES)


def _gap(threshold: float = GAP_CONFIDENCE) -> ColumnElement:
    return or_(_declined(), turns.c.confidence < threshold, turns.c.handoff.is_(True), turns.c.feedback == -1, _session_ticket())


# ---------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class Filters:
    """What every console page is filtered by: a date range (UTC days, both ends included), and
    optionally the user's product version, the answer's language and the first citation's source type."""

    start: dt.date
    end: dt.date
    version: str | None = None
    language: str | None = None
    source_type: str | None = None

    @classmethod
    def last(cls, days: int = 30, today: dt.date | None = None, **kw) -> Filters:
        today = today or now().date()
        return cls(start=today - dt.timedelta(days=days - 1), end=today, **kw)

    @classmethod
    def parse(cls, start: str | None = None, end: str | None = None, version: str | None = None, language: str | None = None,
              source_type: str | None = None, *, default_days: int = 30) -> Filters:
        """From query-string values; raises ValueError with what to send instead."""
        base = cls.last(default_days)
        try:
            first = dt.date.fromisoformat(start) if start else base.start
            last = dt.date.fromisoformat(end) if end else base.end
        except ValueError:
            raise ValueError(f"dates: use YYYY-MM-DD, e.g. {base.end.isoformat()} (got {start!r} to {end!r})") from None
        if last < first:
            raise ValueError(f"the date range ends ({last}) before it starts ({first}); swap them")
        if (last - first).days > 3660:
            raise ValueError("the date range is over ten years; pick a shorter one")
        return cls(first, last, version or None, language or None, source_type or None)

    def clauses(self) -> list[ColumnElement]:
        lo = dt.datetime.combine(self.start, dt.time(), dt.timezone.utc)
        hi = dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
        out = [turns.c.created_at >= lo, turns.c.created_at < hi]
        for name in ("version", "language", "source_type"):
            if getattr(self, name):
                out.append(turns.c[name] == getattr(self, name))
        return out

    def ticket_clauses(self) -> list[ColumnElement]:
        lo = dt.datetime.combine(self.start, dt.time(), dt.timezone.utc)
        hi = dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
        return [tickets.c.created_at >= lo, tickets.c.created_at < hi]

    def days(self) -> list[str]:
        return [(self.start + dt.timedelta(days=i)).isoformat() for i in range((self.end - self.start).days + 1)]

    def query(self) -> dict:
        """The query-string form (for links that keep the filters)."""
        out = {"start": self.start.isoformat(), "end": self.end.isoformat()}
        out.update({k: getattr(self, k) for k in ("version", "language", "source_type") if getattr(self, k)})
        return out


# ---------------------------------------------------------------------------- the figures


def percentile(histogram: dict[int, int], p: float) -> float | None:
    """Nearest-rank percentile of a latency histogram ``{bucket: count}``: the bucket's upper edge in ms.

    >>> percentile({0: 5, 3: 4, 10: 1}, 0.5), percentile({0: 5, 3: 4, 10: 1}, 0.95)
    (10, 110)
    """
    total = sum(histogram.values())
    if not total:
        return None
    rank, seen = max(1, math.ceil(p * total)), 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return (bucket + 1) * LATENCY_BUCKET_MS
    return None


@dataclass
class Overview:
    days: list[str]
    series: dict[str, list[float | None]]  # one value per day
    totals: dict[str, float | int | None]
    tickets_by_priority: dict[str, list[int]] = field(default_factory=dict)  # priority -> one count per day


class Analytics:
    """The console's queries. Give it the ``Database`` the conversation log and ticket store share.

    >>> a = Analytics(Database("sqlite:///data/nectarine.db"))
    >>> a.overview(Filters.last(7)).totals["questions"]
    0
    """

    def __init__(self, db: Database | str) -> None:
        self.db = db if isinstance(db, Database) else Database(db)
        self.engine = self.db.engine

    @contextmanager
    def reading(self):
        """A connection for the console's reads. On PostgreSQL, for this transaction only: no JIT (compiling
        the 180-day overview took 1.0 s of its 1.1 s, EXPLAIN ANALYZE on 200,000 turns) and room to
        sort in memory (it spilled 13 MB to disk)."""
        with self.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET LOCAL jit = off")
                conn.exec_driver_sql("SET LOCAL work_mem = '32MB'")
            yield conn

    # -------------------------------------------------------------- overview
    def overview(self, f: Filters) -> Overview:
        day = day_of(turns.c.created_at).label("day")
        declined = _declined()
        deflected = and_(or_(turns.c.kind.is_(None), ~declined), turns.c.handoff.is_(False), ~_session_ticket())
        bucket = bucket_of(turns.c.latency_ms).label("bucket")
        # One pass over the range: counts per (day, latency bucket), summed per day here (a few thousand rows).
        counts = select(day, bucket, func.count().label("questions"), _count_if(deflected).label("deflected"),
                        _count_if(turns.c.handoff.is_(True)).label("handoffs"), _count_if(turns.c.feedback == 1).label("up"),
                        _count_if(turns.c.feedback == -1).label("down"), _count_if(declined).label("declines")
                        ).where(*f.clauses()).group_by(day, bucket)
        tday = day_of(tickets.c.created_at).label("day")
        by_priority = select(tday, tickets.c.priority, func.count()).where(*f.ticket_clauses()).group_by(tday, tickets.c.priority)
        names = ("questions", "deflected", "handoffs", "up", "down", "declines")
        days = f.days()
        index = {d: i for i, d in enumerate(days)}
        raw = {n: [0] * len(days) for n in names}
        hist: dict[str, dict[int, int]] = {}
        with self.reading() as conn:
            for r in conn.execute(counts):
                d = str(r.day)[:10]
                i = index.get(d)
                if i is None:
                    continue
                for n in names:
                    raw[n][i] += int(getattr(r, n))
                if r.bucket is not None:
                    hist.setdefault(d, {})[r.bucket] = int(r.questions)
            ticket_rows = conn.execute(by_priority).all()

        def rate(part: list[int]) -> list[float | None]:
            return [round(p / q, 4) if q else None for p, q in zip(part, raw["questions"])]

        series = {"questions": raw["questions"], "deflection_rate": rate(raw["deflected"]), "handoff_rate": rate(raw["handoffs"]),
                  "thumbs_up": raw["up"], "thumbs_down": raw["down"], "declines": raw["declines"],
                  "latency_p50_ms": [percentile(hist.get(d, {}), 0.5) for d in days],
                  "latency_p95_ms": [percentile(hist.get(d, {}), 0.95) for d in days]}
        whole: dict[int, int] = {}
        for h in hist.values():
            for b, n in h.items():
                whole[b] = whole.get(b, 0) + n
        total = sum(raw["questions"])
        totals = {"questions": total, "deflection_rate": round(sum(raw["deflected"]) / total, 4) if total else None,
                  "handoff_rate": round(sum(raw["handoffs"]) / total, 4) if total else None, "thumbs_up": sum(raw["up"]),
                  "thumbs_down": sum(raw["down"]), "declines": sum(raw["declines"]),
                  "latency_p50_ms": percentile(whole, 0.5), "latency_p95_ms": percentile(whole, 0.95)}
        by_pri: dict[str, list[int]] = {}
        for d, priority, n in ticket_rows:
            d = str(d)[:10]
            if d in index:
                by_pri.setdefault(priority, [0] * len(days))[index[d]] = int(n)
        totals["tickets"] = sum(sum(v) for v in by_pri.values())
        return Overview(days=days, series=series, totals=totals, tickets_by_priority=dict(sorted(by_pri.items())))

    def newest_turn(self) -> int:
        """The newest turn's id (0 for none): what cached results are keyed by."""
        with self.reading() as conn:
            return int(conn.scalar(select(func.max(turns.c.id))) or 0)

    def choices(self) -> dict[str, list[str]]:
        """The values the filters offer: versions, languages and source types seen in stored turns."""
        out = {}
        with self.reading() as conn:
            for name in ("version", "language", "source_type"):
                c = turns.c[name]
                out[name] = [v for (v,) in conn.execute(select(c).where(c.is_not(None)).group_by(c).order_by(c).limit(200))]
        return out

    # -------------------------------------------------------------- questions
    def questions(self, f: Filters, search: str | None = None, *, limit: int = 50, offset: int = 0) -> tuple[list[dict], int]:
        """Turns in the range, newest first, with whether their session filed a ticket and whether they
        were reviewed; and how many match in all."""
        where = list(f.clauses())
        if search:
            like = "%" + search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append(or_(func.lower(turns.c.question).like(like, escape="\\"), func.lower(turns.c.answer).like(like, escape="\\")))
        reviewed = exists().where(ReviewRow.turn_id == turns.c.id)
        q = (select(turns.c.id, turns.c.public_id, turns.c.question, turns.c.answer, turns.c.confidence, turns.c.feedback,
                    turns.c.handoff, turns.c.kind, turns.c.version, turns.c.language, turns.c.created_at, turns.c.latency_ms,
                    _session_ticket().label("ticket"), reviewed.label("reviewed"))
             .where(*where).order_by(turns.c.created_at.desc(), turns.c.id.desc()).limit(limit).offset(offset))
        with self.reading() as conn:
            rows = [dict(r._mapping) for r in conn.execute(q)]
            total = conn.scalar(select(func.count()).select_from(turns).where(*where))
        return rows, int(total or 0)

    def frequent(self, f: Filters, *, gaps_only: bool = False, threshold: float = GAP_CONFIDENCE, limit: int = 300) -> list[dict]:
        """The ``limit`` most asked distinct questions in the range (of gap turns only, if asked), each with
        its count, last time asked, mean confidence, reasons, and the sources of its latest turn."""
        where = list(f.clauses())
        if gaps_only:
            where.append(_gap(threshold))
        q = (select(turns.c.question, func.count().label("n"), func.max(turns.c.created_at).label("last"),
                    func.max(turns.c.id).label("latest"), func.avg(turns.c.confidence).label("confidence"),
                    _count_if(_declined()).label("declines"), _count_if(turns.c.confidence < threshold).label("low_confidence"),
                    _count_if(turns.c.handoff.is_(True)).label("handoffs"), _count_if(turns.c.feedback == -1).label("thumbs_down"),
                    _count_if(_session_ticket()).label("tickets"))
             .where(*where).group_by(turns.c.question).order_by(func.count().desc(), func.max(turns.c.id).desc()).limit(limit))
        with self.reading() as conn:
            rows = [dict(r._mapping) for r in conn.execute(q)]
            ids = [r["latest"] for r in rows]
            latest = {i: (src, pid) for i, src, pid in conn.execute(
                select(turns.c.id, turns.c.sources, turns.c.public_id).where(turns.c.id.in_(ids)))} if ids else {}
        for r in rows:
            r["sources"], r["latest_public_id"] = latest.get(r["latest"], ([], None))
            r["sources"] = r["sources"] or []
            r["confidence"] = float(r["confidence"] or 0.0)
        return rows

    def turn(self, public_id: str) -> dict | None:
        """One turn with its session's tickets and its review."""
        with self.reading() as conn:
            row = conn.execute(select(turns).where(turns.c.public_id == public_id)).first()
            if row is None:
                return None
            out = dict(row._mapping)
            out["tickets"] = [dict(t._mapping) for t in conn.execute(
                select(tickets.c.id, tickets.c.title, tickets.c.priority, tickets.c.status, tickets.c.created_at)
                .where(tickets.c.session_id == out["session_id"]).order_by(tickets.c.created_at))] if out["session_id"] else []
            review = conn.execute(select(ReviewRow.__table__).where(ReviewRow.turn_id == out["id"])).first()
            out["review"] = dict(review._mapping) if review else None
        return out

    # -------------------------------------------------------------- sources
    def citations(self, f: Filters) -> list[dict]:
        """Each cited section (by URL) in the range: times cited, thumbs up and down on the turns citing it."""
        with self.reading() as conn:
            # Unnesting the JSON list of sources is the one dialect-specific piece: json_each / json_array_elements.
            if conn.dialect.name == "postgresql":
                element = func.json_array_elements(turns.c.sources).table_valued("value").alias("s")
                url, title = element.c.value.op("->>")("url"), element.c.value.op("->>")("title")
            else:
                element = func.json_each(turns.c.sources).table_valued("value").alias("s")
                url, title = func.json_extract(element.c.value, "$.url"), func.json_extract(element.c.value, "$.title")
            q = (select(url.label("url"), func.max(title).label("title"), func.count().label("n"),
                        _count_if(turns.c.feedback == 1).label("up"), _count_if(turns.c.feedback == -1).label("down"))
                 .select_from(turns).join(element, literal(True)).where(*f.clauses()).group_by(url).order_by(func.count().desc()))
            rows = conn.execute(q).all()
        return [{"url": r.url, "title": r.title, "times": int(r.n), "up": int(r.up), "down": int(r.down)} for r in rows]

    # -------------------------------------------------------------- reviews
    def save_review(self, turn_public_id: str, *, verdict: str, question: str, reference: str, nuggets: list[dict],
                    sections: list[str], reviewer: str | None = None) -> ReviewRow:
        """Create or replace the review of a turn."""
        if verdict not in ("right", "wrong"):
            raise ValueError(f"verdict {verdict!r}: choose right or wrong")
        if not question.strip():
            raise ValueError("the question is empty; keep or correct the user's question")
        with Session(self.engine, expire_on_commit=False) as s, s.begin():
            turn_id = s.scalar(select(turns.c.id).where(turns.c.public_id == turn_public_id))
            if turn_id is None:
                raise KeyError(f"no conversation turn {turn_public_id}")
            row = s.scalar(select(ReviewRow).where(ReviewRow.turn_id == turn_id))
            if row is None:
                row = ReviewRow(turn_id=turn_id, created_at=now())
                s.add(row)
            row.verdict, row.question, row.reference = verdict, question.strip(), reference.strip()
            row.nuggets, row.sections, row.reviewer, row.updated_at = nuggets, sections, reviewer, now()
        return row

    def reviews(self, limit: int | None = None) -> list[dict]:
        """Reviewed turns, oldest review first, with the turn's version and language."""
        q = (select(ReviewRow.__table__, turns.c.public_id, turns.c.version, turns.c.language, turns.c.answer)
             .join(turns, turns.c.id == ReviewRow.turn_id).order_by(ReviewRow.id).limit(limit))
        with self.reading() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def review_queue(self, f: Filters, *, limit: int = 50) -> list[dict]:
        """Turns worth reviewing first: not yet reviewed, thumbs down, declines and low confidence first, newest first."""
        reviewed = exists().where(ReviewRow.turn_id == turns.c.id)
        urgency = case((turns.c.feedback == -1, 0), (_declined(), 1), (turns.c.confidence < GAP_CONFIDENCE, 2), else_=3)
        q = (select(turns.c.public_id, turns.c.question, turns.c.confidence, turns.c.feedback, turns.c.kind, turns.c.created_at,
                    urgency.label("urgency")).where(*f.clauses(), ~reviewed)
             .order_by(urgency, turns.c.created_at.desc()).limit(limit))
        with self.reading() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    # -------------------------------------------------------------- tickets
    def tickets(self, f: Filters, *, status: str | None = None, limit: int = 100) -> list[dict]:
        """Tickets in the range, newest first, with their deliveries (sink, status, attempts, last error)."""
        where = list(f.ticket_clauses())
        if status:
            where.append(tickets.c.status == status)
        q = (select(tickets.c.id, tickets.c.title, tickets.c.priority, tickets.c.status, tickets.c.created_at, tickets.c.last_error)
             .where(*where).order_by(tickets.c.created_at.desc()).limit(limit))
        with self.reading() as conn:
            rows = [dict(r._mapping) for r in conn.execute(q)]
            ids = [r["id"] for r in rows]
            deliveries: dict[str, list[dict]] = {}
            if ids:
                for o in conn.execute(select(outbox.c.ticket_id, outbox.c.sink, outbox.c.status, outbox.c.attempts, outbox.c.last_error)
                                      .where(outbox.c.ticket_id.in_(ids)).order_by(outbox.c.id)):
                    deliveries.setdefault(o.ticket_id, []).append(dict(o._mapping))
        for r in rows:
            r["deliveries"] = deliveries.get(r["id"], [])
        return rows

    def retry_ticket(self, ticket_id: str) -> int:
        """Queue a ticket's failed deliveries again (attempts reset, due now); returns how many."""
        with self.engine.begin() as conn:
            n = conn.execute(update(outbox).where(outbox.c.ticket_id == ticket_id, outbox.c.status == "failed")
                             .values(status="pending", attempts=0, next_attempt_at=now())).rowcount
            if n:
                conn.execute(update(tickets).where(tickets.c.id == ticket_id).values(status="submitted", last_error=None, updated_at=now()))
        return n

