"""`bdp etl run`: the daily transform of one dataset (or all) for one day."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer

from bdp.cli.app import state
from bdp.cli.options import DateOption, JsonOption, day_or_yesterday
from bdp.cli.output import activity, console, errors, one_line, print_json, table, waiting_for
from bdp.errors import BdpError

__all__ = ["register"]

etl_app = typer.Typer(
    help="Daily ETL: lake raw → curated Parquet → warehouse.", no_args_is_help=True
)


@etl_app.command("run")
def run(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="A dataset name, or 'all'.")],
    date: DateOption = None,
    stale: Annotated[
        bool,
        typer.Option(
            "--stale",
            help="Instead of one day, every day whose raw data changed since its last "
            "successful run (late data), or that never ran.",
        ),
    ] = False,
    json: JsonOption = False,
) -> None:
    """Build the dataset's tables for one day; re-running replaces that day, never appends."""
    from bdp.datasets import get_dataset, load_datasets
    from bdp.etl import run_etl
    from bdp.etl.runs import stale_days
    from bdp.lake import open_lake
    from bdp.warehouse import open_warehouse

    settings = state(ctx).settings
    if stale and date is not None:
        raise typer.BadParameter("give either --date or --stale", param_hint="--stale")
    day = day_or_yesterday(date, settings)
    names = (
        list(load_datasets(settings)) if dataset == "all" else [get_dataset(dataset, settings).name]
    )
    if stale:
        lake = open_lake(settings)
        jobs = [(name, d) for name in names for d in stale_days(settings, lake, name)]
    else:
        jobs = [(name, day) for name in names]
    results, failures = [], []
    with (
        activity("etl", enabled=not json) as show,
        open_warehouse(settings, on_wait=waiting_for("warehouse")) as warehouse,
    ):
        for done, (name, d) in enumerate(jobs):
            show(f"etl {name} {d} ({done + 1}/{len(jobs)})")
            try:
                results.append(run_etl(settings, name, d, warehouse=warehouse))
            except Exception as exc:  # one day's failure must not keep the others from running
                failures.append((name, d, _describe(exc)))
    if json:
        by_dataset: dict[str, dict[str, Any]] = {}
        for r in results:
            by_dataset.setdefault(r.dataset, {})[str(r.dt)] = {
                "raw_rows": r.raw_rows,
                "tables": r.tables,
                "seconds": round(r.seconds, 3),
            }
        for name, d, error in failures:
            by_dataset.setdefault(name, {})[str(d)] = {"error": error}
        print_json(by_dataset)
        _exit_if_failed(failures)
        return
    rows = [
        (r.dataset, str(r.dt), table_name, r.raw_rows, count, r.seconds)
        for r in results
        for table_name, count in r.tables.items()
    ]
    title = "ETL of the stale days" if stale else f"ETL for {day}"
    if stale and not jobs:
        console.print("No stale days: every raw partition is processed as it is.")
        return
    if results:
        columns = ["dataset", "dt", "table", "raw rows", "rows", "seconds"]
        console.print(table(title, columns, rows))
    _exit_if_failed(failures)


def _describe(exc: Exception) -> str:
    """bdp's own errors say what went wrong; anything else is named by its type too."""
    text = str(exc) if isinstance(exc, BdpError) else f"{type(exc).__name__}: {exc}"
    return one_line(text)


def _exit_if_failed(failures: list[tuple[str, date, str]]) -> None:
    """Every failure on a line of its own, as it is (data and engine text, not markup),
    and a non-zero exit."""
    if not failures:
        return
    for name, d, error in failures:
        errors.print(
            f"error: etl {name} {d}: {error}", markup=False, highlight=False, soft_wrap=True
        )
    if len(failures) > 1:
        errors.print(f"{len(failures)} days failed", markup=False, highlight=False)
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(etl_app, name="etl")
