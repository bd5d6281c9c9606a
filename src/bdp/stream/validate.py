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
    decoder = dataset.decoder()
    check = dataset.check
    event_time = dataset.event_time
    result = Validated()
    times: list[str] = []
    # A newline cannot complete a multi-byte sequence, so the join is valid only if each
    # record is: one C-speed check for the common case.
    all_utf8 = _is_utf8(b"\n".join(values))
    for index, value in enumerate(values):
        rejection = _screen(index, value, max_record_bytes, all_utf8)
        if rejection is None:
            try:
                record = decoder.decode(value)
            except msgspec.ValidationError as exc:
                message = str(exc)
                reason = "missing_field" if _MISSING.search(message) else "wrong_type"
                rejection = Rejection(index, reason, message)
            except msgspec.DecodeError as exc:
                rejection = Rejection(index, "invalid_json", str(exc))
            else:
                problem = check(record) if check is not None else None
                if problem is not None:
                    rejection = Rejection(index, "invalid_value", problem)
                else:
                    try:
                        stamp = event_time(record)
                    except (ValueError, TypeError) as exc:
                        stamp, problem = None, str(exc)
                    if stamp is None:
                        detail = problem or "no event time"
                        rejection = Rejection(index, "bad_timestamp", detail)
                    else:
                        result.valid.append(index)
                        times.append(stamp)
                        continue
        result.rejected.append(rejection)
    dates, bad = event_dates(times, tz)
    if bad:
        keep = np.ones(len(times), dtype=bool)
        for position in bad:
            keep[position] = False
            result.rejected.append(
                Rejection(
                    result.valid[position],
                    "bad_timestamp",
                    f"event time {times[position]!r} is not ISO-8601",
                )
            )
        result.valid = [index for index, ok in zip(result.valid, keep, strict=True) if ok]
        dates = dates[keep]
    result.dates = dates
    result.rejected.sort(key=lambda rejection: rejection.index)
    return result


def _screen(index: int, value: bytes, max_record_bytes: int, all_utf8: bool) -> Rejection | None:
    if not value.strip():
        return Rejection(index, "empty", "record is empty")
    if len(value) > max_record_bytes:
        return Rejection(
            index, "too_large", f"record is {len(value)} bytes; the limit is {max_record_bytes}"
        )
    if not all_utf8 and not _is_utf8(value):
        return Rejection(index, "not_utf8", "record is not valid UTF-8")
    return None


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
    return pc.cast(local, pa.date32()).to_numpy(zero_copy_only=False).astype("datetime64[D]")
