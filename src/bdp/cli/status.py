"""`bdp status`: topics and lag, lake partitions, last ETL runs, damaged lake files.

Lake row counts come from what landing recorded, so status stays quick on a big lake;
it still compares each file's size with its record. `--verify` decompresses every
file too. Damaged files are listed one per line on stderr and make the exit code 1.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.text import Text

from bdp.cli.app import state
from bdp.cli.options import JsonOption
from bdp.cli.output import console, errors, one_line, print_json, table

__all__ = ["register"]


def status(
    ctx: typer.Context,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Also decompress every lake file and count its records (slow on a big "
            "lake); without it, files are checked by their size.",
        ),
    ] = False,
    json: JsonOption = False,
) -> None:
    """Show what is on the bus, in the lake and in the warehouse."""
    from bdp.bus import open_bus
    from bdp.datasets import load_datasets
    from bdp.etl.runs import last_runs, stale_days
    from bdp.lake import open_lake
    from bdp.orchestrate.scheduler import SchedulerLock
    from bdp.orchestrate.state import StateStore
    from bdp.status import dataset_rows, topic_status

    settings = state(ctx).settings
    names = list(load_datasets(settings))
    with open_bus(settings) as bus:
        topics = topic_status(bus)
    lake = open_lake(settings)
    by_dataset = {name: dataset_rows(lake, name, verify) for name in names}
    lake_rows = {name: rows.zones for name, rows in by_dataset.items()}
    damaged = [
        (lake.uri(check.path), check.problem)
        for rows in by_dataset.values()
        for check in rows.damaged
    ]
    runs = last_runs(settings, limit=20)
    stale = {
        name: [str(day) for day in days]
        for name in names
        if (days := stale_days(settings, lake, name))
    }
    scheduler_pid = SchedulerLock(settings.paths.home).holder()
    dag_runs = StateStore(settings.paths.state).latest_runs()
    if json:
        print_json(
            {
                "topics": {
                    t.topic: {
                        "partitions": t.partitions,
                        "end_offsets": t.end_offsets,
                        "records": t.records,
                        "lag": t.total_lag,
                        "corrupt": {
                            p: {"offset": e.offset, "file": e.file, "position": e.position}
                            for p, e in t.corrupt.items()
                        },
                        "skipped": t.skipped,
                    }
                    for t in topics
                },
                "lake": lake_rows,
                "etl_runs": [run.as_dict() for run in runs],
                "stale_days": stale,
                "scheduler": {"running": scheduler_pid is not None, "pid": scheduler_pid},
                "dag_runs": [run.as_dict() for run in dag_runs],
                "damaged_files": [{"file": f, "problem": p} for f, p in damaged],
            }
        )
        _exit_if_damaged(damaged)
        return
    console.print(
        table(
            "Bus topics",
            ["topic", "partitions", "records", "end offset", "stream lag", "skipped"],
            [
                (
                    t.topic,
                    t.partitions,
                    t.records,
                    sum(t.end_offsets.values()),
                    t.total_lag,
                    sum(t.skipped.values()),
                )
                for t in topics
            ],
        )
    )
    for t in topics:
        for error in t.corrupt.values():
            console.print(Text.assemble(("corrupt:", "bold red"), " ", str(error)), soft_wrap=True)
    console.print(
        table(
            "Lake partitions",
            ["dataset", "dt", "raw rows", "quarantined"],
            [
                (name, day, zones["raw"].get(day, 0), zones["quarantine"].get(day, 0))
                for name, zones in lake_rows.items()
                for day in sorted(set(zones["raw"]) | set(zones["quarantine"]))
            ],
        )
    )
    console.print(
        table(
            "Last ETL runs",
            ["dataset", "dt", "status", "raw rows", "finished", "error"],
            [(r.dataset, r.dt, r.status, r.raw_rows, r.finished_at, r.error or "") for r in runs],
        )
    )
    console.print(
        table(
            "Latest DAG runs",
            ["dag", "dt", "trigger", "state", "finished", "error"],
            [
                (r.dag_id, r.dt, r.trigger, r.state, _local(r.finished_at), r.error or "")
                for r in dag_runs
            ],
        )
    )
    running = f"running (pid {scheduler_pid})" if scheduler_pid is not None else "not running"
    console.print(f"Scheduler: {running}", markup=False)
    if stale:
        listed = "; ".join(f"{name}: {', '.join(days)}" for name, days in stale.items())
        console.print(
            f"Days whose raw data changed since their last ETL run (or never ran): {listed}\n"
            "Re-run them with: bdp etl run all --stale",
            markup=False,
        )
    for location, problem in damaged:
        # One line per file, however long its path, and printed literally.
        errors.print(Text(one_line(f"damaged: {location}: {problem}")), soft_wrap=True)
    _exit_if_damaged(damaged)


def _local(moment: dt.datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _exit_if_damaged(damaged: list[tuple[str, str | None]]) -> None:
    if damaged:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(status)
