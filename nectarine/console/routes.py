"""The console's routes, under ``/admin``: sign-in, the pages, and their downloads. Every page and
download needs the session cookie (pages redirect to the sign-in form without one, downloads answer
401); a site key opens nothing here. Every response carries a Content-Security-Policy that allows
only the console's own script and style files (no inline code)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import secrets
import threading
import time
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from ..api.deps import Client, Rt, Runtime, _admin
from ..store.analytics import Analytics, Filters
from . import auth
from .clusters import Clusterer, rank
from .pages import HERE, catalogue, sources_report, templates

router = APIRouter(prefix="/admin", include_in_schema=False)

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
# same-origin, not the service's no-referrer: under no-referrer a browser sends "Origin: null" with the
# console's own forms, and the Origin check (auth.same_origin) could not tell them from a forged one.
HEADERS = {"Content-Security-Policy": CSP, "Cache-Control": "no-store", "Referrer-Policy": "same-origin"}
STATIC = {"htmx.min.js": "text/javascript", "uPlot.iife.min.js": "text/javascript", "uPlot.min.css": "text/css",
          "console.js": "text/javascript", "console.css": "text/css"}
RESULT_SECONDS = 60
NAV = [("overview", "Overview"), ("questions", "Questions"), ("top", "Top questions"), ("gaps", "Coverage gaps"),
       ("sources", "Sources"), ("reviews", "Review queue"), ("tickets", "Tickets")]


class Console:
    """What the console keeps per app: the analytics over the service's database, and the clusterer."""

    def __init__(self, rt: Runtime) -> None:
        nec = rt.nec
        self.analytics = Analytics(nec.conversations.db)
        self.clusterer = Clusterer(self.analytics, nec.embedder)
        self.choices: tuple[float, dict] = (0.0, {})
        self.results: dict[tuple, tuple[float, object]] = {}
        self.lock = threading.Lock()

    def memo(self, name: str, f: Filters, compute):
        """``compute()``, kept for ``RESULT_SECONDS`` per page and filter: a chart over months of turns costs
        a scan of them (BENCHMARKS.md), and a dashboard's figures may be a minute old."""
        key = (name, f)
        with self.lock:
            hit = self.results.get(key)
        if hit is not None and time.monotonic() - hit[0] < RESULT_SECONDS:
            return hit[1]
        value = compute()
        with self.lock:
            self.results[key] = (time.monotonic(), value)
            for old in [k for k, (at, _) in self.results.items() if time.monotonic() - at >= RESULT_SECONDS]:
                del self.results[old]
        return value

    def filter_choices(self) -> dict:
        at, found = self.choices
        if time.monotonic() - at > 60:  # a full pass over the turns' index: once a minute at most
            found = self.analytics.choices()
            self.choices = (time.monotonic(), found)
        return found


_consoles: dict[int, Console] = {}
_lock = threading.Lock()


def console_for(rt: Runtime) -> Console:
    if not rt.ready:
        raise HTTPException(503, "the assistant is still loading; retry in a few seconds", headers={"Retry-After": "2"})
    with _lock:
        found = _consoles.get(id(rt))
        if found is None or found.analytics.db is not rt.nec.conversations.db:
            found = _consoles[id(rt)] = Console(rt)
        return found


def _token(rt: Runtime) -> str | None:
    return rt.settings.admin_token.get_secret_value() if rt.settings.admin_token else None


def page_session(request: Request, rt: Rt) -> auth.ConsoleSession:
    """The signed-in session, or a redirect to the sign-in form (back here afterwards)."""
    session = auth.read(_token(rt), request.cookies.get(auth.COOKIE))
    if session is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise HTTPException(303, "sign in first", headers={"Location": f"/admin/login?{urlencode({'next': target})}", **HEADERS})
    return session


def data_session(request: Request, rt: Rt) -> auth.ConsoleSession:
    session = auth.read(_token(rt), request.cookies.get(auth.COOKIE))
    if session is None:
        raise HTTPException(401, "sign in to the console at /admin/login first", headers=HEADERS)
    return session


PageSession = Annotated[auth.ConsoleSession, Depends(page_session)]
DataSession = Annotated[auth.ConsoleSession, Depends(data_session)]


def filters_from(request: Request) -> Filters:
    q = request.query_params
    try:
        return Filters.parse(*(q.get(k, "")[:64] for k in ("start", "end", "version", "language", "source_type")))
    except ValueError as exc:
        raise HTTPException(422, str(exc), headers=HEADERS) from None


Filtered = Annotated[Filters, Depends(filters_from)]


def render(name: str, *, status: int = 200, **context) -> HTMLResponse:
    return HTMLResponse(templates.get_template(name).render(**context), status_code=status, headers=HEADERS)


def view(request: Request, rt: Runtime, session: auth.ConsoleSession, name: str, active: str, f: Filters | None, *, status: int = 200,
         **context) -> HTMLResponse:
    c = console_for(rt)
    return render(name, status=status, nav=NAV, active=active, csrf=session.csrf, filters=f, query=f.query() if f else {},
                  choices=c.filter_choices() if f else {}, path=request.url.path, urlencode=urlencode, **context)


async def form_of(request: Request, limit: int = 200_000) -> dict[str, list[str]]:
    """A posted urlencoded form (the body is already bounded by the service's body limit)."""
    body = (await request.body())[:limit].decode("utf-8", "replace")
    out: dict[str, list[str]] = {}
    for k, v in parse_qsl(body, keep_blank_values=True):
        out.setdefault(k, []).append(v)
    return out


def _one(form: dict, name: str, default: str = "") -> str:
    return (form.get(name) or [default])[0]


# ---------------------------------------------------------------------------- sign-in


@router.get("/static/{name}")
def static(name: str) -> Response:
    if name not in STATIC:
        raise HTTPException(404, "no such console file")
    return Response((HERE / "static" / name).read_bytes(), media_type=STATIC[name],
                    headers={"Cache-Control": "public, max-age=3600", "Content-Security-Policy": CSP})


@router.get("")
@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/admin/overview", status_code=303, headers=HEADERS)


@router.get("/login")
def login_form(request: Request, rt: Rt, next: str = "/admin/overview", error: str | None = None) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = render("login.html", csrf=token, next=_safe_next(next), error=error, enabled=rt.settings.admin_token is not None,
                      status=401 if error else 200)
    response.set_cookie(auth.LOGIN_COOKIE, token, **auth.cookie_options(request, 600))
    return response


def _safe_next(target: str) -> str:
    """Only a console path: never another site (an open redirect) nor a scheme-relative ``//host``."""
    return target if target.startswith("/admin/") and not target.startswith("//") and "\\" not in target else "/admin/overview"


@router.post("/login")
async def login(request: Request, rt: Rt, who: Client) -> Response:
    form = await form_of(request, 10_000)
    sent, expected = _one(form, "csrf"), request.cookies.get(auth.LOGIN_COOKIE, "")
    if not auth.same_origin(request) or not sent or not secrets.compare_digest(sent.encode(), expected.encode()):
        raise HTTPException(403, "the sign-in form is out of date; reload /admin/login and sign in again", headers=HEADERS)
    token = _one(form, "token").strip()
    try:
        await _admin(rt, who, f"Bearer {token}")  # the admin routes' check: rate limit, lockout after wrong tokens
    except HTTPException as exc:
        if exc.status_code == 401:
            return login_form(request, rt, _one(form, "next"), error="That is not the admin token (NECTARINE_ADMIN_TOKEN).")
        raise HTTPException(exc.status_code, exc.detail, headers={**(exc.headers or {}), **HEADERS}) from None
    value, _session = auth.issue(token)
    if rt.ready:  # the default views' question clusters, computed while the overview renders
        clusterer = console_for(rt).clusterer
        threading.Thread(target=clusterer.warm, args=(Filters.last(30),), daemon=True, name="console-warm").start()
    response = RedirectResponse(_safe_next(_one(form, "next", "/admin/overview")), status_code=303, headers=HEADERS)
    response.set_cookie(auth.COOKIE, value, **auth.cookie_options(request))
    response.delete_cookie(auth.LOGIN_COOKIE, path="/admin")
    return response


@router.post("/logout")
async def logout(request: Request, session: DataSession) -> Response:
    auth.check_csrf(request, session, _one(await form_of(request, 10_000), "csrf"))
    response = RedirectResponse("/admin/login", status_code=303, headers=HEADERS)
    response.delete_cookie(auth.COOKIE, path="/admin", httponly=True, samesite="strict")
    return response


# ---------------------------------------------------------------------------- overview


CHARTS = [("questions", "Questions per day", ["questions"]), ("rates", "Deflection and handoff rate", ["deflection_rate", "handoff_rate"]),
          ("feedback", "Thumbs up and down", ["thumbs_up", "thumbs_down"]), ("declines", "Honest declines", ["declines"]),
          ("latency", "Answer latency (ms)", ["latency_p50_ms", "latency_p95_ms"])]


def overview_data(c: Console, f: Filters) -> dict:
    o = c.memo("overview", f, lambda: c.analytics.overview(f))
    return {"days": o.days, "series": o.series, "totals": o.totals, "tickets_by_priority": o.tickets_by_priority}


@router.get("/overview", response_class=HTMLResponse)
def overview(request: Request, rt: Rt, session: PageSession, f: Filtered) -> HTMLResponse:
    data = overview_data(console_for(rt), f)
    charts = CHARTS + [("tickets", "Tickets by priority", list(data["tickets_by_priority"]))]
    return view(request, rt, session, "overview.html", "overview", f, data=data, charts=charts)


@router.get("/overview.json")
def overview_json(rt: Rt, _s: DataSession, f: Filtered) -> JSONResponse:
    return JSONResponse(overview_data(console_for(rt), f), headers=HEADERS)


# ---------------------------------------------------------------------------- questions


@router.get("/questions", response_class=HTMLResponse)
def questions(request: Request, rt: Rt, session: PageSession, f: Filtered,
              q: Annotated[str | None, Query(max_length=200)] = None, page: Annotated[int, Query(ge=1, le=10_000)] = 1) -> HTMLResponse:
    rows, total = console_for(rt).analytics.questions(f, q, limit=50, offset=(page - 1) * 50)
    return view(request, rt, session, "questions.html", "questions", f, rows=rows, total=total, q=q or "", page=page,
                pages=max(1, -(-total // 50)))


@router.get("/top", response_class=HTMLResponse)
def top(request: Request, rt: Rt, session: PageSession, f: Filtered) -> HTMLResponse:
    clusters = rank(console_for(rt).clusterer.clusters(f, gaps_only=False))
    return view(request, rt, session, "top.html", "top", f, clusters=clusters[:100])


@router.get("/questions/{public_id}", response_class=HTMLResponse)
def turn(request: Request, rt: Rt, session: PageSession, public_id: str, saved: bool = False) -> HTMLResponse:
    return _turn_page(request, rt, session, public_id, saved=saved)


def _turn_page(request: Request, rt: Runtime, session, public_id: str, *, errors: list[str] | None = None, form: dict | None = None,
               saved: bool = False) -> HTMLResponse:
    c = console_for(rt)
    t = c.analytics.turn(public_id[:64])
    if t is None:
        raise HTTPException(404, f"no conversation turn {public_id[:64]}", headers=HEADERS)
    cat = _catalogue(rt)
    cited = [cat.by_url.get(s.get("url"), (s.get("url") or "").lstrip("/")) if cat else (s.get("url") or "").lstrip("/")
             for s in t["sources"] or []]
    review = t["review"]
    if form is None:
        form = {"verdict": review["verdict"] if review else "", "question": review["question"] if review else t["question"],
                "reference": review["reference"] if review else t["answer"],
                "vital": "\n".join(n["text"] for n in (review["nuggets"] if review else []) if n.get("vital")),
                "other": "\n".join(n["text"] for n in (review["nuggets"] if review else []) if not n.get("vital")),
                "sections": list(review["sections"]) if review else list(dict.fromkeys(cited))}
    # Checkboxes: the cited sections and the ones picked (or saved); more ids go in the text box.
    options = list(dict.fromkeys(cited + form["sections"]))
    return view(request, rt, session, "turn.html", "questions", None, t=t, form=form, options=options, extra=form.get("extra", ""),
                errors=errors or [], saved=saved, status=422 if errors else 200,
                section_titles=cat.sections if cat else {})


def _catalogue(rt: Runtime):
    try:
        return catalogue(rt.nec.reader)
    except Exception:  # noqa: BLE001 - an index without the chunk table's JSON fields: no picker, plain ids
        return None


@router.post("/questions/{public_id}/review", response_class=HTMLResponse)
async def review(request: Request, rt: Rt, session: DataSession, public_id: str) -> Response:
    form = await form_of(request)
    auth.check_csrf(request, session, _one(form, "csrf"))
    picked = [s for s in form.get("section", []) if s]
    extra = _one(form, "extra")
    sections = list(dict.fromkeys(picked + [line.strip() for line in extra.splitlines() if line.strip()]))
    lines = lambda name: [line.strip() for line in _one(form, name).splitlines() if line.strip()]  # noqa: E731
    nuggets = [{"text": t[:500], "vital": True} for t in lines("vital")] + [{"text": t[:500], "vital": False} for t in lines("other")]
    values = {"verdict": _one(form, "verdict"), "question": _one(form, "question")[:4000], "reference": _one(form, "reference")[:20_000],
              "vital": _one(form, "vital"), "other": _one(form, "other"), "sections": picked, "extra": extra}
    errors = []
    if values["verdict"] not in ("right", "wrong"):
        errors.append("Mark the answer right or wrong.")
    if not values["question"].strip():
        errors.append("The question is empty: keep the user's question or correct it.")
    cat = _catalogue(rt)
    unknown = [s for s in sections if cat is not None and s not in cat.sections]
    if unknown:
        errors.append(f"Not a section of the knowledge base: {', '.join(unknown[:5])}. Use ids like docs/sso#rotate-the-certificate "
                      "(the page's id, '#', the heading's anchor).")
    if sections and not (values["reference"].strip() and nuggets):
        errors.append("An answerable question needs a reference answer and at least one nugget (one per line).")
    if errors:
        return _turn_page(request, rt, session, public_id, errors=errors, form=values)  # as sent: nothing is lost
    try:
        console_for(rt).analytics.save_review(public_id[:64], verdict=values["verdict"], question=values["question"],
                                              reference=values["reference"], nuggets=nuggets, sections=sections, reviewer="admin")
    except KeyError as exc:
        raise HTTPException(404, str(exc).strip("'"), headers=HEADERS) from None
    return RedirectResponse(f"/admin/questions/{public_id[:64]}?saved=1", status_code=303, headers=HEADERS)


# ---------------------------------------------------------------------------- coverage gaps


Sort = Annotated[str, Query(pattern="^(volume|recent)$")]


@router.get("/gaps", response_class=HTMLResponse)
def gaps(request: Request, rt: Rt, session: PageSession, f: Filtered, sort: Sort = "volume") -> HTMLResponse:
    clusters = rank(console_for(rt).clusterer.clusters(f, gaps_only=True), sort)
    return view(request, rt, session, "gaps.html", "gaps", f, clusters=clusters[:100], sort=sort)


@router.get("/gaps.csv")
def gaps_csv(rt: Rt, _s: DataSession, f: Filtered, sort: Sort = "volume") -> Response:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["rank", "questions", "last_asked", "distinct_questions", "reasons", "mean_confidence", "example_questions", "closest_pages"])
    for i, c in enumerate(rank(console_for(rt).clusterer.clusters(f, gaps_only=True), sort), 1):
        w.writerow([i, c.volume, str(c.last)[:19], len(c.questions), "; ".join(f"{k} {v}" for k, v in c.reasons.items()),
                    f"{c.confidence:.3f}", " | ".join(_csv_text(q["question"]) for q in c.questions[:5]),
                    " | ".join(_csv_text(s["url"] or "") for s in c.closest)])
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="coverage-gaps.csv"', **HEADERS})


def _csv_text(text: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@router.get("/gaps/{cluster_id}", response_class=HTMLResponse)
def gap(request: Request, rt: Rt, session: PageSession, f: Filtered, cluster_id: str) -> HTMLResponse:
    found = next((c for c in console_for(rt).clusterer.clusters(f, gaps_only=True) if c.id == cluster_id[:64]), None)
    if found is None:
        raise HTTPException(404, "no such coverage gap in this date range (the clusters change as questions arrive); open it from the list",
                            headers=HEADERS)
    return view(request, rt, session, "gap.html", "gaps", f, c=found)


# ---------------------------------------------------------------------------- sources


@router.get("/sources", response_class=HTMLResponse)
def sources(request: Request, rt: Rt, session: PageSession, f: Filtered,
            stale_days: Annotated[int, Query(ge=1, le=3650)] = 365) -> HTMLResponse:
    c = console_for(rt)
    report = sources_report(c.memo("citations", f, lambda: c.analytics.citations(f)), _catalogue(rt), today=dt.date.today(),
                            stale_days=stale_days)
    return view(request, rt, session, "sources.html", "sources", f, r=report)


# ---------------------------------------------------------------------------- reviews


@router.get("/reviews", response_class=HTMLResponse)
def reviews(request: Request, rt: Rt, session: PageSession, f: Filtered) -> HTMLResponse:
    c = console_for(rt)
    return view(request, rt, session, "reviews.html", "reviews", f, queue=c.analytics.review_queue(f), done=c.analytics.reviews())


@router.get("/reviews/export.zip")
def reviews_zip(rt: Rt, _s: DataSession) -> Response:
    from .export import zipped

    try:
        data = zipped(console_for(rt).analytics, Path(rt.settings.corpus))
    except (ValueError, FileNotFoundError) as exc:
        raise HTTPException(409, str(exc), headers=HEADERS) from None
    return Response(data, media_type="application/zip",
                    headers={"Content-Disposition": 'attachment; filename="reviewed.zip"', **HEADERS})


# ---------------------------------------------------------------------------- tickets


@router.get("/tickets", response_class=HTMLResponse)
def tickets(request: Request, rt: Rt, session: PageSession, f: Filtered,
            status: Annotated[str | None, Query(pattern="^(draft|submitted|delivered|failed)?$")] = None) -> HTMLResponse:
    rows = console_for(rt).analytics.tickets(f, status=status or None)
    return view(request, rt, session, "tickets.html", "tickets", f, rows=rows, ticket_status=status or "")


@router.post("/tickets/{ticket_id}/retry")
async def retry(request: Request, rt: Rt, session: DataSession, ticket_id: str) -> Response:
    form = await form_of(request, 10_000)
    auth.check_csrf(request, session, _one(form, "csrf"))
    n = console_for(rt).analytics.retry_ticket(ticket_id[:64])
    back = _safe_next(_one(form, "back", "/admin/tickets"))
    return RedirectResponse(f"{back}{'&' if '?' in back else '?'}retried={n}", status_code=303, headers=HEADERS)

