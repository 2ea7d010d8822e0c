"""What the commands share: the consoles, ``fail``, progress bars, the common options, settings.

Settings come from ``nectarine.settings.Settings`` (``NECTARINE_*``), read when a command needs them.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from ..settings import DEFAULT_DATABASE_URL, DEFAULT_LLM_BASE_URL, DEFAULT_LLM_MODEL, Settings

console = Console()
err = Console(stderr=True)

# The defaults of the service's settings, so `nectarine serve` and the other commands agree.
DEFAULT_INDEX = Path(Settings.model_fields["index"].default)
DEFAULT_CORPUS = Path(Settings.model_fields["corpus"].default)

IndexOpt = Annotated[Path, typer.Option("--index", "-i", help="Index folder (built by `nectarine ingest`).")]
DatabaseOpt = Annotated[Optional[str], typer.Option(
    "--database", help=f"Ticket database URL (default $NECTARINE_DATABASE_URL, else {DEFAULT_DATABASE_URL}).")]
AnswererOpt = Annotated[str, typer.Option(help="offline (default, no LLM), openai (any OpenAI-compatible endpoint) or llamacpp (in-process GGUF).")]
BaseUrlOpt = Annotated[Optional[str], typer.Option(help=f"OpenAI-compatible base URL (default $NECTARINE_LLM_BASE_URL, else {DEFAULT_LLM_BASE_URL}); the key is read from $NECTARINE_LLM_API_KEY.")]
ModelOpt = Annotated[Optional[str], typer.Option("--model", help=f"Model name at the endpoint (default $NECTARINE_LLM_MODEL, else {DEFAULT_LLM_MODEL}).")]
TimeoutOpt = Annotated[float, typer.Option(help="Seconds to wait for the language model before falling back to the offline answer.")]
AllowFlaggedOpt = Annotated[Optional[list[str]], typer.Option(
    "--allow-flagged", help="A document id or path flagged as unsafe at ingest that an admin has checked: use it in answers anyway; repeatable, '*' for all.")]


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one ``error: ...`` line on stderr and exit with ``code`` (2 unless said otherwise)."""
    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description:<16}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )


# --------------------------------------------------------------------------- settings
def service_settings(**overrides) -> Settings:
    """``Settings`` from the environment, with ``overrides`` (options given on the command line) on top;
    an invalid ``NECTARINE_*`` value exits 2 with the setting's name."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)
    except ValidationError as exc:  # one line, each wrong value by its variable's name
        fail("invalid NECTARINE_* setting: " + "; ".join(
            (f"NECTARINE_{str(e['loc'][0]).upper()}: " if e["loc"] else "") + e["msg"].removeprefix("Value error, ")
            for e in exc.errors()))
    except ValueError as exc:  # a value that is not JSON where JSON is needed
        fail(f"invalid NECTARINE_* setting: {exc}")


def embedder_options(settings: Optional[Settings] = None) -> dict:
    """``get_embedder``'s ``threads`` and ``cache_dir``, from ``NECTARINE_EMBED_THREADS`` and ``NECTARINE_CACHE``."""
    return (settings or service_settings()).embedder_options()


def answerer_options(answerer: str, base_url: Optional[str] = None, model: Optional[str] = None, timeout: Optional[float] = None,
                     settings: Optional[Settings] = None) -> dict:
    """The options of ``answerer``: for ``openai``, the endpoint, model and key from ``NECTARINE_LLM_*``
    with ``--base-url``, ``--model`` and ``--timeout`` on top; the other answerers take none from here."""
    if answerer != "openai":
        return {}
    options = (settings or service_settings()).llm_options()
    options.update({k: v for k, v in {"base_url": base_url, "model": model, "timeout": timeout}.items() if v is not None})
    return options


def database_url(database: Optional[str]) -> str:
    """``--database`` if given, else ``NECTARINE_DATABASE_URL``, else ``DEFAULT_DATABASE_URL``."""
    return database or service_settings().database_url


def ticket_store(database: Optional[str]):
    from ..store import TicketStore

    return TicketStore(database_url(database))


# --------------------------------------------------------------------------- ingest
STAGE_LABELS = {"read": "reading files", "embed": "embedding chunks", "write": "writing index"}


@contextmanager
def ingest_progress():
    """Progress bars for an ingest: yields the ``progress(stage, done, total)`` callback ``ingest`` takes."""
    with progress() as bars:
        tasks: dict[str, int] = {}

        def tick(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bars.add_task(STAGE_LABELS.get(stage, stage), total=max(total, 1))
            bars.update(tasks[stage], completed=done, total=max(total, 1))

        yield tick


def run_ingest(paths: list[Path], index: Path, *, model: Optional[str] = None, backend: Optional[str] = None,
               rebuild: bool = False, settings: Optional[Settings] = None, **kwargs):
    """Ingest with progress bars; returns the report (shared by `ingest`, `start` and `eval`).

    The trusted domains (``NECTARINE_TRUSTED_DOMAINS``) and the embedder's threads and cache
    (``NECTARINE_EMBED_THREADS``, ``NECTARINE_CACHE``) come from the settings."""
    from ..ingest.pipeline import ingest

    settings = settings or service_settings()
    kwargs.setdefault("trusted_domains", settings.trusted_domains)
    with ingest_progress() as tick:
        return ingest(paths, index, progress=tick, model=model, backend=backend, rebuild=rebuild,
                      embedder_options=embedder_options(settings), **kwargs)


def print_ingest_report(report) -> None:
    table = Table(title=f"Ingested into {report.index_dir}", show_header=True, header_style="bold")
    table.add_column("what")
    table.add_column("count", justify="right")
    for label, value in [
        ("files", report.files),
        ("documents", report.documents),
        ("chunks", report.chunks),
        ("added", report.added),
        ("changed", report.changed),
        ("removed", report.removed),
        ("unchanged", report.unchanged),
        ("embedded now", report.embedded),
        ("split to fit the model", report.chunk_stats.split_for_embed_limit),
        ("cut mid-text", report.chunk_stats.cut_mid_text),
        ("skipped", len(report.skipped)),
        ("flagged as unsafe", len(getattr(report, "flagged", []))),
        ("seconds", f"{report.seconds:.2f}"),
        ("chunks / second", f"{report.chunks_per_second:.1f}"),
    ]:
        table.add_row(label, str(value))
    console.print(table)
    if report.up_to_date:
        console.print("[green]Index is up to date[/]: nothing changed since the last build.")
    for title, rows, style, first in (("Skipped", report.skipped, "bold yellow", "file"),
                                      ("Notes", getattr(report, "notes", None) or [], "bold", "file or page")):
        if rows:
            table = Table(title=title, header_style=style)
            table.add_column(first)
            table.add_column("reason" if title == "Skipped" else "note")
            for item in rows:
                table.add_row(item.path, item.reason)
            console.print(table)
    if getattr(report, "flagged", None):
        # Passages asking for secrets to be sent, or pointing outside the trusted domains: kept out
        # of answers until fixed, or allowed with --allow-flagged (nectarine.ingest.safety).
        flagged = Table(title="Flagged as unsafe (kept out of answers)", header_style="bold red")
        flagged.add_column("document")
        flagged.add_column("section")
        flagged.add_column("why")
        for f in report.flagged:
            flagged.add_row(f.path or f.doc_id, f.heading, "; ".join(f.reasons))
        console.print(flagged)


# --------------------------------------------------------------------------- loading
def load_index(index: Path, backend: Optional[str] = None):
    from ..assistant import Nectarine

    return Nectarine.load(index, backend=backend, embedder_options=embedder_options())


def load_assistant(index: Path, answerer: str, base_url: Optional[str], model: Optional[str], timeout: float,
                   allow_flagged: Optional[list[str]] = None):
    """The assistant over ``index``, its answerer configured from ``NECTARINE_LLM_*`` and the options given."""
    from ..assistant import Nectarine

    settings = service_settings()
    nec = Nectarine.load(index, answerer=answerer, answerer_options=answerer_options(answerer, base_url, model, timeout, settings),
                         allow_flagged=allow_flagged, embedder_options=embedder_options(settings))
    nec.warm_up()
    return nec


# --------------------------------------------------------------------------- output files
def write_json(path: Optional[Path], data: dict) -> None:
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2, default=str))
        console.print(f"wrote {path}")


def write_report(path: Path, title: str, **sections) -> None:
    from ..eval.report import build_report

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(build_report(title, **sections))
    console.print(f"wrote {path}")


def refresh_multilingual(index: Path, *, build: bool) -> tuple[int, int] | None:
    """Bring the index's multilingual side up to date: always when one exists (only passages changed since are
    embedded), and when ``build`` asks for one. None when there is none and none was asked for."""
    from ..index.multilingual import build_side, side_path

    if not build and not side_path(index).exists():
        return None
    with progress() as bars:
        task = bars.add_task("e5 passages", total=None)
        embedded, reused = build_side(index, lambda done, total: bars.update(task, completed=done, total=total))
    console.print(f"multilingual side: {embedded} passages embedded, {reused} reused")
    return embedded, reused
