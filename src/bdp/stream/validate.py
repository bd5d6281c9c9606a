"""Sort a batch of raw records into valid ones (with their event date) and rejects.

Checks run cheapest first and each rejection has its own reason, so a quarantine count
says what went wrong: empty, too large, not UTF-8, nested too deep, not JSON, a required
field missing, a value of the wrong type, an integer outside its column's range, a key
repeated in one object, a value outside the dataset's rules, an unreadable event time.
What passes is what the ETL loads: the raw schema that the decoder checks is the one
the ETL types its columns from. Event times are parsed for the whole batch at once; only
a batch holding a bad timestamp falls back to record-by-record parsing.

No record can stop the batch: if checking it raises anything unforeseen (a bug, a
resource running out on one huge record), the batch is checked record by record and
each record that still cannot be checked is rejected as `unprocessable`, with the error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import cast
from zoneinfo import ZoneInfo

import msgspec
import numpy as np

from bdp.config import StreamSettings
from bdp.datasets import Dataset
from bdp.stream.structure import Joined, scan_keys, too_deep
from bdp.stream.times import dated_event_times, event_dates, iso_event_times, real_iso_leaves

__all__ = [
    "DEFAULT_MAX_NESTING_DEPTH",
    "REASONS",
    "Rejection",
    "Validated",
    "event_dates",
    "validate_batch",
]

REASONS = (
    "empty",
    "too_large",
    "not_utf8",
    "too_deep",
    "invalid_json",
    "missing_field",
    "wrong_type",
    "out_of_range",
    "duplicate_key",
    "invalid_value",
    "bad_timestamp",
    "unprocessable",
)

DEFAULT_MAX_NESTING_DEPTH: int = StreamSettings.model_fields["max_nesting_depth"].default
"""Deepest nesting of arrays and objects a record may have (`[stream] max_nesting_depth`)."""

_MISSING = re.compile(r"missing required field")
_OUT_OF_RANGE = re.compile(r"^Expected `int` [<>]=")


@dataclass(frozen=True)
class Rejection:
    index: int
    reason: str
    detail: str


@dataclass
class Validated:
    """Indexes of the valid records with their event dates and times, and the rejections."""

    valid: list[int] = field(default_factory=list)
    dates: np.ndarray = field(default_factory=lambda: np.empty(0, dtype="datetime64[D]"))
    rejected: list[Rejection] = field(default_factory=list)
    event_ms: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    """Event time of each valid record, in milliseconds since the epoch (int64)."""


def validate_batch(
    dataset: Dataset,
    values: list[bytes],
    max_record_bytes: int,
    tz: ZoneInfo,
    max_nesting_depth: int = DEFAULT_MAX_NESTING_DEPTH,
) -> Validated:
    try:
        return _validate(dataset, values, max_record_bytes, tz, max_nesting_depth)
    except Exception:
        return _one_by_one(dataset, values, max_record_bytes, tz, max_nesting_depth)


def _one_by_one(
    dataset: Dataset, values: list[bytes], max_record_bytes: int, tz: ZoneInfo, depth: int
) -> Validated:
    """The batch checked record by record: a record whose check fails is rejected."""
    result = Validated()
    dates = []
    instants = []
    for index, value in enumerate(values):
        try:
            alone = _validate(dataset, [value], max_record_bytes, tz, depth)
        except Exception as exc:
            detail = f"checking the record failed: {type(exc).__name__}: {exc}"
            result.rejected.append(Rejection(index, "unprocessable", detail[:1000]))
            continue
        if alone.valid:
            result.valid.append(index)
            dates.append(alone.dates[0])
            instants.append(alone.event_ms[0])
        result.rejected.extend(Rejection(index, r.reason, r.detail) for r in alone.rejected)
    result.dates = np.array(dates, dtype="datetime64[D]")
    result.event_ms = np.array(instants, dtype=np.int64)
    return result


def _validate(
    dataset: Dataset, values: list[bytes], max_record_bytes: int, tz: ZoneInfo, depth: int
) -> Validated:
    rejected: list[Rejection] = []
    candidates, joined = _screen(values, max_record_bytes, rejected)
    indexes, records = _decode(dataset, values, candidates, depth, rejected)
    whole = joined if len(indexes) == len(values) else None
    indexes, records = _known_structure(dataset, values, indexes, records, whole, depth, rejected)
    bad_times: list[tuple[int, str]] = []
    indexes, records = real_iso_leaves(dataset, indexes, records, bad_times)
    indexes, times = _apply_rules(dataset, indexes, records, rejected)
    indexes, times = iso_event_times(indexes, times, bad_times)
    rejected.extend(Rejection(index, "bad_timestamp", detail) for index, detail in bad_times)
    dates, event_ms, bad = dated_event_times(times, tz)
    if bad:
        keep = np.ones(len(times), dtype=bool)
        keep[bad] = False
        rejected.extend(
            Rejection(indexes[i], "bad_timestamp", f"event time {times[i]!r} is not ISO-8601")
            for i in bad
        )
        indexes = [index for index, ok in zip(indexes, keep, strict=True) if ok]
        dates = dates[keep]
        event_ms = event_ms[keep]
    rejected.sort(key=lambda rejection: rejection.index)
    return Validated(indexes, dates, rejected, event_ms)


def _screen(
    values: list[bytes], max_record_bytes: int, rejected: list[Rejection]
) -> tuple[list[int], Joined]:
    """Indexes that pass the byte-level checks (empty, size, UTF-8), found in bulk, and
    the records joined by newlines."""
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    # Only short records can be blank; only long ones too large.
    suspects = np.flatnonzero((lengths > max_record_bytes) | (lengths <= 16))
    # A newline cannot complete a multi-byte sequence, so the join is valid only if each
    # record is: one C-speed check for the common case.
    joined = Joined.of(values, b"\n".join(values), lengths)
    all_utf8 = _is_utf8(joined.data)
    if not len(suspects) and all_utf8:
        return list(range(len(values))), joined
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
    return passed, joined


def _decode(
    dataset: Dataset,
    values: list[bytes],
    candidates: list[int],
    depth: int,
    rejected: list[Rejection],
) -> tuple[list[int], list[msgspec.Struct]]:
    decode = dataset.decoder().decode
    chosen = values if len(candidates) == len(values) else [values[i] for i in candidates]
    try:  # the common case, every record good: no Python step per record
        return list(candidates), list(map(decode, chosen))
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        pass  # some record is not: find each one
    indexes: list[int] = []
    records: list[msgspec.Struct] = []
    for index in candidates:
        try:
            records.append(decode(values[index]))
        except RecursionError:
            # The decoder follows nesting as deep as the interpreter lets it, far past
            # the limit; a record deeper than that is too deep by any limit.
            detail = f"record nests deeper than the decoder follows; the limit is {depth}"
            rejected.append(Rejection(index, "too_deep", detail))
            continue
        except msgspec.ValidationError as exc:
            message = str(exc)
            if _MISSING.search(message):
                reason = "missing_field"
            elif _OUT_OF_RANGE.search(message):
                reason = "out_of_range"
            else:
                reason = "wrong_type"
            rejected.append(Rejection(index, reason, message))
            continue
        except msgspec.DecodeError as exc:
            rejected.append(Rejection(index, "invalid_json", str(exc)))
            continue
        indexes.append(index)
    return indexes, records


def _known_structure(
    dataset: Dataset,
    values: list[bytes],
    indexes: list[int],
    records: list[msgspec.Struct],
    joined: Joined | None,
    limit: int,
    rejected: list[Rejection],
) -> tuple[list[int], list[msgspec.Struct]]:
    """Decoded records whose objects name each key once, nested no deeper than `limit`.

    Readers disagree on which of two values of a key wins (the decoder takes the last,
    DuckDB refuses the record). Nesting is bounded because the ETL's JSON readers
    recurse, each with a limit of its own; a record holding only the schema's keys nests
    as the schema does, so only records with other keys are measured."""
    chosen = values if joined is not None else [values[i] for i in indexes]
    scan = scan_keys(chosen, dataset.keys, joined)
    bad: dict[int, Rejection] = {}
    for position, key in scan.repeated:
        detail = f"key {key!r} appears more than once in one object"
        bad[position] = Rejection(indexes[position], "duplicate_key", detail)
    if scan.strangers:
        measured = too_deep([chosen[position] for position in scan.strangers], limit)
        for at, nesting in measured:
            position = scan.strangers[at]
            detail = f"record nests {nesting} arrays and objects deep; the limit is {limit}"
            bad.setdefault(position, Rejection(indexes[position], "too_deep", detail))
    if not bad:
        return indexes, records
    rejected.extend(bad.values())
    kept = [i for i in range(len(indexes)) if i not in bad]
    return [indexes[i] for i in kept], [records[i] for i in kept]


def _apply_rules(
    dataset: Dataset, indexes: list[int], records: list[msgspec.Struct], rejected: list[Rejection]
) -> tuple[list[int], list[str]]:
    """The dataset's own rules, then the event time text of each record that passes."""
    if dataset.check is not None:
        problems = list(map(dataset.check, records))
        if problems.count(None) != len(problems):
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
