"""Printing for people (Rich tables) and for machines (`--json`), and error exits."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

__all__ = ["activity", "console", "print_json", "report_error", "table", "waiting_for"]

console = Console()
errors = Console(stderr=True)


def print_json(payload: Any) -> None:
    sys.stdout.write(
        orjson.dumps(
            payload, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str
        ).decode()
        + "\n"
    )


@contextmanager
def activity(description: str, enabled: bool = True) -> Iterator[Callable[[str], None]]:
    """A spinner with the elapsed time on stderr while long work runs, gone when it ends;
    yields a function that replaces its text. Off for `--json` (`enabled=False`) and
    when stderr is not a terminal, so output for machines stays clean."""
    if not enabled or not errors.is_terminal:
        yield lambda text: None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=errors, transient=True) as progress:
        task = progress.add_task(description, total=None)
        yield lambda text: progress.update(task, description=text)


def waiting_for(what: str):
    """A callback that tells the user, on stderr, that bdp waits for `what`."""

    def notify(reason: str) -> None:
        errors.print(f"[dim]waiting for the {what}: in use by {reason}[/]", highlight=False)

    return notify


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    view = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        view.add_column(column, justify="left" if column in columns[:1] else "right")
    for row in rows:
        view.add_row(*(_cell(value) for value in row))
    return view


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return "" if value is None else str(value)


def report_error(exc: BaseException, code: int) -> int:
    errors.print(f"[bold red]error:[/] {exc}", highlight=False)
    return code
