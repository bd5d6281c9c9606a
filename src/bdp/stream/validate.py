"""Sort a batch of raw records into valid ones (with their event date) and rejects.

Checks run cheapest first and each rejection has its own reason, so a quarantine count
says what went wrong: empty, too large, not UTF-8, not JSON, a required field missing,
a value of the wrong type, a value outside the dataset's rules, an unreadable event
time. Event times are parsed for the whole batch at once; only a batch holding a bad
timestamp falls back to record-by-record parsing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import cast
from zoneinfo import ZoneInfo

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bdp.datasets import Dataset

__all__ = ["REASONS", "Rejection", "Validated", "validate_batch"]

REASONS = (
    "empty",
    "too_large",
    "not_utf8",
    "invalid_json",
    "missing_field",
    "wrong_type",
    "invalid_value",
    "bad_timestamp",
)

_MISSING = re.compile(r"missing required field")
_ZONED = re.compile(r"(Z|[+-]\d\d:?\d\d)$")


@dataclass(frozen=True)
class Rejection:
    index: int
    reason: str
    detail: str


@dataclass
class Validated:
    """Indexes of the valid records with their event dates, and the rejections."""

    valid: list[int] = field(default_factory=list)
    dates: np.ndarray = field(default_factory=lambda: np.empty(0, dtype="datetime64[D]"))
    rejected: list[Rejection] = field(default_factory=list)


def validate_batch(
    dataset: Dataset, values: list[bytes], max_record_bytes: int, tz: ZoneInfo
) -> Validated:
    rejected: list[Rejection] = []
    candidates = _screen(values, max_record_bytes, rejected)
    indexes, records = _decode(dataset, values, candidates, rejected)
    indexes, times = _apply_rules(dataset, indexes, records, rejected)
    dates, bad = event_dates(times, tz)
    if bad:
        keep = np.ones(len(times), dtype=bool)
        keep[bad] = False
        rejected.extend(
            Rejection(indexes[i], "bad_timestamp", f"event time {times[i]!r} is not ISO-8601")
            for i in bad
        )
        indexes = [index for index, ok in zip(indexes, keep, strict=True) if ok]
        dates = dates[keep]
    rejected.sort(key=lambda rejection: rejection.index)
    return Validated(indexes, dates, rejected)


def _screen(values: list[bytes], max_record_bytes: int, rejected: list[Rejection]) -> list[int]:
    """Indexes that pass the byte-level checks (empty, size, UTF-8), found in bulk."""
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    # Only short records can be blank; only long ones too large.
    suspects = np.flatnonzero((lengths > max_record_bytes) | (lengths <= 16))
    # A newline cannot complete a multi-byte sequence, so the join is valid only if each
    # record is: one C-speed check for the common case.
    all_utf8 = _is_utf8(b"\n".join(values))
    if not len(suspects) and all_utf8:
        return list(range(len(values)))
    passed = []
    suspect_set = set(suspects.tolist())
    for index, value in enumerate(values):
        if index in suspect_set:
            if not value.strip():
                rejected.append(Rejection(index, "empty", "record is empty"))
                continue
            if len(value) > max_record_bytes:
                detail = f"record is {len(value)} bytes; the limit is {max_record_bytes}"
                rejected.append(Rejection(index, "too_large", detail))
                continue
        if not all_utf8 and not _is_utf8(value):
            rejected.append(Rejection(index, "not_utf8", "record is not valid UTF-8"))
            continue
        passed.append(index)
    return passed


def _decode(
    dataset: Dataset, values: list[bytes], candidates: list[int], rejected: list[Rejection]
) -> tuple[list[int], list[msgspec.Struct]]:
    decode = dataset.decoder().decode
    indexes: list[int] = []
    records: list[msgspec.Struct] = []
    for index in candidates:
        try:
            records.append(decode(values[index]))
        except msgspec.ValidationError as exc:
            message = str(exc)
            reason = "missing_field" if _MISSING.search(message) else "wrong_type"
            rejected.append(Rejection(index, reason, message))
            continue
        except msgspec.DecodeError as exc:
            rejected.append(Rejection(index, "invalid_json", str(exc)))
            continue
        indexes.append(index)
    return indexes, records


def _apply_rules(
    dataset: Dataset, indexes: list[int], records: list[msgspec.Struct], rejected: list[Rejection]
) -> tuple[list[int], list[str]]:
    """The dataset's own rules, then the event time text of each record that passes."""
    if dataset.check is not None:
        problems = list(map(dataset.check, records))
        if any(problem is not None for problem in problems):
            keep = [problem is None for problem in problems]
            rejected.extend(
                Rejection(index, "invalid_value", problem)
                for index, problem in zip(indexes, problems, strict=True)
                if problem is not None
            )
            indexes = [i for i, ok in zip(indexes, keep, strict=True) if ok]
            records = [r for r, ok in zip(records, keep, strict=True) if ok]
    try:
        found = list(map(dataset.event_time, records))
        if None not in found:
            return indexes, cast("list[str]", found)
    except (ValueError, TypeError):
        pass
    kept: list[int] = []
    times: list[str] = []
    for index, record in zip(indexes, records, strict=True):
        try:
            stamp = dataset.event_time(record)
        except (ValueError, TypeError) as exc:
            rejected.append(Rejection(index, "bad_timestamp", str(exc)))
            continue
        if stamp is None:
            rejected.append(Rejection(index, "bad_timestamp", "no event time"))
            continue
        kept.append(index)
        times.append(stamp)
    return kept, times


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def event_dates(times: list[str], tz: ZoneInfo) -> tuple[np.ndarray, list[int]]:
    """Calendar date in `tz` of each ISO-8601 time, and the positions that did not parse.

    Times with a zone (`Z` or an offset) are absolute; zone-less ones are local to `tz`.
    """
    if not times:
        return np.empty(0, dtype="datetime64[D]"), []
    try:  # the common case: every time carries its zone
        return _to_local_dates(pa.array(times, pa.string()), tz, zoned=True), []
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    dates = np.empty(len(times), dtype="datetime64[D]")
    zoned = [bool(_ZONED.search(text)) for text in times]
    bad: list[int] = []
    for want_zone in (True, False):
        positions = [i for i, flag in enumerate(zoned) if flag is want_zone]
        if not positions:
            continue
        parsed, failed = _parse_group([times[i] for i in positions], tz, want_zone)
        dates[positions] = parsed
        bad.extend(positions[i] for i in failed)
    return dates, sorted(bad)


def _parse_group(texts: list[str], tz: ZoneInfo, zoned: bool) -> tuple[np.ndarray, list[int]]:
    try:
        return _to_local_dates(pa.array(texts, pa.string()), tz, zoned), []
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    dates = np.zeros(len(texts), dtype="datetime64[D]")
    failed = []
    for i, text in enumerate(texts):
        try:
            dates[i] = _to_local_dates(pa.array([text], pa.string()), tz, zoned)[0]
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            failed.append(i)
    return dates, failed


def _to_local_dates(texts: pa.Array, tz: ZoneInfo, zoned: bool) -> np.ndarray:
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
    return dates.astype("datetime64[D]")
