"""Output for people: text from data and exceptions reaches the terminal literally."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from bdp.cli.output import report_error, table, waiting_for
from bdp.errors import ConfigError, MissingExtraError


def test_an_error_is_printed_with_its_square_brackets_on_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert report_error(MissingExtraError("confluent_kafka", "kafka"), 1) == 1
    assert report_error(ConfigError("[warehouse] lock_timeout_s must be positive"), 2) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "error: confluent_kafka is not installed; install it with: pip install 'bdp[kafka]'",
        "error: [warehouse] lock_timeout_s must be positive",
    ]


def test_an_error_that_looks_like_broken_markup_is_printed_as_it_is(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Rich would raise on a closing tag with nothing to close.
    report_error(ValueError("unexpected [/] in [bold]name"), 1)
    assert capsys.readouterr().err == "error: unexpected [/] in [bold]name\n"


def test_the_waiting_notice_keeps_the_holder_as_it_is(capsys: pytest.CaptureFixture[str]) -> None:
    waiting_for("warehouse")("PID 12 ([red]python)")
    assert capsys.readouterr().err == "waiting for the warehouse: in use by PID 12 ([red]python)\n"


def test_table_titles_columns_and_cells_are_literal() -> None:
    shown = io.StringIO()
    console = Console(file=shown, width=120)
    console.print(table("[b]rows", ["[x]", "n"], [("[b]v[/b]", 1234), ("z", {"[k]": "[/]"})]))
    for text in ("[b]rows", "[x]", "[b]v[/b]", "1,234", "[k]=[/]"):
        assert text in shown.getvalue()


def test_an_error_with_line_breaks_is_printed_on_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # DuckDB's parser errors carry the query and a caret on lines of their own.
    report_error(
        ValueError('Parser Error: syntax error at or near "SELEC"\n\nLINE 1: SELEC 1\n        ^'), 1
    )
    assert capsys.readouterr().err.splitlines() == [
        'error: Parser Error: syntax error at or near "SELEC" | LINE 1: SELEC 1 | ^'
    ]
