"""The `bdp` application: global options, then one sub-command module per verb.

`main()` is the one place where failures become what the user sees: one line on stderr
and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, TextIO

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
    home: str | None
    """As typed: a Path would turn an empty `--home ""` into the working directory."""
    log_level: str | None = None
    """`--log-level`, which beats `[platform] log_level`."""

    @cached_property
    def settings(self) -> Settings:
        settings = load_settings(self.config, self.home)
        _settings_used.append(settings)
        if self.log_level is None and settings.platform.log_level is not None:
            configure_logging(settings.platform.log_level)
        return settings

    def long_running(self) -> None:
        """A job that runs until stopped logs its work, unless a level was chosen."""
        if self.log_level is None and self.settings.platform.log_level is None:
            configure_logging("INFO")


def state(ctx: typer.Context) -> CliState:
    found: CliState = ctx.find_root().obj
    return found


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
        str | None,
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
    from bdp.cli import (
        airflow,
        bus,
        dag,
        datasets,
        demo,
        etl,
        query,
        serve,
        simulate,
        status,
        stream,
    )

    if app.registered_commands:
        return  # `main` ran before in this process (tests call it)
    modules = (demo, simulate, serve, stream, etl, dag, query, status, bus, datasets, airflow)
    for module in modules:
        module.register(app)


def main() -> None:
    """Run the CLI; every failure ends as one line on stderr and a non-zero exit code."""
    _register()
    _settings_used.clear()
    _sigterms.clear()
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    real_stdout = sys.stdout
    sys.stdout = output = _NamedStdout(real_stdout)
    try:
        code = _run()
    finally:
        sys.stdout = real_stdout
        signal.signal(signal.SIGTERM, previous)
        if output.failed:
            _discard_stdout()
    raise SystemExit(code)


class Terminated(BaseException):
    """SIGTERM arrived. A BaseException, like KeyboardInterrupt, so that no `except
    Exception` swallows it: the work unwinds through its clean-ups, then bdp exits."""


_settings_used: list[Settings] = []
"""The settings the command loaded, so an error without a file name can name the home."""
_sigterms: list[int] = []


def _on_sigterm(signum: int, frame: object) -> None:
    _sigterms.append(signum)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends bdp at once
    raise Terminated()


def _run() -> int:
    from bdp.cli.output import report_error

    try:
        code = app(standalone_mode=False)  # errors come here instead of being printed
        sys.stdout.flush()  # an output that cannot take the result fails here, not at exit
        return code if isinstance(code, int) else 0  # None, or what a typer.Exit carried
    except BaseException as exc:
        if isinstance(exc, SystemExit):
            raise
        if isinstance(exc, KeyboardInterrupt):
            return 130  # Ctrl+C outside the command (typer handles it inside): no message
        if _sigterms:
            # Whatever the signal interrupted may have failed its own way (a query
            # "interrupted"): the signal is the cause to report.
            return report_error(BdpError("stopped by SIGTERM"), 128 + signal.SIGTERM)
        return _report(exc, report_error)


def _report(exc: BaseException, report_error: Callable[[BaseException, int], int]) -> int:
    if isinstance(exc, ConfigError):
        return report_error(exc, 2)
    if isinstance(exc, BdpError):
        return report_error(exc, 1)
    if isinstance(exc, OSError):
        home = _settings_used[-1].paths.home if _settings_used else None
        return report_error(BdpError(describe_os_error(exc, home)), 1)
    if isinstance(exc, MemoryError):
        return report_error(BdpError("out of memory"), 1)
    if isinstance(exc, typer.Abort):
        return report_error(BdpError("aborted"), 1)
    if isinstance(exc, _ClickException):
        code: int = getattr(exc, "exit_code", 2)
        if type(exc).__name__ == "NoArgsIsHelpError":
            return code  # the help, already printed, says it all
        return report_error(BdpError(_usage_message(exc)), code)
    if isinstance(exc, Exception):
        return report_error(BdpError(describe_internal_error(exc)), 70)
    raise exc


def describe_internal_error(exc: Exception) -> str:
    """One line for a failure bdp did not foresee (a bug): what it was, and the file that
    keeps its traceback for a bug report, since the terminal gets one line only."""
    import tempfile
    import traceback

    what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    try:
        with tempfile.NamedTemporaryFile(
            "w", prefix="bdp-crash-", suffix=".txt", delete=False
        ) as report:
            traceback.print_exception(exc, file=report)
    except OSError:
        return f"internal error ({what}); please report it"
    return f"internal error ({what}); its traceback is in {report.name}"


def describe_os_error(exc: OSError, home: Path | None = None) -> str:
    """One line naming the path and the cause. A failed write to an open file names no
    path (the OS does not know it): then the data home, where bdp keeps everything."""
    cause = exc.strerror or str(exc)  # pyarrow's OSErrors carry only a message
    paths = [os.fsdecode(p) for p in (exc.filename, exc.filename2) if p is not None]
    if paths:
        return f"{' -> '.join(paths)}: {cause}"
    if home is not None:
        return f"{cause} (writing under the data home {home})"
    return cause


# typer raises click's errors; click is vendored by recent typer and a dependency of older
# ones, so reach its root class through one that typer exports.
_ClickException = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def _usage_message(exc: BaseException) -> str:
    message = " ".join(str(getattr(exc, "format_message", exc.__str__)()).split())
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        message += f" (see '{ctx.command_path} --help')"
    return message


class _NamedStdout:
    """sys.stdout, naming itself in its errors: a write error carries no file name, and
    `main` must tell a full output apart from a full data home. Remembers a failure, so
    that nothing is flushed to a broken output again at exit."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.failed = False

    def write(self, text: str) -> int:
        written: int = self._call(self._stream.write, text)
        return written

    def flush(self) -> None:
        self._call(self._stream.flush)

    def _call(self, method: Callable[..., Any], *args: Any) -> Any:
        try:
            return method(*args)
        except OSError as exc:
            self.failed = True
            if exc.filename is None:
                exc.filename = "standard output"
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _discard_stdout() -> None:
    # What is still buffered for the broken output would fail again when Python flushes
    # it at exit, with a traceback-like warning: send it nowhere instead.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass  # not a real file descriptor (a test's capture): nothing is flushed to it
