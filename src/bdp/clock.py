"""Calendar arithmetic in the platform timezone (the days that partition the lake)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

__all__ = ["day_start_ms", "parse_day", "parse_time_of_day", "today", "yesterday"]


def today(tz: ZoneInfo) -> dt.date:
    return dt.datetime.now(tz).date()


def yesterday(tz: ZoneInfo) -> dt.date:
    return today(tz) - dt.timedelta(days=1)


def parse_day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date in YYYY-MM-DD form") from None


def parse_time_of_day(text: str) -> dt.time:
    try:
        return dt.time.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a time of day in HH:MM form") from None


def day_start_ms(day: dt.date, tz: ZoneInfo, at: dt.time = dt.time(0)) -> int:
    """Epoch milliseconds of `at` on `day`, local to `tz`."""
    moment = dt.datetime.combine(day, at, tzinfo=tz)
    return int(moment.timestamp() * 1000)
