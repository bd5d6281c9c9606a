"""`bdp simulate`: generate a scenario's events into the bus."""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated

import typer
from rich.markup import escape

from bdp.cli.app import state
from bdp.cli.options import DateOption, JsonOption, day_or_yesterday
from bdp.cli.output import activity, console, print_json

__all__ = ["register"]


def simulate(
    ctx: typer.Context,
    dataset: Annotated[
        str, typer.Argument(help="gamelogs, hotellogs, lostarklogs, adlogs or weblogs.")
    ],
    date: DateOption = None,
    users: Annotated[
        int | None, typer.Option(min=1, help="Simulated users (default: the reference population).")
    ] = None,
    minutes: Annotated[
        float | None, typer.Option(min=0.01, help="Session length (default: the reference rule).")
    ] = None,
    seed: Annotated[
        int, typer.Option(help="Random seed; the same seed gives the same events.")
    ] = 0,
    start: Annotated[
        str, typer.Option(help="Local time of day the session starts, HH:MM.")
    ] = "12:00",
    realtime: Annotated[
        bool, typer.Option(help="Pace events by the wall clock, starting now.")
    ] = False,
    legacy_wire_format: Annotated[
        bool, typer.Option(help="Emit the reference platform's original spellings.")
    ] = False,
    json: JsonOption = False,
) -> None:
    """Simulate one session of a dataset and send its events to the bus."""
    from bdp.bus import open_bus
    from bdp.clock import day_start_ms, parse_time_of_day
    from bdp.datasets import get_dataset
    from bdp.simulate import RaidOptions, SimulationParams, send_events
    from bdp.simulate import simulate as generate

    settings = state(ctx).settings
    topic = get_dataset(dataset).topic
    if realtime:
        start_ms = int(time.time() * 1000)
    else:
        try:
            at = parse_time_of_day(start)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--start") from None
        start_ms = day_start_ms(day_or_yesterday(date, settings), settings.tz, at)
    params = SimulationParams(
        start_ms=start_ms,
        seed=seed,
        users=users,
        minutes=minutes,
        legacy_wire_format=legacy_wire_format,
        raid=RaidOptions(tz=settings.platform.timezone),
        # A short session should not wait minutes for its last users to arrive.
        **({"start_spread_seconds": min(120.0, minutes * 6)} if minutes is not None else {}),
    )
    began = time.perf_counter()
    with (
        activity(f"simulate {dataset}", enabled=not json) as show,
        open_bus(settings) as bus,
    ):
        bus.create_topic(topic)
        with bus.producer() as producer:
            generated = send_events(
                producer,
                topic,
                generate(dataset, params),
                realtime=realtime,
                on_block=lambda sent: show(f"simulate {dataset}: {sent:,} events sent"),
            )
    seconds = time.perf_counter() - began
    if json:
        print_json({"dataset": dataset, "generated": generated, "seconds": round(seconds, 3)})
    else:
        day = dt.datetime.fromtimestamp(start_ms / 1000, settings.tz).date()
        console.print(
            f"[bold]{escape(dataset)}[/]: {generated:,} events for {day} sent to topic "
            f"[cyan]{escape(topic)}[/] in {seconds:.2f} s"
        )


def register(app: typer.Typer) -> None:
    app.command()(simulate)
