"""`bdp stream run`: land bus records in the lake, exactly once."""

from __future__ import annotations

import signal
import threading
import time
from typing import Annotated

import typer

from bdp.cli.app import state
from bdp.cli.options import JsonOption
from bdp.cli.output import activity, console, print_json, table

__all__ = ["register"]

stream_app = typer.Typer(help="The landing job: bus → lake raw zone.", no_args_is_help=True)


@stream_app.command("run")
def run(
    ctx: typer.Context,
    dataset: Annotated[
        list[str] | None, typer.Option("--dataset", "-d", help="Only these datasets (repeatable).")
    ] = None,
    until_idle: Annotated[
        bool, typer.Option(help="Stop once every topic is drained, instead of running on.")
    ] = False,
    engine: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="Override [stream] engine: embedded (bdp's own consumers, any bus) or "
            "spark (a Spark Structured Streaming query; Kafka bus only).",
        ),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Land records from the bus into lake/raw (and lake/quarantine) until stopped."""
    from bdp.datasets import load_datasets
    from bdp.stream import open_stream_job

    cli = state(ctx)
    settings = cli.settings
    if not until_idle:
        cli.long_running()
    job = open_stream_job(settings, dataset or list(load_datasets(settings)), engine=engine)
    stop = threading.Event()

    def finish(*_: object) -> None:
        # Finish the batch at hand, then stop; a second Ctrl+C interrupts at once.
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGTERM, finish)
    signal.signal(signal.SIGINT, finish)
    began = time.perf_counter()
    if not until_idle and not json:
        console.print("Landing records; press Ctrl+C to stop.")
    with activity("stream", enabled=not json) as show:

        def progress(*_: object) -> None:
            landed = sum(stat.landed for stat in job.stats.values())
            quarantined = sum(stat.quarantined for stat in job.stats.values())
            show(f"stream: {landed:,} landed, {quarantined:,} quarantined")

        try:
            stats = job.run(until_idle=until_idle, stop=stop, on_batch=progress)
        except KeyboardInterrupt:
            stats = job.stats
    seconds = time.perf_counter() - began
    if json:
        print_json(
            {
                name: {
                    "read": s.read,
                    "landed": s.landed,
                    "quarantined": s.quarantined,
                    "reasons": dict(s.reasons),
                    "dates": dict(s.dates),
                }
                for name, s in stats.items()
            }
        )
        return
    rows = [
        (name, s.read, s.landed, s.quarantined, dict(s.reasons), ", ".join(sorted(s.dates)))
        for name, s in stats.items()
    ]
    console.print(
        table(
            f"Landed in {seconds:.2f} s",
            ["dataset", "read", "landed", "quarantined", "reasons", "dates"],
            rows,
        )
    )


def register(app: typer.Typer) -> None:
    app.add_typer(stream_app, name="stream")
