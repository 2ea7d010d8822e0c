"""``nectarine ask``, ``nectarine chat`` and ``nectarine start`` (build the index, then serve)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from .common import (DEFAULT_CORPUS, DEFAULT_INDEX, AllowFlaggedOpt, AnswererOpt, BaseUrlOpt, DatabaseOpt, IndexOpt, ModelOpt,
                     TimeoutOpt, console, load_assistant, print_ingest_report, refresh_multilingual, run_ingest, service_settings)
from .serve import serve


def print_answer(answer) -> None:
    from rich.markdown import Markdown
    from rich.panel import Panel

    for note in answer.notes:
        console.print(f"[italic]{note}[/]")
    colour = "green" if answer.confidence >= 0.7 else "yellow" if answer.confidence >= 0.4 else "red"
    console.print(Panel(Markdown(answer.text), title=f"Nectarine ({answer.answerer})",
                        subtitle=f"confidence [{colour}]{answer.confidence:.2f}[/]", border_style=colour))
    if answer.citations:
        sources = Table(title="Sources", header_style="bold", show_lines=False)
        sources.add_column("#", justify="right")
        sources.add_column("section")
        sources.add_column("type")
        sources.add_column("link")
        for c in answer.citations:
            sources.add_row(str(c.number), " › ".join(c.heading_path), c.source.value, c.url)
        console.print(sources)
    console.print("[dim]why: " + "; ".join(answer.reasons) + "[/]")
    if answer.handoff_recommended:
        console.print(f"[bold yellow]Contact support recommended:[/] {answer.handoff_reason}")


def ask(
    question: Annotated[str, typer.Argument(help="The question, as a user would type it.")],
    index: IndexOpt = DEFAULT_INDEX,
    version: Annotated[Optional[str], typer.Option(help="The user's Nectain version, e.g. 4.2.")] = None,
    answerer: AnswererOpt = "offline",
    base_url: BaseUrlOpt = None,
    model: ModelOpt = None,
    timeout: TimeoutOpt = 30.0,
    json_output: Annotated[bool, typer.Option("--json", help="Print the Answer as JSON.")] = False,
    allow_flagged: AllowFlaggedOpt = None,
) -> None:
    """Answer a question with numbered citations, a confidence and a handoff verdict."""
    from ..versions import Version

    if version:
        Version.parse(version)
    nec = load_assistant(index, answerer, base_url, model, timeout, allow_flagged)
    answer = nec.ask(question, context={"version": version})
    if json_output:
        print(answer.model_dump_json(indent=2))
    else:
        print_answer(answer)


def chat(
    index: IndexOpt = DEFAULT_INDEX,
    version: Annotated[Optional[str], typer.Option(help="The user's Nectain version, e.g. 4.2.")] = None,
    answerer: AnswererOpt = "offline",
    base_url: BaseUrlOpt = None,
    model: ModelOpt = None,
    timeout: TimeoutOpt = 30.0,
    allow_flagged: AllowFlaggedOpt = None,
) -> None:
    """An interactive conversation: follow-up questions use what was asked before."""
    nec = load_assistant(index, answerer, base_url, model, timeout, allow_flagged)
    _chat_loop(nec, version)


def _chat_loop(nec, version: Optional[str]) -> None:
    import uuid

    session = uuid.uuid4().hex[:12]
    history: list[dict] = []
    console.print(f"Ask about Nectain (session {session}). An empty line or Ctrl-D ends the chat.")
    while True:
        try:
            question = console.input("[bold green]you>[/] ").strip()
        except (EOFError, KeyboardInterrupt):
            break
        if not question:
            break
        answer = nec.ask(question, history=history, context={"version": version, "session_id": session})
        print_answer(answer)
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.text}]


def start(
    corpus: Annotated[Path, typer.Option(help="Knowledge base folder.")] = DEFAULT_CORPUS,
    index: IndexOpt = DEFAULT_INDEX,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    database: DatabaseOpt = None,
    multilingual: Annotated[bool, typer.Option("--multilingual", help="Also build the e5 side that questions not in English "
                                               "search (3-5 minutes for corpus/ the first time; README).")] = False,
) -> None:
    """The main job: build (or update) the index from the corpus, then serve the demo page and chat panel."""
    report = run_ingest([corpus], index)
    print_ingest_report(report)
    refresh_multilingual(index, build=multilingual)
    _announce_when_ready(host, port)
    serve(index=index, host=host, port=port, database=database, corpus=corpus)


def _announce_when_ready(host: str, port: int) -> None:
    """Once the service answers /readyz, say where to go and how to stop it (after uvicorn's start-up lines)."""
    import threading
    import time

    import httpx

    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"

    def wait() -> None:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        else:
            return
        lines = [f"[bold green]Nectarine is ready:[/] open [bold]{base}/[/] (the demo Nectain page with the assistant's panel)",
                 f"  API and its documentation: {base}/docs"]
        if service_settings().admin_token is not None:
            lines.append(f"  admin (with Authorization: Bearer $NECTARINE_ADMIN_TOKEN): {base}/v1/admin/stats")
        lines.append("  stop it with Ctrl-C")
        console.print("\n".join(lines))

    threading.Thread(target=wait, daemon=True).start()
