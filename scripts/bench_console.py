"""Time every page of the docs team's console on 200,000 stored turns, on SQLite and on PostgreSQL.

For each database: a fresh one seeded by scripts/seed_turns.py (200,000 turns over 180 days, about
1,100 a day), a real `nectarine serve` on loopback (index of corpus/ with the real model: the model
also groups the questions by meaning), signed in to the console; then each page is requested once
cold (the first view: SQL caches cold, question vectors not yet computed) and --repeat times warm,
one at a time, and the wall time of each request is recorded (p50 and p95 of the repeats). Repeats
of the overview, sources, top-questions and gaps pages are served from the console's one-minute
result cache; so the SQL behind every page is also timed uncached, in this process, beside them.
The console's default range is the last 30 days; "180 days" pages ask for everything.

    eval "$(bash scripts/postgres.sh)"    # for the PostgreSQL half (skipped without it)
    .venv/bin/python scripts/bench_console.py --index indexes/nectain
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from benchmark import console, machine, show  # noqa: E402
from load_benchmark import Server  # noqa: E402
from seed_turns import seed  # noqa: E402


def fresh_postgres(url: str, name: str = "nectarine_console_bench") -> str:
    import psycopg

    admin = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as con:
        con.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        con.execute(f"CREATE DATABASE {name}")
    return url.rsplit("/", 1)[0] + f"/{name}"


def sign_in(client: httpx.Client, base: str, token: str) -> None:
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get(f"{base}/admin/login").text).group(1)
    r = client.post(f"{base}/admin/login", data={"csrf": csrf, "token": token}, headers={"Origin": base})
    if r.status_code != 303:
        raise RuntimeError(f"sign-in failed: {r.status_code} {r.text[:200]}")


def pages(client: httpx.Client, base: str) -> tuple[list[tuple[str, str]], float]:
    """The pages to time, and the first (cold) view of the gaps page, which finding a gap to open costs."""
    today = dt.date.today()
    everything = f"start={(today - dt.timedelta(days=179)).isoformat()}&end={today.isoformat()}"
    t0 = time.perf_counter()
    gaps = client.get(f"{base}/admin/gaps").text
    gaps_cold = (time.perf_counter() - t0) * 1000
    gap = re.search(r'href="(/admin/gaps/[0-9a-f]+)\?', gaps).group(1)
    turn = re.search(r'href="(/admin/questions/[^"#?]+)"', client.get(f"{base}/admin/questions").text).group(1)
    return [("overview (30 days)", "/admin/overview"), ("overview, version 8.0", "/admin/overview?version=8.0"),
            ("overview (180 days)", f"/admin/overview?{everything}"), ("questions", "/admin/questions"),
            ("questions, search", "/admin/questions?q=saml"), ("question detail", turn), ("top questions", "/admin/top"),
            ("coverage gaps", "/admin/gaps"), ("coverage gap detail", gap), ("coverage gaps CSV", "/admin/gaps.csv"),
            ("sources", "/admin/sources"), ("review queue", "/admin/reviews"), ("tickets", "/admin/tickets"),
            ("top questions (180 days)", f"/admin/top?{everything}"), ("coverage gaps (180 days)", f"/admin/gaps?{everything}"),
            ("sources (180 days)", f"/admin/sources?{everything}")], gaps_cold


def time_pages(base: str, token: str, repeat: int) -> list[dict]:
    rows = []
    with httpx.Client(timeout=120) as client:
        sign_in(client, base, token)
        found, gaps_cold = pages(client, base)
        for label, path in found:
            t0 = time.perf_counter()
            first = client.get(base + path)
            cold = gaps_cold if path == "/admin/gaps" else (time.perf_counter() - t0) * 1000
            if first.status_code != 200:
                raise RuntimeError(f"{path}: {first.status_code} {first.text[:300]}")
            warm = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                client.get(base + path).raise_for_status()
                warm.append((time.perf_counter() - t0) * 1000)
            warm.sort()
            rows.append({"page": label, "cold ms": cold, "p50 ms": statistics.median(warm),
                         "p95 ms": warm[min(len(warm) - 1, int(round(0.95 * (len(warm) - 1))))], "KB": len(first.content) // 1024})
    return rows


def time_aggregates(url: str, repeat: int) -> list[dict]:
    """The SQL behind the pages, uncached, in this process: what a view costs when its result is not kept."""
    from nectarine.store.analytics import Analytics, Filters

    a = Analytics(url)
    rows = []
    for days in (30, 180):
        f = Filters.last(days)
        for label, fn in [("overview", lambda: a.overview(f)), ("frequent questions", lambda: a.frequent(f)),
                          ("gap questions", lambda: a.frequent(f, gaps_only=True)), ("citations", lambda: a.citations(f)),
                          ("questions list", lambda: a.questions(f)), ("review queue", lambda: a.review_queue(f)),
                          ("tickets", lambda: a.tickets(f))]:
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                fn()
                times.append((time.perf_counter() - t0) * 1000)
            times.sort()
            rows.append({"aggregate": f"{label} ({days} days)", "p50 ms": statistics.median(times),
                         "p95 ms": times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]})
    return rows


def run(name: str, url: str, index: str, turns: int, days: int, repeat: int) -> dict:
    t0 = time.perf_counter()
    counts = seed(url, turns, days)
    seeded = time.perf_counter() - t0
    console.print(f"{name}: seeded {counts['turns']:,} turns and {counts['tickets']:,} tickets in {seeded:.1f} s")
    server = Server(index, env={"NECTARINE_DATABASE_URL": url})
    try:
        server.wait_ready()
        rows = time_pages(server.url, server.token, repeat)
    finally:
        server.stop()
    show(f"Console pages on {name}, {counts['turns']:,} turns (first view, then {repeat} requests each)", rows)
    sql = time_aggregates(url, max(3, repeat // 4))
    show(f"SQL aggregates on {name}, uncached ({max(3, repeat // 4)} runs each)", sql)
    return {"database": name, "turns": counts["turns"], "tickets": counts["tickets"], "seed_seconds": round(seeded, 1), "pages": rows,
            "aggregates": sql}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", default="indexes/nectain", help="an index of corpus/ (built with the real model)")
    parser.add_argument("--turns", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--only", choices=["sqlite", "postgresql"], default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    console.print(machine())
    results = []
    if args.only in (None, "sqlite"):
        folder = Path(tempfile.mkdtemp(prefix="nectarine-console-bench-"))
        results.append(run("SQLite", f"sqlite:///{folder / 'console.db'}", args.index, args.turns, args.days, args.repeat))
    pg = os.environ.get("NECTARINE_TEST_POSTGRES_URL")
    if args.only in (None, "postgresql"):
        if pg:
            results.append(run("PostgreSQL", fresh_postgres(pg), args.index, args.turns, args.days, args.repeat))
        else:
            console.print("PostgreSQL skipped: eval \"$(bash scripts/postgres.sh)\" sets NECTARINE_TEST_POSTGRES_URL")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "results": results}, indent=2, default=str))


if __name__ == "__main__":
    main()
