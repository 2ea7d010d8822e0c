"""``nectarine index publish|pull|list``: one index for many hosts, through PostgreSQL (:mod:`nectarine.index.shared`);
``nectarine index multilingual``: the e5 side for questions not in English (:mod:`nectarine.index.multilingual`).

    nectarine index publish --to postgresql://nectarine@db/nectarine --index indexes/default
    nectarine index pull --from postgresql://nectarine@db/nectarine --index indexes/default

The URL defaults to ``NECTARINE_INDEX_SHARE``, the service's setting.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..store import masked
from .common import DEFAULT_INDEX, IndexOpt, console, fail

app = typer.Typer(help="One index for many hosts: publish generations to PostgreSQL, pull the newest.", no_args_is_help=True)


def _url(url: Optional[str]) -> str:
    from .common import service_settings

    url = url or service_settings().index_share
    if not url:
        fail("no PostgreSQL URL: pass one, or set NECTARINE_INDEX_SHARE=postgresql://USER@HOST:PORT/DB")
    return url


@app.command("publish")
def publish(
    to: Annotated[Optional[str], typer.Option("--to", help="PostgreSQL URL (default $NECTARINE_INDEX_SHARE).")] = None,
    index: IndexOpt = DEFAULT_INDEX,
    generation: Annotated[Optional[str], typer.Option(help="A generation of the folder (default: its live one).")] = None,
) -> None:
    """Upload a generation of the local index to PostgreSQL, where every replica pulls it."""
    from ..index.shared import publish_generation

    url = _url(to)
    result = publish_generation(url, index, generation)
    if result.uploaded:
        console.print(f"published {result.generation} to {masked(url)}: {result.bytes / 1e6:.1f} MB in {result.seconds:.1f} s")
    else:
        console.print(f"{result.generation} is already published at {masked(url)}")


@app.command("pull")
def pull(
    from_: Annotated[Optional[str], typer.Option("--from", help="PostgreSQL URL (default $NECTARINE_INDEX_SHARE).")] = None,
    index: IndexOpt = DEFAULT_INDEX,
) -> None:
    """Download the newest published generation into the local index and make it live (a running service switches to it)."""
    from ..index.shared import pull_latest

    url = _url(from_)
    result = pull_latest(url, index)
    if result.pulled:
        console.print(f"pulled {result.published} into {index}: {result.bytes / 1e6:.1f} MB in {result.seconds:.1f} s")
    elif result.published is None:
        fail(f"nothing is published at {masked(url)}; publish one with: nectarine index publish --to URL --index PATH", 1)
    else:
        console.print(f"{index}: {result.reason} ({result.live})")


@app.command("list")
def list_(from_: Annotated[Optional[str], typer.Option("--from", help="PostgreSQL URL (default $NECTARINE_INDEX_SHARE).")] = None) -> None:
    """The generations held in PostgreSQL, newest first."""
    from ..index.shared import published

    for p in published(_url(from_)):
        console.print(f"{p.name}  {p.total_bytes / 1e6:.1f} MB  {p.published_at:%Y-%m-%d %H:%M:%S %Z}")


@app.command("multilingual")
def multilingual(index: IndexOpt = DEFAULT_INDEX) -> None:
    """Build the e5 side that questions not in English also search (about 3 passages a second; a rebuild embeds only new ones)."""
    from ..errors import IndexLoadError
    from .common import refresh_multilingual

    try:
        refresh_multilingual(index, build=True)
    except IndexLoadError as exc:
        fail(str(exc))
    console.print(f"{index}: a running service reads the side at its next index generation (or restart)")
