"""Fetched Kafka messages → one `RecordBatch` per partition, in whole-list operations.

A poll can return tens of thousands of messages: per-message Python work (a dict
lookup, four appends) would cost more than fetching them. Each field is read in one
list comprehension; partitions are split by runs (librdkafka hands out each
partition's messages consecutively), and positions filter out stale prefetch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bdp.bus.base import RecordBatch

__all__ = ["group_messages"]


def group_messages(
    messages: list[Any],
    topic: str,
    positions: dict[int, int],
    with_keys: bool,
    on_error: Callable[[Any], None],
) -> list[RecordBatch]:
    """Batches of the records at or past each partition's position; advances positions.

    `on_error` sees each error delivered in place of a record (and may raise).
    """
    if not messages:
        return []
    errors = [m for m in messages if m.error() is not None]
    if errors:
        for message in errors:
            on_error(message.error())
        messages = [m for m in messages if m.error() is None]
        if not messages:
            return []
    partitions = np.array([m.partition() for m in messages], dtype=np.int64)
    offsets = np.array([m.offset() for m in messages], dtype=np.int64)
    stamps = np.array([m.timestamp()[1] for m in messages], dtype=np.int64)
    values = [m.value() for m in messages]
    if None in values:  # a null value reads as empty, as on the embedded bus
        values = [b"" if v is None else v for v in values]
    keys = [m.key() for m in messages] if with_keys else []
    runs: dict[int, list[tuple[int, int]]] = {}
    starts = [0, *(np.flatnonzero(partitions[1:] != partitions[:-1]) + 1).tolist()]
    for start, stop in zip(starts, [*starts[1:], len(messages)], strict=True):
        runs.setdefault(int(partitions[start]), []).append((start, stop))
    batches = []
    for partition, spans in runs.items():
        picked = _pick(spans, offsets, stamps, values, keys)
        part_offsets, part_stamps, part_values, part_keys = picked
        keep = part_offsets >= positions[partition]
        if not keep.all():  # prefetched before a seek: not wanted any more
            chosen = np.flatnonzero(keep).tolist()
            part_offsets, part_stamps = part_offsets[keep], part_stamps[keep]
            part_values = [part_values[i] for i in chosen]
            part_keys = [part_keys[i] for i in chosen] if with_keys else []
            if not chosen:
                continue
        positions[partition] = int(part_offsets[-1]) + 1
        batches.append(
            RecordBatch(topic, partition, part_offsets, part_stamps, part_values, part_keys)
        )
    return batches


def _pick(
    spans: list[tuple[int, int]],
    offsets: np.ndarray,
    stamps: np.ndarray,
    values: list[bytes],
    keys: list[bytes | None],
) -> tuple[np.ndarray, np.ndarray, list[bytes], list[bytes | None]]:
    if len(spans) == 1:
        ((start, stop),) = spans
        return offsets[start:stop], stamps[start:stop], values[start:stop], keys[start:stop]
    part_values: list[bytes] = []
    part_keys: list[bytes | None] = []
    for start, stop in spans:
        part_values.extend(values[start:stop])
        part_keys.extend(keys[start:stop])
    return (
        np.concatenate([offsets[a:b] for a, b in spans]),
        np.concatenate([stamps[a:b] for a, b in spans]),
        part_values,
        part_keys,
    )
