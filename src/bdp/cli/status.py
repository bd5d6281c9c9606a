"""`bdp status`: topics and lag, lake partitions, last ETL runs."""

from __future__ import annotations

import typer
from rich.text import Text

from bdp.cli.app import state
from bdp.cli.options import JsonOption
from bdp.cli.output import console, print_json, table

__all__ = ["register"]


def status(ctx: typer.Context, json: JsonOption = False) -> None:
    """Show what is on the bus, in the lake and in the warehouse."""
    from bdp.bus import open_bus
    from bdp.datasets import DATASETS
    from bdp.etl.runs import last_runs, stale_days
    from bdp.lake import open_lake
    from bdp.status import topic_status, zone_rows

    settings = state(ctx).settings
    with open_bus(settings) as bus:
        topics = topic_status(bus)
    lake = open_lake(settings)
    lake_rows = {
        name: {zone: zone_rows(lake, zone, name) for zone in ("raw", "quarantine")}
        for name in DATASETS
    }
    runs = last_runs(settings, limit=20)
    stale = {
        name: [str(day) for day in days]
        for name in DATASETS
        if (days := stale_days(settings, lake, name))
    }
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
            }
        )
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
    if stale:
        listed = "; ".join(f"{name}: {', '.join(days)}" for name, days in stale.items())
        console.print(
            f"Days whose raw data changed since their last ETL run (or never ran): {listed}\n"
            "Re-run them with: bdp etl run all --stale"
        )


def register(app: typer.Typer) -> None:
    app.command()(status)
