"""`bdp etl run`: the daily transform of one dataset (or all) for one day."""

from __future__ import annotations

from typing import Annotated

import typer

from bdp.cli.app import state
from bdp.cli.options import DateOption, JsonOption, day_or_yesterday
from bdp.cli.output import console, print_json, table

__all__ = ["register"]

etl_app = typer.Typer(
    help="Daily ETL: lake raw → curated Parquet → warehouse.", no_args_is_help=True
)


@etl_app.command("run")
def run(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="A dataset name, or 'all'.")],
    date: DateOption = None,
    json: JsonOption = False,
) -> None:
    """Build the dataset's tables for one day; re-running replaces that day, never appends."""
    from bdp.datasets import DATASETS, get_dataset
    from bdp.etl import run_etl

    settings = state(ctx).settings
    day = day_or_yesterday(date, settings)
    names = list(DATASETS) if dataset == "all" else [get_dataset(dataset).name]
    results = [run_etl(settings, name, day) for name in names]
    if json:
        print_json(
            {
                r.dataset: {
                    "date": str(r.dt),
                    "raw_rows": r.raw_rows,
                    "tables": r.tables,
                    "seconds": round(r.seconds, 3),
                }
                for r in results
            }
        )
        return
    rows = [
        (r.dataset, table_name, r.raw_rows, count, r.seconds)
        for r in results
        for table_name, count in r.tables.items()
    ]
    console.print(
        table(f"ETL for {day}", ["dataset", "table", "raw rows", "rows", "seconds"], rows)
    )


def register(app: typer.Typer) -> None:
    app.add_typer(etl_app, name="etl")
