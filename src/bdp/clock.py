"""Calendar arithmetic in the platform timezone (the days that partition the lake)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

__all__ = [
    "EVENT_TIME_RANGE_MS",
    "PARTITION_DAYS",
    "day_start_ms",
    "parse_day",
    "parse_time_of_day",
    "today",
    "yesterday",
]

EVENT_TIME_RANGE_MS = (-9_223_372_036_854, 9_223_372_036_854)
"""Event times the platform can date: the lake's partitioning reads them as nanosecond
timestamps (int64), from 1677-09-21T00:12:43Z to 2262-04-11T23:47:16Z."""
PARTITION_DAYS = (dt.date(1677, 9, 22), dt.date(2262, 4, 10))
"""The first and last days whose every instant is in `EVENT_TIME_RANGE_MS`, in any zone."""


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
