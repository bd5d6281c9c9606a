"""`bdp demo`: the whole platform, end to end, on one simulated day."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from bdp.cli.app import state
from bdp.cli.options import DateOption, JsonOption, day_or_yesterday
from bdp.cli.output import console, print_json, table

__all__ = ["register"]

STAGES = ("simulate", "stream", "etl", "report")


def demo(
    ctx: typer.Context,
    date: DateOption = None,
    scale: Annotated[
        float, typer.Option(min=0.01, help="Multiply the reference population by this.")
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    json: JsonOption = False,
) -> None:
    """Simulate a day of every dataset, land it, run the ETL, load the warehouse, report."""
    from bdp.datasets import DATASETS
    from bdp.demo import run_demo

    settings = state(ctx).settings
    day = day_or_yesterday(date, settings)
    began = time.perf_counter()
    if json:
        result = run_demo(settings, day, scale=scale, seed=seed)
        print_json(result.as_dict())
        return
    steps = len(DATASETS) * 3 + 1
    with Progress(
        TextColumn("{task.description}", style="bold", markup=False),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(f"demo for {day}", total=steps)
        seen: set[tuple[str, str]] = set()

        def on_stage(stage: str, name: str) -> None:
            if seen:
                progress.advance(task)
            seen.add((stage, name))
            progress.update(task, description=f"{stage} {name}")

        result = run_demo(settings, day, scale=scale, seed=seed, on_stage=on_stage)
        progress.advance(task)
    for name, s in result.datasets.items():
        rows = [
            ("generated (incl. injected bad)", s.generated),
            ("quarantined", s.quarantined),
            ("lake raw rows", s.lake_rows),
            *((f"table {t}", n) for t, n in s.tables.items()),
            *((f"seconds: {stage}", sec) for stage, sec in s.seconds.items()),
        ]
        console.print(table(name, ["", "value"], rows))
    home = result.home
    shown = escape(str(home))
    console.print(f"\nDone in {time.perf_counter() - began:.1f} s. Data home: [cyan]{shown}[/]")
    if result.report:
        report = escape(str(result.report))
        console.print(f"Report: [cyan]{report}[/]  ({len(result.charts)} charts beside it)")
    # The demo's topics and lake may live outside its home (a real broker, HDFS): the
    # commands carry the settings that find them.
    bdp = " ".join([*(f"{k}={v}" for k, v in result.env.items()), f"bdp --home {home}"])
    console.print(
        "\nTry next:\n"
        f"  {bdp} status\n"
        f'  {bdp} query "SELECT champion, count(*) AS events, max(deathCount) '
        f'AS max_deaths FROM lol_analysis_log GROUP BY champion ORDER BY events DESC"\n'
        f'  {bdp} query "SELECT * FROM hotel_gender_daily"\n'
        f"  {bdp} etl run gamelogs --date {day}   # idempotent: same rows again",
        soft_wrap=True,
        markup=False,
    )


def register(app: typer.Typer) -> None:
    app.command()(demo)
