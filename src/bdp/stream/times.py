"""Event times and other time leaves: which parse, and the date (in the platform zone)
and instant of each.

A time passes only in the ISO-8601 form both ETL engines parse (`ISO_TIMESTAMP`), and
only if it is a real one: Arrow parses it (in bulk), and refuses what the engines refuse
too (`2024-02-30`, `24:00`, a second 60).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any, cast
from zoneinfo import ZoneInfo

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bdp.datasets import Dataset
from bdp.datasets.base import ISO_DATE, ISO_TIMESTAMP

__all__ = ["dated_event_times", "event_dates", "iso_event_times", "real_iso_leaves"]

_UTC = ZoneInfo("UTC")
_ZONED = re.compile(r"(Z|[+-]\d\d:?\d\d)$")


def iso_event_times(
    indexes: list[int], times: list[str], rejected: list[tuple[int, str]]
) -> tuple[list[int], list[str]]:
    """Event times in the ISO-8601 form both ETL engines parse (a date alone, or an
    hour without minutes, parses here but not there)."""
    if not times:
        return indexes, times
    matches = pc.match_substring_regex(pa.array(times, pa.string()), ISO_TIMESTAMP)
    ok = matches.to_numpy(zero_copy_only=False)
    if ok.all():
        return indexes, times
    for position in np.flatnonzero(~ok).tolist():
        detail = f"event time {times[position]!r} is not ISO-8601 date and time"
        rejected.append((indexes[position], detail))
    return (
        [index for index, good in zip(indexes, ok, strict=True) if good],
        [text for text, good in zip(times, ok, strict=True) if good],
    )


def real_iso_leaves(
    dataset: Dataset,
    indexes: list[int],
    records: list[msgspec.Struct],
    rejected: list[tuple[int, str]],
) -> tuple[list[int], list[msgspec.Struct]]:
    """Records whose ISO-looking time and date leaves are real ones (no `2024-02-30`,
    no `24:00`): the ETL casts a leaf of that form, and a cast that fails fails the day."""
    bad: dict[int, str] = {}
    for path, kind in dataset.iso_leaves:
        texts = list(map(_leaf_reader(path), records))
        for position in _unreal(texts, kind):
            bad.setdefault(position, f"{path} {texts[position]!r} is not a real {kind}")
    if not bad:
        return indexes, records
    rejected.extend((indexes[i], detail) for i, detail in bad.items())
    kept = [i for i in range(len(indexes)) if i not in bad]
    return [indexes[i] for i in kept], [records[i] for i in kept]


def _leaf_reader(path: str) -> Callable[[msgspec.Struct], str | None]:
    """Reads a dotted path; None when an optional object on the way is absent."""
    if "." not in path:
        return operator.attrgetter(path)

    def read(record: msgspec.Struct) -> str | None:
        value: Any = record
        for step in path.split("."):
            value = getattr(value, step)
            if value is None:
                return None
        return cast("str", value)

    return read


def _unreal(texts: list[str | None], kind: str) -> list[int]:
    """Positions of the texts in ISO form (`ISO_TIMESTAMP` or `ISO_DATE`) that do not
    parse. Usually every text parses, which one cast over all of them shows."""
    array = pa.array(texts, pa.string())
    if kind == "date":
        pattern, targets = ISO_DATE, [pa.date32()]
    else:
        pattern, targets = ISO_TIMESTAMP, [pa.timestamp("us", "UTC"), pa.timestamp("us")]
    if any(_parses(array, target) for target in targets):
        return []
    shaped = pc.fill_null(pc.match_substring_regex(array, pattern), False)
    return [
        position
        for position in np.flatnonzero(shaped.to_numpy(zero_copy_only=False)).tolist()
        if not any(_parses(pa.array([texts[position]], pa.string()), t) for t in targets)
    ]


def _parses(array: pa.Array, target: pa.DataType) -> bool:
    try:
        pc.cast(array, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


def event_dates(times: list[str], tz: ZoneInfo) -> tuple[np.ndarray, list[int]]:
    """Calendar date in `tz` of each ISO-8601 time, and the positions that did not parse.

    Times with a zone (`Z` or an offset) are absolute; zone-less ones are local to `tz`.
    """
    dates, _, bad = dated_event_times(times, tz)
    return dates, bad


def dated_event_times(times: list[str], tz: ZoneInfo) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Calendar date in `tz` and instant (int64 milliseconds since the epoch) of each
    ISO-8601 time, and the positions that did not parse (their date and instant are
    meaningless). Zone-less times are local to `tz`, as in `event_dates`."""
    if not times:
        return np.empty(0, dtype="datetime64[D]"), np.empty(0, dtype=np.int64), []
    try:  # the common case: every time carries its zone
        return (*_to_local_dates(pa.array(times, pa.string()), tz, zoned=True), [])
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    dates = np.empty(len(times), dtype="datetime64[D]")
    instants = np.zeros(len(times), dtype=np.int64)
    zoned = [bool(_ZONED.search(text)) for text in times]
    bad: list[int] = []
    for want_zone in (True, False):
        positions = [i for i, flag in enumerate(zoned) if flag is want_zone]
        if not positions:
            continue
        parsed, parsed_ms, failed = _parse_group([times[i] for i in positions], tz, want_zone)
        dates[positions] = parsed
        instants[positions] = parsed_ms
        bad.extend(positions[i] for i in failed)
    return dates, instants, sorted(bad)


def _parse_group(
    texts: list[str], tz: ZoneInfo, zoned: bool
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    try:
        return (*_to_local_dates(pa.array(texts, pa.string()), tz, zoned), [])
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    dates = np.zeros(len(texts), dtype="datetime64[D]")
    instants = np.zeros(len(texts), dtype=np.int64)
    failed = []
    for i, text in enumerate(texts):
        try:
            one_date, one_ms = _to_local_dates(pa.array([text], pa.string()), tz, zoned)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            failed.append(i)
            continue
        dates[i], instants[i] = one_date[0], one_ms[0]
    return dates, instants, failed


def _to_local_dates(texts: pa.Array, tz: ZoneInfo, zoned: bool) -> tuple[np.ndarray, np.ndarray]:
    """Local dates in `tz` and epoch milliseconds of the times in `texts`."""
    if zoned:
        instants = pc.cast(texts, pa.timestamp("ns", "UTC"))
    else:
        instants = pc.assume_timezone(
            pc.cast(texts, pa.timestamp("ns")),
            str(tz),
            ambiguous="earliest",
            nonexistent="earliest",
        )
    local = pc.local_timestamp(pc.cast(instants, pa.timestamp("ns", str(tz))))
    dates: np.ndarray = pc.cast(local, pa.date32()).to_numpy(zero_copy_only=False)
    # Reinterpreting the nanoseconds as integers copies nothing; one division per batch.
    nanos: np.ndarray = pc.cast(instants, pa.int64()).to_numpy(zero_copy_only=False)
    return dates.astype("datetime64[D]"), nanos // 1_000_000
