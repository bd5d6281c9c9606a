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
from bdp.logs import LEVELS, configure_logging

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
    log_level: str | None = None
    """`--log-level`, which beats `[platform] log_level`."""

    @cached_property
    def settings(self) -> Settings:
        settings = load_settings(self.config, self.home)
        if self.log_level is None and settings.platform.log_level is not None:
            configure_logging(settings.platform.log_level)
        return settings

    def long_running(self) -> None:
        """A job that runs until stopped logs its work, unless a level was chosen."""
        if self.log_level is None and self.settings.platform.log_level is None:
            configure_logging("INFO")


def state(ctx: typer.Context) -> CliState:
    return ctx.find_root().obj


def _check_level(value: str | None) -> str | None:
    if value is not None and value.upper() not in LEVELS:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(LEVELS)}")
    return value.upper() if value is not None else None


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
    log_level: Annotated[
        str | None,
        typer.Option(
            "--log-level",
            metavar="|".join(LEVELS),
            callback=_check_level,
            help="Log lines on stderr from this level up (default: WARNING; INFO while "
            "`stream run` runs until stopped; or [platform] log_level).",
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    configure_logging(log_level or "WARNING")
    ctx.obj = CliState(config, home, log_level)


def _register() -> None:
    from bdp.cli import demo, etl, query, simulate, status, stream

    for module in (demo, simulate, stream, etl, query, status):
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
