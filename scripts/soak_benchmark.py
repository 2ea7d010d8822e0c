"""Soak benchmark: a real `nectarine serve` on loopback under steady mixed traffic; does its memory level off?

What it does:
  1. builds an index of corpus/ into a temporary folder (`nectarine ingest`; or serves --index DIR), and
     starts `.venv/bin/nectarine serve` on 127.0.0.1 on a free port, with a throw-away SQLite database,
     a random admin token and the rate limits opened (scripts/load_benchmark.py: Server);
  2. for --minutes sends mixed traffic at a steady --rate (requests/s in total, from --clients concurrent
     httpx clients, only to 127.0.0.1):
       ask       POST /v1/ask, with a session id of its own in the context
       chat      POST /v1/chat (Server-Sent Events, read to the `done` event)
       draft     POST /v1/tickets/draft with an attached log of 20-100 KB of generated text full of unique ids
       feedback  POST /v1/feedback on a turn an ask returned: its turn_id (opaque) and the ask's session id
       submit    POST /v1/tickets with a draft the draft route returned and a unique Idempotency-Key
     Questions are corpus titles and headings with random suffixes, so answers and cache keys differ.
     When the server falls behind, the ticks it cannot take are skipped (counted), never queued unboundedly;
  3. every --sample-seconds, sums the RSS of the server process and its children (psutil), and prints a
     table of the samples; writes the samples as JSON and a plot of RSS over time (PNG) to --out;
  4. prints a verdict, computed and not asserted: memory LEVELS OFF when the RSS growth over the second
     half of the run is under both 30 MB (--threshold-mb) and 5% (--threshold-pct) of its level at half
     time. The growth is that of a least-squares line through the second half's samples (one noisy sample
     cannot decide it); the raw difference between the last sample and the one at half time is shown too.
     Why both: the server sits near 700 MB, where 5% is 35 MB; 30 MB is about what the service's bounded
     caches add after their first thousands of requests (BENCHMARKS.md: +15 MB from 1,940 to 10,000), so
     more than that in the second half of a run is growth worth a look, and 5% guards a larger server.

Any 5xx (and any `error` event on the chat stream) is an error and is printed with its route and body.
The server is stopped at the end, on Ctrl-C and on an error (its log is copied to --out).

    .venv/bin/python scripts/soak_benchmark.py                    # 20 minutes at 8 requests/s
    .venv/bin/python scripts/soak_benchmark.py --quick            # 2 minutes, a sample every 10 s
    .venv/bin/python scripts/soak_benchmark.py --minutes 60 --rate 12 --out /tmp/soak

The client runs in this process, on the same cores as the server: the machine and its load average at
the start and the end are printed with the results.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import platform
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psutil
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_benchmark import Server  # noqa: E402  (the benchmarks' one way of starting a server)

ROOT = Path(__file__).resolve().parent.parent
NECTARINE = ROOT / ".venv/bin/nectarine"
KEY = {"X-Site-Key": "demo-public-key"}
MIX = {"ask": 0.40, "chat": 0.25, "draft": 0.15, "feedback": 0.10, "submit": 0.10}
VERSIONS = ["4.1", "4.2", "4.2.3", "4.3.1", "4.4", "4.5.0", "4.6.1"]
REQUEST_TIMEOUT = 60.0  # seconds, for any one request (a chat stream included)
DRAIN_SECONDS = 90.0  # after --minutes, how long requests already sent may take to finish
MAX_EXAMPLES = 25  # error bodies kept for the report

console = Console()


# ------------------------------------------------------------------ machine


def machine() -> dict:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_mb": psutil.virtual_memory().total // 2**20,
            "python": platform.python_version(), "load_avg_start": [round(x, 2) for x in os.getloadavg()],
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


# ------------------------------------------------------------------ questions and logs


def topics() -> list[str]:
    """Titles and headings of the corpus's pages (Markdown front matter and #-headings, HTML h1-h3/title)."""
    found: list[str] = []
    for path in sorted((ROOT / "corpus").rglob("*")):
        if not path.is_file() or path.name.startswith(".") or path.suffix not in (".md", ".html", ".htm", ".txt"):
            continue
        text = path.read_text(errors="replace")
        if path.suffix == ".md":
            found += re.findall(r"^title:\s*[\"']?(.+?)[\"']?\s*$", text, re.M)
            found += re.findall(r"^#{1,4}\s+(.+?)\s*#*\s*$", text, re.M)
        elif path.suffix in (".html", ".htm"):
            found += [re.sub(r"<[^>]+>", "", t) for t in re.findall(r"<(?:title|h[1-3])[^>]*>(.*?)</", text, re.S | re.I)]
        else:
            found += [ln.strip() for ln in text.splitlines()[:1]]
    out = sorted({re.sub(r"\s+", " ", t).strip() for t in found if 3 <= len(t.strip()) <= 150})
    if not out:
        raise SystemExit("no titles or headings found under corpus/")
    return out


TEMPLATES = ["How do I {t}?", "{t}", "What does the documentation say about {t}?", "I'm on {v}: {t}, how does it work?",
             "Can you explain {t} for an administrator?", "Where do I find {t} in Nectain {v}?", "{t} is not working for us"]


def question(rng: random.Random, ts: list[str]) -> str:
    t = rng.choice(ts)
    q = rng.choice(TEMPLATES).format(t=t[0].lower() + t[1:] if rng.random() < 0.5 else t, v=rng.choice(VERSIONS))
    return f"{q} (ref {rng.randrange(16**6):06x}-{rng.randrange(10**4)})"  # a distinct question: no cache hits


LEVELS = ["DEBUG", "INFO", "INFO", "INFO", "WARN", "ERROR"]
COMPONENTS = ["auth.saml", "api.gateway", "reports.scheduler", "grid.OrderGrid", "sync.worker", "db.pool", "webhooks.sender"]
ERRORS_SEEN = ["AUTH-1003 SAML assertion rejected", "HTTP 429 RATE_LIMITED on /api/v2/orders", "TimeoutError: report export timed out",
               "TypeError: Cannot read properties of undefined (reading 'rows')", "AUTH-1002 token expired", "ECONNRESET upstream closed"]


def log_text(rng: random.Random, size: int) -> str:
    """``size`` bytes (about) of a client log whose lines carry unique request, trace and user ids."""
    lines, total, t = [], 0, time.time() - rng.randrange(86_400)
    tenant = uuid.UUID(int=rng.getrandbits(128)).hex[:12]
    while total < size:
        t += rng.random() * 2
        level = rng.choice(LEVELS)
        msg = rng.choice(ERRORS_SEEN) if level == "ERROR" else f"handled {rng.choice(['GET', 'POST', 'PATCH'])} /api/v2/" \
            f"{rng.choice(['orders', 'reports', 'users', 'approvals'])}/{rng.randrange(10**7)} in {rng.randrange(1, 900)} ms"
        line = (f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(t))}.{rng.randrange(1000):03d} {level:<5} "
                f"[{rng.choice(COMPONENTS)}] tenant={tenant} req={uuid.UUID(int=rng.getrandbits(128))} "
                f"trace={rng.getrandbits(64):016x} user=u{rng.randrange(10**6)} {msg}")
        if rng.random() < 0.01:
            line += f" password=pw{rng.getrandbits(40):x}"  # a secret now and then, for the redaction path
        lines.append(line)
        total += len(line) + 1
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ the traffic


class Stats:
    def __init__(self) -> None:
        self.done = 0  # HTTP requests answered (any status)
        self.by_route: collections.Counter = collections.Counter()
        self.statuses: collections.Counter = collections.Counter()  # "200", "503", "timeout", "sse-error"...
        self.errors: collections.Counter = collections.Counter()  # the error statuses only
        self.examples: list[dict] = []
        self.client_errors: list[dict] = []  # 4xx: not server errors, but a soak should not see them either
        self.skipped = 0  # ticks the server was too busy for
        self.latency: dict[str, list[float]] = collections.defaultdict(list)

    def record(self, route: str, status: str, seconds: float, body: str | None = None) -> None:
        self.done += 1
        self.by_route[route] += 1
        self.statuses[status] += 1
        lat = self.latency[route]
        if len(lat) < 20_000:  # bounded: enough for percentiles
            lat.append(seconds)
        if status.startswith("5") or not status.isdigit() or status == "sse-error":
            self.errors[status] += 1
            if len(self.examples) < MAX_EXAMPLES:
                self.examples.append({"route": route, "status": status, "body": (body or "")[:1000]})
                console.print(f"[red]error[/] {route} → {status}: {(body or '')[:300]}")
        elif status.startswith("4") and len(self.client_errors) < MAX_EXAMPLES:
            self.client_errors.append({"route": route, "status": status, "body": (body or "")[:1000]})
            console.print(f"[yellow]unexpected {status}[/] {route}: {(body or '')[:300]}")

    def errors_text(self) -> str:
        return ", ".join(f"{k}×{v}" for k, v in sorted(self.errors.items())) or "-"


class Traffic:
    def __init__(self, url: str, rng: random.Random, stats: Stats) -> None:
        self.url, self.rng, self.stats = url, rng, stats
        self.topics = topics()
        self.turns: collections.deque = collections.deque(maxlen=200)  # (turn_id, session_id) from asks
        self.drafts: collections.deque = collections.deque(maxlen=20)  # drafts not yet submitted
        self.tickets = 0

    async def post(self, http: httpx.AsyncClient, route: str, body: dict, headers: dict | None = None) -> httpx.Response | None:
        t = time.perf_counter()
        try:
            r = await http.post(self.url + route, json=body, headers={**KEY, **(headers or {})})
        except httpx.TimeoutException as exc:
            self.stats.record(route, "timeout", time.perf_counter() - t, repr(exc))
            return None
        except httpx.TransportError as exc:
            self.stats.record(route, "transport", time.perf_counter() - t, repr(exc))
            return None
        self.stats.record(route, str(r.status_code), time.perf_counter() - t, None if r.status_code < 400 else r.text)
        return r

    def context(self, session_id: str) -> dict:
        return {"session_id": session_id, "version": self.rng.choice(VERSIONS), "language": "en-GB",
                "user_agent": "Mozilla/5.0 (X11; Linux x86_64) soak-benchmark", "time_zone": "Europe/Berlin"}

    async def ask(self, http: httpx.AsyncClient) -> None:
        session_id = uuid.uuid4().hex
        r = await self.post(http, "/v1/ask", {"question": question(self.rng, self.topics), "context": self.context(session_id)})
        if r is not None and r.status_code == 200 and r.json().get("turn_id") is not None:
            self.turns.append((r.json()["turn_id"], session_id))  # the id is opaque: kept as given

    async def chat(self, http: httpx.AsyncClient) -> None:
        route, t = "/v1/chat", time.perf_counter()
        body = {"message": question(self.rng, self.topics), "session_id": uuid.uuid4().hex, "context": {"version": self.rng.choice(VERSIONS)}}
        event, status, detail = None, None, ""
        try:
            async with http.stream("POST", self.url + route, json=body, headers={**KEY, "Accept": "text/event-stream"}) as r:
                if r.status_code != 200:
                    status, detail = str(r.status_code), (await r.aread()).decode(errors="replace")
                else:
                    async for line in r.aiter_lines():
                        if line.startswith("event:"):
                            event = line[6:].strip()
                        elif line.startswith("data:") and event in ("done", "error"):
                            detail = line[5:].strip()
                            break
                    status = "200" if event == "done" else "sse-error" if event == "error" else "sse-incomplete"
        except httpx.TimeoutException as exc:
            status, detail = "timeout", repr(exc)
        except httpx.TransportError as exc:
            status, detail = "transport", repr(exc)
        self.stats.record(route, status, time.perf_counter() - t, detail if status != "200" else None)

    async def draft(self, http: httpx.AsyncClient, keep: bool = True) -> dict | None:
        session_id = uuid.uuid4().hex
        q = question(self.rng, self.topics)
        body = {
            "conversation": [{"role": "user", "content": q},
                             {"role": "assistant", "content": "I could not find this in the documentation."},
                             {"role": "user", "content": f"It fails with {self.rng.choice(ERRORS_SEEN)} since this morning, "
                                                         f"order {self.rng.randrange(10**8)}"}],
            "context": self.context(session_id),
            "attachments": [{"name": f"client-{uuid.uuid4().hex[:8]}.log", "kind": "log",
                             "content": log_text(self.rng, self.rng.randrange(20_000, 100_001))}],
        }
        r = await self.post(http, "/v1/tickets/draft", body)
        if r is not None and r.status_code == 200:
            draft = r.json()
            if keep:
                self.drafts.append(draft)
            return draft
        return None

    async def feedback(self, http: httpx.AsyncClient) -> None:
        if not self.turns:
            return await self.ask(http)
        turn_id, session_id = self.turns.popleft()
        helpful = self.rng.random() < 0.6
        await self.post(http, "/v1/feedback", {"turn_id": turn_id, "helpful": helpful, "session_id": session_id,
                                               "comment": None if helpful else f"did not help ({uuid.uuid4().hex[:8]})"})

    async def submit(self, http: httpx.AsyncClient) -> None:
        draft = self.drafts.popleft() if self.drafts else await self.draft(http, keep=False)
        if draft is None:
            return
        r = await self.post(http, "/v1/tickets", {"draft": draft}, headers={"Idempotency-Key": uuid.uuid4().hex})
        if r is not None and r.status_code == 201:
            self.tickets += 1

    async def one(self, http: httpx.AsyncClient, kind: str) -> None:
        await getattr(self, kind)(http)


async def soak(server: Server, args, stats: Stats, samples: list[dict]) -> str:
    """Traffic for args.minutes with RSS samples; returns how it ended ("completed" or "interrupted")."""
    rng = random.Random(args.seed)
    traffic = Traffic(server.url, rng, stats)
    kinds, weights = list(MIX), list(MIX.values())
    duration = args.minutes * 60
    total_ticks = int(duration * args.rate)  # the bound on the number of operations
    queue: asyncio.Queue = asyncio.Queue(maxsize=args.clients * 2)
    t0 = time.monotonic()

    def sample() -> None:
        s = {"t_s": round(time.monotonic() - t0, 1), "rss_mb": round(server.rss_mb(), 1), "requests": stats.done,
             "by_route": dict(stats.by_route), "errors": dict(stats.errors), "skipped": stats.skipped,
             "load_avg_1m": round(os.getloadavg()[0], 2)}
        samples.append(s)
        prev = samples[-2] if len(samples) > 1 else None
        rate = (s["requests"] - prev["requests"]) / max(1e-9, s["t_s"] - prev["t_s"]) if prev else 0.0
        console.print(f"  {fmt_t(s['t_s'])}  RSS {s['rss_mb']:7.1f} MB  requests {s['requests']:6d} ({rate:4.1f}/s)  "
                      f"errors {stats.errors_text()}  skipped {stats.skipped}  load {s['load_avg_1m']:.2f}")

    async def producer() -> None:
        for i in range(total_ticks):
            delay = t0 + i / args.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if time.monotonic() - t0 >= duration:
                break
            try:
                queue.put_nowait(rng.choices(kinds, weights)[0])
            except asyncio.QueueFull:
                stats.skipped += 1  # the server is behind: this tick is dropped, not queued

    async def worker(http: httpx.AsyncClient) -> None:
        while True:
            kind = await queue.get()
            try:
                await traffic.one(http, kind)
            except Exception as exc:  # noqa: BLE001 - a client-side bug is reported, the soak goes on
                stats.record(kind, "client-error", 0.0, repr(exc))
            finally:
                queue.task_done()

    async def sampler() -> None:
        next_at = t0
        while True:
            sample()
            next_at += args.sample_seconds
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    limits = httpx.Limits(max_connections=args.clients + 2, max_keepalive_connections=args.clients + 2)
    timeout = httpx.Timeout(REQUEST_TIMEOUT, connect=10)
    how = "completed"
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as http:
        workers = [asyncio.create_task(worker(http)) for _ in range(args.clients)]
        sampling = asyncio.create_task(sampler())
        try:
            await producer()
            try:
                await asyncio.wait_for(queue.join(), DRAIN_SECONDS)
            except asyncio.TimeoutError:
                console.print(f"[yellow]requests still running {DRAIN_SECONDS:.0f} s after the end: cancelled[/]")
        except asyncio.CancelledError:
            how = "interrupted"
        finally:
            for task in (*workers, sampling):
                task.cancel()
            await asyncio.gather(*workers, sampling, return_exceptions=True)
        if not samples or samples[-1]["t_s"] < time.monotonic() - t0 - 1:
            sample()  # the final level
        try:  # what the server stored, as a cross-check of the counts (admin route)
            r = await http.get(server.url + "/v1/admin/stats", headers={"Authorization": f"Bearer {server.token}"}, timeout=10)
            stats.server_stats = r.json() if r.status_code == 200 else {"status": r.status_code, "body": r.text[:300]}
        except httpx.HTTPError as exc:
            stats.server_stats = {"error": repr(exc)}
    stats.tickets = traffic.tickets
    return how


# ------------------------------------------------------------------ report


def fmt_t(seconds: float) -> str:
    return f"{int(seconds // 60):02d}:{int(seconds % 60):02d}"


def verdict(samples: list[dict], threshold_mb: float, threshold_pct: float) -> dict:
    """Growth of RSS over the second half of the run: a least-squares line through its samples."""
    if len(samples) < 3:
        return {"levels_off": None, "reason": "fewer than 3 samples"}
    end = samples[-1]["t_s"]
    half = [s for s in samples if s["t_s"] >= end / 2]
    if len(half) < 2:
        half = samples[-2:]
    xs, ys = [s["t_s"] for s in half], [s["rss_mb"] for s in half]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / max(1e-9, sum((x - mx) ** 2 for x in xs))  # MB per second
    fitted_growth = slope * (xs[-1] - xs[0])
    level = my - slope * (mx - xs[0])  # the line at half time
    pct = 100 * fitted_growth / level if level else 0.0
    return {
        "levels_off": fitted_growth < threshold_mb and pct < threshold_pct,
        "second_half_from_s": xs[0], "samples_in_second_half": len(half),
        "rss_at_half_mb": round(ys[0], 1), "rss_at_end_mb": round(ys[-1], 1), "raw_growth_mb": round(ys[-1] - ys[0], 1),
        "fitted_growth_mb": round(fitted_growth, 1), "fitted_growth_pct": round(pct, 2),
        "slope_mb_per_min": round(slope * 60, 2), "threshold_mb": threshold_mb, "threshold_pct": threshold_pct,
        "rss_first_mb": samples[0]["rss_mb"], "rss_max_mb": max(s["rss_mb"] for s in samples),
    }


def table(samples: list[dict]) -> Table:
    t = Table(title="Server RSS (server process and its children) during the soak", header_style="bold")
    for name in ("time", "RSS MB", "requests done", "req/s", "errors by status", "skipped", "load 1m"):
        t.add_column(name, justify="left" if name == "errors by status" else "right")
    prev = None
    for s in samples:
        rate = (s["requests"] - prev["requests"]) / max(1e-9, s["t_s"] - prev["t_s"]) if prev else 0.0
        errs = ", ".join(f"{k}×{v}" for k, v in sorted(s["errors"].items())) or "-"
        t.add_row(fmt_t(s["t_s"]), f"{s['rss_mb']:,.1f}", f"{s['requests']:,}", f"{rate:.1f}", errs, f"{s['skipped']:,}",
                  f"{s['load_avg_1m']:.2f}")
        prev = s
    return t


def routes_table(stats: Stats) -> Table:
    t = Table(title="Requests by route", header_style="bold")
    for name in ("route", "requests", "p50 ms", "p95 ms", "max ms"):
        t.add_column(name, justify="left" if name == "route" else "right")
    for route, n in sorted(stats.by_route.items()):
        lat = sorted(stats.latency[route])
        q = lambda p: lat[min(len(lat) - 1, int(round(p * (len(lat) - 1))))] * 1000  # noqa: E731
        t.add_row(route, f"{n:,}", f"{q(0.5):.0f}", f"{q(0.95):.0f}", f"{lat[-1] * 1000:.0f}")
    return t


def plot(samples: list[dict], result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [s["t_s"] / 60 for s in samples]
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    ax.plot(xs, [s["rss_mb"] for s in samples], marker="o", markersize=3, color="#e8590c", label="server RSS (MB)")
    v = result["verdict"]
    if v.get("levels_off") is not None:
        ax.axvspan(v["second_half_from_s"] / 60, xs[-1], color="#1c7ed6", alpha=0.08, label="second half (verdict window)")
    ax.set_xlabel("minutes of traffic")
    ax.set_ylabel("RSS, MB")
    ax2 = ax.twinx()
    ax2.plot(xs, [s["requests"] for s in samples], color="#868e96", linestyle="--", linewidth=1, label="requests done")
    ax2.set_ylabel("requests done")
    verdict_text = {True: "levels off", False: "still growing", None: "no verdict"}[v.get("levels_off")]
    ax.set_title(f"Soak: {result['args']['rate']}/s for {result['args']['minutes']} min — {verdict_text}"
                 + (f" (second half {v['fitted_growth_mb']:+.1f} MB, {v['fitted_growth_pct']:+.1f}%)" if "fitted_growth_mb" in v else ""),
                 fontsize=10)
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# ------------------------------------------------------------------ main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=20.0, help="minutes of traffic (default 20)")
    ap.add_argument("--rate", type=float, default=8.0, help="requests per second, all routes together (default 8)")
    ap.add_argument("--clients", type=int, default=4, help="concurrent client connections (default 4)")
    ap.add_argument("--sample-seconds", type=float, default=30.0, help="seconds between RSS samples (default 30)")
    ap.add_argument("--quick", action="store_true", help="a try-out: 2 minutes, a sample every 10 s")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/soak", help="folder for the JSON, the PNG and the server log")
    ap.add_argument("--index", type=Path, help="serve this built index instead of building one of corpus/ in a temporary folder")
    ap.add_argument("--server-workers", type=int, default=1, help="`nectarine serve --workers` (default 1)")
    ap.add_argument("--threshold-mb", type=float, default=30.0, help="second-half growth under this (and under --threshold-pct) levels off")
    ap.add_argument("--threshold-pct", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=20261203)
    args = ap.parse_args()
    if args.quick:
        args.minutes, args.sample_seconds = 2.0, 10.0
    if args.rate <= 0 or args.minutes <= 0 or args.clients < 1 or args.sample_seconds <= 0:
        ap.error("--rate, --minutes and --sample-seconds must be positive, --clients at least 1")
    if not NECTARINE.exists():
        ap.error(f"{NECTARINE} not found: run `bash scripts/setup.sh` first")

    # SIGTERM (a CI timeout, kill PID) ends the run like Ctrl-C: the server is stopped and the results so far written.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    info = machine()
    console.print(f"[bold]machine[/]: {info['cpu']}, {info['cores']} cores, {info['memory_mb']:,} MB, Python {info['python']}; "
                  f"load average at start {info['load_avg_start']}")
    console.print(f"soak: {args.rate}/s for {args.minutes:g} min ({int(args.rate * args.minutes * 60):,} ticks at most), "
                  f"{args.clients} clients, a sample every {args.sample_seconds:g} s; mix {MIX}")
    tmp = Path(tempfile.mkdtemp(prefix="nectarine-soak-"))
    stats, samples, server = Stats(), [], None
    stats.server_stats, how, cold_start, index_seconds = {}, "not started", None, None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        index = args.index
        if index is None:
            index = tmp / "index"
            t = time.monotonic()
            console.print(f"building an index of corpus/ in {index} …")
            built = subprocess.run([str(NECTARINE), "ingest", str(ROOT / "corpus"), "--index", str(index)], cwd=ROOT,
                                   capture_output=True, text=True, timeout=900)
            if built.returncode != 0:
                raise RuntimeError(f"nectarine ingest failed:\n{built.stdout[-2000:]}\n{built.stderr[-2000:]}")
            index_seconds = round(time.monotonic() - t, 1)
            console.print(f"index built in {index_seconds} s")
        server = Server(str(index), args.server_workers)
        cold_start = round(server.wait_ready(), 2)
        console.print(f"server ready at {server.url} in {cold_start} s (pid {server.proc.pid}); RSS {server.rss_mb():.1f} MB")
        try:
            how = asyncio.run(soak(server, args, stats, samples))
        except KeyboardInterrupt:
            how = "interrupted"
            console.print("[yellow]interrupted: stopping the server and writing what was measured[/]")
    except KeyboardInterrupt:
        how = "interrupted before the traffic"
    finally:
        if server is not None:
            server.stop()
            shutil.copy(server.log_path, args.out / f"soak-{stamp}-server.log")
        shutil.rmtree(tmp, ignore_errors=True)

    info["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    if not samples:
        console.print(f"[red]no samples ({how})[/]")
        return 1
    result = {
        "machine": info, "ended": how, "index_build_s": index_seconds, "cold_start_s": cold_start,
        "args": {"minutes": args.minutes, "rate": args.rate, "clients": args.clients, "sample_seconds": args.sample_seconds,
                 "server_workers": args.server_workers, "seed": args.seed, "quick": args.quick},
        "mix": MIX, "requests": stats.done, "by_route": dict(stats.by_route), "statuses": dict(stats.statuses),
        "errors": dict(stats.errors), "error_examples": stats.examples,
        "client_error_examples": stats.client_errors, "skipped_ticks": stats.skipped,
        "tickets_submitted": stats.tickets, "server_stats": stats.server_stats,
        "verdict": verdict(samples, args.threshold_mb, args.threshold_pct), "samples": samples,
    }
    console.print(table(samples))
    console.print(routes_table(stats))
    console.print(f"statuses: {dict(sorted(stats.statuses.items()))}; skipped ticks: {stats.skipped}; "
                  f"tickets submitted: {stats.tickets}; server's own counts: {stats.server_stats}")
    if stats.examples:
        console.print(f"[red bold]{sum(stats.errors.values())} errors[/] (first {len(stats.examples)}):")
        for e in stats.examples:
            console.print(f"  {e['route']} {e['status']}: {e['body'][:500]}")
    else:
        console.print("[green]no errors[/] (no 5xx, timeouts, transport errors or failed streams)")
    v = result["verdict"]
    if v["levels_off"] is None:
        console.print(f"verdict: none ({v['reason']})")
    else:
        word = "[green bold]LEVELS OFF[/]" if v["levels_off"] else "[red bold]STILL GROWING[/]"
        console.print(f"verdict: memory {word}: over the second half (from {fmt_t(v['second_half_from_s'])}, {v['samples_in_second_half']} "
                      f"samples) RSS grew {v['fitted_growth_mb']:+.1f} MB ({v['fitted_growth_pct']:+.2f}%, {v['slope_mb_per_min']:+.2f} MB/min) "
                      f"by a least-squares line, {v['raw_growth_mb']:+.1f} MB last sample against half time "
                      f"({v['rss_at_half_mb']:.1f} → {v['rss_at_end_mb']:.1f} MB); levels off below {v['threshold_mb']:g} MB and "
                      f"{v['threshold_pct']:g}%. First sample {v['rss_first_mb']:.1f} MB, max {v['rss_max_mb']:.1f} MB.")
    console.print(f"machine: {info['cores']} cores; load average at start {info['load_avg_start']}, at end {info['load_avg_end']}; ended: {how}")
    json_path, png_path = args.out / f"soak-{stamp}.json", args.out / f"soak-{stamp}.png"
    json_path.write_text(json.dumps(result, indent=2, default=str))
    try:
        plot(samples, result, png_path)
        console.print(f"wrote {json_path}, {png_path} and the server log beside them")
    except ImportError:
        console.print(f"wrote {json_path} (matplotlib is not installed: no plot)")
    return 0 if how == "completed" else 130


if __name__ == "__main__":
    sys.exit(main())
