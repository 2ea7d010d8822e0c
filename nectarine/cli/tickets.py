"""``nectarine ticket draft|list|show`` and ``nectarine gaps`` (what the stored conversations say)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from .common import DatabaseOpt, console, database_url, fail, ticket_store, write_json

app = typer.Typer(help="Support tickets: draft one from a message, logs and environment.", no_args_is_help=True)


@app.command("draft")
def ticket_draft(
    message: Annotated[list[str], typer.Option("--message", "-m", help="What the user wrote; repeat for several messages.")],
    log: Annotated[Optional[list[Path]], typer.Option("--log", help="A log file to attach (bounded and redacted); repeatable.")] = None,
    user_agent: Annotated[Optional[str], typer.Option(help="The browser's user-agent string.")] = None,
    version: Annotated[Optional[str], typer.Option(help="The user's Nectain version, e.g. 4.3.1.")] = None,
    priority: Annotated[Optional[str], typer.Option(help="Override the suggested priority: Highest, High, Normal or Low.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the draft as JSON.")] = False,
) -> None:
    """Draft a prefilled, redacted support ticket (nothing is sent)."""
    from ..handoff.draft import Attachment, draft_ticket
    from ..handoff.logs import decode_log
    from ..handoff.priority import Priority
    from ..versions import Version

    if version:
        Version.parse(version)
    if priority:
        Priority.from_str(priority)
    attachments = []
    for path in log or []:
        if not path.is_file():
            raise FileNotFoundError(f"--log {path}: no such file")
        attachments.append(Attachment(name=path.name, kind="log", content=decode_log(path.read_bytes(), str(path))))
    draft = draft_ticket([{"role": "user", "content": m} for m in message], {"version": version, "user_agent": user_agent}, attachments)
    if priority:
        draft = draft.with_priority(priority)
    if json_output:
        print(draft.model_dump_json(indent=2))
        return
    table = Table(title="Ticket draft (review before sending)", show_header=False, show_lines=True)
    table.add_column("field", style="bold")
    table.add_column("value")
    env = draft.environment
    rows = [
        ("title", draft.title), ("priority", f"{draft.priority} (set by {draft.priority_set_by})\n{draft.priority_rationale}"),
        ("Nectain version", draft.nectain_version or "-"), ("environment", f"{env.os or '?'} {env.os_version or ''} · {env.browser or '?'} {env.browser_version or ''}"),
        ("error messages", "\n".join(draft.error_messages) or "-"),
        ("logs", "\n".join(f"{x.name}: {x.note or f'{x.total_lines} lines'}" for x in draft.logs) or "-"),
        ("language", draft.language + (" (needs translation)" if draft.needs_translation else "")),
        ("redacted", ", ".join(f"{n} {k}" for k, n in draft.redactions.items()) or "nothing"),
        ("missing", "\n".join(draft.missing_information) or "nothing"), ("first response", draft.expected_first_response),
    ]
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)


@app.command("list")
def ticket_list(database: DatabaseOpt = None, limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50) -> None:
    """Stored tickets, newest first."""
    rows = ticket_store(database).list(limit=limit)
    table = Table(title=f"{len(rows)} ticket(s)", header_style="bold")
    for col in ("id", "status", "priority", "title", "created"):
        table.add_column(col)
    for r in rows:
        table.add_row(r.id, r.status, r.priority, r.title, r.created_at.strftime("%Y-%m-%d %H:%M"))
    console.print(table)


@app.command("show")
def ticket_show(ticket_id: Annotated[str, typer.Argument(help="The ticket id from `nectarine ticket list`.")], database: DatabaseOpt = None) -> None:
    """One stored ticket as JSON, with its delivery attempts."""
    store = ticket_store(database)
    row = store.get(ticket_id)
    if row is None:
        fail(f"no ticket {ticket_id!r}; `nectarine ticket list` shows the ids")
    out = {"id": row.id, "status": row.status, "priority": row.priority, "created_at": row.created_at.isoformat(),
           "last_error": row.last_error, "draft": row.draft,
           "deliveries": [{"sink": o.sink, "status": o.status, "attempts": o.attempts, "last_error": o.last_error} for o in store.outbox(row.id)]}
    print(json.dumps(out, indent=2, default=str))


def gaps(
    since: Annotated[Optional[str], typer.Option(help="Only conversations from this date on (YYYY-MM-DD).")] = None,
    database: DatabaseOpt = None,
    threshold: Annotated[float, typer.Option(help="Answers below this confidence count as not answered.")] = 0.5,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write the topics as JSON.")] = None,
    report: Annotated[Optional[Path], typer.Option("--report", help="Write the topics as an HTML page.")] = None,
) -> None:
    """Coverage gaps for the docs team: clusters of questions the docs did not answer, by volume."""
    import datetime as dt

    from ..eval.gaps import find_gaps, gaps_html, gaps_json
    from ..index.embedder import get_embedder

    start = None
    if since:
        try:
            start = dt.datetime.fromisoformat(since).replace(tzinfo=dt.timezone.utc)
        except ValueError:
            fail(f"--since {since!r}: use a date like 2026-11-01")
    from ..store import ConversationLog

    found = find_gaps(ConversationLog(database_url(database)).turns(since=start), get_embedder(), threshold=threshold)
    table = Table(title=f"{len(found)} topic(s) the docs do not cover well", header_style="bold", show_lines=True)
    for col in ("#", "questions", "typical questions", "why", "closest sources"):
        table.add_column(col)
    for i, g in enumerate(found, 1):
        table.add_row(str(i), str(g.size), "\n".join(g.examples), ", ".join(f"{k} {v}" for k, v in g.reasons.items()),
                      "\n".join(s["url"] for s in g.closest_sources) or "-")
    console.print(table)
    write_json(json_out, gaps_json(found))
    if report:
        report.write_text(gaps_html(found))
        console.print(f"wrote {report}")
