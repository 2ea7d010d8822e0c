"""One index for many hosts, in the service: ``NECTARINE_INDEX_SHARE=postgresql://...``.

    NECTARINE_INDEX_SHARE=postgresql://nectarine:secret@db.internal:5432/nectarine
    NECTARINE_INDEX_SHARE_SECONDS=5

Every instance keeps serving from its own local index folder (``NECTARINE_INDEX``). With a share:

* a generation this instance builds (``POST /v1/admin/reindex``, a scheduled or requested sync) is
  published to PostgreSQL right after it goes live here (:func:`nectarine.index.shared.publish_generation`);
  if PostgreSQL cannot take it, it stays live here and the upload is retried on every poll;
* every ``index_share_seconds`` each instance asks PostgreSQL for the newest generation (one small
  query) in a worker thread, pulls it if it is not its own (:func:`nectarine.index.shared.pull_latest`)
  and switches to it (``Nectarine.refresh``). Requests keep being answered throughout;
* an instance that starts with an empty folder pulls the newest generation before loading; one that
  starts with an index while nothing is published yet publishes it.

A failed pull (PostgreSQL down, a damaged download) keeps the live generation; it is logged and
shown in ``/readyz`` under ``share`` with the error, as is the last success. A re-index reaches the
other hosts within ``index_share_seconds`` plus the download and the load (BENCHMARKS.md).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from pathlib import Path

from ..errors import ShareError
from ..store import masked
from .deps import Runtime


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class IndexShare:
    """Publishes this instance's new generations and pulls the others' (``rt.share``)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.url = rt.settings.index_share
        self.pending: str | None = None  # a generation built here whose upload failed: retried on each poll
        self.logged: tuple[str, float] = ("", 0.0)  # the last failure logged, and when: once a minute while it lasts
        self.lock = threading.Lock()  # one publish or pull at a time in this process
        self.status: dict = {"outcome": "pending", "error": None, "checked_at": None, "last_success_at": None,
                             "published": None, "pulled": None, "last_pull_seconds": None, "last_publish_seconds": None}

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    def folder(self) -> Path:
        rt = self.rt
        return Path(rt.nec.reader.folder.parent) if rt.nec is not None else Path(rt.settings.index)

    def _failed(self, what: str, exc: Exception) -> None:
        # /readyz is public: the server's address (in the URL, in libpq's reasons) stays in the log
        public = str(exc).replace(masked(self.url), "the configured URL")
        if "cannot reach the index share" in public:
            public = "cannot reach the index share (NECTARINE_INDEX_SHARE); the service's log says why"
        self.status.update(outcome="failed", error=f"{what}: {public}", checked_at=_now())
        if self.logged[0] != str(exc) or time.monotonic() - self.logged[1] > 60:
            self.logged = (str(exc), time.monotonic())
            print(f"nectarine: index share: {what} failed, the live index is kept: {exc}", flush=True)

    def _ok(self, **fields) -> None:
        self.status.update(outcome="ok", error=None, checked_at=_now(), last_success_at=_now(), **fields)

    def _publish(self, generation: str) -> None:
        from ..index.shared import publish_generation

        result = publish_generation(self.url, self.folder(), generation)
        self.pending = None
        self._ok(published=generation, **({"last_publish_seconds": round(result.seconds, 2)} if result.uploaded else {}))
        if result.uploaded:
            print(f"nectarine: index share: published {generation} ({result.bytes / 1e6:.1f} MB in {result.seconds:.1f} s)", flush=True)

    def _pull(self, *, wait: bool) -> bool:
        from ..index.shared import pull_latest

        # Before loading (wait=True, at start) any model will do: Nectarine.load picks the index's own.
        result = pull_latest(self.url, self.folder(), wait=wait, same_model=not wait)
        if result.pulled:
            self._ok(pulled=result.published, last_pull_seconds=round(result.seconds, 2))
            print(f"nectarine: index share: pulled {result.published} ({result.bytes / 1e6:.1f} MB in {result.seconds:.1f} s)", flush=True)
        elif result.reason != "busy":
            self._ok()
        return result.pulled

    def start(self) -> None:
        """Before the index is loaded: pull the newest generation (an empty folder gets one), or publish
        the local one if nothing is published yet."""
        from ..index.shared import latest
        from ..index.store import current_generation

        folder = Path(self.rt.settings.index)
        with self.lock:
            try:
                self._pull(wait=True)
                local = current_generation(folder)
                if local is not None and latest(self.url) is None:
                    self._publish(local)
            except ShareError as exc:
                self._failed("start", exc)
        if current_generation(folder) is None:
            raise ShareError(f"no index at {folder} and none could be pulled from {masked(self.url)}"
                             f"{' (' + self.status['error'] + ')' if self.status.get('error') else ''}; build one "
                             f"(nectarine ingest corpus/ --index {folder}) and publish it (nectarine index publish --index {folder})")

    def built(self, generation: str | None) -> None:
        """A new generation went live here: publish it (on failure, keep it live and retry on the next poll)."""
        if not self.enabled or not generation:
            return
        with self.lock:
            try:
                self._publish(generation)
            except ShareError as exc:
                self.pending = generation
                self._failed(f"publishing {generation}", exc)

    def poll(self) -> bool:
        """One round (in a worker thread): retry a pending upload, pull a newer generation, switch to it."""
        rt = self.rt
        if not rt.ready or not self.lock.acquire(blocking=False):
            return False
        from ..index.shared import behind

        try:
            try:
                if self.pending:
                    self._publish(self.pending)
                # The check alone (one query) takes no lock, so an admin re-index never finds the folder busy
                # because of it; a download does, so it never runs beside a build writing the same folder.
                if behind(self.url, self.folder()) is None:
                    self._ok()
                    return False
                if not rt.reindexing.acquire(blocking=False):
                    return False  # a re-index or sync is writing this folder; its generation is published when it ends
                try:
                    pulled = self._pull(wait=False)
                finally:
                    rt.reindexing.release()
            except ShareError as exc:
                self._failed("pull" if not self.pending else f"publishing {self.pending}", exc)
                return False
        finally:
            self.lock.release()
        if pulled:
            rt.nec.refresh()
        return pulled

    async def forever(self) -> None:
        interval = self.rt.settings.index_share_seconds
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(self.poll)
            except Exception as exc:  # noqa: BLE001 - the loop must outlive any one round
                print(f"nectarine: index share round failed: {exc}", flush=True)

    def published_within(self, seconds: float) -> bool:
        """Whether some instance published a generation less than ``seconds`` ago (False if unknown)."""
        from ..index.shared import latest_age

        if not self.enabled:
            return False
        try:
            age = latest_age(self.url)
        except ShareError:
            return False
        return age is not None and age < seconds

    def readiness(self) -> dict | None:
        if not self.enabled:
            return None
        return {"interval_seconds": self.rt.settings.index_share_seconds, "pending": self.pending, **self.status}


def attach(rt: Runtime) -> IndexShare:
    share = IndexShare(rt)
    rt.share = share  # type: ignore[attr-defined]
    return share


def built(rt: Runtime, generation: str | None) -> None:
    """Call after a build went live here (re-index, sync): publishes it when a share is configured."""
    share = getattr(rt, "share", None)
    if share is not None:
        share.built(generation)


def share_status(rt: Runtime) -> dict | None:
    """What ``/readyz`` reports under ``share``: None without NECTARINE_INDEX_SHARE."""
    share = getattr(rt, "share", None)
    return share.readiness() if share is not None else None
