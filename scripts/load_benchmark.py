"""Load benchmark of the HTTP service on loopback: a real `nectarine serve` process, a bounded asyncio client.

Prints the machine and its load, then:
  cold start   seconds from spawning the server to /readyz answering 200 (index, model, detector loaded)
  ask          /v1/ask (offline answerer): p50/p95 latency and throughput at 1, 8 and 32 concurrent clients
  chat         /v1/chat: time to the first streamed text event, and to the final event
  memory       server RSS after 100 requests and after 10,000
  variants     the same runs with --workers 2, with one embedding thread per query, with both, and with
               anyio's 40 request threads instead of the default 4
  --wrk        the same levels measured by wrk (a C client, so the client's own cost is smaller)
  --baseline REF   only an A/B by wrk: this checkout against git REF (a temporary worktree), the two
               servers taking turns for --rounds rounds, medians and ratios printed

    .venv/bin/python scripts/load_benchmark.py                     # about 6 minutes here
    .venv/bin/python scripts/load_benchmark.py --requests 300 --memory-requests 2000 --json out.json
    .venv/bin/python scripts/load_benchmark.py --baseline HEAD~1  # about 8 minutes

The client runs in this process, on the same 2 cores as the server: the figures include its cost.
Questions cycle through eval/nectain/queries.jsonl, so retrieval and answering do real work.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark import console, machine, show  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
KEY = {"X-Site-Key": "demo-public-key"}


def questions() -> list[str]:
    rows = [json.loads(line) for line in (ROOT / "eval/nectain/queries.jsonl").read_text().splitlines() if line.strip()]
    return [r["text"] for r in rows]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


class Server:
    """`nectarine serve` in a child process of its own session, on a free port, with every limit opened, a
    random admin token (``.token``), a throw-away SQLite database and no delivery targets; its output goes
    to ``.log_path``. Shared by the load, soak and worst-case benchmarks."""

    OPEN = "10000000/minute"

    def __init__(self, index: str, workers: int = 1, env: dict | None = None) -> None:
        import secrets
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.tmp = tempfile.mkdtemp(prefix="nectarine-bench-")
        self.log_path = Path(self.tmp) / "server.log"
        self.token = secrets.token_urlsafe(24)
        env = {**os.environ, "NECTARINE_RATE_LIMIT": self.OPEN, "NECTARINE_RATE_LIMIT_OTHER": self.OPEN,
               "NECTARINE_RATE_LIMIT_ANY": self.OPEN, "NECTARINE_RATE_LIMIT_ADMIN": self.OPEN,
               "NECTARINE_DATABASE_URL": f"sqlite:///{self.tmp}/db.sqlite", "NECTARINE_ADMIN_TOKEN": self.token,
               "NECTARINE_CORPUS": str(ROOT / "corpus"), **(env or {})}
        for name in ("NECTARINE_WEBHOOK_URL", "NECTARINE_SMTP_HOST", "NECTARINE_RATE_LIMIT_STORAGE"):
            env.pop(name, None)  # tickets stay in the throw-away database; limits in this process
        cmd = [str(ROOT / ".venv/bin/nectarine"), "serve", "--index", str(index), "--port", str(self.port), "--workers", str(workers)]
        self.started = time.perf_counter()
        self._log = open(self.log_path, "w")
        # A session of its own: Ctrl-C reaches the benchmark, which stops the server and its workers.
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        self.ps = psutil.Process(self.proc.pid)

    def wait_ready(self, timeout: float = 180) -> float:
        while time.perf_counter() - self.started < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited ({self.proc.returncode}):\n{self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return time.perf_counter() - self.started
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"the server was not ready within {timeout} s")

    def rss_mb(self) -> float:
        total = 0
        for p in [self.ps, *self.ps.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total / 2**20

    def stop(self) -> None:
        if self.proc.poll() is None:
            children = self.ps.children(recursive=True)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
            for child in children:  # workers the supervisor left behind, by pid
                try:
                    child.kill()
                except psutil.NoSuchProcess:
                    pass
        self._log.close()


serial = iter(range(10**9))


async def load(url: str, clients: int, total: int, qs: list[str]) -> dict:
    """``total`` /v1/ask requests from ``clients`` concurrent clients; latencies and throughput."""
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal errors
        for i in counter:
            t = time.perf_counter()
            # A distinct question every time: no request hits the query-embedding cache.
            question = f"{qs[i % len(qs)]} (ref {next(serial)})"
            r = await http.post(f"{url}/v1/ask", json={"question": question}, headers=KEY)
            latencies.append(time.perf_counter() - t)
            errors += r.status_code != 200

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        t0 = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        wall = time.perf_counter() - t0
    ms = [v * 1000 for v in latencies]
    return {"clients": clients, "requests": total, "errors": errors, "p50_ms": statistics.median(ms), "p95_ms": pct(ms, 95),
            "max_ms": max(ms), "req_per_s": total / wall}


def wrk(url: str, clients: int, seconds: int) -> dict:
    """One wrk run with scripts/wrk_ask.lua (distinct questions); its summary line as numbers."""
    out = subprocess.run(["wrk", "-t1", f"-c{clients}", f"-d{seconds}s", "--timeout", "10s", "-s", str(ROOT / "scripts/wrk_ask.lua"), url],
                         capture_output=True, text=True, cwd=ROOT, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("WRK "))
    return {k: float(v) for k, v in (kv.split("=") for kv in line.split()[1:])}


def chat_ttfe(url: str, qs: list[str], n: int) -> dict:
    first, done = [], []
    with httpx.Client(timeout=60) as http:
        for i in range(n):
            t = time.perf_counter()
            got_first = None
            message = f"{qs[i % len(qs)]} (ref {next(serial)})"
            with http.stream("POST", f"{url}/v1/chat", json={"message": message}, headers=KEY) as r:
                for line in r.iter_lines():
                    if got_first is None and line.startswith("event: delta"):
                        got_first = time.perf_counter() - t
                    if line.startswith("event: done"):
                        break
            done.append((time.perf_counter() - t) * 1000)
            first.append((got_first or 0) * 1000)
    return {"requests": n, "first_event_p50_ms": statistics.median(first), "first_event_p95_ms": pct(first, 95),
            "done_p50_ms": statistics.median(done)}


def ab(ref: str, index: str, rounds: int) -> list[dict]:
    """wrk at 1 and 32 clients against this checkout and against ``ref``, alternating, one and two workers."""
    base = Path(tempfile.mkdtemp(prefix="nectarine-ab-")) / "base"
    subprocess.run(["git", "worktree", "add", "--detach", "-q", str(base), ref], cwd=ROOT, check=True)
    runs: dict[tuple, list[dict]] = {}
    configs = (("1 worker", 1, {}), ("2 workers, 1 embedding thread", 2, {"NECTARINE_EMBED_THREADS": "1"}))
    try:
        for rnd in range(rounds):
            for name, code in ((ref, base), ("this checkout", ROOT)):
                for config, workers, env in configs:
                    # The same venv and index; PYTHONPATH puts the version under test first.
                    server = Server(index, workers=workers, env={"PYTHONPATH": str(code), **env})
                    try:
                        server.wait_ready()
                        wrk(server.url, 4, 3)
                        for clients in (1, 32):
                            runs.setdefault((config, clients, name), []).append(wrk(server.url, clients, 12))
                    finally:
                        server.stop()
            console.print(f"round {rnd + 1}/{rounds} done (load average {os.getloadavg()[0]:.2f})")
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, check=False)
    rows = []
    for config, _w, _e in configs:
        for clients in (1, 32):
            med = {name: {k: statistics.median(r[k] for r in runs[(config, clients, name)]) for k in ("p50_ms", "p95_ms", "req_per_s")}
                   for name in (ref, "this checkout")}
            new, old = med["this checkout"], med[ref]
            rows.append({"config": config, "clients": clients, f"p50 {ref}": old["p50_ms"], "p50 now": new["p50_ms"],
                         f"p95 {ref}": old["p95_ms"], "p95 now": new["p95_ms"], f"req/s {ref}": old["req_per_s"],
                         "req/s now": new["req_per_s"], "req/s ratio": round(new["req_per_s"] / old["req_per_s"], 2)})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", default="indexes/nectain", help="built index to serve (nectarine ingest corpus/ --index ...)")
    ap.add_argument("--requests", type=int, default=600, help="/v1/ask requests per concurrency level")
    ap.add_argument("--memory-requests", type=int, default=10_000)
    ap.add_argument("--skip-workers", action="store_true")
    ap.add_argument("--wrk", action="store_true", help="also measure with wrk (apt-get install wrk)")
    ap.add_argument("--json", type=Path, help="write the figures here")
    ap.add_argument("--baseline", metavar="REF", help="only compare this checkout with git REF under wrk (see above)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds for --baseline")
    args = ap.parse_args()
    qs = questions()
    results: dict = {"machine": machine()}
    console.print(results["machine"])
    if args.baseline:
        results["ab"] = ab(args.baseline, args.index, args.rounds)
        show(f"/v1/ask by wrk, medians of {args.rounds} alternating rounds, 12 s each (load average now {os.getloadavg()[0]:.2f})",
             results["ab"])
        if args.json:
            args.json.write_text(json.dumps(results, indent=2, default=str))
        return

    server = Server(args.index)
    try:
        results["cold_start_s"] = round(server.wait_ready(), 2)
        console.print(f"cold start to ready: {results['cold_start_s']:.2f} s")
        asyncio.run(load(server.url, 4, 40, qs))  # warm the code paths (not counted)
        rows = [asyncio.run(load(server.url, clients, args.requests, qs)) for clients in (1, 8, 32)]
        show(f"/v1/ask, offline answerer, one worker (load average now {os.getloadavg()[0]:.2f})", rows)
        results["ask"] = rows
        results["chat"] = chat_ttfe(server.url, qs, 100)
        show("/v1/chat time to first streamed event", [results["chat"]])
        served = 40 + 3 * args.requests + 100
        results["rss_mb_after"] = {served: round(server.rss_mb(), 1)}
        remaining = args.memory_requests - served
        if remaining > 0:
            asyncio.run(load(server.url, 8, remaining, qs))
            results["rss_mb_after"][args.memory_requests] = round(server.rss_mb(), 1)
        show("server RSS (MB) after N requests", [{"requests": k, "rss_mb": v} for k, v in results["rss_mb_after"].items()])
    finally:
        server.stop()

    # Memory after exactly 100 requests, from a fresh server (the run above is past 100 by then).
    fresh = Server(args.index)
    try:
        fresh.wait_ready()
        asyncio.run(load(fresh.url, 1, 100, qs))
        results["rss_mb_after_100"] = round(fresh.rss_mb(), 1)
        console.print(f"RSS after 100 requests (fresh server): {results['rss_mb_after_100']:.1f} MB")
    finally:
        fresh.stop()

    if not args.skip_workers:
        # Variants: two worker processes; one embedding thread per query; both.
        for name, workers, env in (("workers2", 2, {}), ("embed1", 1, {"NECTARINE_EMBED_THREADS": "1"}),
                                   ("workers2_embed1", 2, {"NECTARINE_EMBED_THREADS": "1"}),
                                   ("threads40", 1, {"NECTARINE_THREADS": "40"})):
            variant = Server(args.index, workers=workers, env=env)
            try:
                results[f"{name}_cold_start_s"] = round(variant.wait_ready(), 2)
                asyncio.run(load(variant.url, 4, 40, qs))
                results[name] = [asyncio.run(load(variant.url, c, args.requests, qs)) for c in (1, 8, 32)]
                results[f"{name}_rss_mb"] = round(variant.rss_mb(), 1)
                show(f"/v1/ask, {name} (load average now {os.getloadavg()[0]:.2f})", results[name])
            finally:
                variant.stop()
    if args.wrk:
        results["wrk"] = []
        for name, workers, env in (("default", 1, {}), ("workers2_embed1", 2, {"NECTARINE_EMBED_THREADS": "1"})):
            variant = Server(args.index, workers=workers, env=env)
            try:
                variant.wait_ready()
                wrk(variant.url, 4, 3)
                results["wrk"] += [{"config": name, "clients": c, **wrk(variant.url, c, 15)} for c in (1, 8, 32)]
            finally:
                variant.stop()
        show("/v1/ask measured by wrk (15 s per level)", results["wrk"])
    results["machine"]["load_avg_after"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
        console.print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
