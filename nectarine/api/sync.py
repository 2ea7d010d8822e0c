"""Scheduled sync: the service re-ingests its sources every ``NECTARINE_SYNC_INTERVAL``.

    NECTARINE_SOURCES='["https://docs.example.com/sitemap.xml", "git:/srv/release-notes?ref=main"]'
    NECTARINE_SYNC_INTERVAL=15m

A sync is an ordinary incremental ingest (:func:`nectarine.ingest.pipeline.ingest`) of every source
into the live index's folder, run in a worker thread: readers keep answering from the live generation
while it runs, and move to the new one when it is published (atomically, :mod:`nectarine.index.store`).
A sync that fails (a sitemap that does not answer, a repository gone, nothing left to ingest)
publishes nothing, so the previous index keeps serving, and the failure and its reason are reported.

The outcome of the last sync (when, ``ok``/``up_to_date``/``failed``, why, the counts) is kept in the
index folder (``sync-status.json``), so every worker and host serving that folder reports the same:
in ``/readyz`` (``sync``), in ``/metrics`` (``nectarine_sync_*``) and at ``GET /v1/admin/sync``;
``POST /v1/admin/sync`` runs one now. With several workers, a lock file in the index folder lets
one of them sync at a time; the others skip that round. Hosts that follow one index through
PostgreSQL (``NECTARINE_INDEX_SHARE``, :mod:`nectarine.api.share`) publish what they sync, and skip a
scheduled round when another host published a generation less than half an interval ago.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import threading
import time
import uuid
from pathlib import Path

from fastapi import APIRouter, HTTPException
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from ..index.store import folder_lock
from .deps import Admin, Rt, Runtime
from .schemas import ERRORS, Problem

STATUS_FILE = "sync-status.json"
LOCK_FILE = ".sync.lock"

router = APIRouter(prefix="/v1/admin")


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def index_folder(rt: Runtime) -> Path:
    return Path(rt.nec.reader.folder.parent) if rt.nec is not None else Path(rt.settings.index)


def read_status(folder: Path) -> dict | None:
    """The last sync's status as written in the index folder, or None if none ran."""
    try:
        return json.loads((folder / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return None


def _write_status(folder: Path, status: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{STATUS_FILE}.{uuid.uuid4().hex[:8]}"
    tmp.write_text(json.dumps(status, indent=2))
    os.replace(tmp, folder / STATUS_FILE)


class SourceSync:
    """Runs syncs of ``settings.sources`` into the live index, one at a time, and records each outcome."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.running = threading.Lock()
        self.runs = {"ok": 0, "up_to_date": 0, "failed": 0}

    @property
    def enabled(self) -> bool:
        return bool(self.rt.settings.sources)

    def run_once(self, *, scheduled: bool = False) -> dict:
        """One sync now (in the calling thread); returns the status it recorded, or the last one if a
        sync is already running here or in another worker. A ``scheduled`` round is skipped when
        another worker finished one less than half an interval ago (every worker keeps the schedule)."""
        rt = self.rt
        folder = index_folder(rt)
        if not self.enabled:
            raise RuntimeError("no sources to sync; set NECTARINE_SOURCES")
        last = read_status(folder) or {}
        if scheduled and last.get("finished_at"):
            age = dt.datetime.now(dt.timezone.utc) - dt.datetime.fromisoformat(last["finished_at"])
            if age.total_seconds() < rt.settings.sync_interval / 2 and last.get("pid") != os.getpid():
                return last
        share = getattr(rt, "share", None)
        if scheduled and share is not None and share.published_within(rt.settings.sync_interval / 2):
            return last or {"outcome": "pending"}  # another host synced and published (NECTARINE_INDEX_SHARE); this one pulls it
        if not self.running.acquire(blocking=False):
            return read_status(folder) or {"outcome": "running"}
        try:
            with folder_lock(folder, LOCK_FILE, wait=False) as mine:
                if not mine or not rt.reindexing.acquire(blocking=False):
                    return read_status(folder) or {"outcome": "running"}
                try:
                    return self._sync(folder)
                finally:
                    rt.reindexing.release()
        finally:
            self.running.release()

    def _sync(self, folder: Path) -> dict:
        from ..ingest.pipeline import ingest

        rt, settings = self.rt, self.rt.settings
        started, t0 = _now(), time.perf_counter()
        status: dict = {"started_at": started, "sources": list(settings.sources)}
        try:
            report = ingest(settings.sources, folder, embedder=rt.nec.embedder, trusted_domains=settings.trusted_domains)
        except Exception as exc:  # noqa: BLE001 - any failure keeps the live index; the status says why
            status.update(outcome="failed", error=f"{exc} ({exc.__class__.__name__}); the previous index is still served",
                          generation=rt.nec.reader.folder.name)
        else:
            rt.nec.refresh()
            if not report.up_to_date:
                from .share import built

                built(rt, report.generation)  # to NECTARINE_INDEX_SHARE, when set (nectarine.api.share)
            status.update(outcome="up_to_date" if report.up_to_date else "ok", error=None, generation=report.generation,
                          counts={"documents": report.documents, "chunks": report.chunks, "added": report.added,
                                  "changed": report.changed, "removed": report.removed, "embedded": report.embedded,
                                  "skipped": len(report.skipped), "flagged": len(report.flagged)},
                          skipped=[f"{s.path}: {s.reason}" for s in report.skipped[:20]])
        status.update(finished_at=_now(), seconds=round(time.perf_counter() - t0, 2), pid=os.getpid())
        last_ok = read_status(folder) or {}
        status["last_success_at"] = status["finished_at"] if status["outcome"] != "failed" else last_ok.get("last_success_at")
        self.runs[status["outcome"]] += 1
        _write_status(folder, status)
        if status["outcome"] == "failed":
            print(f"nectarine: sync failed: {status['error']}", flush=True)
        return status

    async def forever(self) -> None:
        """Sync now, then every ``sync_interval`` seconds; a failed round never stops the schedule."""
        interval = self.rt.settings.sync_interval
        while True:
            try:
                await asyncio.to_thread(self.run_once, scheduled=True)
            except Exception as exc:  # noqa: BLE001 - the loop must outlive any one round
                print(f"nectarine: sync round failed: {exc}", flush=True)
            await asyncio.sleep(interval)


class SyncCollector:
    """``nectarine_sync_*`` metrics, read from the index folder's status at scrape time (same on every worker)."""

    def __init__(self, rt: Runtime, sync: SourceSync) -> None:
        self.rt, self.sync = rt, sync

    def describe(self):
        return []

    def collect(self):
        status = read_status(index_folder(self.rt)) if self.rt.nec is not None else None
        runs = CounterMetricFamily("nectarine_sync_runs", "Syncs of NECTARINE_SOURCES run by this process, by outcome", labels=["outcome"])
        for outcome, n in self.sync.runs.items():
            runs.add_metric([outcome], n)
        yield runs
        if not status:
            return
        def stamp(key):
            value = status.get(key)
            return dt.datetime.fromisoformat(value).timestamp() if value else 0.0
        yield GaugeMetricFamily("nectarine_sync_last_finished_timestamp_seconds", "When the last sync finished", value=stamp("finished_at"))
        yield GaugeMetricFamily("nectarine_sync_last_success_timestamp_seconds", "When the last successful sync finished",
                                value=stamp("last_success_at"))
        yield GaugeMetricFamily("nectarine_sync_last_ok", "1 if the last sync succeeded, 0 if it failed",
                                value=0.0 if status.get("outcome") == "failed" else 1.0)
        yield GaugeMetricFamily("nectarine_sync_last_seconds", "How long the last sync took", value=float(status.get("seconds") or 0))
        counts = GaugeMetricFamily("nectarine_sync_last_count", "Counts of the last successful sync", labels=["what"])
        for what, n in (status.get("counts") or {}).items():
            counts.add_metric([what], float(n))
        yield counts


def attach(rt: Runtime) -> SourceSync:
    """The app's sync (``rt.sync``), its metrics registered; the lifespan starts :meth:`SourceSync.forever`."""
    sync = SourceSync(rt)
    rt.sync = sync  # type: ignore[attr-defined]
    rt.metrics.add_collector(SyncCollector(rt, sync))
    return sync


def sync_status(rt: Runtime) -> dict | None:
    """What ``/readyz`` reports under ``sync``: None when no sources are configured."""
    sync = getattr(rt, "sync", None)
    if sync is None or not sync.enabled:
        return None
    status = read_status(index_folder(rt)) or {"outcome": "pending"}
    keys = ("outcome", "started_at", "finished_at", "last_success_at", "error", "counts", "generation")
    return {k: status.get(k) for k in keys} | {"interval_seconds": rt.settings.sync_interval}


@router.get("/sync", responses={404: {"model": Problem, "description": "no sources configured"}, **ERRORS})
def sync_get(rt: Rt, _a: Admin) -> dict:
    """The last sync of ``NECTARINE_SOURCES``: when, its outcome (and why it failed), its counts and skipped pages."""
    sync = getattr(rt, "sync", None)
    if sync is None or not sync.enabled:
        raise HTTPException(404, "no sources configured; set NECTARINE_SOURCES (and NECTARINE_SYNC_INTERVAL for a schedule)")
    return {**(read_status(index_folder(rt)) or {"outcome": "pending"}), "interval_seconds": rt.settings.sync_interval}


@router.post("/sync", responses={404: {"model": Problem, "description": "no sources configured"},
                                 409: {"model": Problem, "description": "a sync or re-index is running"}, **ERRORS})
async def sync_now(rt: Rt, _a: Admin) -> dict:
    """Run a sync now (readers keep answering meanwhile); answers with its outcome."""
    sync = getattr(rt, "sync", None)
    if sync is None or not sync.enabled:
        raise HTTPException(404, "no sources configured; set NECTARINE_SOURCES")
    if sync.running.locked() or rt.reindexing.locked():
        raise HTTPException(409, "a sync or re-index is already running; wait for it to finish")
    return await asyncio.to_thread(sync.run_once)
