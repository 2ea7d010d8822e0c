"""Real servers on loopback for tests: uvicorn in a thread, and a small Server-Sent Events reader."""

from __future__ import annotations

import json
import socket
import threading
import time
from contextlib import contextmanager

import httpx
import uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url} was not ready within {timeout} s")


@contextmanager
def serve(app):
    """Run ``app`` under a real uvicorn on a free loopback port; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_ready(url)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def sse(response: httpx.Response) -> list[tuple[str, dict]]:
    """The (event, data) pairs of a text/event-stream response, in order."""
    events, name, data = [], "message", []
    for line in response.iter_lines():
        if line.startswith(":"):
            continue
        if not line:
            if data:
                events.append((name, json.loads("\n".join(data))))
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
    if data:
        events.append((name, json.loads("\n".join(data))))
    return events


@contextmanager
def served_corpus(corpus_paths, tmp, embedder, **settings):
    """The given folders ingested into ``tmp/index`` with ``embedder``, served by the real app (ticket
    store in ``tmp/db.sqlite``, answers rate limit opened); yields ``(base URL, assistant)``."""
    from nectarine import Nectarine, ingest
    from nectarine.api import Settings, create_app
    from nectarine.store import TicketStore

    ingest(list(corpus_paths), tmp / "index", embedder=embedder)
    nec = Nectarine.load(tmp / "index", embedder=embedder)
    nec.attach_store(TicketStore(f"sqlite:///{tmp / 'db.sqlite'}"))
    with serve(create_app(Settings(**{"rate_limit": "1000/minute", **settings}), nectarine=nec)) as url:
        yield url, nec
