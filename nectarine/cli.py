"""The ``nectarine`` command: a thin shell over the library.

    nectarine ingest corpus/ --index indexes/default
    nectarine search "AUTH-1003 after rotating the certificate" --index indexes/default
    nectarine start                      # build the index if needed, then ask away
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

app = typer.Typer(
    name="nectarine",
    help="Nectarine, Nectain's AI assistant: ingest docs, search them, answer with citations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)

DEFAULT_INDEX = Path("indexes/default")
DEFAULT_CORPUS = Path("corpus")

IndexOpt = Annotated[Path, typer.Option("--index", "-i", help="Index folder (built by `nectarine ingest`).")]


def fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(code)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description:<16}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )


STAGE_LABELS = {"read": "reading files", "embed": "embedding chunks", "write": "writing index"}


def run_ingest(paths: list[Path], index: Path, **kwargs):
    """Ingest with progress bars; returns the report (shared by `ingest` and `start`)."""
    from .ingest.pipeline import ingest

    with _progress() as progress:
        tasks: dict[str, int] = {}

        def tick(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(STAGE_LABELS.get(stage, stage), total=max(total, 1))
            progress.update(tasks[stage], completed=done, total=max(total, 1))

        return ingest(paths, index, progress=tick, **kwargs)


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
    if report.skipped:
        skipped = Table(title="Skipped", header_style="bold yellow")
        skipped.add_column("file")
        skipped.add_column("reason")
        for s in report.skipped:
            skipped.add_row(s.path, s.reason)
        console.print(skipped)
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


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders: Markdown, HTML, text, BEIR .jsonl.")],
    index: IndexOpt = DEFAULT_INDEX,
    model: Annotated[Optional[str], typer.Option(help="sentence-transformers model: a packaged name or a local folder. Default: the index's, else all-MiniLM-L6-v2.")] = None,
    backend: Annotated[Optional[str], typer.Option(help="Embedding backend: torch, onnx or onnx-int8. Default: the index's, else the default.")] = None,
    max_tokens: Annotated[Optional[int], typer.Option(help="Chunk budget in tiktoken tokens. Default: the index's, else 200.")] = None,
    dense: Annotated[Optional[str], typer.Option(help="Dense index: flat (exact) or hnsw (large indexes). Default: the index's, else flat.")] = None,
    rebuild: Annotated[bool, typer.Option(help="Ignore the existing index and build from scratch.")] = False,
    max_file_mb: Annotated[float, typer.Option(help="Skip files larger than this.")] = 5.0,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the report as JSON to this file.")] = None,
) -> None:
    """Build or incrementally update an index from documentation files."""
    from .index.embedder import Backend, EmbedderError
    from .index.store import DenseSettings, IndexLoadError
    from .ingest.chunker import ChunkerSettings
    from .ingest.pipeline import NothingIngested
    from .types import OptionError

    try:
        if backend:
            Backend.from_str(backend)
        if dense not in (None, "flat", "hnsw"):
            raise OptionError(f"unknown dense index {dense!r}; choose one of: flat, hnsw")
        report = run_ingest(
            paths, index, model=model, backend=backend, chunker=ChunkerSettings(max_tokens=max_tokens) if max_tokens else None,
            dense=DenseSettings(kind=dense) if dense else None, rebuild=rebuild, max_file_bytes=int(max_file_mb * 1e6),
        )
    except (FileNotFoundError, OptionError, IndexLoadError, EmbedderError) as exc:
        fail(str(exc))
    except NothingIngested as exc:
        fail(str(exc), code=1)
    print_ingest_report(report)
    if json_out:
        from dataclasses import asdict

        json_out.write_text(json.dumps(asdict(report), indent=2, default=str))


def _load(index: Path, backend: Optional[str] = None):
    from .assistant import Nectarine
    from .index.store import IndexLoadError

    try:
        return Nectarine.load(index, backend=backend)
    except IndexLoadError as exc:
        fail(str(exc))


def results_table(results, query: str) -> Table:
    table = Table(title=f"Results for: {query}", header_style="bold", show_lines=True, expand=True)
    table.add_column("#", justify="right", width=3)
    table.add_column("score", justify="right", width=8)
    table.add_column("dense / bm25", justify="right", width=13)
    table.add_column("source", width=12)
    table.add_column("passage", ratio=1)
    for r in results:
        lexical = "-" if r.lexical_score is None else f"{r.lexical_score:.1f}"
        head = " › ".join(r.heading_path)
        versions = "" if r.chunk.versions == "all" else f"  [dim]v{r.chunk.versions}[/]"
        mark = "" if r.version_match else "  [yellow](other version)[/]"
        snippet = r.text if len(r.text) < 300 else r.text[:297] + "…"
        table.add_row(
            str(r.rank), f"{r.score:.4f}", f"{r.dense_score:.2f} / {lexical}", r.source.value,
            f"[bold]{head}[/]{versions}{mark}\n[cyan]{r.url}[/]\n{snippet}",
        )
    return table


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to search for.")],
    index: IndexOpt = DEFAULT_INDEX,
    k: Annotated[int, typer.Option("-k", help="How many results.")] = 5,
    source: Annotated[Optional[list[str]], typer.Option(help="Only these source types (docs, blog, release-notes, support); repeatable.")] = None,
    version: Annotated[Optional[str], typer.Option(help="The user's Nectain version, e.g. 4.3.1.")] = None,
    exclude_other_versions: Annotated[bool, typer.Option(help="Drop, rather than demote, passages for other versions.")] = False,
    mode: Annotated[str, typer.Option(help="hybrid, dense or bm25.")] = "hybrid",
    history: Annotated[Optional[Path], typer.Option(help="JSON file with the conversation so far: [{role, content}, ...].")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Search the index and print ranked passages."""
    from .retrieve.hybrid import SearchMode
    from .types import Filters, OptionError, SourceType
    from .versions import Version, VersionError

    try:
        mode_ = SearchMode.from_str(mode)
        sources = [SourceType.from_str(s) for s in source] if source else None
        if version:
            Version.parse(version)
    except (OptionError, VersionError) as exc:
        fail(str(exc))
    turns = None
    if history:
        try:
            turns = json.loads(history.read_text())
            if not isinstance(turns, list):
                raise ValueError("expected a JSON list of {role, content} objects")
        except (OSError, ValueError) as exc:
            fail(f"--history {history}: {exc}")
    nec = _load(index)
    filters = Filters(sources=sources, version=version, version_mode="exclude" if exclude_other_versions else "demote")
    results = nec.search(query, k=k, filters=filters, history=turns, mode=mode_)
    if json_output:
        print(json.dumps([r.model_dump(mode="json") for r in results], indent=2))
    elif not results:
        console.print("No passages matched.")
    else:
        console.print(results_table(results, query))


def _load_assistant(index: Path, answerer: str, base_url: Optional[str], model: Optional[str], timeout: float,
                    allow_flagged: Optional[list[str]] = None):
    from .answer.base import AnswererUnavailable
    from .assistant import Nectarine
    from .index.store import IndexLoadError
    from .types import OptionError

    options = {}
    if answerer == "openai":
        options = {k: v for k, v in {"base_url": base_url, "model": model, "timeout": timeout}.items() if v is not None}
    try:
        nec = Nectarine.load(index, answerer=answerer, answerer_options=options, allow_flagged=allow_flagged)
    except (IndexLoadError, OptionError, AnswererUnavailable) as exc:
        fail(str(exc))
    nec.warm_up()
    return nec


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


AnswererOpt = Annotated[str, typer.Option(help="offline (default, no LLM), openai (any OpenAI-compatible endpoint) or llamacpp (in-process GGUF).")]
BaseUrlOpt = Annotated[Optional[str], typer.Option(help="OpenAI-compatible base URL (default $NECTARINE_LLM_BASE_URL); the key is read from $NECTARINE_LLM_API_KEY.")]
ModelOpt = Annotated[Optional[str], typer.Option("--model", help="Model name at the endpoint (default $NECTARINE_LLM_MODEL).")]
TimeoutOpt = Annotated[float, typer.Option(help="Seconds to wait for the language model before falling back to the offline answer.")]
AllowFlaggedOpt = Annotated[Optional[list[str]], typer.Option(
    "--allow-flagged", help="A document id or path flagged as unsafe at ingest that an admin has checked: use it in answers anyway; repeatable, '*' for all.")]


@app.command()
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
    from .versions import Version, VersionError

    if version:
        try:
            Version.parse(version)
        except VersionError as exc:
            fail(str(exc))
    nec = _load_assistant(index, answerer, base_url, model, timeout, allow_flagged)
    answer = nec.ask(question, context={"version": version})
    if json_output:
        print(answer.model_dump_json(indent=2))
    else:
        print_answer(answer)


@app.command()
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
    nec = _load_assistant(index, answerer, base_url, model, timeout, allow_flagged)
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


@app.command()
def start(
    corpus: Annotated[Path, typer.Option(help="Knowledge base folder.")] = DEFAULT_CORPUS,
    index: IndexOpt = DEFAULT_INDEX,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    database: DatabaseOpt = None,
) -> None:
    """The main job: build (or update) the index from the corpus, then serve the demo page and chat panel."""
    report = run_ingest([corpus], index)
    print_ingest_report(report)
    console.print(f"[bold]Open http://{host}:{port}/[/] for the demo Nectain page with the assistant's panel "
                  f"(API docs at /docs). Ctrl-C stops it.")
    serve(index=index, host=host, port=port, database=database, corpus=corpus)


eval_app = typer.Typer(help="Offline evaluation: retrieval quality on BEIR-layout datasets.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")


def _write_report(path: Path, title: str, **sections) -> None:
    from .eval.report import build_report

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(build_report(title, **sections))
    console.print(f"wrote {path}")


def _write_json(path: Optional[Path], data: dict) -> None:
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2, default=str))
        console.print(f"wrote {path}")


def metrics_table(title: str, rows: dict[str, dict], columns: list[str]) -> Table:
    table = Table(title=title, header_style="bold")
    table.add_column("", no_wrap=True)
    for c in columns:
        table.add_column(SHORT.get(c, c), justify="right")
    for name, m in rows.items():
        table.add_row(name, *[("-" if c not in m else f"{m[c]:.3f}" if isinstance(m[c], float) else str(m[c])) for c in columns])
    return table


SHORT = {"ndcg@10": "nDCG@10", "recall@1": "R@1", "recall@5": "R@5", "recall@10": "R@10", "recall@20": "R@20", "mrr@10": "MRR@10", "queries": "n"}
RETRIEVAL_COLUMNS = ["ndcg@10", "recall@1", "recall@5", "recall@10", "recall@20", "mrr@10", "queries"]


@eval_app.command("retrieval")
def eval_retrieval(
    dataset_dir: Annotated[Path, typer.Argument(help="BEIR dataset folder: corpus.jsonl (or dataset.yaml), queries.jsonl, qrels/.")],
    index: Annotated[Optional[Path], typer.Option("--index", "-i", help="Index folder; built or updated from the dataset's corpus. Default: indexes/<dataset name>.")] = None,
    split: Annotated[str, typer.Option(help="Which qrels split to score.")] = "test",
    mode: Annotated[str, typer.Option(help="hybrid, dense or bm25.")] = "hybrid",
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write metrics and per-query results here.")] = None,
    report: Annotated[Optional[Path], typer.Option("--report", help="Write a self-contained HTML report (all three modes, plots, worst queries).")] = None,
) -> None:
    """nDCG@10, recall@1/5/10/20, MRR@10 and latency, by source type and by first turn vs follow-up."""
    from .eval.datasets import DatasetError, load_dataset
    from .eval.retrieval import evaluate_retrieval
    from .retrieve.hybrid import SearchMode
    from .types import OptionError

    try:
        SearchMode.from_str(mode)
        dataset = load_dataset(dataset_dir)
        dataset.queries_for(split)
    except (DatasetError, OptionError) as exc:
        fail(str(exc))
    index = index or Path("indexes") / dataset.name
    ingested = run_ingest(dataset.corpus_paths, index)
    if not ingested.up_to_date:
        print_ingest_report(ingested)
    nec = _load(index)
    with _progress() as progress:
        task = progress.add_task(f"{split} queries", total=None)
        result = evaluate_retrieval(nec, dataset, split=split, mode=mode,
                                    progress=lambda done, total: progress.update(task, completed=done, total=total))
    m = result["metrics"]
    console.print(metrics_table(f"Retrieval on {dataset.name}/{split} ({mode})", {"all": m, **result["breakdown"]}, RETRIEVAL_COLUMNS))
    console.print(f"latency p50 {m['latency_ms_p50']:.1f} ms, p95 {m['latency_ms_p95']:.1f} ms (query embedding included)")
    _write_json(json_out, result)
    if report:
        modes = {mode: result}
        for other in ("hybrid", "dense", "bm25"):
            if other != mode:
                modes[other] = evaluate_retrieval(nec, dataset, split=split, mode=other)
        _write_report(report, f"{dataset.name}/{split}", retrieval=modes)


ANSWER_COLUMNS = ["answer_similarity", "citation_precision", "supported_sentence_rate", "handoff_auroc", "false_confident_rate",
                  "deflection_rate", "escalation_recall", "ece", "latency_ms_p50", "latency_ms_p95", "queries"]


@eval_app.command("answers")
def eval_answers(
    dataset_dir: Annotated[Path, typer.Argument(help="BEIR dataset folder with reference answers and answerable flags.")],
    index: Annotated[Optional[Path], typer.Option("--index", "-i", help="Index folder; built or updated from the dataset's corpus. Default: indexes/<dataset name>.")] = None,
    split: Annotated[str, typer.Option(help="Which split to score.")] = "test",
    answerer: AnswererOpt = "offline",
    base_url: BaseUrlOpt = None,
    model: ModelOpt = None,
    timeout: TimeoutOpt = 30.0,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write metrics and per-question results here.")] = None,
    report: Annotated[Optional[Path], typer.Option("--report", help="Write a self-contained HTML report (reliability diagram, confidence plots, mistakes).")] = None,
) -> None:
    """Answer quality, citation precision, supported sentences, handoff AUROC, deflection, escalation recall, ECE."""
    from .eval.answers import evaluate_answers
    from .eval.datasets import DatasetError, load_dataset

    try:
        dataset = load_dataset(dataset_dir)
        dataset.queries_for(split)
    except DatasetError as exc:
        fail(str(exc))
    index = index or Path("indexes") / dataset.name
    ingested = run_ingest(dataset.corpus_paths, index)
    if not ingested.up_to_date:
        print_ingest_report(ingested)
    nec = _load_assistant(index, answerer, base_url, model, timeout)
    with _progress() as progress:
        task = progress.add_task(f"{split} questions", total=None)
        result = evaluate_answers(nec, dataset, split=split, progress=lambda d, t: progress.update(task, completed=d, total=t))
    m = result["metrics"]
    table = Table(title=f"Answers on {dataset.name}/{split} ({result['answerer']})", header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for c in ANSWER_COLUMNS:
        table.add_row(c, f"{m[c]:.3f}" if isinstance(m[c], float) else str(m[c]))
    console.print(table)
    _write_json(json_out, result)


ticket_app = typer.Typer(help="Support tickets: draft one from a message, logs and environment.", no_args_is_help=True)
app.add_typer(ticket_app, name="ticket")


@ticket_app.command("draft")
def ticket_draft(
    message: Annotated[list[str], typer.Option("--message", "-m", help="What the user wrote; repeat for several messages.")],
    log: Annotated[Optional[list[Path]], typer.Option("--log", help="A log file to attach (bounded and redacted); repeatable.")] = None,
    user_agent: Annotated[Optional[str], typer.Option(help="The browser's user-agent string.")] = None,
    version: Annotated[Optional[str], typer.Option(help="The user's Nectain version, e.g. 4.3.1.")] = None,
    priority: Annotated[Optional[str], typer.Option(help="Override the suggested priority: Highest, High, Normal or Low.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the draft as JSON.")] = False,
) -> None:
    """Draft a prefilled, redacted support ticket (nothing is sent)."""
    from .handoff.draft import Attachment, draft_ticket
    from .handoff.logs import LogError, decode_log
    from .handoff.priority import Priority
    from .types import OptionError
    from .versions import Version, VersionError

    try:
        if version:
            Version.parse(version)
        if priority:
            Priority.from_str(priority)
        attachments = []
        for path in log or []:
            if not path.is_file():
                raise OSError(f"--log {path}: no such file")
            attachments.append(Attachment(name=path.name, kind="log", content=decode_log(path.read_bytes(), str(path))))
    except (OptionError, VersionError, LogError, OSError) as exc:
        fail(str(exc))
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


def _store(database: Optional[str]):
    import os

    from .handoff.store import StoreError, TicketStore

    try:
        return TicketStore(database or os.environ.get("NECTARINE_DATABASE_URL", "sqlite:///data/nectarine.db"))
    except StoreError as exc:
        fail(str(exc))


DatabaseOpt = Annotated[Optional[str], typer.Option("--database", help="Ticket database URL (default $NECTARINE_DATABASE_URL, else sqlite:///data/nectarine.db).")]


@ticket_app.command("list")
def ticket_list(database: DatabaseOpt = None, limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50) -> None:
    """Stored tickets, newest first."""
    rows = _store(database).list(limit=limit)
    table = Table(title=f"{len(rows)} ticket(s)", header_style="bold")
    for col in ("id", "status", "priority", "title", "created"):
        table.add_column(col)
    for r in rows:
        table.add_row(r.id, r.status, r.priority, r.title, r.created_at.strftime("%Y-%m-%d %H:%M"))
    console.print(table)


@ticket_app.command("show")
def ticket_show(ticket_id: Annotated[str, typer.Argument(help="The ticket id from `nectarine ticket list`.")], database: DatabaseOpt = None) -> None:
    """One stored ticket as JSON, with its delivery attempts."""
    store = _store(database)
    row = store.get(ticket_id)
    if row is None:
        fail(f"no ticket {ticket_id!r}; `nectarine ticket list` shows the ids")
    out = {"id": row.id, "status": row.status, "priority": row.priority, "created_at": row.created_at.isoformat(),
           "last_error": row.last_error, "draft": row.draft,
           "deliveries": [{"sink": o.sink, "status": o.status, "attempts": o.attempts, "last_error": o.last_error} for o in store.outbox(row.id)]}
    print(json.dumps(out, indent=2, default=str))


@eval_app.command("compare")
def eval_compare(
    old: Annotated[Path, typer.Argument(help="Baseline result (--json of an eval command).")],
    new: Annotated[Path, typer.Argument(help="New result of the same eval command.")],
    tolerance: Annotated[float, typer.Option(help="How much worse a metric may get before it counts as a regression.")] = 0.01,
    gate_latency: Annotated[bool, typer.Option(help="Also fail on latency regressions (relative to the old value).")] = False,
) -> None:
    """Print metric deltas; exit 1 when a metric regresses beyond the tolerance (a CI gate)."""
    from .eval.compare import compare

    try:
        a, b = (json.loads(p.read_text())["metrics"] for p in (old, new))
    except (OSError, ValueError, KeyError) as exc:
        fail(f"cannot read the results: {exc}; pass two --json files written by `nectarine eval ...`")
    deltas = compare(a, b, tolerance=tolerance, gate_latency=gate_latency)
    table = Table(title=f"{old.name} -> {new.name} (tolerance {tolerance})", header_style="bold")
    for col in ("metric", "old", "new", "delta", ""):
        table.add_column(col, justify="right" if col in ("old", "new", "delta") else "left")
    for d in deltas:
        mark = "[red]REGRESSION[/]" if d.regression else ("" if d.gated else "[dim]not gated[/]")
        table.add_row(d.metric, f"{d.old:.4f}", f"{d.new:.4f}", f"{d.delta:+.4f}", mark)
    console.print(table)
    bad = [d.metric for d in deltas if d.regression]
    if bad:
        err.print(f"[bold red]regressed beyond {tolerance}:[/] {', '.join(bad)}")
        raise typer.Exit(1)
    console.print("[green]no regression[/]")


@eval_app.command("priority")
def eval_priority(
    tickets: Annotated[Path, typer.Argument(help="Tickets as JSONL: {\"_id\", \"text\", \"priority\", \"language\"?}.")],
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write metrics and per-ticket predictions here.")] = None,
    report: Annotated[Optional[Path], typer.Option("--report", help="Write a self-contained HTML report (confusion matrix, errors).")] = None,
) -> None:
    """Accuracy, macro-F1, per-class precision/recall/F1 and a confusion matrix of the priority classifier."""
    from .eval.metrics import classification_report
    from .handoff.priority import LABELS, PriorityClassifier, load_tickets

    try:
        rows = load_tickets(tickets)
    except (OSError, ValueError) as exc:
        fail(str(exc))
    classifier = PriorityClassifier.load()
    with _progress() as progress:
        # One call for all tickets: the embedder batches them by length, and the same batching as in
        # training keeps the figures reproducible to the last ticket (a borderline one flipped otherwise).
        task = progress.add_task("tickets", total=len(rows))
        verdicts = classifier.classify_many([t["text"] for t in rows])
        progress.update(task, completed=len(rows))
    cr = classification_report([t["priority"] for t in rows], [v.priority for v in verdicts], labels=LABELS)
    per = Table(title=f"{tickets.name}: accuracy {cr['accuracy']:.3f}, macro-F1 {cr['macro_f1']:.3f}", header_style="bold")
    for col in ("class", "precision", "recall", "f1", "support"):
        per.add_column(col, justify="right")
    for label in LABELS:
        m = cr["per_class"][label]
        per.add_row(label, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}", str(m["support"]))
    console.print(per)
    cm = Table(title="Confusion matrix (rows: gold, columns: predicted)", header_style="bold")
    cm.add_column("")
    for label in LABELS:
        cm.add_column(label, justify="right")
    for label, row in zip(LABELS, cr["confusion_matrix"]):
        cm.add_row(label, *map(str, row))
    console.print(cm)
    result = {"metrics": {"accuracy": cr["accuracy"], "macro_f1": cr["macro_f1"], "per_class": cr["per_class"],
                          "confusion_matrix": cr["confusion_matrix"], "labels": LABELS},
              "items": [{"id": t.get("_id"), "gold": t["priority"], "predicted": v.priority, "rationale": v.rationale}
                        for t, v in zip(rows, verdicts)]}
    _write_json(json_out, result)
    if report:
        _write_report(report, tickets.name, priority=result)
    return result


@eval_app.command("all")
def eval_all(
    split: Annotated[str, typer.Option(help="Which split of the project's sets.")] = "test",
    out: Annotated[Path, typer.Option(help="Folder for the JSON results.")] = Path("eval/results"),
    report: Annotated[Optional[Path], typer.Option("--report", help="One HTML report of everything.")] = None,
) -> None:
    """Retrieval (all modes), answers and priority on the project's own eval/ sets."""
    from .eval.answers import evaluate_answers
    from .eval.datasets import load_dataset
    from .eval.retrieval import evaluate_retrieval

    dataset = load_dataset(Path("eval/nectain"))
    index = Path("indexes") / dataset.name
    run_ingest(dataset.corpus_paths, index)
    nec = _load_assistant(index, "offline", None, None, 30.0)
    modes = {}
    with _progress() as progress:
        for m in ("hybrid", "dense", "bm25"):
            task = progress.add_task(f"retrieval ({m})", total=None)
            modes[m] = evaluate_retrieval(nec, dataset, split=split, mode=m, progress=lambda d, t, task=task: progress.update(task, completed=d, total=t))
    console.print(metrics_table(f"Retrieval on {dataset.name}/{split}", {m: r["metrics"] for m, r in modes.items()}, RETRIEVAL_COLUMNS))
    with _progress() as progress:
        task = progress.add_task("answers", total=None)
        answers = evaluate_answers(nec, dataset, split=split, progress=lambda d, t: progress.update(task, completed=d, total=t))
    table = Table(title=f"Answers on {dataset.name}/{split}", header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for c in ANSWER_COLUMNS:
        table.add_row(c, f"{answers['metrics'][c]:.3f}" if isinstance(answers["metrics"][c], float) else str(answers["metrics"][c]))
    console.print(table)
    priority = eval_priority(Path(f"eval/tickets/{split}.jsonl"), json_out=out / "priority.json", report=None)
    for name, data in (("retrieval", modes["hybrid"]), ("answers", answers)):
        _write_json(out / f"{name}.json", data)
    if report:
        _write_report(report, f"{dataset.name}/{split}", retrieval=modes, answers=answers, priority=priority)


@app.command()
def serve(
    index: IndexOpt = DEFAULT_INDEX,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    database: DatabaseOpt = None,
    corpus: Annotated[Path, typer.Option(help="What an admin re-index reads.")] = DEFAULT_CORPUS,
    workers: Annotated[int, typer.Option(min=1, max=16, help="Worker processes; they share the index on disk.")] = 1,
) -> None:
    """Serve the HTTP API, the chat panel (/widget.js) and a demo page (/). Other settings: NECTARINE_* (see README)."""
    import os
    import tempfile

    import uvicorn

    if not (index / "CURRENT").exists():
        fail(f"no index at {index}; build one with: nectarine ingest {corpus} --index {index}")
    os.environ["NECTARINE_INDEX"] = str(index)
    os.environ["NECTARINE_CORPUS"] = str(corpus)
    if database:
        os.environ["NECTARINE_DATABASE_URL"] = database
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="nectarine-metrics-")  # /metrics adds the workers up
    try:
        from .api.deps import make_limiter
        from .settings import Settings

        settings = Settings()
        make_limiter(settings)
    except ValueError as exc:
        fail(f"invalid NECTARINE_* setting: {exc}")
    if workers > 1 and settings.rate_limit_storage == "memory://":
        console.print(f"[yellow]note:[/] rate limits are counted in each of the {workers} workers, so a client may get up to "
                      f"{workers} times {settings.rate_limit}; set NECTARINE_RATE_LIMIT_STORAGE=redis://HOST:PORT/0 to share them")
    # The app reads X-Forwarded-For itself, from NECTARINE_TRUSTED_PROXIES only: uvicorn's own proxy
    # handling trusts 127.0.0.1 by default, which would let anyone behind a local proxy pick their address.
    uvicorn.run("nectarine.api:create_app", factory=True, host=host, port=port, workers=workers, log_level="info",
                proxy_headers=False)


@app.command()
def gaps(
    since: Annotated[Optional[str], typer.Option(help="Only conversations from this date on (YYYY-MM-DD).")] = None,
    database: DatabaseOpt = None,
    threshold: Annotated[float, typer.Option(help="Answers below this confidence count as not answered.")] = 0.5,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write the topics as JSON.")] = None,
    report: Annotated[Optional[Path], typer.Option("--report", help="Write the topics as an HTML page.")] = None,
) -> None:
    """Coverage gaps for the docs team: clusters of questions the docs did not answer, by volume."""
    import datetime as dt
    import html as html_

    from .eval.gaps import find_gaps
    from .index.embedder import get_embedder

    start = None
    if since:
        try:
            start = dt.datetime.fromisoformat(since).replace(tzinfo=dt.timezone.utc)
        except ValueError:
            fail(f"--since {since!r}: use a date like 2026-11-01")
    found = find_gaps(_store(database).turns(since=start), get_embedder(), threshold=threshold)
    table = Table(title=f"{len(found)} topic(s) the docs do not cover well", header_style="bold", show_lines=True)
    for col in ("#", "questions", "typical questions", "why", "closest sources"):
        table.add_column(col)
    for i, g in enumerate(found, 1):
        table.add_row(str(i), str(g.size), "\n".join(g.examples), ", ".join(f"{k} {v}" for k, v in g.reasons.items()),
                      "\n".join(s["url"] for s in g.closest_sources) or "-")
    console.print(table)
    data = [g.__dict__ for g in found]
    _write_json(json_out, {"metrics": {"topics": len(found)}, "gaps": data})
    if report:
        rows = "".join(f"<tr><td>{i}</td><td>{g.size}</td><td>{'<br>'.join(html_.escape(e) for e in g.examples)}</td>"
                       f"<td>{html_.escape(', '.join(f'{k} {v}' for k, v in g.reasons.items()))}</td>"
                       f"<td>{'<br>'.join(html_.escape(s['url']) for s in g.closest_sources)}</td></tr>" for i, g in enumerate(found, 1))
        report.write_text(f"<!DOCTYPE html><meta charset=utf-8><title>Coverage gaps</title><h1>Coverage gaps</h1><table border=1>"
                          f"<tr><th>#</th><th>questions</th><th>typical questions</th><th>why</th><th>closest sources</th></tr>{rows}</table>")
        console.print(f"wrote {report}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted; the previous index is still in place")
        sys.exit(130)


if __name__ == "__main__":
    main()
