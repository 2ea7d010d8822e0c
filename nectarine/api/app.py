"""The app factory: middleware, the one error path, the lifespan (loading, delivery), and the routers.

What guards what:
- the panel's public **site key** (``X-Site-Key``) names the origins allowed to use it (CORS);
- **admin** routes need ``Authorization: Bearer $NECTARINE_ADMIN_TOKEN`` (they are off without one),
  and an address that sends too many wrong tokens is locked out for a while;
- **rate limits** per site key and client address, on every route, answer 429 with ``Retry-After``;
  the client address comes from ``X-Forwarded-For`` only behind a trusted proxy (``NECTARINE_TRUSTED_PROXIES``);
- the body limit counts the **bytes received** (chunked or not) and answers 413; field limits
  (``schemas``) answer 422; so do malformed JSON, numbers that are not finite and lone surrogates;
- any other failure is one JSON 500 with the security headers, and the connection is closed.

Several worker processes can share one index folder: each checks the folder's ``CURRENT`` file
(every ``refresh_seconds``) and moves to a generation another process published. Hosts with folders
of their own follow one index through PostgreSQL (``NECTARINE_INDEX_SHARE``, :mod:`nectarine.api.share`).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
import traceback
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from ..errors import NectarineError
from ..plugins import ANSWERERS, load
from ..store import masked
from ..settings import Settings
from .deps import Runtime, client_address
from . import share, sync
from .routes import admin, answers, feedback, panel, tickets

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cross-Origin-Opener-Policy": "same-origin",
}
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class BadJSON(ValueError):
    def __init__(self, loc: list, msg: str) -> None:
        super().__init__(msg)
        self.loc, self.msg = loc, msg


def _not_finite(value: str):
    raise BadJSON(["body"], f"{value} is not a number JSON allows; send a finite number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        _not_finite(text[:20])
    return number


def screen_json(body: bytes) -> None:
    """Refuse what would fail later, deep in a model, the tokenizer or the database: numbers that are
    not finite (``NaN``, ``Infinity``, ``1e999``) and strings with lone surrogates (``"\\ud800"``),
    with the location of the first one. Malformed JSON is left to FastAPI (422 ``json_invalid``).
    Linear in the body, which is bounded."""
    try:
        data = json.loads(body, parse_constant=_not_finite, parse_float=_finite_float)
    except BadJSON:
        raise
    except RecursionError:
        raise BadJSON(["body"], "JSON nested too deeply; send at most a few levels of objects and lists") from None
    except ValueError:  # not JSON, or numbers past Python's digit limit: FastAPI reports it
        return
    stack: list[tuple[list, object]] = [(["body"], data)]
    while stack:
        loc, value = stack.pop()
        if isinstance(value, str):
            if not value.isascii():
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    raise BadJSON(loc, "text with a lone surrogate (an unpaired \\ud800-\\udfff escape); send valid UTF-16 pairs or UTF-8") from None
        elif isinstance(value, dict):
            for k, v in value.items():
                step = k.encode("utf-8", "backslashreplace").decode()  # the location itself must be valid text
                stack.append((loc + [step], k))
                stack.append((loc + [step], v))
        elif isinstance(value, list):
            stack.extend((loc + [i], v) for i, v in enumerate(value))


def problem(status: int, detail, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


class Guard:
    """Every request: a rate limit per client address, the body limit on the bytes received, the JSON
    screen, security headers, per-route metrics, the one error path, and the check for an index
    generation another worker published. Plain ASGI rather than ``@app.middleware``: Starlette's
    BaseHTTPMiddleware runs each request through an extra task and memory streams."""

    def __init__(self, app, runtime: Runtime) -> None:
        self.app, self.rt = app, runtime
        self.headers = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        rt, started_at = self.rt, time.perf_counter()
        started = observed = False

        def observe(status: int) -> None:  # latency to the response's start (a stream's first byte)
            nonlocal observed
            if not observed:
                observed = True
                route = scope.get("route")
                rt.metrics.observe(scope["method"], getattr(route, "path", "unmatched"), status, time.perf_counter() - started_at)

        async def send_with_headers(message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in self.headers if h[0] not in present)]
                observe(message["status"])
            await send(message)

        async def reply(response) -> None:
            await response(scope, receive, send_with_headers)

        try:
            headers = dict(scope["headers"])
            peer = (scope.get("client") or ("unknown", 0))[0]
            forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1")
            wait = await rt.hit("any", client_address(peer, forwarded, rt.proxies))
            if wait is not None:
                return await reply(problem(429, f"too many requests; wait {wait} s and try again", {"Retry-After": str(wait)}))
            if scope["method"] in BODY_METHODS:
                body = await self._read_body(receive, headers)
                if body is None:
                    limit = rt.settings.max_body_bytes
                    # The rest of the body was not read: close the connection rather than parse it as a request.
                    return await reply(problem(413, f"request body over {limit} bytes; send less (attach long logs as files: the "
                                                    "ticket keeps their head, tail and error lines)", {"Connection": "close"}))
                if b"json" in headers.get(b"content-type", b"") and body:
                    try:
                        screen_json(body)
                    except BadJSON as exc:
                        return await reply(problem(422, [{"loc": exc.loc, "msg": exc.msg, "type": "value_error"}]))
                receive = _replay(body, receive)
            if rt.ready and time.monotonic() - rt.checked > rt.settings.refresh_seconds:
                rt.checked = time.monotonic()  # another worker (or an admin) may have published a new generation
                await asyncio.to_thread(rt.nec.refresh)
            await self.app(scope, receive, send_with_headers)
        except Exception:  # noqa: BLE001 - the one error path: a JSON 500, logged, connection closed
            traceback.print_exc()
            if started:
                raise  # mid-stream: the server closes the connection
            await reply(problem(500, "the server failed on this request; it was logged. Try again, or contact support if it persists",
                                {"Connection": "close"}))
        finally:
            observe(500)  # no response started

    async def _read_body(self, receive, headers: dict) -> bytes | None:
        """The whole body, or None as soon as it passes the limit (declared or received)."""
        limit = self.rt.settings.max_body_bytes
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            return None
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _replay(body: bytes, receive):
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: wait for the disconnect, as the server would say it

    return replay


async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's error shape, without echoing the input back (it may be huge, or not serialisable)."""
    return problem(422, [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
                         for e in exc.errors()])


async def known_error(_request: Request, exc: NectarineError) -> JSONResponse:
    """A ``NectarineError`` no route handled, mapped once: 422 for a bad value (its ``ValueError``
    kinds), 503 for a resource that cannot serve now (its ``RuntimeError`` kinds and the rest)."""
    return problem(422 if isinstance(exc, ValueError) else 503, str(exc))


def create_app(settings: Settings | None = None, nectarine=None) -> FastAPI:
    """The app; pass a loaded ``Nectarine`` to skip loading one from ``settings.index``."""
    settings = settings or Settings()
    rt = Runtime(settings, nec=nectarine)
    source_sync = sync.attach(rt)
    index_share = share.attach(rt)  # NECTARINE_INDEX_SHARE (nectarine.api.share)
    origins = sorted({o for allowed in settings.site_keys.values() for o in allowed})

    @asynccontextmanager
    async def lifespan(_app):
        import anyio

        # Offline answers are CPU work: four threads finish sooner than forty sharing two cores
        # (p95 at 32 clients 857 -> 609 ms, BENCHMARKS.md). LLM answers mostly wait, so they keep more.
        threads = settings.threads or (4 if getattr(load(ANSWERERS, settings.answerer), "extractive", False) else 40)
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        rt.handoff = anyio.CapacityLimiter(settings.handoff_threads)
        try:
            reachable = await rt.limiter.storage.check()
        except Exception:  # noqa: BLE001 - any failure to reach it is reported the same way
            reachable = False
        if not reachable:
            raise RuntimeError(f"the rate-limit storage {masked(settings.rate_limit_storage)} cannot be reached; start it, "
                               "or set NECTARINE_RATE_LIMIT_STORAGE=memory:// to count limits in each process")
        await asyncio.to_thread(_load, rt)  # ready once the index and the models are loaded
        delivery = asyncio.create_task(_deliver_forever(rt)) if rt.sinks else None
        # NECTARINE_SOURCES re-ingested every NECTARINE_SYNC_INTERVAL (nectarine.api.sync)
        syncing = asyncio.create_task(source_sync.forever()) if source_sync.enabled and settings.sync_interval > 0 else None
        sharing = asyncio.create_task(index_share.forever()) if index_share.enabled else None  # pulls the newest generation
        yield
        if sharing is not None:
            sharing.cancel()
        if delivery is not None:
            delivery.cancel()
        if syncing is not None:
            syncing.cancel()

    app = FastAPI(title="Nectarine", version=__import__("nectarine").__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Nectain's AI assistant: cited answers, and a prefilled support ticket when the docs cannot help. "
                              "Panel routes need the page's public site key in `X-Site-Key`; admin routes a bearer token.")
    app.state.runtime = rt
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(NectarineError, known_error)
    from fastapi.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/static/swagger", StaticFiles(directory=swagger_ui_path), name="swagger")
    app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"], max_age=600,
                       allow_headers=["Content-Type", "X-Site-Key", "X-Session-Id", "Idempotency-Key"], expose_headers=["Retry-After"])
    app.add_middleware(Guard, runtime=rt)
    for module in (panel, answers, feedback, tickets, admin, sync):
        app.include_router(module.router)
    app.include_router(__import__("nectarine.console", fromlist=["router"]).router)  # the docs team's console, /admin
    return app


def _load(rt: Runtime) -> None:
    settings = rt.settings
    if rt.nec is None:
        from ..assistant import Nectarine

        index_share = getattr(rt, "share", None)
        if index_share is not None and index_share.enabled:  # the newest published generation first; an empty folder gets one
            index_share.start()
        rt.nec = Nectarine.load(settings.index, answerer=settings.answerer,
                                answerer_options=settings.llm_options() if settings.answerer == "openai" else None,
                                allow_flagged=settings.allow_flagged, embedder_options=settings.embedder_options())
    if not rt.nec.has_store:
        from ..store import TicketStore

        rt.nec.attach_store(TicketStore(settings.database_url))
    rt.nec.warm_up()
    rt.ready = True


async def _deliver_forever(rt: Runtime) -> None:
    # Tickets queued before any target was named carry the sink "default": the first target takes them.
    sinks = {**rt.sinks, "default": next(iter(rt.sinks.values()))}
    while True:
        try:
            await asyncio.to_thread(rt.nec.tickets.deliver_due, sinks)
        except Exception as exc:  # noqa: BLE001 - the loop must outlive a bad delivery round
            print(f"nectarine: ticket delivery round failed: {exc}", flush=True)
        await asyncio.sleep(rt.settings.delivery_seconds)
