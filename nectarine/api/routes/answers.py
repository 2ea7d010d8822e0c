"""Answers: one question (``/v1/ask``), a streamed conversation (``/v1/chat``), and the cited passages."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from typing import Annotated

from fastapi import APIRouter, HTTPException
from fastapi import Path as PathParam
from sse_starlette.sse import EventSourceResponse

from ...types import Answer, Message
from ..deps import Answering, Nec, Other, Rt, Runtime
from ..schemas import ERRORS, AskRequest, AskResponse, ChatRequest, Problem, SourceResponse

router = APIRouter()


def _record(rt: Runtime, n, question: str, answer: Answer, session_id: str, version: str | None = None) -> str:
    rt.metrics.answered(answer)
    return n.conversations.record_turn(question, answer, session_id=session_id, version=version)


@router.post("/v1/ask", response_model=AskResponse, responses=ERRORS)
def ask(body: AskRequest, n: Nec, rt: Rt, _who: Answering) -> AskResponse:
    context = body.context.model_copy(update={"session_id": body.context.session_id or uuid.uuid4().hex})
    answer = n.ask(body.question, history=body.history, context=context)
    return AskResponse(answer=answer, turn_id=_record(rt, n, body.question, answer, context.session_id, context.version))


@router.post("/v1/chat", responses={200: {"content": {"text/event-stream": {}}, "description": "start, delta..., done (or error)"},
                                    **ERRORS})
async def chat(body: ChatRequest, n: Nec, rt: Rt, _who: Answering) -> EventSourceResponse:
    """Server-Sent Events: ``start`` (session id), ``delta`` (text as produced), then ``done`` (the
    verified answer with citations, confidence and handoff, which replaces the streamed text)."""
    session_id = body.session_id or uuid.uuid4().hex
    context = body.context.model_copy(update={"session_id": session_id})
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    started = time.perf_counter()
    metrics = rt.metrics

    def work() -> None:
        try:
            turns = n.conversations.session_turns(session_id, rt.settings.history_turns)
            history = [Message(role=r, content=t[:8000]) for turn in turns for r, t in (("user", turn.question), ("assistant", turn.answer))]
            answer = n.ask(body.message, history=history, context=context,
                           on_delta=lambda d: loop.call_soon_threadsafe(queue.put_nowait, ("delta", d)))
            turn_id = _record(rt, n, body.message, answer, session_id, context.version)
            loop.call_soon_threadsafe(queue.put_nowait, ("done", (answer, turn_id)))
        except Exception as exc:  # noqa: BLE001 - reported to the client as an event, not a broken stream
            import traceback

            traceback.print_exc()
            loop.call_soon_threadsafe(queue.put_nowait, ("error", exc))

    async def events():
        yield {"event": "start", "data": json.dumps({"session_id": session_id, "turn_id": None})}
        task = loop.run_in_executor(None, work)
        streamed = False
        while True:
            kind, item = await queue.get()
            if kind == "delta":
                if not streamed:
                    metrics.first_event.observe(time.perf_counter() - started)
                streamed = True
                yield {"event": "delta", "data": json.dumps({"text": item})}
            elif kind == "done":
                answer, turn_id = item
                if not streamed:  # composed at once (offline): send it in readable pieces, as a model would
                    for i, piece in enumerate(_pieces(answer.text)):
                        if i == 0:
                            metrics.first_event.observe(time.perf_counter() - started)
                        yield {"event": "delta", "data": json.dumps({"text": piece})}
                payload = {"answer": answer.model_dump(mode="json"), "turn_id": turn_id, "session_id": session_id}
                yield {"event": "done", "data": json.dumps(payload)}
                break
            else:
                yield {"event": "error", "data": json.dumps({"detail": f"the answer failed: {item.__class__.__name__}", "status": 500})}
                break
        await task

    return EventSourceResponse(events(), ping=15, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@router.get("/v1/sources/{chunk_id}", response_model=SourceResponse, responses={404: {"model": Problem}, **ERRORS})
def source(chunk_id: Annotated[str, PathParam(max_length=200)], n: Nec, _who: Other) -> SourceResponse:
    """The passage a citation points at, for the panel's source view."""
    chunk = n.reader.chunk_by_id(chunk_id)
    if chunk is None:
        raise HTTPException(404, f"no passage {chunk_id!r} in the live index (it may have been re-indexed; ask again)")
    return SourceResponse(chunk_id=chunk.id, title=chunk.title, heading_path=chunk.heading_path, url=chunk.url,
                          versions=chunk.versions, text=chunk.text, date=chunk.date.isoformat() if chunk.date else None)


def _pieces(text: str, words: int = 6):
    """Readable streaming pieces of an already composed text, keeping its whitespace exactly."""
    tokens = re.findall(r"\S+\s*|\s+", text)
    for i in range(0, len(tokens), words):
        yield "".join(tokens[i:i + words])
