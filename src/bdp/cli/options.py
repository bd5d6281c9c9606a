"""Option types shared by several commands."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import typer

from bdp.clock import parse_day

if TYPE_CHECKING:
    from bdp.config import Settings

__all__ = ["DateOption", "JsonOption", "day_or_yesterday"]


def _parse_day(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return parse_day(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
DateOption = Annotated[
    dt.date | None,
    typer.Option(
        "--date",
        parser=_parse_day,
        metavar="YYYY-MM-DD",
        help="Event date (default: yesterday in the platform timezone).",
    ),
]


def day_or_yesterday(day: dt.date | None, settings: Settings) -> dt.date:
    from bdp.clock import yesterday

    return day if day is not None else yesterday(settings.tz)
