"""What every transform shares: its options and the column rules used by several datasets.

Helpers take the engine's `functions` module (`F`) as an argument, so they run on
whichever engine the transform was given. Every cast here is applied only to values
the raw schema already validated, or behind a pattern test: an invalid cast is an
error on DuckDB (and on Spark in ANSI mode) but NULL on Spark otherwise, and the
two engines must agree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import reduce
from types import ModuleType
from typing import Any, TypeAlias

from bdp.datasets import Dataset
from bdp.datasets.base import ISO_DATE, ISO_TIMESTAMP, MINUTES_SECONDS
from bdp.etl.schema import leaf_type

__all__ = [
    "ISO_DATE",
    "ISO_TIMESTAMP",
    "MINUTES_SECONDS",
    "Column",
    "DropRule",
    "TransformOptions",
    "declared",
    "dropped_rows",
    "elapsed_seconds",
    "event_timestamp",
    "guarded_timestamp",
    "int_or_null",
    "kept_rows",
]

Column: TypeAlias = Any
"""A PySpark-API column expression of the engine in use."""

DropRule: TypeAlias = Callable[[ModuleType], Column]
"""Given `F`, the condition on typed rows that a transform's records table leaves out."""

_ZONE_OFFSET = r"[+-]\d{2}:?\d{2}$"


@dataclass(frozen=True)
class TransformOptions:
    timezone: str = "UTC"
    """Platform zone: a zone-less timestamp (legacy Lost Ark `startTime`) is local time
    there and is converted to UTC."""
    suspicious_champions: tuple[str, ...] = ("viktor",)
    """Champions labelled 1 in the game training table (lowercase)."""


def declared(F: ModuleType, dataset: Dataset, path: str) -> Column:
    """The raw leaf at `path` cast to the type its raw schema declares. The stream job
    lands only values that type holds, so this cannot fail on a landed record."""
    text, kind = F.col(path), leaf_type(dataset, path)
    if kind not in ("int", "bigint"):
        return text.cast(kind)
    # A whole number may come as `3.0` or `1e3` (DuckDB renders `1e3` as "1000.0"),
    # which Spark casts to an integer only by way of a double.
    spelled_as_float = text.contains(".") | text.contains("e") | text.contains("E")
    return F.when(spelled_as_float, text.cast("double").cast(kind)).otherwise(text.cast(kind))


def event_timestamp(F: ModuleType, text: Column, timezone: str) -> Column:
    """A UTC timestamp from ISO text; text without a zone is local time in `timezone`."""
    # Spark refuses a zone after minutes without seconds (`2024-04-16T09:00Z`, Java's
    # OffsetDateTime form): give it the seconds. The 17th character of any other form
    # is the colon before the seconds, or there is none.
    zone_after_minutes = F.substring(text, 17, 1).isin("Z", "+", "-")
    with_seconds = F.concat(F.substring(text, 1, 16), F.lit(":00"), F.substring(text, 17, 7))
    text = F.when(zone_after_minutes, with_seconds).otherwise(text)
    if timezone == "UTC":
        return F.to_timestamp(text)
    local = F.convert_timezone(F.lit(timezone), F.lit("UTC"), F.to_timestamp_ntz(text))
    return (
        F.when(text.endswith("Z"), F.to_timestamp(text))
        .when(text.rlike(_ZONE_OFFSET), F.to_timestamp(text))
        .otherwise(local.cast("timestamp"))
    )


def guarded_timestamp(F: ModuleType, text: Column, timezone: str) -> Column:
    """`event_timestamp` for a text leaf that need not be a time: NULL unless it has the
    ISO form, which the stream job holds to a real time (`Dataset.iso_leaves`)."""
    return F.when(text.rlike(ISO_TIMESTAMP), event_timestamp(F, text, timezone))


def elapsed_seconds(F: ModuleType, text: Column) -> Column:
    """Seconds of an `M:S` elapsed time; NULL when the text is not `M:S`."""
    # One pattern test, then plain splits: a regex per part would cost twice as much.
    minutes = F.split_part(text, F.lit(":"), F.lit(1)).cast("int")
    seconds = F.split_part(text, F.lit(":"), F.lit(2)).cast("int")
    return F.when(text.rlike(MINUTES_SECONDS), minutes * 60 + seconds)


def int_or_null(F: ModuleType, text: Column, pattern: str) -> Column:
    """The first group of `pattern` (which must capture at most 9 digits) as an int."""
    return F.when(text.rlike(pattern), F.regexp_extract(text, pattern, 1).cast("int"))


def _dropped_by(F: ModuleType, rule: DropRule) -> Column:
    # NULL is "not dropped": a rule drops only the rows it says it drops.
    return F.coalesce(rule(F), F.lit(False))


def kept_rows(events: Any, F: ModuleType, rules: Mapping[str, DropRule]) -> Any:
    """The typed rows no rule drops: the rows of a transform's records table."""
    if not rules:
        return events
    dropped = reduce(lambda a, b: a | b, [_dropped_by(F, rule) for rule in rules.values()])
    return events.filter(~dropped)


def dropped_rows(events: Any, F: ModuleType, rules: Mapping[str, DropRule]) -> dict[str, int]:
    """Rows each rule drops, by rule name; a row two rules drop counts under the first,
    so the counts add up to the rows `kept_rows` leaves out. One pass over `events`."""
    if not rules:
        return {}
    counts, before = [], F.lit(False)
    for name, rule in rules.items():
        mine = _dropped_by(F, rule) & ~before
        counts.append(F.sum(F.when(mine, 1).otherwise(0)).cast("long").alias(name))
        before = before | _dropped_by(F, rule)
    [row] = events.agg(*counts).collect()
    return {name: int(row[name] or 0) for name in rules}
