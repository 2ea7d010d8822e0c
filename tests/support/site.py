"""A real website on loopback for the website source's tests and benchmark: ``http.server`` in a thread.

The site is a dict of paths to :class:`Page` objects that a test may change between crawls; the
server answers conditional requests (ETag / Last-Modified) with 304 like a real one, and counts the
requests and 304s it served per path.

    site = Site(); site.pages["/docs/a.html"] = Page(html_page("A", "text"))
    with site.serve() as base:  # http://127.0.0.1:PORT
        ...
"""

from __future__ import annotations

import email.utils
import hashlib
import socket
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Page:
    body: bytes | str = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (a slow page)
    etag: bool = True  # send an ETag (and answer If-None-Match with 304)
    last_modified: str | None = "Tue, 01 Dec 2026 10:00:00 GMT"

    @property
    def raw(self) -> bytes:
        return self.body.encode() if isinstance(self.body, str) else self.body


def html_page(title: str, text: str, *, date: str | None = None, canonical: str | None = None, links: tuple[str, ...] = ()) -> str:
    head = f"<title>{title}</title>"
    if canonical:
        head += f'<link rel="canonical" href="{canonical}">'
    if date:
        head += f'<meta property="article:modified_time" content="{date}">'
    nav = "".join(f'<a href="{href}">{href}</a> ' for href in links)
    return (f"<!doctype html><html lang=en><head>{head}</head><body><nav>{nav}</nav>"
            f"<main><h1>{title}</h1><h2 id=overview>Overview</h2><p>{text}</p></main><footer>Footer</footer></body></html>")


def sitemap(base: str, paths, lastmod: str | None = None) -> str:
    urls = "".join(f"<url><loc>{base}{p}</loc>" + (f"<lastmod>{lastmod}</lastmod>" if lastmod else "") + "</url>" for p in paths)
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'


class Site:
    def __init__(self) -> None:
        self.pages: dict[str, Page] = {}
        self.requests: Counter[str] = Counter()
        self.not_modified: Counter[str] = Counter()
        self.user_agents: set[str] = set()
        self.lock = threading.Lock()

    def handler(self):
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def setup(self) -> None:
                super().setup()
                # Headers and body go out as two writes: without this, Nagle's algorithm and the client's
                # delayed ACK hold every response with a body for 40 ms, as no production server does.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def handle(self) -> None:
                try:
                    super().handle()
                except (ConnectionResetError, BrokenPipeError):  # the client gave up (a timeout test)
                    pass

            def do_GET(self) -> None:  # noqa: N802
                path = self.path.split("#", 1)[0]
                with site.lock:
                    site.requests[path] += 1
                    site.user_agents.add(self.headers.get("User-Agent", ""))
                    page = site.pages.get(path)
                if page is None:
                    page = Page("<h1>Not found</h1>", status=404, etag=False, last_modified=None)
                if page.delay:
                    time.sleep(page.delay)
                raw = page.raw
                etag = f'"{hashlib.sha1(raw).hexdigest()[:16]}"' if page.etag and page.status == 200 else None
                fresh = page.status == 200 and (
                    (etag and self.headers.get("If-None-Match") == etag)
                    or (not etag and page.last_modified and self.headers.get("If-Modified-Since") == page.last_modified))
                try:
                    if fresh:
                        with site.lock:
                            site.not_modified[path] += 1
                        self.send_response(304)
                        if etag:
                            self.send_header("ETag", etag)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(page.status)
                    self.send_header("Content-Type", page.content_type)
                    self.send_header("Content-Length", str(len(raw)))
                    if etag:
                        self.send_header("ETag", etag)
                    if page.last_modified and page.status == 200:
                        self.send_header("Last-Modified", page.last_modified)
                    for k, v in page.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
                    pass

        return Handler

    @contextmanager
    def serve(self):
        server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)


def http_date(ts: float) -> str:
    return email.utils.formatdate(ts, usegmt=True)
