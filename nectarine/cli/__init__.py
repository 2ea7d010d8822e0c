"""The ``nectarine`` command: a thin shell over the library.

    nectarine ingest corpus/ --index indexes/default
    nectarine search "AUTH-1003 after rotating the certificate" --index indexes/default
    nectarine start                      # build the index if needed, then ask away

One module per group of commands (``ingest``: ingest, search; ``answers``: ask, chat, start;
``serve``; ``tickets``: the ticket group and gaps; ``eval``: the eval group), the shared options and
helpers in ``common``. What the commands compute lives in the library (``nectarine.eval`` and the
rest); the commands parse options, call it and print.

Errors are mapped to exit codes in one place, ``NectarineGroup.invoke``: a ``NectarineError`` (or an
``OSError`` on a file) prints one ``error: ...`` line on stderr and exits 2, except that ``ingest``
with nothing ingestable exits 1 (``NothingIngested``). Usage errors (an unknown option, a value of
the wrong type) exit 2 as Click reports them; ``eval compare`` exits 1 on a regression; Ctrl-C 130.
"""

from __future__ import annotations

import typer
from typer.core import TyperGroup

from ..errors import NectarineError, NothingIngested
from . import answers, ingest, plugins, serve, sources, tickets
from . import eval as eval_commands
from . import index as index_commands
from .common import err, fail

EXIT_ERROR = 2  # a known failure: bad input, a missing index, an unreachable database, ...
EXIT_CODES: dict[type[BaseException], int] = {NothingIngested: 1}  # kinds with their own code
EXIT_INTERRUPTED = 130


class NectarineGroup(TyperGroup):
    """The root command group; maps every known failure of any command to one message and exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise  # `nectarine search ... | head`: Click exits quietly
        except (NectarineError, OSError) as exc:
            code = next((c for kind, c in EXIT_CODES.items() if isinstance(exc, kind)), EXIT_ERROR)
            fail(str(exc), code)
        except KeyboardInterrupt:
            err.print("interrupted; the previous index is still in place")
            raise typer.Exit(EXIT_INTERRUPTED) from None


app = typer.Typer(
    name="nectarine",
    help="Nectarine, Nectain's AI assistant: ingest docs, search them, answer with citations.",
    cls=NectarineGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# The commands, in the order `nectarine --help` lists them (commands first, then the groups).
app.command()(ingest.ingest)
app.command()(ingest.search)
app.command()(sources.sources)
app.command()(answers.ask)
app.command()(answers.chat)
app.command()(answers.start)
app.command()(serve.serve)
app.command()(tickets.gaps)
app.command()(plugins.plugins)
app.add_typer(eval_commands.app, name="eval")
app.add_typer(tickets.app, name="ticket")
app.add_typer(index_commands.app, name="index")


def main() -> None:
    """The console entry point (``nectarine = "nectarine.cli:main"``)."""
    app()


if __name__ == "__main__":
    main()
