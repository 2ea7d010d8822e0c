"""``nectarine ingest`` and ``nectarine search``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from .common import DEFAULT_INDEX, IndexOpt, console, fail, load_index, print_ingest_report, run_ingest


def ingest(
    paths: Annotated[Optional[list[str]], typer.Argument(
        help="Files or folders (Markdown, HTML, text, BEIR .jsonl of any size), a sitemap URL (https://host/sitemap.xml), "
             "or a start URL with --crawl.", show_default=False)] = None,
    index: IndexOpt = DEFAULT_INDEX,
    model: Annotated[Optional[str], typer.Option(help="sentence-transformers model: a packaged name or a local folder. Default: the index's, else all-MiniLM-L6-v2.")] = None,
    backend: Annotated[Optional[str], typer.Option(help="Embedding backend: torch, onnx, onnx-int8 or openvino. Default: the index's, else openvino.")] = None,
    max_tokens: Annotated[Optional[int], typer.Option(help="Chunk budget in tiktoken tokens. Default: the index's, else 200.")] = None,
    dense: Annotated[Optional[str], typer.Option(help="Dense index: flat (exact) or hnsw (large indexes). Default: the index's, else flat.")] = None,
    rebuild: Annotated[bool, typer.Option(help="Ignore the existing index and build from scratch.")] = False,
    max_file_mb: Annotated[float, typer.Option(help="Skip a single file or page larger than this many MiB (a BEIR .jsonl corpus is streamed: no total limit, 5 MiB per record).")] = 5.0,
    crawl: Annotated[bool, typer.Option(help="Follow links (same site) from each start URL instead of reading a sitemap.")] = False,
    max_depth: Annotated[int, typer.Option(help="With --crawl: how many links away from the start URL to go.", min=0)] = 3,
    max_pages: Annotated[int, typer.Option(help="Read at most this many pages of a website (sitemap or crawl).", min=1)] = 5000,
    rate: Annotated[float, typer.Option(help="Website requests per second (robots.txt's Crawl-delay wins if slower); 0: no limit, for your own server.", min=0)] = 8.0,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for a web page before reporting it (and keeping its last copy).", min=0.1)] = 10.0,
    git: Annotated[Optional[Path], typer.Option("--git", help="A local git repository of docs: read the files of --ref; only those changed since the last ingest are read.")] = None,
    ref: Annotated[Optional[str], typer.Option(help="With --git: the branch, tag or commit to read. Default: HEAD.")] = None,
    subdir: Annotated[Optional[str], typer.Option(help="With --git: only this folder of the repository, e.g. docs.")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the report as JSON to this file.")] = None,
) -> None:
    """Build or incrementally update an index from documentation files, a website or a git repository.

    \b
      nectarine ingest corpus/
      nectarine ingest https://docs.example.com/sitemap.xml
      nectarine ingest https://docs.example.com/ --crawl --max-depth 2 --max-pages 500
      nectarine ingest --git ../docs-repo --ref main --subdir docs
    """
    from ..index.embedder import Backend
    from ..index.store import DenseSettings
    from ..ingest.chunker import ChunkerSettings
    from ..ingest.loaders import MIB
    from ..ingest.sources import SourceError, parse_source
    from ..types import OptionError

    if backend:
        Backend.from_str(backend)
    if dense not in (None, "flat", "hnsw"):
        raise OptionError(f"unknown dense index {dense!r}; choose one of: flat, hnsw")
    if (ref or subdir) and git is None:
        raise OptionError("--ref and --subdir go with --git PATH (a local git repository)")
    if not paths and git is None:
        fail("give files or folders, a sitemap URL, a start URL with --crawl, or --git PATH; see nectarine ingest --help")
    max_bytes = int(max_file_mb * MIB)
    web = {"max_depth": max_depth, "max_pages": max_pages, "rate": rate, "timeout": timeout, "max_page_bytes": max_bytes}
    sources: list = []
    for p in paths or []:
        if p.lower().startswith(("http://", "https://")):
            sources.append(parse_source(p, crawl=crawl, **web))
        elif p.startswith("git:"):
            sources.append(parse_source(p))
        else:
            sources.append(Path(p))
    if git is not None:
        from ..ingest.git import GitSource

        sources.append(GitSource(git, ref=ref, subdir=subdir))
    try:
        report = run_ingest(
            sources, index, model=model, backend=backend, chunker=ChunkerSettings(max_tokens=max_tokens) if max_tokens else None,
            dense=DenseSettings(kind=dense) if dense else None, rebuild=rebuild, max_file_bytes=max_bytes,
        )
    except SourceError as exc:
        fail(f"{exc} (the index at {index} is unchanged)")
    print_ingest_report(report)
    if json_out:
        from dataclasses import asdict

        json_out.write_text(json.dumps(asdict(report), indent=2, default=str))


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
    from ..retrieve.hybrid import SearchMode
    from ..types import Filters, SourceType
    from ..versions import Version

    mode_ = SearchMode.from_str(mode)
    sources = [SourceType.from_str(s) for s in source] if source else None
    if version:
        Version.parse(version)
    turns = None
    if history:
        try:
            turns = json.loads(history.read_text())
            if not isinstance(turns, list):
                raise ValueError("expected a JSON list of {role, content} objects")
        except (OSError, ValueError) as exc:  # named after the option, so the user knows which file
            fail(f"--history {history}: {exc}")
    nec = load_index(index)
    filters = Filters(sources=sources, version=version, version_mode="exclude" if exclude_other_versions else "demote")
    results = nec.search(query, k=k, filters=filters, history=turns, mode=mode_)
    if json_output:
        print(json.dumps([r.model_dump(mode="json") for r in results], indent=2))
    elif not results:
        console.print("No passages matched.")
    else:
        console.print(results_table(results, query))
