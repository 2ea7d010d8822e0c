"""Worst-case cost of every route: a real `nectarine serve` on loopback, each route sent an ordinary
request and the most adversarial requests its limits allow, one at a time.

For each (route, input) it prints the median wall time of --repeat requests and the server's CPU
time per request (psutil, server process), beside the ordinary request's figures, and the status
codes seen. An input past a limit is refused early (413/422), so its cost is the refusal's.

    .venv/bin/python scripts/bench_routes_worst_case.py                 # builds an index of corpus/ (about a minute), then ~2 minutes
    .venv/bin/python scripts/bench_routes_worst_case.py --index indexes/default --json out.json
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark import console, machine, show  # noqa: E402
from load_benchmark import Server  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
KEY = {"X-Site-Key": "demo-public-key"}
ADMIN = {"Authorization": "Bearer bench-admin"}


def words(n: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    vocab = "outage data loss security breach cannot log in everyone AUTH-1003 ERROR export SAML token password invoice".split()
    return " ".join(rng.choice(vocab) for _ in range(n))


def cases(session: str, turn_id: str, draft: dict, chunk_id: str) -> list[tuple[str, str, str, dict]]:
    """(route, input, method, request kwargs)."""
    keyword = ("outage " * 600)[:4000]
    log = ("2026-12-03T10:00:00Z ERROR AUTH-1003 data loss outage in module export password=hunter2\n" * 3000)[:200_000]
    worst_draft = {"conversation": [{"role": "user", "content": words(1400, i)[:8000]} for i in range(60)],
                   "context": {"user_agent": ("Mozilla/5.0 (X11; Linux x86_64) " * 20)[:512], "session_id": session,
                               "console_errors": ["TypeError: x is undefined " * 38] * 50},
                   "attachments": [{"name": f"app{i}.log", "kind": "log", "content": log} for i in range(7)]}  # just under 2 MB
    big_submit = {**draft, "description": words(4000)[:20_000],
                  "logs": [{"name": f"l{i}.log", "text": log, "total_lines": 3000, "kept_lines": 3000, "error_lines": []} for i in range(9)]}
    assert len(json.dumps(worst_draft)) < 2_000_000, "the worst draft must fit the default body limit"
    return [
        ("/v1/ask", "ordinary", "POST", {"json": {"question": "how do I configure SAML single sign-on?"}}),
        ("/v1/ask", "4,000 chars of one word", "POST", {"json": {"question": keyword}}),
        ("/v1/ask", "4,000 chars of random words", "POST", {"json": {"question": words(700)[:4000]}}),
        ("/v1/ask", "40 history turns of 8,000 chars", "POST",
         {"json": {"question": "and then?", "history": [{"role": "user", "content": words(1400, i)[:8000]} for i in range(40)]}}),
        ("/v1/ask", "body of 2 MB nested lists", "POST", {"content": b'{"question": "x", "history": ' + b"[" * 500_000 + b"]" * 500_000 + b"}"}),
        ("/v1/ask", "non-finite number", "POST", {"content": b'{"question": "x", "n": NaN}'}),
        ("/v1/chat", "ordinary", "POST", {"json": {"message": "what does 429 RATE_LIMITED mean"}}),
        ("/v1/chat", "4,000 chars of one word", "POST", {"json": {"message": keyword}}),
        ("/v1/tickets/draft", "ordinary", "POST", {"json": {"conversation": [{"role": "user", "content": "Export is greyed out"}]}}),
        ("/v1/tickets/draft", "fields at their limits, 1.9 MB", "POST", {"json": worst_draft}),
        ("/v1/tickets/draft", "over the body limit, chunked", "POST",
         {"chunks": lambda: iter([b'{"conversation": [{"role": "user", "content": "'] + [b"x" * 65536] * 40 + [b'"}]}'])}),
        ("/v1/tickets", "ordinary", "POST", {"json": {"draft": draft}, "idempotent": True}),
        ("/v1/tickets", "description and logs at their limits", "POST", {"json": {"draft": big_submit}, "idempotent": True}),
        ("/v1/feedback", "ordinary", "POST", {"json": {"turn_id": turn_id, "helpful": True, "session_id": session}}),
        ("/v1/feedback", "2,000-char comment of secrets", "POST",
         {"json": {"turn_id": turn_id, "helpful": False, "session_id": session, "comment": ("token=abc123def456 me@x.io " * 80)[:2000]}}),
        ("/v1/sources/{id}", "ordinary", "GET", {"path": f"/v1/sources/{chunk_id}"}),
        ("/v1/sources/{id}", "200-char unknown id", "GET", {"path": "/v1/sources/" + "z" * 200}),
        ("/v1/tickets/{id}", "unknown id", "GET", {"path": "/v1/tickets/" + "0" * 32}),
        ("/v1/admin/stats", "ordinary", "GET", {"path": "/v1/admin/stats", "headers": ADMIN}),
        ("/v1/admin/conversations", "limit=100000", "GET", {"path": "/v1/admin/conversations?limit=100000", "headers": ADMIN}),
        ("/healthz", "ordinary", "GET", {"path": "/healthz"}),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", help="an index folder (default: build one from corpus/ in a temporary folder)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    console.print(machine())
    index = args.index
    if index is None:
        from nectarine import ingest

        index = str(Path(tempfile.mkdtemp(prefix="nectarine-worst-")) / "index")
        ingest([ROOT / "corpus"], index)
    server = Server(index, env={"NECTARINE_ADMIN_TOKEN": "bench-admin"})
    try:
        console.print(f"server ready in {server.wait_ready():.1f} s")
        proc = psutil.Process(server.proc.pid)
        session = "bench-session-1"
        with httpx.Client(base_url=server.url, timeout=300, headers=KEY) as http:
            asked = http.post("/v1/ask", json={"question": "how do I rotate the SAML certificate?", "context": {"session_id": session}}).json()
            draft = http.post("/v1/tickets/draft", json={"conversation": [{"role": "user", "content": "Export is greyed out"}],
                                                         "context": {"session_id": session}}).json()
            chunk_id = asked["answer"]["citations"][0]["chunk_id"] if asked["answer"]["citations"] else "none"
            rows, baseline = [], {}
            for route, label, method, kw in cases(session, asked["turn_id"], draft, chunk_id):
                walls, cpus, codes = [], [], set()
                for i in range(args.repeat):
                    kwargs = dict(kw)
                    path = kwargs.pop("path", route)
                    headers = {**KEY, **kwargs.pop("headers", {})}
                    if kwargs.pop("idempotent", False):
                        headers["Idempotency-Key"] = f"bench-{time.time_ns()}"
                    if "chunks" in kwargs:  # no Content-Length: sent chunked, a fresh generator each time
                        kwargs["content"] = kwargs.pop("chunks")()
                    if "content" in kwargs:
                        headers["Content-Type"] = "application/json"
                    cpu0, t0 = sum(proc.cpu_times()[:2]), time.perf_counter()
                    if method == "POST" and route == "/v1/chat":
                        with http.stream("POST", path, headers=headers, **kwargs) as r:
                            r.read()
                    else:
                        r = http.request(method, path, headers=headers, **kwargs)
                    walls.append((time.perf_counter() - t0) * 1000)
                    cpus.append((sum(proc.cpu_times()[:2]) - cpu0) * 1000)
                    codes.add(r.status_code)
                row = {"route": route, "input": label, "status": ",".join(map(str, sorted(codes))),
                       "median_ms": statistics.median(walls), "server_cpu_ms": statistics.median(cpus)}
                if label == "ordinary":
                    baseline[route] = row["median_ms"]
                row["x_ordinary"] = row["median_ms"] / baseline.get(route, row["median_ms"])
                rows.append(row)
        show(f"Worst-case cost per route (median of {args.repeat}, one request at a time)", rows)
        worst = max(rows, key=lambda r: r["server_cpu_ms"])
        console.print(f"most expensive: {worst['route']} ({worst['input']}): {worst['median_ms']:.0f} ms, "
                      f"{worst['server_cpu_ms']:.0f} ms of server CPU; no status 5xx: {all('5' != r['status'][0] for r in rows)}")
        if args.json:
            args.json.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
