"""The console's SQL aggregates against figures worked out by hand, on SQLite and a real PostgreSQL.

Seven turns over two days, three tickets (the data is in ``seeded`` below); every expected number
in these tests was counted by hand from that table, not computed by the code under test."""

import datetime as dt

import pytest
from sqlalchemy import insert

from support.postgres import fresh_database
from nectarine.store import Database, OutboxRow, TicketRow
from nectarine.store.analytics import Analytics, Filters, percentile, turns

D1, D2 = dt.date(2026, 11, 1), dt.date(2026, 11, 2)
BOTH_DAYS = Filters(D1, D2)
Q1, Q2, Q3 = "how do I rotate the SAML certificate?", "where is the audit log?", "does nectain support google chat?"
Q4, Q5 = "what changed in 8.0 exports?", "everyone gets AUTH-1003"
A, B, R = {"title": "SSO › Rotate", "url": "/docs/sso#rotate"}, {"title": "Audit log", "url": "/docs/audit"}, \
    {"title": "8.0 › Exports", "url": "/release-notes/8.0#exports"}


@pytest.fixture
def postgres_url():  # a database of its own per test: each test seeds the same rows
    with fresh_database("nectarine_console") as url:
        yield url


def at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), dt.timezone.utc)


def turn(i, day, hour, session, question, kind, confidence, handoff, feedback, version, language, latency, source_type, sources):
    return dict(public_id=f"t{i}", session_id=session, question=question, answer=f"answer {i}", confidence=confidence, handoff=handoff,
                answerer="offline", sources=sources, language=language, feedback=feedback, feedback_comment=None,
                created_at=at(day, hour), kind=kind, version=version, latency_ms=latency, source_type=source_type)


def ticket(tid, day, session, priority, status="delivered"):
    return dict(id=tid, idempotency_key=None, session_id=session, status=status, priority=priority, title=f"ticket {tid}",
                draft={"title": f"ticket {tid}"}, created_at=at(day, 12), updated_at=at(day, 12), last_error=None)


@pytest.fixture(params=["sqlite", "postgresql"])
def seeded(request, tmp_path) -> Analytics:
    url = f"sqlite:///{tmp_path / 'console.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    db = Database(url)
    rows = [
        turn(1, D1, 9, "s1", Q1, "answer", 0.9, False, 1, "8.0", "en", 100.0, "docs", [A]),
        turn(2, D1, 10, "s1", Q2, "answer", 0.8, False, None, "8.0", "en", 200.0, "docs", [A, B]),
        turn(3, D1, 11, "s2", Q3, "not_found", 0.1, True, -1, "7.3", "de", 300.0, None, []),
        turn(4, D1, 23, "s3", Q4, "answer", 0.4, False, None, "8.0", "en", 1000.0, "release-notes", [R]),
        turn(5, D2, 0, "s4", Q1, "answer", 0.95, False, 1, "7.3", "en", 150.0, "docs", [A]),
        turn(6, D2, 8, "s5", Q5, "answer", 0.6, True, None, "8.0", "en", 250.0, "docs", [B]),
        turn(7, D2, 9, None, Q3, "not_found", 0.2, False, -1, "8.0", "en", None, None, []),
    ]
    with db.engine.begin() as conn:
        conn.execute(insert(turns), rows)
        conn.execute(insert(turns), [turn(8, D2 + dt.timedelta(days=1), 1, "s9", Q1, "answer", 0.9, False, None, "8.0", "en", 5.0,
                                          "docs", [A])])  # the day after the range: counted nowhere below
        conn.execute(insert(TicketRow.__table__), [ticket("k1", D1, "s2", "High"), ticket("k2", D2, "s5", "Highest", "failed"),
                                                   ticket("k3", D2, "s99", "Low")])
        conn.execute(insert(OutboxRow.__table__), [dict(ticket_id="k2", sink="webhook", status="failed", attempts=8,
                                                        next_attempt_at=at(D2, 12), last_error="HTTP 503", delivered_at=None)])
    yield Analytics(db)
    db.engine.dispose()


def test_overview_per_day_and_in_total(seeded):
    o = seeded.overview(BOTH_DAYS)
    assert o.days == ["2026-11-01", "2026-11-02"]
    s = o.series
    assert s["questions"] == [4, 3]
    assert s["deflection_rate"] == [0.75, 0.3333]  # day 1: turns 1, 2, 4; day 2: turn 5
    assert s["handoff_rate"] == [0.25, 0.3333]
    assert (s["thumbs_up"], s["thumbs_down"], s["declines"]) == ([1, 1], [1, 1], [1, 1])
    assert s["latency_p50_ms"] == [210, 160] and s["latency_p95_ms"] == [1010, 260]  # nearest rank, 10 ms buckets' upper edges
    assert o.totals == {"questions": 7, "deflection_rate": 0.5714, "handoff_rate": 0.2857, "thumbs_up": 2, "thumbs_down": 2,
                        "declines": 2, "latency_p50_ms": 210, "latency_p95_ms": 1010, "tickets": 3}
    assert o.tickets_by_priority == {"High": [1, 0], "Highest": [0, 1], "Low": [0, 1]}


def test_filters_by_version_language_source_and_date(seeded):
    v8 = seeded.overview(Filters(D1, D2, version="8.0"))
    assert v8.series["questions"] == [3, 2] and v8.totals["deflection_rate"] == 0.6  # 1, 2, 4 of 1, 2, 4, 6, 7
    assert seeded.overview(Filters(D1, D2, language="de")).totals["questions"] == 1
    assert seeded.overview(Filters(D1, D2, source_type="docs")).series["questions"] == [2, 2]
    one_day = seeded.overview(Filters(D2, D2))
    assert one_day.days == ["2026-11-02"] and one_day.totals["questions"] == 3 and one_day.totals["tickets"] == 2
    empty = seeded.overview(Filters(D1, D2, version="6.0"))
    assert empty.totals["questions"] == 0 and empty.totals["deflection_rate"] is None and empty.series["handoff_rate"] == [None, None]
    assert seeded.choices() == {"version": ["7.3", "8.0"], "language": ["de", "en"], "source_type": ["docs", "release-notes"]}


def test_frequent_questions_and_gap_questions(seeded):
    top = seeded.frequent(BOTH_DAYS)
    assert [(r["question"], r["n"]) for r in top] == [(Q3, 2), (Q1, 2), (Q5, 1), (Q4, 1), (Q2, 1)]  # ties: newest first
    gaps = {r["question"]: r for r in seeded.frequent(BOTH_DAYS, gaps_only=True)}
    assert set(gaps) == {Q3, Q4, Q5}  # declined, low confidence, handed off, thumbs down or ticket
    q3 = gaps[Q3]
    assert (q3["n"], q3["declines"], q3["low_confidence"], q3["handoffs"], q3["thumbs_down"], q3["tickets"]) == (2, 2, 2, 1, 2, 1)
    assert gaps[Q4]["low_confidence"] == 1 and gaps[Q5]["tickets"] == 1 and gaps[Q5]["sources"] == [B]
    assert gaps[Q3]["latest_public_id"] == "t7"


def test_citations_questions_and_search(seeded):
    assert seeded.citations(BOTH_DAYS) == [
        {"url": "/docs/sso#rotate", "title": "SSO › Rotate", "times": 3, "up": 2, "down": 0},
        {"url": "/docs/audit", "title": "Audit log", "times": 2, "up": 0, "down": 0},
        {"url": "/release-notes/8.0#exports", "title": "8.0 › Exports", "times": 1, "up": 0, "down": 0}]
    rows, total = seeded.questions(BOTH_DAYS, "SAML")
    assert total == 2 and [r["public_id"] for r in rows] == ["t5", "t1"]
    rows, total = seeded.questions(BOTH_DAYS, "100%_")  # LIKE wildcards are searched for literally
    assert (rows, total) == ([], 0)
    rows, total = seeded.questions(BOTH_DAYS, limit=2, offset=2)
    assert total == 7 and [r["public_id"] for r in rows] == ["t5", "t4"]
    assert [r["ticket"] for r in seeded.questions(BOTH_DAYS)[0]] == [False, True, False, False, True, False, False]


def test_review_queue_reviews_and_ticket_retry(seeded):
    assert [r["public_id"] for r in seeded.review_queue(BOTH_DAYS)] == ["t7", "t3", "t4", "t6", "t5", "t2", "t1"]
    nuggets = [{"text": "Admin Console › Security › SSO › Rotate", "vital": True}]
    seeded.save_review("t7", verdict="wrong", question=Q3, reference="No, only Slack and Teams.", nuggets=nuggets, sections=[])
    seeded.save_review("t7", verdict="right", question=Q3 + " ", reference="Yes.", nuggets=nuggets, sections=["docs/sso#rotate"])
    done = seeded.reviews()
    assert len(done) == 1 and (done[0]["verdict"], done[0]["question"], done[0]["sections"]) == ("right", Q3, ["docs/sso#rotate"])
    assert done[0]["public_id"] == "t7" and done[0]["version"] == "8.0"
    assert "t7" not in [r["public_id"] for r in seeded.review_queue(BOTH_DAYS)]
    assert seeded.turn("t7")["review"]["reference"] == "Yes."
    with pytest.raises(ValueError, match="right or wrong"):
        seeded.save_review("t1", verdict="maybe", question=Q1, reference="", nuggets=[], sections=[])
    with pytest.raises(KeyError):
        seeded.save_review("nope", verdict="right", question=Q1, reference="", nuggets=[], sections=[])
    listed = {t["id"]: t for t in seeded.tickets(BOTH_DAYS)}
    assert set(listed) == {"k1", "k2", "k3"} and listed["k2"]["deliveries"][0]["status"] == "failed"
    assert seeded.retry_ticket("k2") == 1 and seeded.retry_ticket("k2") == 0
    again = {t["id"]: t for t in seeded.tickets(BOTH_DAYS)}["k2"]
    assert again["status"] == "submitted" and again["deliveries"][0]["status"] == "pending" and again["deliveries"][0]["attempts"] == 0




def test_percentile_is_nearest_rank_on_bucket_edges():
    assert percentile({}, 0.5) is None
    assert percentile({0: 1}, 0.95) == 10
    assert percentile({2: 50, 7: 50}, 0.5) == 30 and percentile({2: 50, 7: 50}, 0.51) == 80


def test_filters_refuse_bad_input_with_what_to_send():
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        Filters.parse("yesterday")
    with pytest.raises(ValueError, match="swap them"):
        Filters.parse("2026-11-02", "2026-11-01")
    f = Filters.parse("2026-11-01", "2026-11-02", version="8.0", language="")
    assert (f.start, f.end, f.version, f.language) == (D1, D2, "8.0", None) and f.query() == {"start": "2026-11-01", "end": "2026-11-02", "version": "8.0"}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_0004_goes_down_and_up_again(backend, request, tmp_path):
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    from nectarine.store.database import MIGRATIONS

    url = f"sqlite:///{tmp_path / 'm.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    db = Database(url)  # migrated to head
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url)

    def shape():
        i = inspect(db.engine)
        return ({c["name"] for c in i.get_columns("turns")}, set(i.get_table_names()), {x["name"] for x in i.get_indexes("turns")})

    columns, tables, indexes = shape()
    assert {"kind", "version", "latency_ms", "source_type"} <= columns and "reviews" in tables and "ix_turns_console" in indexes
    command.downgrade(cfg, "0003")
    columns, tables, indexes = shape()
    assert not {"kind", "version", "latency_ms", "source_type"} & columns and "reviews" not in tables and "ix_turns_console" not in indexes
    command.upgrade(cfg, "head")
    assert shape()[0] >= {"kind", "version", "latency_ms", "source_type"}
    db.engine.dispose()


def test_a_recorded_answer_reaches_the_console_filters_and_charts(tmp_path):
    """record_turn (what the service calls on every answer) fills what the overview filters and charts read."""
    from nectarine.store import ConversationLog
    from nectarine.types import Answer, Citation, SourceType

    db = Database(f"sqlite:///{tmp_path / 'live.db'}")
    log = ConversationLog(db)
    cited = Citation(number=1, chunk_id="c1", doc_id="docs/sso", title="SSO", heading_path=["SSO"], url="https://docs.nectain.com/admin/sso",
                     source=SourceType.DOCS, quote="Rotate the certificate.")
    at = dt.datetime(2026, 11, 1, 12, tzinfo=dt.timezone.utc)
    log.record_turn("How do I rotate the certificate?", Answer(question="q", text="Rotate it [1].", citations=[cited], confidence=0.9,
                    timings_ms={"total": 42.0}), session_id="s1", version="4.5", at=at)
    log.record_turn("Can I pay in bitcoin?", Answer(question="q", text="The docs do not cover that.", kind="not_found", confidence=0.1,
                    timings_ms={"total": 8.0}), session_id="s2", version="4.4", at=at)
    a = Analytics(db)
    day = dt.date(2026, 11, 1)
    assert a.overview(Filters(day, day, version="4.5")).totals["questions"] == 1
    assert a.overview(Filters(day, day, source_type="docs")).totals["questions"] == 1
    both = a.overview(Filters(day, day))
    assert both.totals["declines"] == 1 and both.totals["latency_p95_ms"] >= 42
