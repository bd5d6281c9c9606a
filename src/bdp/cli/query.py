"""`bdp query`: SQL over the warehouse."""

from __future__ import annotations

from typing import Annotated

import typer

from bdp.cli.app import state
from bdp.cli.options import JsonOption
from bdp.cli.output import console, print_json, table, waiting_for

__all__ = ["register"]


def query(
    ctx: typer.Context,
    sql: Annotated[str, typer.Argument(help="The SQL to run on the warehouse.")],
    json: JsonOption = False,
    limit: Annotated[int, typer.Option(min=1, help="Rows to print (table output only).")] = 50,
) -> None:
    """Run read-only SQL on the warehouse and print the result."""
    from bdp.warehouse import open_warehouse

    with open_warehouse(state(ctx).settings, on_wait=waiting_for("warehouse")) as warehouse:
        result = warehouse.query(sql)
    if json:
        print_json(result.to_pylist())
        return
    rows = result.slice(0, limit).to_pylist()
    console.print(
        table(
            f"{result.num_rows:,} rows" + (f" (first {limit})" if result.num_rows > limit else ""),
            result.column_names,
            [tuple(row.values()) for row in rows],
        )
    )


def register(app: typer.Typer) -> None:
    app.command()(query)
