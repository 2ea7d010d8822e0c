"""The panel's script and its interface strings, its example questions, the demo pages, the API docs,
and health, readiness and metrics."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field

from ..deps import Admin, Nec, Other, Rt
from ..schemas import ERRORS, Health, Problem, Readiness
from .tickets import invalid

WEB = Path(__file__).resolve().parents[2] / "web"
# The demo page runs the panel like any host page would: scripts and styles from this origin only.
DEMO_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "frame-ancestors 'none'")

router = APIRouter()


def _demo_on(rt) -> None:
    if not rt.settings.demo:
        raise HTTPException(404, "the demo page is off (NECTARINE_DEMO=false)")


@router.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
def demo_page(rt: Rt) -> Response:
    _demo_on(rt)
    return FileResponse(WEB / "demo.html", media_type="text/html", headers={"Content-Security-Policy": DEMO_CSP})


@router.api_route("/demo/isolation", methods=["GET", "HEAD"], include_in_schema=False)
def isolation_page(rt: Rt) -> Response:
    """The demo page under deliberately hostile CSS: the browser tests prove the panel is isolated from it."""
    _demo_on(rt)
    return FileResponse(WEB / "isolation.html", media_type="text/html", headers={"Content-Security-Policy": DEMO_CSP})


@router.get("/demo.js", include_in_schema=False)
def demo_script(rt: Rt) -> Response:
    _demo_on(rt)
    return FileResponse(WEB / "demo.js", media_type="text/javascript")


@router.api_route("/widget.js", methods=["GET", "HEAD"], include_in_schema=False)
def widget(request: Request) -> Response:
    # Loaded by other origins' pages: allowed cross-origin, cached briefly, gzipped when the browser takes it.
    bundle = widget_bundle()
    headers = {"Cross-Origin-Resource-Policy": "cross-origin", "Cache-Control": "public, max-age=300", "Vary": "Accept-Encoding",
               "ETag": bundle.etag}
    if request.headers.get("if-none-match") == bundle.etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(bundle.gzipped, media_type="text/javascript", headers={**headers, "Content-Encoding": "gzip"})
    return Response(bundle.minified, media_type="text/javascript", headers=headers)


LOCALES = {"de", "fr", "es", "pt", "ja"}  # web/locales/*.json; English is in widget.js itself


@router.get("/widget/locales/{lang}.json", include_in_schema=False)
def widget_strings(lang: str) -> Response:
    """The panel's interface strings in one language, fetched by widget.js from any page (public, static)."""
    if lang not in LOCALES:
        raise HTTPException(404, f"no interface strings for {lang!r}; available: en (built in), {', '.join(sorted(LOCALES))}")
    return FileResponse(WEB / "locales" / f"{lang}.json", media_type="application/json", headers={
        "Cross-Origin-Resource-Policy": "cross-origin", "Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=300"})


class Examples(BaseModel):
    examples: list[str] = Field(description="questions the panel offers when it is empty")
    source: str = Field(description="'admin' (set with PUT /v1/admin/examples) or 'popular' (most asked, answered well)")


class SetExamples(BaseModel):
    examples: list[str] = Field(max_length=8, description="up to 8 questions, at most 200 characters each; [] to use the most asked")


EXAMPLES_FILE = "examples.json"  # in the index folder, beside its generations: every worker reads the same
POPULAR_SECONDS = 60.0  # how long the most asked questions are reused before the log is read again
_popular: dict[int, tuple[float, list[str]]] = {}


@router.get("/v1/examples", response_model=Examples, responses=ERRORS)
def examples(n: Nec, _who: Other) -> Examples:
    """The panel's example questions: the admin's list when one is set, else the most asked questions that
    were answered well (asked by several sessions, confidently, no handoff or thumbs-down)."""
    from ...store.examples import popular_questions

    chosen = _admin_examples(n)
    if chosen is not None:
        return Examples(examples=chosen, source="admin")
    at, found = _popular.get(id(n), (-1e9, []))
    if time.monotonic() - at > POPULAR_SECONDS:
        found = popular_questions(n.conversations) if n.has_store else []
        _popular[id(n)] = (time.monotonic(), found)
    return Examples(examples=found, source="popular")


@router.put("/v1/admin/examples", response_model=Examples, responses=ERRORS)
def set_examples(body: SetExamples, n: Nec, _a: Admin) -> Examples:
    """Set the panel's example questions (an empty list goes back to the most asked ones)."""
    chosen = [" ".join(q.split()) for q in body.examples if q.strip()]
    for i, q in enumerate(chosen):
        if len(q) > 200:
            raise invalid(["body", "examples", str(i)], "an example question is at most 200 characters")
        if not q.isprintable():  # lone surrogates (category Cs) are not printable either
            raise invalid(["body", "examples", str(i)], "an example question must be printable text (no control characters)")
    path = n.reader.folder.parent / EXAMPLES_FILE
    if chosen:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(chosen, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)  # atomic: a reader never sees half a list
    else:
        path.unlink(missing_ok=True)
    return Examples(examples=chosen, source="admin" if chosen else "popular")


def _admin_examples(n) -> list[str] | None:
    try:
        found = json.loads((n.reader.folder.parent / EXAMPLES_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None  # unreadable: fall back to the popular ones rather than fail the panel
    return [q for q in found if isinstance(q, str)] if isinstance(found, list) else None


@router.get("/docs", include_in_schema=False)
def docs(request: Request) -> Response:
    """Swagger UI from the swagger-ui-bundle package: FastAPI's default loads it from a CDN, unreachable offline."""
    from fastapi.openapi.docs import get_swagger_ui_html

    page = get_swagger_ui_html(openapi_url=request.app.openapi_url, title="Nectarine API", swagger_favicon_url="/static/swagger/favicon-32x32.png",
                               swagger_js_url="/static/swagger/swagger-ui-bundle.js", swagger_css_url="/static/swagger/swagger-ui.css")
    page.headers["Content-Security-Policy"] = DOCS_CSP
    return page


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
def readyz(rt: Rt) -> JSONResponse:
    from ..share import share_status
    from ..sync import sync_status

    body = Readiness(ready=rt.ready, worker=os.getpid(), generation=rt.nec.reader.folder.name if rt.ready else None,
                     sync=sync_status(rt) if rt.ready else None, share=share_status(rt) if rt.ready else None)
    absent = {k for k in ("sync", "share") if getattr(body, k) is None}
    return JSONResponse(body.model_dump(exclude=absent or None), status_code=200 if rt.ready else 503)


@router.get("/metrics", response_class=PlainTextResponse, responses={429: {"model": Problem}})
def prometheus(rt: Rt) -> Response:
    body, content_type = rt.metrics.render()
    return Response(body, media_type=content_type)


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
