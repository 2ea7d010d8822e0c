"""The website source: a sitemap, or a crawl from a start URL, read politely and incrementally.

    nectarine ingest https://docs.example.com/sitemap.xml
    nectarine ingest https://docs.example.com/ --crawl --max-depth 3 --max-pages 2000

What it does, and why:

* **robots.txt** is read first (``urllib.robotparser``) and obeyed for the ``Nectarine`` agent,
  ``Crawl-delay`` included. A robots.txt that answers 5xx or not at all stops the run (RFC 9309: the
  site may be down; reading it anyway could take every page out of the index); a 4xx means no rules.
* A clear **User-Agent** (:data:`USER_AGENT`) and a **rate limit** (``rate`` requests per second,
  8 by default), one request at a time.
* **Conditional requests**: each page's ``ETag`` and ``Last-Modified`` are stored with it in the
  index (``files.json``) and sent back as ``If-None-Match``/``If-Modified-Since``, so an unchanged
  page costs one 304 and is neither downloaded nor parsed.
* The **main content** (``<main>``/``<article>``, else trafilatura, as for HTML files), the page's
  **canonical URL** (``<link rel=canonical>``: its id and the URL citations point at) and its **date**
  (``<meta name="nectain:date">``, else htmldate on the markup, else the sitemap's ``lastmod``, else
  ``Last-Modified``).
* The same incremental rules as files: a page gone from the sitemap (or no longer linked, in a crawl)
  or answering 404/410 leaves the index. A timeout, a 5xx or a connection error keeps the copy from
  the last ingest and is reported; a redirect is followed on the same site and noted; a non-HTML
  response, a page over the size limit or one robots.txt forbids is reported and left out. One bad
  page never stops the run. Only a sitemap (or start page) that cannot be read stops it, with the
  live index unchanged.

Crawled pages go through the same chunking and poisoned-passage screening as files.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import re
import time
import urllib.robotparser
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from .. import __version__
from ..errors import SkipFile
from ..types import Document
from .loaders import MAX_FILE_BYTES, HtmlLoader, build_document, human_bytes
from .sources import SourceError, SourceItem

ROBOTS_AGENT = "Nectarine"
USER_AGENT = f"{ROBOTS_AGENT}/{__version__} (+https://nectain.com/nectarine; documentation indexer)"
HTML_TYPES = ("text/html", "application/xhtml+xml")
MAX_REDIRECTS = 5
MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # the sitemaps.org limit for one (uncompressed) sitemap
MAX_SITEMAPS = 100  # children of a sitemap index followed
PAGE_SUFFIXES = re.compile(r"\.(html?|php|aspx?)$", re.I)


@dataclass
class Fetched:
    """One page's answer, after redirects: ``status`` 200 with ``body``, 304, or a ``problem``."""

    url: str  # after redirects
    status: int = 0
    body: bytes = b""
    headers: httpx.Headers | None = None
    problem: str | None = None
    keep_previous: bool = False
    redirected: str | None = None


class WebSource:
    """A website, read from its sitemap (``mode="sitemap"``) or by following links (``mode="crawl"``).

    ``max_depth`` and ``max_pages`` bound a crawl (``max_pages`` also a sitemap); ``rate`` is requests per
    second (``0``: no limit, for a site of your own on loopback); ``timeout`` is seconds per request;
    ``max_page_bytes`` refuses bigger pages. Give ``client`` to reuse an ``httpx.Client``.
    """

    def __init__(self, url: str, *, mode: str = "sitemap", max_depth: int = 3, max_pages: int = 5000, rate: float = 8.0,
                 timeout: float = 10.0, max_page_bytes: int = MAX_FILE_BYTES, user_agent: str = USER_AGENT,
                 client: httpx.Client | None = None) -> None:
        if mode not in ("sitemap", "crawl"):
            raise ValueError(f"unknown website mode {mode!r}; choose one of: sitemap, crawl")
        self.url, self.mode, self.max_depth, self.max_pages = url, mode, max_depth, max_pages
        self.rate, self.timeout, self.max_page_bytes, self.user_agent = rate, timeout, max_page_bytes, user_agent
        parts = urlsplit(url)
        self.origin = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
        self.label = url
        self._client = client
        self._next_request = 0.0
        self.robots: urllib.robotparser.RobotFileParser | None = None
        self.sitemap: dict[str, str | None] = {}  # url -> lastmod, in sitemap order
        self.notes: list[str] = []

    # ------------------------------------------------------------------ the Source protocol

    def check(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SourceError(f"{self.url}: not a web address; give one like https://docs.example.com/sitemap.xml")
        self._read_robots()
        if self.mode == "sitemap":
            self.sitemap = self._read_sitemap(self.url)
            if not self.sitemap:
                raise SourceError(f"{self.url} lists no page of {self.origin}; check the sitemap, or crawl with --crawl")

    def trusted_domains(self) -> tuple[str, ...]:
        host = urlsplit(self.url).hostname
        return (host,) if host else ()  # the site's own links are not "somewhere else"

    def items(self, previous: dict[str, dict], conditional: bool) -> Iterator[SourceItem]:
        if self.robots is None:
            self.check()
        try:
            if self.mode == "sitemap":
                yield from self._sitemap_items(previous, conditional)
            else:
                yield from self._crawl_items(previous, conditional)
        finally:
            if self._client is not None and getattr(self, "_own_client", False):
                self._client.close()
                self._client = None

    # ------------------------------------------------------------------ HTTP

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(headers={"User-Agent": self.user_agent}, follow_redirects=False,
                                        timeout=httpx.Timeout(self.timeout))
            self._own_client = True
        return self._client

    def _wait_turn(self) -> None:
        """At most ``rate`` requests a second (or robots.txt's Crawl-delay, if longer)."""
        delay = 1.0 / self.rate if self.rate > 0 else 0.0
        if self.robots is not None:
            delay = max(delay, float(self.robots.crawl_delay(ROBOTS_AGENT) or 0))
        now = time.monotonic()
        if self._next_request > now:
            time.sleep(self._next_request - now)
        self._next_request = max(now, self._next_request) + delay

    def fetch(self, url: str, validators: dict | None = None, *, max_bytes: int | None = None) -> Fetched:
        """GET ``url`` (conditionally, with ``validators``' etag/last_modified), following same-site redirects."""
        headers = {}
        if validators:
            if validators.get("etag"):
                headers["If-None-Match"] = validators["etag"]
            if validators.get("last_modified"):
                headers["If-Modified-Since"] = validators["last_modified"]
        limit = max_bytes or self.max_page_bytes
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            self._wait_turn()
            deadline = time.monotonic() + self.timeout * 3  # a page that trickles in forever is a timeout too
            try:
                with self.client.stream("GET", current, headers=headers) as r:
                    if r.has_redirect_location:
                        target = urljoin(current, r.headers.get("location", ""))
                        if _origin(target) != self.origin:
                            return Fetched(url, r.status_code, problem=f"redirects to another site ({target}); not followed")
                        current = _without_fragment(target)
                        if not self.allowed(current):
                            return Fetched(url, r.status_code, problem=f"redirects to {current}, which robots.txt disallows; not followed")
                        continue
                    if r.status_code != 200:
                        return Fetched(current, r.status_code, headers=r.headers, redirected=current if current != url else None)
                    size = int(r.headers.get("content-length") or 0)
                    if size > limit:
                        return Fetched(current, 200, problem=f"page is {human_bytes(size)}, over the {human_bytes(limit)} limit for a single page")
                    parts, total = [], 0
                    for part in r.iter_bytes():
                        parts.append(part)
                        total += len(part)
                        if total > limit:
                            return Fetched(current, 200, problem=f"page is over the {human_bytes(limit)} limit for a single page")
                        if time.monotonic() > deadline:
                            return Fetched(current, 200, problem=f"timed out after {self.timeout * 3:g} s reading the page",
                                           keep_previous=True)
                    return Fetched(current, 200, b"".join(parts), r.headers, redirected=current if current != url else None)
            except httpx.TimeoutException:
                return Fetched(current, problem=f"timed out after {self.timeout:g} s", keep_previous=True)
            except httpx.HTTPError as exc:
                return Fetched(current, problem=f"could not be fetched ({exc.__class__.__name__}: {exc})", keep_previous=True)
        return Fetched(current, problem=f"more than {MAX_REDIRECTS} redirects; not followed")

    def _read_robots(self) -> None:
        robots = urllib.robotparser.RobotFileParser(f"{self.origin}/robots.txt")
        got = self.fetch(f"{self.origin}/robots.txt", max_bytes=512 * 1024)
        if got.status == 200:
            robots.parse(got.body.decode("utf-8", "replace").splitlines())
        elif 400 <= got.status < 500:
            robots.allow_all = True  # no robots.txt: no rules
        else:
            why = got.problem or f"answered {got.status}"
            raise SourceError(f"{self.origin}/robots.txt {why}; the site may be down, so nothing was changed (RFC 9309). "
                              "Try again later")
        self.robots = robots

    def allowed(self, url: str) -> bool:
        return self.robots is None or self.robots.can_fetch(ROBOTS_AGENT, url)

    # ------------------------------------------------------------------ sitemap

    def _read_sitemap(self, url: str, depth: int = 0) -> dict[str, str | None]:
        got = self.fetch(url, max_bytes=MAX_SITEMAP_BYTES)
        if got.status != 200:
            raise SourceError(f"sitemap {url} {got.problem or f'answered {got.status}'}; nothing was changed. "
                              "Check the address, or try again later")
        root = _parse_xml(got.body, url)
        tag = _local(root.tag)
        if tag == "sitemapindex":
            if depth > 0:
                raise SourceError(f"sitemap {url}: a sitemap index inside a sitemap index is not followed")
            pages: dict[str, str | None] = {}
            for loc, _lastmod in _entries(root, "sitemap")[:MAX_SITEMAPS]:
                if _origin(loc) == self.origin:
                    pages.update(self._read_sitemap(loc, depth + 1))
            return pages
        if tag != "urlset":
            raise SourceError(f"{url} is not a sitemap (its root element is <{tag}>, not <urlset> or <sitemapindex>)")
        pages = {}
        for loc, lastmod in _entries(root, "url"):
            if _origin(loc) != self.origin:
                self.notes.append(f"sitemap lists {loc}, on another site; not read")
                continue
            pages.setdefault(_without_fragment(loc), lastmod)
        return pages

    def _sitemap_items(self, previous: dict[str, dict], conditional: bool) -> Iterator[SourceItem]:
        urls = list(self.sitemap.items())
        if len(urls) > self.max_pages:
            self.notes.append(f"the sitemap lists {len(urls):,} pages; only the first {self.max_pages:,} (--max-pages) were read")
            urls = urls[: self.max_pages]
        for url, lastmod in urls:
            yield self._page(url, previous.get(url) if conditional else None, lastmod)

    # ------------------------------------------------------------------ crawl

    def _crawl_items(self, previous: dict[str, dict], conditional: bool) -> Iterator[SourceItem]:
        start = _without_fragment(self.url)
        queue: deque[tuple[str, int]] = deque([(start, 0)])
        seen = {start}
        fetched = 0
        not_followed = 0
        while queue:
            url, depth = queue.popleft()
            if fetched >= self.max_pages:
                not_followed += 1 + len(queue)
                break
            fetched += 1
            old = previous.get(url) if conditional else None
            item = self._page(url, old, None, links=True)
            if url == start and item.problem is not None:
                raise SourceError(f"the start page {url} {item.problem}; nothing was changed. Check the address, or try again later")
            # a 304 (or a page kept after a timeout) was not downloaded: its links are the stored ones
            links = item.record["links"] if "links" in item.record else (old or {}).get("links", [])
            if depth < self.max_depth:
                for link in links or []:
                    if link not in seen:
                        seen.add(link)
                        queue.append((link, depth + 1))
            yield item
        if not_followed:
            self.notes.append(f"stopped after {self.max_pages:,} pages (--max-pages); {not_followed:,} more links were not followed")

    # ------------------------------------------------------------------ one page

    def _page(self, url: str, old: dict | None, lastmod: str | None, *, links: bool = False) -> SourceItem:
        item = SourceItem(key=url, label=url, origin=self.origin)
        if not self.allowed(url):
            item.problem = "disallowed by robots.txt for the Nectarine agent; not read"
            return item
        got = self.fetch(url, old)
        if got.redirected:
            item.notes.append(f"redirected to {got.redirected}")
        if got.problem:
            item.problem, item.keep_previous = got.problem, got.keep_previous
            return item
        if got.status == 304:
            if old is None:  # a server answering 304 to an unconditional request
                item.problem, item.keep_previous = "answered 304 Not Modified to a request without validators", True
            return item  # read is None: unchanged, the previous copy is kept
        if got.status in (404, 410):
            item.problem = f"gone ({got.status}); removed from the index"
            return item
        if got.status != 200:
            kept = got.status >= 500 or got.status == 429
            item.problem = f"answered {got.status}" + ("; the copy from the last ingest is kept" if kept else "")
            item.keep_previous = kept
            return item
        ctype = (got.headers or {}).get("content-type", "").split(";")[0].strip().lower()
        if ctype not in HTML_TYPES:
            item.problem = f"not an HTML page ({ctype or 'no content type'}); only HTML pages are read from a website"
            return item
        text = _decode(got.body, got.headers)
        item.digest = hashlib.sha256(got.body).hexdigest()
        item.record = {"url": got.url, "etag": got.headers.get("etag"), "last_modified": got.headers.get("last-modified")}
        if links:
            item.record["links"] = self._links(text, got.url)
        item.read = lambda: [self.document(text, got.url, lastmod=lastmod, last_modified=got.headers.get("last-modified"))]
        return item

    def _links(self, html: str, base: str) -> list[str]:
        """Same-site links of a page, absolute, without fragments, query strings passed over (calendar traps)."""
        from bs4 import BeautifulSoup

        out: dict[str, None] = {}
        for a in BeautifulSoup(html, "lxml").find_all("a", href=True):
            href = urljoin(base, a["href"].strip())
            parts = urlsplit(href)
            if parts.scheme not in ("http", "https") or _origin(href) != self.origin or parts.query:
                continue
            out[_without_fragment(href)] = None
        return list(out)

    def document(self, html: str, url: str, *, lastmod: str | None = None, last_modified: str | None = None) -> Document:
        """The page as a Document: its main content, canonical URL (its id and the URL cited) and date."""
        meta, title, body = HtmlLoader.parse(html)
        canonical = urljoin(url, meta["url"]) if meta.get("url") else url
        meta["url"] = canonical
        meta["id"] = page_id(canonical if _origin(canonical) == self.origin else url)
        if not meta.get("date"):
            meta["date"] = page_date(html, url) or _date(lastmod) or _http_date(last_modified)
        if not body.strip():
            raise SkipFile("no main content found in the page")
        return build_document(path=None, root=None, meta=meta, text=body, title=title, fmt="markdown")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- helpers


def page_id(url: str) -> str:
    """A page's document id: its path without the suffix (``/docs/sso.html`` -> ``docs/sso``), so its
    source type comes from the first folder as for files. A query string adds a short hash.

    >>> page_id("https://docs.example.com/docs/sso.html"), page_id("https://docs.example.com/")
    ('docs/sso', 'index')
    """
    parts = urlsplit(url)
    path = PAGE_SUFFIXES.sub("", parts.path.strip("/")) or "index"
    if parts.query:
        path += "-" + hashlib.sha1(parts.query.encode()).hexdigest()[:8]
    return path


def page_date(html: str, url: str | None = None) -> dt.date | None:
    """The page's own date from its markup (htmldate, the most recent one found: "updated"), or None."""
    import htmldate

    try:
        found = htmldate.find_date(html, extensive_search=False, original_date=False, url=url)
    except Exception:  # noqa: BLE001 - a date is a nicety; an odd page must not fail for it
        return None
    return _date(found)


def _date(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        return None


def _http_date(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).date()
    except (TypeError, ValueError):
        return None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def _without_fragment(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, ""))


def _decode(body: bytes, headers) -> str:
    charset = None
    ctype = (headers or {}).get("content-type", "")
    m = re.search(r"charset=([\w-]+)", ctype, re.I)
    if m:
        charset = m.group(1)
    try:
        return body.decode(charset or "utf-8")
    except (LookupError, UnicodeDecodeError):
        return body.decode("utf-8", "replace")


def _parse_xml(body: bytes, url: str):
    from lxml import etree

    # No entities, no network, no huge trees: a sitemap is data from elsewhere.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True)
    try:
        return etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        raise SourceError(f"sitemap {url} is not valid XML ({exc}); nothing was changed") from None


def _local(tag) -> str:
    return str(tag).rsplit("}", 1)[-1]


def _entries(root, kind: str) -> list[tuple[str, str | None]]:
    out = []
    for el in root:
        if _local(el.tag) != kind:
            continue
        loc = lastmod = None
        for child in el:
            name = _local(child.tag)
            if name == "loc" and child.text:
                loc = child.text.strip()
            elif name == "lastmod" and child.text:
                lastmod = child.text.strip()
        if loc:
            out.append((loc, lastmod))
    return out
