"""The HTTP service: a thin FastAPI shell over the library (first part of the service issue).

Routes validate input with pydantic schemas, call the library, and return schemas. Settings come
from the environment (``NECTARINE_*``); the loaded assistant arrives through a dependency, so tests
hand in a real one built for the test.

    uvicorn --factory nectarine.service:create_app --host 127.0.0.1 --port 8000
"""



import time
import uuid
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .types import Answer, AskContext, Message


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NECTARINE_")

    index: str = "indexes/default"
    database_url: str = "sqlite:///data/nectarine.db"
    max_body_bytes: int = 2_000_000
    max_message_chars: int = 4_000


# ------------------------------------------------------------------ schemas


class AskRequest(BaseModel):
    question: str = Field(min_length=1, max_length=4000)
    history: list[Message] = Field(default_factory=list, max_length=40)
    context: AskContext = Field(default_factory=AskContext)


class AskResponse(BaseModel):
    answer: Answer
    turn_id: int | None = None


class FeedbackRequest(BaseModel):
    turn_id: int
    helpful: bool
    comment: str | None = Field(default=None, max_length=2000)


class DraftRequest(BaseModel):
    conversation: list[dict] = Field(min_length=1, max_length=60)
    context: AskContext = Field(default_factory=AskContext)
    attachments: list[dict] = Field(default_factory=list, max_length=10)


class SubmitRequest(BaseModel):
    draft: dict
    priority: str | None = None  # the user's choice, if they changed it


class TicketResponse(BaseModel):
    id: str
    status: str
    priority: str
    title: str


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
}


def create_app(settings: Settings | None = None, nectarine=None) -> FastAPI:
    """The app; pass a loaded ``Nectarine`` to skip loading one from ``settings.index``."""
    settings = settings or Settings()
    state = {"nec": nectarine, "ready": False, "started": time.time()}

    def _load() -> None:
        if state["nec"] is None:
            from .assistant import Nectarine

            state["nec"] = Nectarine.load(settings.index)
        if getattr(state["nec"], "_store", None) is None:
            from .handoff.store import TicketStore

            state["nec"].attach_store(TicketStore(settings.database_url))
        state["nec"].warm_up()
        state["ready"] = True

    @asynccontextmanager
    async def lifespan(_app):
        _load()  # ready once the index and the models are loaded
        yield

    app = FastAPI(title="Nectarine", version=__import__("nectarine").__version__, lifespan=lifespan,
                  description="Nectain's AI assistant: cited answers, and a prefilled support ticket when the docs cannot help.")

    @app.middleware("http")
    async def _guard(request: Request, call_next):
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > settings.max_body_bytes:
            return JSONResponse({"detail": f"request body over {settings.max_body_bytes} bytes; send less (attach logs as files)"},
                                status_code=413, headers=SECURITY_HEADERS)
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    def nec():
        if not state["ready"]:
            raise HTTPException(503, "the assistant is still loading; retry in a few seconds")
        return state["nec"]

    Nec = Annotated[object, Depends(nec)]

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        ready = state["ready"]
        return JSONResponse({"ready": ready}, status_code=200 if ready else 503)

    @app.post("/v1/ask", response_model=AskResponse)
    def ask(body: AskRequest, n: Nec) -> AskResponse:
        context = body.context.model_copy(update={"session_id": body.context.session_id or uuid.uuid4().hex[:16]})
        answer = n.ask(body.question, history=body.history, context=context)
        turn = n.tickets.record_turn(body.question, answer, session_id=context.session_id)
        return AskResponse(answer=answer, turn_id=turn)

    @app.post("/v1/feedback", status_code=204)
    def feedback(body: FeedbackRequest, n: Nec) -> None:
        try:
            n.tickets.record_feedback(body.turn_id, body.helpful, body.comment)
        except KeyError:
            raise HTTPException(404, f"no answer with turn_id {body.turn_id}") from None

    @app.post("/v1/tickets/draft")
    def draft(body: DraftRequest, n: Nec) -> dict:
        try:
            return n.draft_ticket(body.conversation, body.context, body.attachments).model_dump(mode="json")
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None

    @app.post("/v1/tickets", response_model=TicketResponse, status_code=201)
    def submit(body: SubmitRequest, n: Nec, idempotency_key: Annotated[str, Header(min_length=1, max_length=128)]) -> TicketResponse:
        from .handoff.draft import TicketDraft

        try:
            ticket = TicketDraft.model_validate(body.draft)
            if body.priority:
                ticket = ticket.with_priority(body.priority)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        row = n.submit_ticket(ticket, idempotency_key)
        return TicketResponse(id=row.id, status=row.status, priority=row.priority, title=row.title)

    @app.get("/v1/tickets/{ticket_id}")
    def get_ticket(ticket_id: str, n: Nec, x_session_id: Annotated[str | None, Header()] = None) -> dict:
        row = n.get_ticket(ticket_id)
        # A ticket is visible only to the session that created it.
        if row is None or not x_session_id or row.session_id != x_session_id:
            raise HTTPException(404, "no such ticket for this session")
        return {"id": row.id, "status": row.status, "priority": row.priority, "draft": row.draft}

    return app
