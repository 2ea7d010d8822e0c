"""``nectarine serve``: the HTTP API, the chat panel and the demo page, under uvicorn."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from .common import DEFAULT_CORPUS, DEFAULT_INDEX, DatabaseOpt, IndexOpt, console, fail, service_settings


def worker_env(settings, workers: int) -> dict[str, str]:
    """The environment uvicorn's workers need: the validated settings as ``NECTARINE_*`` (each worker's
    ``create_app()`` reads them back), and with several workers a shared folder for their metrics."""
    import tempfile

    env = settings.to_env()
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        env["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="nectarine-metrics-")  # /metrics adds the workers up
    return env


def serve(
    index: IndexOpt = DEFAULT_INDEX,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    database: DatabaseOpt = None,
    corpus: Annotated[Path, typer.Option(help="What an admin re-index reads.")] = DEFAULT_CORPUS,
    workers: Annotated[int, typer.Option(min=1, max=16, help="Worker processes; they share the index on disk.")] = 1,
) -> None:
    """Serve the HTTP API, the chat panel (/widget.js) and a demo page (/). Other settings: NECTARINE_* (see README)."""
    import uvicorn

    from ..api.deps import make_limiter

    settings = service_settings(index=str(index), corpus=str(corpus), **({"database_url": database} if database else {}))
    if not (index / "CURRENT").exists() and not settings.index_share:  # with a share, the service pulls one
        fail(f"no index at {index}; build one with: nectarine ingest {corpus} --index {index}")
    try:
        make_limiter(settings)  # a bad NECTARINE_RATE_LIMIT_STORAGE, or no Redis client: said now, not in each worker
    except ValueError as exc:
        fail(f"invalid NECTARINE_* setting: {exc}")
    if workers > 1 and settings.rate_limit_storage == "memory://":
        console.print(f"[yellow]note:[/] rate limits are counted in each of the {workers} workers, so a client may get up to "
                      f"{workers} times {settings.rate_limit}; set NECTARINE_RATE_LIMIT_STORAGE=redis://HOST:PORT/0 to share them")
    os.environ.update(worker_env(settings, workers))
    # The app reads X-Forwarded-For itself, from NECTARINE_TRUSTED_PROXIES only: uvicorn's own proxy
    # handling trusts 127.0.0.1 by default, which would let anyone behind a local proxy pick their address.
    # A worker answers uvicorn's health pings from a thread, which waits for the GIL while the model loads;
    # on a busy machine that took over uvicorn's 5 s and the parent killed every worker as it started.
    uvicorn.run("nectarine.api:create_app", factory=True, host=host, port=port, workers=workers, log_level="info",
                proxy_headers=False, timeout_worker_healthcheck=60)
