"""``nectarine sources``: the pages of an index by age and by how often answers cite them."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from .common import DEFAULT_INDEX, DatabaseOpt, IndexOpt, console, database_url, err


def index_pages(index: Path) -> list[dict]:
    """One row per document of the live index: id, title, url (no anchor), source, date, chunks."""
    from ..index.store import IndexReader

    reader = IndexReader.open(index)
    try:
        rows = reader._db.execute(
            "SELECT doc_id, json_extract(data, '$.title'), json_extract(data, '$.url'), json_extract(data, '$.source'), "
            "max(json_extract(data, '$.date')), count(*) FROM chunks GROUP BY doc_id").fetchall()
    finally:
        reader.close()
    return [{"id": d, "title": t, "url": (u or "").split("#", 1)[0], "source": s, "date": date, "chunks": n}
            for d, t, u, s, date, n in rows]


def cited_counts(url: str) -> tuple[Counter, str | None]:
    """How many answers cited each page (by URL without its anchor), read from the conversation log.

    Read only: the database is neither created nor migrated; a missing one counts nothing, and says so.
    """
    from sqlalchemy import create_engine, select
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from ..store.conversations import TurnRow
    from ..store.database import masked

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and not Path(parsed.database).exists():
        return Counter(), f"no conversation log at {parsed.database}; cited counts are 0"
    engine = create_engine(url)
    counts: Counter = Counter()
    try:
        with engine.connect() as conn:
            for (sources,) in conn.execute(select(TurnRow.sources)):
                pages = {str(s.get("url", "")).split("#", 1)[0] for s in sources or [] if isinstance(s, dict)}
                counts.update(p for p in pages if p)  # an answer citing two sections of a page cites it once
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return Counter(), f"cannot read the conversation log at {masked(url)} ({reason}); cited counts are 0"
    finally:
        engine.dispose()
    return counts, None


def sources(
    index: IndexOpt = DEFAULT_INDEX,
    database: DatabaseOpt = None,
    by: Annotated[str, typer.Option(help="Order: age (oldest first) or cited (most cited first).")] = "age",
    limit: Annotated[int, typer.Option(help="Show at most this many pages (0: all).", min=0)] = 50,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the indexed pages by age (their date: front matter, the web page's own, a git file's last commit)
    and by how often answers cited them: stale pages that are cited often are the first to review."""
    from ..types import OptionError

    if by not in ("age", "cited"):
        raise OptionError(f"unknown order {by!r}; choose one of: age, cited")
    pages = index_pages(index)
    counts, problem = cited_counts(database_url(database))
    today = dt.date.today()
    for p in pages:
        p["cited"] = counts.get(p["url"], 0)
        p["age_days"] = (today - dt.date.fromisoformat(p["date"])).days if p["date"] else None
    if by == "age":  # oldest first; pages without a date last
        pages.sort(key=lambda p: (p["age_days"] is None, -(p["age_days"] or 0), -p["cited"], p["id"]))
    else:
        pages.sort(key=lambda p: (-p["cited"], -(p["age_days"] or 0), p["id"]))
    shown = pages[:limit] if limit else pages
    if problem:
        err.print(f"[yellow]note:[/] {problem}")
    if json_output:
        print(json.dumps(shown, indent=2))
        return
    table = Table(title=f"{len(pages)} pages in {index}, by {by}" + (f" (first {len(shown)})" if len(shown) < len(pages) else ""),
                  header_style="bold")
    for col, justify in (("updated", "left"), ("age (days)", "right"), ("cited", "right"), ("source", "left"), ("page", "left")):
        table.add_column(col, justify=justify)
    for p in shown:
        table.add_row(p["date"] or "unknown", "" if p["age_days"] is None else str(p["age_days"]), str(p["cited"]), p["source"] or "",
                      f"[bold]{p['title']}[/]\n[cyan]{p['url']}[/]")
    console.print(table)
