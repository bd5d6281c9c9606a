"""`bdp airflow export`: the DAGs as Apache Airflow files, one per DAG."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from bdp.cli.app import state
from bdp.cli.options import JsonOption, _parse_day
from bdp.cli.output import console, print_json

__all__ = ["register"]

airflow_app = typer.Typer(help="Run bdp's DAGs on Apache Airflow.", no_args_is_help=True)


@airflow_app.command("export")
def export(
    ctx: typer.Context,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            file_okay=False,
            help="The folder to write into: Airflow's DAGs folder ($AIRFLOW_HOME/dags).",
        ),
    ],
    bdp: Annotated[
        str | None,
        typer.Option(
            "--bdp",
            metavar="PATH",
            help="The bdp executable Airflow's workers run (default: this bdp).",
        ),
    ] = None,
    start_date: Annotated[
        dt.date | None,
        typer.Option(
            "--start-date",
            parser=_parse_day,
            metavar="YYYY-MM-DD",
            help="The first day Airflow's scheduler runs; with catch-up, every day from it "
            "on (default: yesterday in the platform timezone).",
        ),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Write a DAG file per bdp DAG (bdp_<dag_id>.py) whose tasks run `bdp dag task`;
    a re-export replaces them, and removes the files of DAGs that no longer exist."""
    from bdp.clock import yesterday
    from bdp.config import CONFIG_FILE
    from bdp.orchestrate import build_dags
    from bdp.orchestrate.airflow_export import BdpCommand, export_dags, find_bdp_executable

    cli = state(ctx)
    settings = cli.settings
    # The workers read the same file the export did: the one named, or ./bdp.toml.
    config = cli.config if cli.config is not None else Path(CONFIG_FILE)
    command = BdpCommand(
        executable=find_bdp_executable(bdp),
        home=settings.paths.home,
        config=config.absolute() if config.is_file() else None,
    )
    start = start_date if start_date is not None else yesterday(settings.tz)
    written, removed = export_dags(build_dags(settings), out, command, start)
    if json:
        print_json(
            {
                "out": str(out.absolute()),
                "bdp": command.executable,
                "start_date": start.isoformat(),
                "files": {f.dag_id: str(f.path.absolute()) for f in written},
                "removed": [str(path.absolute()) for path in removed],
            }
        )
        return
    for exported in written:
        line = f"wrote {exported.path} ({exported.dag_id}, {exported.tasks} tasks)"
        console.print(Text(line), soft_wrap=True)
    for path in removed:
        console.print(Text(f"removed {path} (no such DAG any more)"), soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.add_typer(airflow_app, name="airflow")
