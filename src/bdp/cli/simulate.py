"""`bdp simulate`: generate a scenario's events into the bus."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from bdp.cli.app import state
from bdp.cli.options import DateOption, JsonOption, day_or_yesterday
from bdp.cli.output import activity, console, print_json

if TYPE_CHECKING:
    from bdp.simulate import EventBlock

__all__ = ["register"]

BLOCK_EVENTS = 100_000
"""Events rendered and sent at a time."""
HELP = (
    "Simulate one session of a dataset and send its events to the bus.\n\n"
    "A session is sent once. Running the same session again (same dataset, date, start, "
    "seed, users, minutes and format) sends only those of its events that are not on the "
    "bus yet: a run that failed part way is completed by running it again, without "
    "duplicates. For more events on a day, change --seed or --start. A --realtime "
    "session starts now, so every run is a new one."
)


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
        int, typer.Option(min=0, help="Random seed; the same seed gives the same events.")
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
    """Simulate one session of a dataset and send its events to the bus (see `HELP`)."""
    from bdp.bus import open_bus
    from bdp.clock import PARTITION_DAYS, day_start_ms, parse_time_of_day
    from bdp.datasets import get_dataset
    from bdp.simulate import (
        RaidOptions,
        SentSession,
        SimulationParams,
        send_events,
        send_session,
        session_group,
        simulate_table,
    )

    settings = state(ctx).settings
    topic = get_dataset(dataset).topic
    if realtime:
        start_ms = int(time.time() * 1000)
    else:
        try:
            at = parse_time_of_day(start)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--start") from None
        day = day_or_yesterday(date, settings)
        first, last = PARTITION_DAYS
        if not first <= day <= last:
            raise typer.BadParameter(
                f"{day} is not a day the lake can partition ({first} to {last})",
                param_hint="'--date'",
            )
        start_ms = day_start_ms(day, settings.tz, at)
    spread = SimulationParams.start_spread_seconds
    if minutes is not None:
        # A short session should not wait minutes for its last users to arrive.
        spread = min(spread, minutes * 6)
    try:
        params = SimulationParams(
            start_ms=start_ms,
            seed=seed,
            users=users,
            minutes=minutes,
            legacy_wire_format=legacy_wire_format,
            raid=RaidOptions(tz=settings.platform.timezone),
            start_spread_seconds=spread,
        )
        # Drawn before the bus is touched: settings the simulator refuses fail here.
        table = simulate_table(dataset, params)
    except (ValueError, OverflowError) as exc:
        raise typer.BadParameter(str(exc)) from None

    def blocks() -> Iterator[EventBlock]:
        return table.blocks(BLOCK_EVENTS)

    began = time.perf_counter()
    with (
        activity(f"simulate {dataset}", enabled=not json) as show,
        open_bus(settings) as bus,
    ):

        def progress(sent: int) -> None:
            show(f"simulate {dataset}: {sent:,} events sent")

        bus.create_topic(topic)
        if realtime:
            with bus.producer() as producer:
                sent = send_events(producer, topic, blocks(), realtime=True, on_block=progress)
            result = SentSession(generated=sent, sent=sent)
        else:
            group = session_group(dataset, params)
            result = send_session(bus, topic, group, blocks, on_block=progress)
    seconds = time.perf_counter() - began
    if json:
        print_json(
            {
                "dataset": dataset,
                "generated": result.generated,
                "sent": result.sent,
                "seconds": round(seconds, 3),
            }
        )
        return
    day = dt.datetime.fromtimestamp(start_ms / 1000, settings.tz).date()
    where = f"[bold]{escape(dataset)}[/]: {result.generated:,} events for {day}"
    if result.sent == result.generated:
        console.print(f"{where} sent to topic [cyan]{escape(topic)}[/] in {seconds:.2f} s")
    else:
        console.print(
            f"{where} on topic [cyan]{escape(topic)}[/]: {result.sent:,} sent now, "
            f"{result.generated - result.sent:,} were there from an earlier run "
            f"({seconds:.2f} s)"
        )


def register(app: typer.Typer) -> None:
    app.command(help=HELP)(simulate)
