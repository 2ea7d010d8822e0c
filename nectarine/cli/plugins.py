"""`nectarine plugins`: what is installed, built-in or third-party, in each registry."""

from __future__ import annotations

from rich.table import Table

from .common import console


def plugins() -> None:
    """List installed answerers, loaders, embedders and delivery sinks: built-ins and third-party plugins."""
    from ..plugins import table_rows

    table = Table("group", "name", "target", "package", "version", title="Installed plugins", header_style="bold")
    for row in table_rows():
        table.add_row(*row)
    console.print(table)
