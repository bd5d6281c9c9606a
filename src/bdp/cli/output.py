"""Printing for people (Rich tables) and for machines (`--json`), and error exits.

Text that came from data or from an exception is printed as `Text`, never parsed as
Rich markup: `pip install 'bdp[kafka]'` or a value `[b]` must reach the user intact.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

__all__ = ["activity", "console", "one_line", "print_json", "report_error", "table", "waiting_for"]

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
    label = TextColumn("{task.description}", markup=False)
    columns = (SpinnerColumn(), label, TimeElapsedColumn())
    with Progress(*columns, console=errors, transient=True) as progress:
        task = progress.add_task(description, total=None)
        yield lambda text: progress.update(task, description=text)


def waiting_for(what: str) -> Callable[[str], None]:
    """A callback that tells the user, on stderr, that bdp waits for `what`."""

    def notify(reason: str) -> None:
        notice = Text(f"waiting for the {what}: in use by {reason}", style="dim")
        errors.print(notice, soft_wrap=True)

    return notify


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    """A table whose title, column names and cells are all printed literally."""
    view = Table(title=Text(title), title_justify="left", header_style="bold")
    for column in columns:
        view.add_column(Text(column), justify="left" if column in columns[:1] else "right")
    for row in rows:
        view.add_row(*(Text(_cell(value)) for value in row))
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
    # One line, however narrow the terminal: soft_wrap leaves wrapping to it, and the
    # line breaks some messages carry (a SQL parser's caret diagram) become separators.
    errors.print(Text.assemble(("error:", "bold red"), " ", one_line(str(exc))), soft_wrap=True)
    return code


def one_line(text: str) -> str:
    """`text` on one line: its non-blank lines, stripped, joined with " | "."""
    return " | ".join(line.strip() for line in text.splitlines() if line.strip())
