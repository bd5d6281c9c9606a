"""Argument checks and input forms every bus backend shares.

Topic names follow Kafka's rules on both backends, so a name that works on the embedded
bus works on a broker; producer input may be a list of bytes or a pyarrow binary array,
and timestamps default to the wall clock, the same way everywhere.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence

import numpy as np

__all__ = ["check_topic_name", "is_arrow_array", "normalise_timestamps"]

_TOPIC_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,248}")
"""Kafka's legal characters; a leading dot is reserved for the embedded bus's own files."""


def check_topic_name(topic: str) -> str:
    if not isinstance(topic, str) or not _TOPIC_NAME.fullmatch(topic):
        raise ValueError(
            f"invalid topic name {topic!r}: use 1-249 of letters, digits, '.', '_' and '-',"
            " not starting with '.'"
        )
    return topic


def normalise_timestamps(timestamps: Sequence[int] | np.ndarray | None, count: int) -> np.ndarray:
    if timestamps is None:
        return np.full(count, time.time_ns() // 1_000_000, np.int64)
    array = np.asarray(timestamps)
    if array.shape != (count,):
        raise ValueError(f"timestamps_ms has {array.shape} entries for {count} values")
    if array.dtype.kind not in "iu":
        raise ValueError(f"timestamps_ms must be integers (milliseconds), got {array.dtype}")
    return array.astype(np.int64, copy=False)


def is_arrow_array(values: object) -> bool:
    return type(values).__module__.startswith("pyarrow")
