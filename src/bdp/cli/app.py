"""The `bdp` application: global options, then one sub-command module per verb."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated

import typer

from bdp import __version__
from bdp.config import Settings, load_settings
from bdp.errors import BdpError, ConfigError

__all__ = ["app", "main"]

app = typer.Typer(
    name="bdp",
    help="bdp: collect, queue, land, transform, load and report event data on one machine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@dataclass
class CliState:
    config: Path | None
    home: Path | None

    @cached_property
    def settings(self) -> Settings:
        return load_settings(self.config, self.home)


def state(ctx: typer.Context) -> CliState:
    return ctx.find_root().obj


def _version(value: bool) -> None:
    if value:
        typer.echo(f"bdp {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option("--config", help="Configuration file (default: ./bdp.toml).")
    ] = None,
    home: Annotated[
        Path | None,
        typer.Option("--home", help="Data home (default: $BDP_HOME or ./.bdp).", envvar=None),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    ctx.obj = CliState(config, home)


def _register() -> None:
    from bdp.cli import bus, demo, etl, query, simulate, status, stream

    for module in (demo, simulate, stream, etl, query, status, bus):
        module.register(app)


def main() -> None:
    from bdp.cli.output import report_error

    _register()
    try:
        app()  # standalone: usage errors, --help and Ctrl+C are handled and exit here
    except ConfigError as exc:
        raise SystemExit(report_error(exc, 2)) from None
    except BdpError as exc:
        raise SystemExit(report_error(exc, 1)) from None
