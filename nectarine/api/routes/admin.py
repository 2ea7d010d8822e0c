"""Admin: re-index without downtime, the conversation export, and counts. Every route needs the token."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from ..deps import Admin, Nec, Rt
from ..share import built
from ..schemas import ERRORS, Problem, ReindexResponse, Stats
from .tickets import invalid

router = APIRouter(prefix="/v1/admin")


@router.post("/reindex", response_model=ReindexResponse, responses={409: {"model": Problem}, **ERRORS})
def reindex(n: Nec, rt: Rt, _a: Admin) -> ReindexResponse:
    """Re-read the corpus and publish a new generation; readers keep answering from the old one meanwhile."""
    from ...ingest.pipeline import NothingIngested, ingest

    if not rt.reindexing.acquire(blocking=False):
        raise HTTPException(409, "a re-index is already running; wait for it to finish")
    try:
        # The configured sources (NECTARINE_SOURCES) when there are any: re-reading the corpus folder alone would
        # drop every web and git page until the next sync.
        report = ingest(rt.settings.sources or [rt.settings.corpus], n.reader.folder.parent, embedder=n.embedder, trusted_domains=rt.settings.trusted_domains)
    except (NothingIngested, FileNotFoundError, ValueError) as exc:
        raise HTTPException(409, f"re-index failed, the live index is unchanged: {exc}") from None
    finally:
        rt.reindexing.release()
    n.refresh()
    if not report.up_to_date:
        built(rt, report.generation)  # to NECTARINE_INDEX_SHARE, when set: the other hosts pull it
    return ReindexResponse(generation=n.reader.folder.name, up_to_date=report.up_to_date, documents=report.documents,
                           chunks=report.chunks, added=report.added, changed=report.changed, removed=report.removed,
                           embedded=report.embedded, skipped=[str(s) for s in report.skipped],
                           flagged=[str(f) for f in getattr(report, "flagged", [])], seconds=round(report.seconds, 2))


@router.get("/conversations", response_class=Response,
            responses={200: {"content": {"application/x-ndjson": {}}, "description": "one turn per line"}, **ERRORS})
def export(n: Nec, _a: Admin, since: Annotated[str | None, Query(max_length=40, description="ISO date, e.g. 2026-11-01")] = None,
           limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000) -> Response:
    """Stored turns (already redacted) as JSON Lines, oldest first."""
    start = None
    if since:
        try:
            start = dt.datetime.fromisoformat(since)
            start = start if start.tzinfo else start.replace(tzinfo=dt.timezone.utc)
        except ValueError:
            raise invalid(["query", "since"], f"since={since!r}: use an ISO date like 2026-11-01") from None
    lines = [json.dumps({"id": t.public_id, "session_id": t.session_id, "created_at": t.created_at.isoformat(), "question": t.question,
                         "answer": t.answer, "confidence": t.confidence, "handoff": t.handoff, "answerer": t.answerer,
                         "sources": t.sources, "language": t.language, "feedback": t.feedback, "feedback_comment": t.feedback_comment},
                        ensure_ascii=False) for t in n.conversations.turns(since=start, limit=limit)]
    return Response("\n".join(lines) + ("\n" if lines else ""), media_type="application/x-ndjson",
                    headers={"Content-Disposition": 'attachment; filename="conversations.jsonl"'})


@router.get("/stats", response_model=Stats, responses=ERRORS)
def stats(n: Nec, _a: Admin) -> Stats:
    m = n.manifest
    return Stats(index={"generation": n.reader.folder.name, "chunks": n.reader.size, "model": m.model.get("name"),
                        "backend": m.model.get("backend")}, **n.conversations.stats(), tickets=n.tickets.stats())
