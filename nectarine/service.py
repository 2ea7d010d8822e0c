"""The HTTP service: a thin FastAPI shell over the library, and the chat panel it serves.

Routes validate input with pydantic schemas, call the library, and return schemas. Settings come
from the environment (``NECTARINE_*``); the loaded assistant arrives through ``create_app``, so
tests hand in a real one built for the test.

    uvicorn --factory nectarine.service:create_app --host 127.0.0.1 --port 8000

What guards what:
- the panel's public **site key** (``X-Site-Key``) names the origins allowed to use it (CORS);
- **admin** routes need ``Authorization: Bearer $NECTARINE_ADMIN_TOKEN`` (they are off without one);
- a **rate limit** per site key and client address answers 429 with ``Retry-After``;
- body and field **size limits** answer 413 and 422; malformed JSON answers 422, never 500.

Several worker processes can share one index folder: each checks the folder's ``CURRENT`` file
(every ``refresh_seconds``) and moves to a generation another process published.
"""

import asyncio
import os
import json
import secrets
import threading
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sse_starlette.sse import EventSourceResponse

from .handoff.store import masked
from .telemetry import ServiceMetrics
from .types import Answer, AskContext, Message

WEB = Path(__file__).with_name("web")
DEMO_ORIGINS = ["http://127.0.0.1:8000", "http://localhost:8000"]


class Settings(BaseSettings):
    """Service settings; each is read from ``NECTARINE_<NAME>`` (lists and maps as JSON)."""

    model_config = SettingsConfigDict(env_prefix="NECTARINE_")

    index: str = "indexes/default"  # the CLI's default too
    corpus: str = "corpus"  # what an admin re-index reads
    database_url: str = "sqlite:///data/nectarine.db"
    # Public site keys of the pages that embed the panel, each with the origins allowed to use it.
    site_keys: dict[str, list[str]] = Field(default_factory=lambda: {"demo-public-key": list(DEMO_ORIGINS)})
    require_site_key: bool = True
    admin_token: SecretStr | None = None  # admin routes answer 503 until one is set
    rate_limit: str = "30/minute"  # per site key and client address, for /v1/ask and /v1/chat
    rate_limit_other: str = "120/minute"  # feedback, tickets, sources
    # Where the limits are counted: memory:// is this process alone; redis://HOST:PORT/DB is shared by
    # every worker and host that names it (`serve --workers N` warns without it).
    rate_limit_storage: str = "memory://"
    max_body_bytes: int = 2_000_000
    history_turns: int = 6  # how much of a session /v1/chat reads a follow-up with
    refresh_seconds: float = 2.0
    threads: int = 0  # request threads per worker; 0: 4 with the offline answerer (CPU work), 40 with an LLM (network waits)
    answerer: str = "offline"  # or openai (NECTARINE_LLM_BASE_URL, NECTARINE_LLM_MODEL, NECTARINE_LLM_API_KEY), llamacpp
    demo: bool = True  # serve the demo Nectain page at /
    webhook_url: str | None = None  # where submitted tickets are delivered (HMAC-signed JSON)
    webhook_secret: SecretStr | None = None
    smtp_host: str | None = None  # and/or by email: NECTARINE_SMTP_HOST plus NECTARINE_SMTP_TO
    smtp_port: int = 25
    smtp_to: str | None = None
    smtp_from: str = "nectarine@localhost"
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    delivery_seconds: float = 15.0

    @model_validator(mode="after")
    def _email_needs_a_recipient(self):
        if self.smtp_host and not self.smtp_to:
            raise ValueError("NECTARINE_SMTP_HOST is set but NECTARINE_SMTP_TO is not: set the support address tickets are mailed to")
        return self

    def sinks(self) -> dict:
        """The delivery targets configured, by name (the names tickets' outbox entries carry)."""
        from .handoff.delivery import EmailSink, WebhookSink

        sinks: dict = {}
        if self.webhook_url:
            sinks["webhook"] = WebhookSink(self.webhook_url, self.webhook_secret.get_secret_value() if self.webhook_secret else "")
        if self.smtp_host:
            sinks["email"] = EmailSink(self.smtp_host, self.smtp_port, self.smtp_from, self.smtp_to, starttls=self.smtp_starttls,
                                       username=self.smtp_username,
                                       password=self.smtp_password.get_secret_value() if self.smtp_password else None)
        return sinks


# ------------------------------------------------------------------ schemas


class AskRequest(BaseModel):
    question: str = Field(min_length=1, max_length=4000)
    history: list[Message] = Field(default_factory=list, max_length=40)
    context: AskContext = Field(default_factory=AskContext)


class AskResponse(BaseModel):
    answer: Answer
    turn_id: int | None = None


class ChatRequest(BaseModel):
    message: str = Field(min_length=1, max_length=4000)
    session_id: str | None = Field(default=None, min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    context: AskContext = Field(default_factory=AskContext)


class FeedbackRequest(BaseModel):
    turn_id: int = Field(ge=1, le=2**63 - 1)
    helpful: bool
    comment: str | None = Field(default=None, max_length=2000)
    session_id: str | None = Field(default=None, max_length=64)


class DraftRequest(BaseModel):
    conversation: list[dict[str, Any]] = Field(min_length=1, max_length=60)
    context: AskContext = Field(default_factory=AskContext)
    attachments: list[dict[str, Any]] = Field(default_factory=list, max_length=10)


class SubmitRequest(BaseModel):
    draft: dict[str, Any]
    priority: str | None = Field(default=None, max_length=16)  # the user's choice, if they changed it


class TicketResponse(BaseModel):
    id: str
    status: str
    priority: str
    title: str


class SourceResponse(BaseModel):
    chunk_id: str
    title: str
    heading_path: list[str]
    url: str
    versions: str
    text: str


class Problem(BaseModel):
    detail: Any


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# The demo page runs the panel like any host page would: scripts and styles from this origin only.
DEMO_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "frame-ancestors 'none'")
ERRORS = {401: {"model": Problem}, 403: {"model": Problem}, 413: {"model": Problem}, 429: {"model": Problem}, 503: {"model": Problem}}


def invalid(where: list[str], message: str) -> HTTPException:
    """A 422 in the same shape as FastAPI's own validation errors, so clients read one format."""
    return HTTPException(422, [{"loc": where, "msg": message, "type": "value_error"}])


class Guard:
    """Every request: the body-size limit, security headers, per-route metrics, and the check for an
    index generation another worker published. Plain ASGI rather than ``@app.middleware``: Starlette's
    BaseHTTPMiddleware runs each request through an extra task and memory streams."""

    def __init__(self, app, settings: Settings, state: dict, metrics: ServiceMetrics) -> None:
        self.app, self.settings, self.state, self.metrics = app, settings, state, metrics
        self.headers = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, observed = time.perf_counter(), False
        settings, state = self.settings, self.state

        def observe(status: int) -> None:  # latency to the response's start (a stream's first byte)
            nonlocal observed
            if not observed:
                observed = True
                route = scope.get("route")
                self.metrics.observe(scope["method"], getattr(route, "path", "unmatched"), status, time.perf_counter() - started)

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in self.headers if h[0] not in present)]
                observe(message["status"])
            await send(message)

        try:
            length = dict(scope["headers"]).get(b"content-length", b"")
            if length.isdigit() and int(length) > settings.max_body_bytes:
                response = JSONResponse({"detail": f"request body over {settings.max_body_bytes} bytes; send less (attach long logs "
                                                   "as files: the ticket keeps their head, tail and error lines)"}, status_code=413)
                return await response(scope, receive, send_with_headers)
            if state["ready"] and time.monotonic() - state["checked"] > settings.refresh_seconds:
                state["checked"] = time.monotonic()  # another worker (or an admin) may have published a new generation
                await asyncio.to_thread(state["nec"].refresh)
            await self.app(scope, receive, send_with_headers)
        finally:
            observe(500)  # no response started: the app raised


def _limiter(settings: Settings):
    """Moving-window limits (the ``limits`` package, its asyncio side), counted in this process or in Redis."""
    from limits import parse
    from limits.aio.storage import MemoryStorage, RedisStorage
    from limits.aio.strategies import MovingWindowRateLimiter

    uri = settings.rate_limit_storage
    try:
        if uri.startswith(("redis://", "rediss://")):
            storage = RedisStorage(f"async+{uri}", implementation="redispy", socket_timeout=2, socket_connect_timeout=2)
        elif uri == "memory://":
            storage = MemoryStorage()
        else:
            raise ValueError("use memory:// (this process) or redis://HOST:PORT/DB (shared by workers)")
    except Exception as exc:  # noqa: BLE001 - a bad URI or a missing client library: say which setting
        raise ValueError(f"NECTARINE_RATE_LIMIT_STORAGE={masked(uri)}: {exc}") from None
    return MovingWindowRateLimiter(storage), {"answer": parse(settings.rate_limit), "other": parse(settings.rate_limit_other)}


def create_app(settings: Settings | None = None, nectarine=None) -> FastAPI:
    """The app; pass a loaded ``Nectarine`` to skip loading one from ``settings.index``."""
    settings = settings or Settings()
    state: dict[str, Any] = {"nec": nectarine, "ready": False, "checked": 0.0}
    metrics = ServiceMetrics()
    limiter, limits_ = _limiter(settings)
    reindexing = threading.Lock()
    origins = sorted({o for allowed in settings.site_keys.values() for o in allowed})

    def _load() -> None:
        if state["nec"] is None:
            from .assistant import Nectarine

            state["nec"] = Nectarine.load(settings.index, answerer=settings.answerer)
        if getattr(state["nec"], "_store", None) is None:
            from .handoff.store import TicketStore

            state["nec"].attach_store(TicketStore(settings.database_url))
        state["nec"].warm_up()
        state["ready"] = True

    targets = settings.sinks()

    async def _deliver_forever() -> None:
        # Tickets queued before any target was named carry the sink "default": the first target takes them.
        sinks = {**targets, "default": next(iter(targets.values()))}
        while True:
            try:
                await asyncio.to_thread(state["nec"].tickets.deliver_due, sinks)
            except Exception as exc:  # noqa: BLE001 - the loop must outlive a bad delivery round
                print(f"nectarine: ticket delivery round failed: {exc}", flush=True)
            await asyncio.sleep(settings.delivery_seconds)

    @asynccontextmanager
    async def lifespan(_app):
        import anyio

        # Offline answers are CPU work: four threads finish sooner than forty sharing two cores
        # (p95 at 32 clients 857 -> 609 ms, BENCHMARKS.md). LLM answers mostly wait, so they keep more.
        threads = settings.threads or (4 if settings.answerer == "offline" else 40)
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        try:
            reachable = await limiter.storage.check()
        except Exception:  # noqa: BLE001 - any failure to reach it is reported the same way
            reachable = False
        if not reachable:
            raise RuntimeError(f"the rate-limit storage {masked(settings.rate_limit_storage)} cannot be reached; start it, "
                               "or set NECTARINE_RATE_LIMIT_STORAGE=memory:// to count limits in each process")
        await asyncio.to_thread(_load)  # ready once the index and the models are loaded
        delivery = asyncio.create_task(_deliver_forever()) if targets else None
        yield
        if delivery is not None:
            delivery.cancel()

    app = FastAPI(title="Nectarine", version=__import__("nectarine").__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Nectain's AI assistant: cited answers, and a prefilled support ticket when the docs cannot help. "
                              "Panel routes need the page's public site key in `X-Site-Key`; admin routes a bearer token.")
    from fastapi.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/static/swagger", StaticFiles(directory=swagger_ui_path), name="swagger")
    app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"], max_age=600,
                       allow_headers=["Content-Type", "X-Site-Key", "X-Session-Id", "Idempotency-Key"], expose_headers=["Retry-After"])

    app.add_middleware(Guard, settings=settings, state=state, metrics=metrics)

    # ------------------------------------------------------------------ dependencies
    async def nec():
        if not state["ready"]:
            raise HTTPException(503, "the assistant is still loading; retry in a few seconds", headers={"Retry-After": "2"})
        return state["nec"]

    async def site(request: Request, x_site_key: Annotated[str | None, Header(max_length=200)] = None) -> str:
        """The caller's identity for rate limits; checks the site key and the page's origin."""
        client = request.client.host if request.client else "unknown"
        if not settings.require_site_key:
            return f"-|{client}"
        if not x_site_key or x_site_key not in settings.site_keys:
            raise HTTPException(401, "missing or unknown site key: send the X-Site-Key of the page that embeds the panel")
        origin = request.headers.get("origin")
        same_origin = origin in (f"http://{request.headers.get('host')}", f"https://{request.headers.get('host')}")
        if origin and not same_origin and origin not in settings.site_keys[x_site_key]:
            raise HTTPException(403, f"origin {origin} is not allowed for this site key; add it to the key's origins (NECTARINE_SITE_KEYS)")
        return f"{x_site_key}|{client}"

    def limited(kind: str):
        async def check(who: Annotated[str, Depends(site)]) -> str:
            try:
                allowed = await limiter.hit(limits_[kind], kind, who)
            except Exception as exc:  # noqa: BLE001 - the shared storage went away: serve, and say so now and then
                if time.monotonic() - state.get("limit_warned", -1e9) > 60:
                    state["limit_warned"] = time.monotonic()
                    print(f"nectarine: rate limits not enforced, storage unreachable: {type(exc).__name__}: {exc}", flush=True)
                return who
            if not allowed:
                reset, _remaining = await limiter.get_window_stats(limits_[kind], kind, who)
                wait = max(1, int(reset - time.time() + 0.999))
                metrics.rate_limited.labels(kind).inc()
                raise HTTPException(429, f"too many requests; wait {wait} s and try again", headers={"Retry-After": str(wait)})
            return who

        return check

    async def admin(authorization: Annotated[str | None, Header()] = None) -> None:
        if settings.admin_token is None:
            raise HTTPException(503, "admin routes are off: set NECTARINE_ADMIN_TOKEN to enable them")
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(token.encode(), settings.admin_token.get_secret_value().encode()):
            raise HTTPException(401, "admin routes need 'Authorization: Bearer <NECTARINE_ADMIN_TOKEN>'",
                                headers={"WWW-Authenticate": "Bearer"})

    async def is_admin(authorization: Annotated[str | None, Header()] = None) -> bool:
        try:
            await admin(authorization)
            return True
        except HTTPException:
            return False

    Nec = Annotated[Any, Depends(nec)]
    Answering = Annotated[str, Depends(limited("answer"))]
    Other = Annotated[str, Depends(limited("other"))]

    # ------------------------------------------------------------------ panel and health
    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    def demo_page() -> Response:
        if not settings.demo:
            raise HTTPException(404, "the demo page is off (NECTARINE_DEMO=false)")
        return FileResponse(WEB / "demo.html", media_type="text/html", headers={"Content-Security-Policy": DEMO_CSP})

    @app.get("/demo.js", include_in_schema=False)
    def demo_script() -> Response:
        if not settings.demo:
            raise HTTPException(404, "the demo page is off (NECTARINE_DEMO=false)")
        return FileResponse(WEB / "demo.js", media_type="text/javascript")

    bundle = widget_bundle()

    @app.api_route("/widget.js", methods=["GET", "HEAD"], include_in_schema=False)
    def widget(request: Request) -> Response:
        # Loaded by other origins' pages: allowed cross-origin, cached briefly, gzipped when the browser takes it.
        headers = {"Cross-Origin-Resource-Policy": "cross-origin", "Cache-Control": "public, max-age=300", "Vary": "Accept-Encoding",
                   "ETag": bundle.etag}
        if request.headers.get("if-none-match") == bundle.etag:
            return Response(status_code=304, headers=headers)
        if "gzip" in request.headers.get("accept-encoding", ""):
            return Response(bundle.gzipped, media_type="text/javascript", headers={**headers, "Content-Encoding": "gzip"})
        return Response(bundle.minified, media_type="text/javascript", headers=headers)

    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        """Swagger UI from the swagger-ui-bundle package: FastAPI's default loads it from a CDN, unreachable offline."""
        from fastapi.openapi.docs import get_swagger_ui_html

        page = get_swagger_ui_html(openapi_url=app.openapi_url, title="Nectarine API", swagger_favicon_url="/static/swagger/favicon-32x32.png",
                                   swagger_js_url="/static/swagger/swagger-ui-bundle.js", swagger_css_url="/static/swagger/swagger-ui.css")
        page.headers["Content-Security-Policy"] = DOCS_CSP
        return page

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", responses={503: {"model": Problem}})
    def readyz() -> JSONResponse:
        ready = state["ready"]
        body = {"ready": ready, "worker": os.getpid()}
        if ready:
            body["generation"] = state["nec"].reader.folder.name
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics", response_class=PlainTextResponse)
    def prometheus() -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    # ------------------------------------------------------------------ answers
    def _record(n, question: str, answer: Answer, session_id: str) -> int:
        metrics.answered(answer)
        return n.tickets.record_turn(question, answer, session_id=session_id)

    @app.post("/v1/ask", response_model=AskResponse, responses=ERRORS)
    def ask(body: AskRequest, n: Nec, _who: Answering) -> AskResponse:
        context = body.context.model_copy(update={"session_id": body.context.session_id or uuid.uuid4().hex[:16]})
        answer = n.ask(body.question, history=body.history, context=context)
        return AskResponse(answer=answer, turn_id=_record(n, body.question, answer, context.session_id))

    @app.post("/v1/chat", responses={200: {"content": {"text/event-stream": {}}, "description": "start, delta..., done (or error)"},
                                     **ERRORS})
    async def chat(body: ChatRequest, n: Nec, _who: Answering) -> EventSourceResponse:
        """Server-Sent Events: ``start`` (session id), ``delta`` (text as produced), then ``done`` (the
        verified answer with citations, confidence and handoff, which replaces the streamed text)."""
        session_id = body.session_id or uuid.uuid4().hex
        context = body.context.model_copy(update={"session_id": session_id})
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        started = time.perf_counter()

        def work() -> None:
            try:
                turns = n.tickets.session_turns(session_id, settings.history_turns)
                history = [Message(role=r, content=t) for turn in turns for r, t in (("user", turn.question), ("assistant", turn.answer))]
                answer = n.ask(body.message, history=history, context=context,
                               on_delta=lambda d: loop.call_soon_threadsafe(queue.put_nowait, ("delta", d)))
                turn_id = _record(n, body.message, answer, session_id)
                loop.call_soon_threadsafe(queue.put_nowait, ("done", (answer, turn_id)))
            except Exception as exc:  # noqa: BLE001 - reported to the client as an event, not a broken stream
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

    @app.get("/v1/sources/{chunk_id}", response_model=SourceResponse, responses={404: {"model": Problem}, **ERRORS})
    def source(chunk_id: Annotated[str, PathParam(max_length=200)], n: Nec, _who: Other) -> SourceResponse:
        """The passage a citation points at, for the panel's source view."""
        chunk = n.reader.chunk_by_id(chunk_id)
        if chunk is None:
            raise HTTPException(404, f"no passage {chunk_id!r} in the live index (it may have been re-indexed; ask again)")
        return SourceResponse(chunk_id=chunk.id, title=chunk.title, heading_path=chunk.heading_path, url=chunk.url,
                              versions=chunk.versions, text=chunk.text)

    @app.post("/v1/feedback", status_code=204, responses={404: {"model": Problem}, **ERRORS})
    def feedback(body: FeedbackRequest, n: Nec, _who: Other) -> None:
        try:
            n.tickets.record_feedback(body.turn_id, body.helpful, body.comment, session_id=body.session_id)
        except KeyError:
            raise HTTPException(404, f"no answer with turn_id {body.turn_id} in this session") from None
        metrics.feedback.labels("helpful" if body.helpful else "unhelpful").inc()

    # ------------------------------------------------------------------ handoff
    @app.post("/v1/tickets/draft", responses=ERRORS)
    def draft(body: DraftRequest, n: Nec, _who: Other) -> dict:
        try:
            result = n.draft_ticket(body.conversation, body.context, body.attachments).model_dump(mode="json")
        except ValueError as exc:
            raise invalid(["body"], str(exc)) from None
        metrics.tickets.labels("drafted", result["priority"]).inc()
        return result

    @app.post("/v1/tickets", response_model=TicketResponse, status_code=201, responses=ERRORS)
    def submit(body: SubmitRequest, n: Nec, _who: Other,
               idempotency_key: Annotated[str, Header(min_length=1, max_length=128)]) -> TicketResponse:
        from .handoff.draft import TicketDraft

        from pydantic import ValidationError

        try:
            ticket = TicketDraft.model_validate(body.draft)
        except ValidationError as exc:
            raise HTTPException(422, [{"loc": ["body", "draft", *e["loc"]], "msg": e["msg"], "type": e["type"]}
                                      for e in exc.errors(include_url=False, include_input=False)]) from None
        try:
            ticket = ticket.with_priority(body.priority) if body.priority else ticket
        except ValueError as exc:
            raise invalid(["body", "priority"], str(exc)) from None
        row = n.submit_ticket(ticket, idempotency_key, sinks=tuple(targets) or ("default",))
        metrics.tickets.labels("submitted", row.priority).inc()
        return TicketResponse(id=row.id, status=row.status, priority=row.priority, title=row.title)

    @app.get("/v1/tickets/{ticket_id}", responses={404: {"model": Problem}, 503: {"model": Problem}})
    def get_ticket(ticket_id: Annotated[str, PathParam(max_length=64)], n: Nec, as_admin: Annotated[bool, Depends(is_admin)],
                   x_session_id: Annotated[str | None, Header(max_length=64)] = None) -> dict:
        row = n.get_ticket(ticket_id)
        # A ticket is visible only to the session that created it, or to an admin.
        if row is None or not (as_admin or (x_session_id and row.session_id == x_session_id)):
            raise HTTPException(404, "no such ticket for this session")
        return {"id": row.id, "status": row.status, "priority": row.priority, "draft": row.draft}

    # ------------------------------------------------------------------ admin
    Admin = Annotated[None, Depends(admin)]

    @app.post("/v1/admin/reindex", responses={409: {"model": Problem}, **ERRORS})
    def reindex(n: Nec, _a: Admin) -> dict:
        """Re-read the corpus and publish a new generation; readers keep answering from the old one meanwhile."""
        from .ingest.pipeline import NothingIngested, ingest

        if not reindexing.acquire(blocking=False):
            raise HTTPException(409, "a re-index is already running; wait for it to finish")
        try:
            report = ingest([settings.corpus], n.reader.folder.parent, embedder=n.embedder)
        except (NothingIngested, FileNotFoundError, ValueError) as exc:
            raise HTTPException(409, f"re-index failed, the live index is unchanged: {exc}") from None
        finally:
            reindexing.release()
        n.refresh()
        return {"generation": n.reader.folder.name, "up_to_date": report.up_to_date, "documents": report.documents,
                "chunks": report.chunks, "added": report.added, "changed": report.changed, "removed": report.removed,
                "embedded": report.embedded, "skipped": [str(s) for s in report.skipped], "seconds": round(report.seconds, 2)}

    @app.get("/v1/admin/conversations", responses=ERRORS)
    def export(n: Nec, _a: Admin, since: Annotated[str | None, Query(description="ISO date, e.g. 2026-11-01")] = None,
               limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000) -> Response:
        """Stored turns (already redacted) as JSON Lines, oldest first."""
        import datetime as dt

        start = None
        if since:
            try:
                start = dt.datetime.fromisoformat(since)
                start = start if start.tzinfo else start.replace(tzinfo=dt.timezone.utc)
            except ValueError:
                raise invalid(["query", "since"], f"since={since!r}: use an ISO date like 2026-11-01") from None
        lines = [json.dumps({"id": t.id, "session_id": t.session_id, "created_at": t.created_at.isoformat(), "question": t.question,
                             "answer": t.answer, "confidence": t.confidence, "handoff": t.handoff, "answerer": t.answerer,
                             "sources": t.sources, "language": t.language, "feedback": t.feedback, "feedback_comment": t.feedback_comment},
                            ensure_ascii=False) for t in n.tickets.turns(since=start)[:limit]]
        return Response("\n".join(lines) + ("\n" if lines else ""), media_type="application/x-ndjson",
                        headers={"Content-Disposition": 'attachment; filename="conversations.jsonl"'})

    @app.get("/v1/admin/stats", responses=ERRORS)
    def stats(n: Nec, _a: Admin) -> dict:
        m = n.manifest
        return {"index": {"generation": n.reader.folder.name, "chunks": n.reader.size, "model": m.model.get("name"),
                          "backend": m.model.get("backend")},
                **n.tickets.stats()}

    return app


@dataclass(frozen=True)
class Bundle:
    source: int  # bytes of web/widget.js as written
    minified: bytes
    gzipped: bytes
    etag: str


@lru_cache(maxsize=1)
def widget_bundle() -> Bundle:
    """The panel's script, minified (rjsmin) and gzipped once per process; BENCHMARKS.md has its sizes."""
    import gzip
    import hashlib

    import rjsmin

    source = (WEB / "widget.js").read_bytes()
    minified = rjsmin.jsmin(source, keep_bang_comments=True)
    return Bundle(len(source), minified, gzip.compress(minified, 9, mtime=0), f'"{hashlib.sha256(minified).hexdigest()[:16]}"')


def _pieces(text: str, words: int = 6):
    """Readable streaming pieces of an already composed text, keeping its whitespace exactly."""
    import re

    tokens = re.findall(r"\S+\s*|\s+", text)
    for i in range(0, len(tokens), words):
        yield "".join(tokens[i:i + words])
