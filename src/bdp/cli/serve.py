"""`bdp serve`: the collectors and the stream job in one long-running process."""

from __future__ import annotations

from typing import Annotated

import typer

from bdp.cli.app import state

__all__ = ["register"]


def serve(
    ctx: typer.Context,
    stream: Annotated[
        bool | None,
        typer.Option(
            "--stream/--no-stream",
            help="Run the stream job beside the collectors (default: [serve] stream).",
        ),
    ] = None,
    scheduler: Annotated[
        bool | None,
        typer.Option(
            "--scheduler/--no-scheduler",
            help="Run the built-in scheduler beside them (default: [serve] scheduler).",
        ),
    ] = None,
) -> None:
    """Accept events over HTTP (127.0.0.1:9880), the Fluentd forward protocol
    (127.0.0.1:24224) and tailed files, land them, and run the DAGs on their
    schedules, until SIGTERM or Ctrl+C."""
    import asyncio

    from bdp.datasets import load_datasets
    from bdp.serve import Server

    cli = state(ctx)
    settings = cli.settings
    chosen = {"stream": stream, "scheduler": scheduler}
    update = {key: value for key, value in chosen.items() if value is not None}
    if update:
        settings = settings.model_copy(update={"serve": settings.serve.model_copy(update=update)})
    cli.long_running()
    asyncio.run(Server(settings, list(load_datasets(settings))).run())


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
