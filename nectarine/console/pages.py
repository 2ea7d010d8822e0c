"""What the console reads from the loaded index, and how it renders: the pages and sections of the
knowledge base (for the Sources page and the reviewer's section picker), and the Jinja2 environment."""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

HERE = Path(__file__).resolve().parent

# Autoescape everything: questions, answers, comments and ticket titles are user text, rendered inert.
templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True, default_for_string=True),
                        trim_blocks=True, lstrip_blocks=True)
templates.filters["pct"] = lambda v: "–" if v is None else f"{100 * v:.1f}%"
templates.filters["ms"] = lambda v: "–" if v is None else f"{v:.0f} ms"
templates.filters["when"] = lambda v: v.strftime("%Y-%m-%d %H:%M") if hasattr(v, "strftime") else str(v or "")[:16]


@dataclass
class Page:
    doc_id: str
    title: str
    url: str
    source: str
    date: dt.date | None


@dataclass
class Catalogue:
    """The index's pages and sections: ``pages`` by page URL, ``sections`` (``doc#anchor`` -> heading path),
    and ``by_url`` (a cited URL -> its section id)."""

    pages: dict[str, Page]
    sections: dict[str, str]
    by_url: dict[str, str]


_catalogues: dict[str, Catalogue] = {}
_lock = threading.Lock()


def catalogue(reader) -> Catalogue:
    """Read once per index generation: one pass over the chunk table's JSON in SQLite, no chunk objects built."""
    key = str(reader.folder)
    with _lock:
        if key in _catalogues:
            return _catalogues[key]
    pages: dict[str, Page] = {}
    sections: dict[str, str] = {}
    by_url: dict[str, str] = {}
    # The chunk table is the index's own SQLite file (IndexReader keeps it open read-only).
    rows = reader._db.execute("SELECT doc_id, json_extract(data, '$.title'), json_extract(data, '$.url'), json_extract(data, '$.anchor'), "
                              "json_extract(data, '$.source'), json_extract(data, '$.date'), json_extract(data, '$.heading_path') FROM chunks")
    for doc_id, title, url, anchor, source, date, heading_path in rows:
        page_url = (url or f"/{doc_id}").split("#", 1)[0]
        if page_url not in pages:
            pages[page_url] = Page(doc_id, title or doc_id, page_url, source or "docs", dt.date.fromisoformat(date) if date else None)
        section = f"{doc_id}#{anchor}" if anchor else doc_id
        sections.setdefault(section, " › ".join(json.loads(heading_path or "[]")) or title or doc_id)
        if url:
            by_url.setdefault(url, section)
    found = Catalogue(pages, dict(sorted(sections.items())), by_url)
    with _lock:
        _catalogues.clear()  # one generation at a time
        _catalogues[key] = found
    return found


def sources_report(citations: list[dict], cat: Catalogue | None, *, today: dt.date, stale_days: int = 365) -> dict:
    """Cited sections and pages (times cited, thumbs up and down), pages never cited in the range, and
    stale candidates: pages dated more than ``stale_days`` ago that keep being cited."""
    pages: dict[str, dict] = {}
    for c in citations:
        url = (c["url"] or "").split("#", 1)[0]
        p = pages.setdefault(url, {"url": url, "title": (c["title"] or url).split(" › ", 1)[0], "times": 0, "up": 0, "down": 0,
                                   "date": None, "source": None})
        p["times"] += c["times"]
        p["up"] += c["up"]
        p["down"] += c["down"]
    never: list[Page] = []
    if cat is not None:
        for url, page in cat.pages.items():
            if url in pages:
                pages[url].update(title=page.title, date=page.date, source=page.source)
            else:
                never.append(page)
    ranked = sorted(pages.values(), key=lambda p: -p["times"])
    cutoff = today - dt.timedelta(days=stale_days)
    stale = [p for p in ranked if p["date"] is not None and p["date"] < cutoff]
    return {"sections": citations[:200], "pages": ranked[:200], "never": sorted(never, key=lambda p: p.url), "stale": stale[:100],
            "stale_days": stale_days}
