"""Seed a database with synthetic conversation turns and tickets, for the console's benchmark and screenshots.

    .venv/bin/python scripts/seed_turns.py sqlite:///data/console-bench.db --turns 200000 --days 180

Questions come from eval/nectain (answerable ones cite their gold sections; unanswerable ones are
mostly honest declines), asked with a long-tailed frequency, spread over the ``--days`` days up to now (weekdays busier, growing),
with versions, languages, latencies, feedback and tickets (some of whose deliveries failed). Rows go
in by bulk inserts of 5,000 (200,000 turns: about 15 s on SQLite here). The schema is brought up to
date first (the console's migration included). Deterministic for a given ``--seed``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import secrets
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VERSIONS = ["7.2", "7.3", "8.0", "8.1"]
LANGUAGES = [("en", 0.8), ("de", 0.1), ("fr", 0.05), ("es", 0.05)]
PRIORITIES = [("Low", 0.3), ("Medium", 0.45), ("High", 0.2), ("Highest", 0.05)]


def question_pool(root: Path = ROOT / "eval" / "nectain") -> list[dict]:
    """The eval set's questions with the sections that answer them (as the assistant would cite them)."""
    gold: dict[str, list[str]] = {}
    for line in (root / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        qid, cid, _ = line.split("\t")
        gold.setdefault(qid, []).append(cid)
    pool = []
    for line in (root / "queries.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if "\n" in rec["text"] or rec.get("history"):
            continue
        pool.append({"text": rec["text"][:300], "answerable": bool(rec.get("answerable", True)), "sections": gold.get(rec["_id"], [])})
    return pool


def _source(section: str) -> dict:
    page, _, anchor = section.partition("#")
    title = page.rsplit("/", 1)[-1].replace("-", " ").capitalize() + (f" › {anchor.replace('-', ' ')}" if anchor else "")
    return {"title": title, "url": f"/{section}"}


def _weighted(rng: random.Random, choices: list[tuple[str, float]]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def generate(n_turns: int, days: int, seed: int = 2026, now: dt.datetime | None = None):
    """Yields ("turn", row) and ("ticket", row, outbox_row) tuples."""
    rng = random.Random(seed)
    pool = question_pool()
    sections = sorted({s for q in pool for s in q["sections"]})
    weights = [1 / (i + 1) ** 0.9 for i in range(len(pool))]
    rng.shuffle(pool)
    end = now or dt.datetime.now(dt.timezone.utc)
    start = end - dt.timedelta(days=days)
    # More on weekdays than at weekends, growing over the period, with day-to-day noise; `n_turns` in all.
    shape = [(0.45 if (start + dt.timedelta(days=d)).weekday() >= 5 else 1.0) * (0.8 + 0.4 * d / days) * rng.uniform(0.85, 1.15)
             for d in range(days)]
    quotas = [int(n_turns * w / sum(shape)) for w in shape]
    quotas[-1] += n_turns - sum(quotas)
    # Day by day, each day's turns in time order: stored as a live service stores them (row order follows time).
    for day in range(days):
        items = list(_day(rng, pool, weights, sections, start + dt.timedelta(days=day), quotas[day]))
        items.sort(key=lambda item: item[1]["created_at"])
        yield from items


def _day(rng: random.Random, pool: list[dict], weights: list[float], sections: list[str], day_start: dt.datetime, quota: int):
    made = 0
    while made < quota:
        session = uuid.uuid4().hex
        at = day_start + dt.timedelta(seconds=rng.random() * 84000)  # its turns follow within minutes: all before the next day
        version, language = rng.choice(VERSIONS), _weighted(rng, LANGUAGES)
        ticketed = False
        for _ in range(min(rng.choice([1, 1, 1, 2, 2, 3]), quota - made)):
            q = rng.choices(pool, weights=weights)[0]
            if q["answerable"]:
                kind = "answer"
                confidence = min(0.98, max(0.05, rng.gauss(0.72, 0.15)))
                cited = q["sections"][:2] + ([rng.choice(sections)] if rng.random() < 0.4 else [])
            else:
                kind = "not_found" if rng.random() < 0.75 else "answer"
                confidence = max(0.02, min(0.6, rng.gauss(0.25, 0.1)))
                cited = rng.sample(sections, 2) if kind == "answer" else []
            handoff = confidence < 0.3 or rng.random() < 0.03
            feedback = None
            if rng.random() < 0.12:
                feedback = 1 if rng.random() < (0.85 if confidence > 0.5 else 0.3) else -1
            sources = [_source(s) for s in cited]
            source_type = cited[0].split("/", 1)[0] if cited else None
            yield ("turn", dict(public_id=secrets.token_urlsafe(16), session_id=session, question=q["text"],
                                answer="Seeded answer for: " + q["text"][:80], confidence=round(confidence, 3), handoff=handoff,
                                answerer="offline", sources=sources, language=language, feedback=feedback,
                                feedback_comment="seeded comment" if feedback == -1 and rng.random() < 0.3 else None,
                                created_at=at, kind=kind, version=version, latency_ms=round(rng.lognormvariate(5.9, 0.45), 1),
                                source_type=source_type))
            made += 1
            if handoff and not ticketed and rng.random() < 0.25:
                ticketed = True
                tid = uuid.uuid4().hex
                status = "failed" if rng.random() < 0.05 else "delivered"
                title = q["text"][:120]
                yield ("ticket", dict(id=tid, idempotency_key=None, session_id=session, status=status,
                                      priority=_weighted(rng, PRIORITIES), title=title,
                                      draft={"title": title, "description": "seeded", "session_id": session},
                                      created_at=at, updated_at=at, last_error="HTTP 503 from the webhook" if status == "failed" else None),
                       dict(ticket_id=tid, sink="webhook", status=status, attempts=8 if status == "failed" else 1, next_attempt_at=at,
                            last_error="HTTP 503 from the webhook" if status == "failed" else None,
                            delivered_at=at if status == "delivered" else None))
            at += dt.timedelta(seconds=rng.randint(20, 300))


def seed(url: str, n_turns: int, days: int, seed: int = 2026, batch: int = 5000) -> dict:
    from sqlalchemy import insert

    from nectarine.store import Database, OutboxRow, TicketRow
    from nectarine.store.analytics import turns

    db = Database(url)
    buffers: dict[str, list] = {"turn": [], "ticket": [], "outbox": []}
    counts = {"turns": 0, "tickets": 0}

    def flush() -> None:
        with db.engine.begin() as conn:
            if buffers["turn"]:
                conn.execute(insert(turns), buffers["turn"])
            if buffers["ticket"]:
                conn.execute(insert(TicketRow.__table__), buffers["ticket"])
                conn.execute(insert(OutboxRow.__table__), buffers["outbox"])
        counts["turns"] += len(buffers["turn"])
        counts["tickets"] += len(buffers["ticket"])
        for b in buffers.values():
            b.clear()

    for item in generate(n_turns, days, seed):
        if item[0] == "turn":
            buffers["turn"].append(item[1])
        else:
            buffers["ticket"].append(item[1])
            buffers["outbox"].append(item[2])
        if len(buffers["turn"]) >= batch:
            flush()
    flush()
    # Fresh statistics, so the planners pick the range indexes; on PostgreSQL also the visibility map
    # that index-only scans need (autovacuum would write it a little later on a live database).
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE" if conn.dialect.name == "postgresql" else "ANALYZE")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="database URL, e.g. sqlite:///data/console-bench.db or postgresql+psycopg://...")
    parser.add_argument("--turns", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    t0 = time.perf_counter()
    counts = seed(args.url, args.turns, args.days, args.seed)
    print(f"seeded {counts['turns']} turns and {counts['tickets']} tickets in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
