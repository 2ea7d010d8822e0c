"""An experiment kept for its figures (BENCHMARKS.md): two workers with a socket each (SO_REUSEPORT).

`nectarine serve --workers 2` (uvicorn) shares one listening socket: whichever worker wakes first
accepts a burst of connections, and wrk's 32 keep-alive connections split unevenly (24/8 seen).
Here each of two processes binds its own socket to the same port with SO_REUSEPORT, so the
kernel spreads connections by hash. Alternating rounds against `serve --workers 2`, wrk at 32
clients, 12 s; prints each round with the connection split, then the medians.

    .venv/bin/python scripts/reuseport_experiment.py   # about 3 minutes; needs indexes/nectain and wrk
"""

from __future__ import annotations

import collections
import multiprocessing as mp
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from live import wait_ready  # noqa: E402
from load_benchmark import ROOT, Server, wrk  # noqa: E402


def worker(port: int) -> None:
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(2048)
    uvicorn.Server(uvicorn.Config("nectarine.api:create_app", factory=True, log_level="warning")).run(sockets=[sock])


def split(port: int) -> dict:
    out = subprocess.run(["ss", "-tnpH", "state", "established", f"( sport = :{port} )"], capture_output=True, text=True).stdout
    return dict(collections.Counter(re.findall(r"pid=(\d+)", out)))


def measure(url: str, port: int) -> tuple[dict, dict]:
    wrk(url, 4, 2)
    result: dict = {}
    run = threading.Thread(target=lambda: result.update(wrk(url, 32, 12)))
    run.start()
    time.sleep(4)
    seen = split(port)
    run.join()
    return result, seen


def main(rounds: int = 3) -> None:
    os.chdir(ROOT)
    os.environ.update({"NECTARINE_RATE_LIMIT": "10000000/minute", "NECTARINE_RATE_LIMIT_ANY": "10000000/minute", "NECTARINE_EMBED_THREADS": "1", "NECTARINE_INDEX": "indexes/nectain",
                       "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp()})
    runs = collections.defaultdict(list)
    for rnd in range(rounds):
        shared = Server("indexes/nectain", workers=2, env={"NECTARINE_EMBED_THREADS": "1"})
        try:
            shared.wait_ready()
            time.sleep(2)
            result, seen = measure(shared.url, shared.port)
            runs["one shared socket (serve --workers 2)"].append(result)
            print(rnd, "shared", result, "connections per worker:", sorted(seen.values()), flush=True)
        finally:
            shared.stop()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        os.environ["NECTARINE_DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/db.sqlite"
        procs = [mp.get_context("spawn").Process(target=worker, args=(port,)) for _ in range(2)]
        for p in procs:
            p.start()
        try:
            url = f"http://127.0.0.1:{port}"
            wait_ready(url, timeout=120)
            time.sleep(8)  # the second process too
            result, seen = measure(url, port)
            runs["a socket per worker (SO_REUSEPORT)"].append(result)
            print(rnd, "reuseport", result, "connections per worker:", sorted(seen.values()), flush=True)
        finally:
            for p in procs:
                p.terminate()
                p.join()
    for name, results in runs.items():
        print(name, {k: statistics.median(r[k] for r in results) for k in ("p50_ms", "p95_ms", "p99_ms", "req_per_s")})


if __name__ == "__main__":
    main()
