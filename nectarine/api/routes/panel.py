"""The panel's script, the demo page, the API docs, and health, readiness and metrics."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response

from ..deps import Rt
from ..schemas import Health, Problem, Readiness

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
    body = Readiness(ready=rt.ready, worker=os.getpid(), generation=rt.nec.reader.folder.name if rt.ready else None)
    return JSONResponse(body.model_dump(), status_code=200 if rt.ready else 503)


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
