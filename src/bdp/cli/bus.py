"""`bdp bus repair`: the operator's way past damaged records in the embedded bus."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from bdp.cli.app import state
from bdp.cli.options import JsonOption
from bdp.cli.output import console, print_json, table
from bdp.errors import ConfigError

__all__ = ["register"]

bus_app = typer.Typer(help="The embedded bus's log on disk.", no_args_is_help=True)


@bus_app.command("repair")
def repair(
    ctx: typer.Context,
    topic: Annotated[str, typer.Argument(help="The topic whose partitions to repair.")],
    partition: Annotated[
        list[int] | None,
        typer.Option("--partition", "-p", help="Only this partition (repeatable)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only find the damage; change nothing.")
    ] = False,
    json: JsonOption = False,
) -> None:
    """Step over damaged records so consumers read on after them.

    Each damaged stretch is kept under bus/<topic>/<partition>/corrupt/ with a journal
    line, then marked in the log: its offsets are skipped, every other offset stays.
    """
    settings = state(ctx).settings
    if settings.bus.backend != "local":
        raise ConfigError(
            f"bdp bus repair works on the embedded bus (bus backend 'local'), not on"
            f" {settings.bus.backend!r}, which looks after its own storage"
        )
    from bdp.bus.local import LocalBus

    bus = LocalBus(settings.paths.bus, settings.bus)
    try:
        repairs = bus.repair(topic, partition, dry_run=dry_run)
    finally:
        bus.close()
    if json:
        print_json([asdict(found) for found in repairs])
        return
    if not repairs:
        console.print(f"No damage found in topic {topic!r}.", markup=False, highlight=False)
        return
    console.print(
        table(
            "Damage found (dry run: nothing changed)" if dry_run else "Repaired",
            ["partition", "segment", "bytes", "offset", "skipped", "action", "reason"],
            [
                (
                    r.partition,
                    r.segment,
                    f"{r.start}..{r.end}",
                    r.offset,
                    r.skipped,
                    r.action,
                    r.reason,
                )
                for r in repairs
            ],
        )
    )
    if not dry_run:
        skipped = sum(r.skipped for r in repairs)
        kept = sorted({str(Path(r.saved).parent) for r in repairs if r.saved})
        console.print(
            f"Consumers now read on after the damage; {skipped:,} offsets were skipped"
            f" (bdp status counts them). The damaged bytes and a journal are kept in:"
            f" {', '.join(kept)}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


def register(app: typer.Typer) -> None:
    app.add_typer(bus_app, name="bus")
