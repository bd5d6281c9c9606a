"""Producer input normalised for framing: one value buffer plus per-record numpy arrays.

Values arrive as a list of bytes or as a pyarrow binary array; both become the same
`Records` (concatenated value bytes, int64 lengths, int64 timestamps, optional keys)
so the frame encoder never loops over records in Python beyond one `len` per value.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bdp.bus.checks import is_arrow_array

__all__ = ["Records", "concat_records"]


@dataclass
class Records:
    data: bytes | memoryview
    """Every value, concatenated in record order."""
    lengths: np.ndarray
    """int64 length of each value."""
    timestamps: np.ndarray
    """int64 milliseconds since the epoch."""
    keys: list[bytes | None] | None
    """None when no record has a key."""

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def nbytes(self) -> int:
        return len(self.data) + 12 * len(self.lengths)

    @classmethod
    def build(
        cls,
        values: Any,
        keys: list[bytes | None] | None,
        timestamps: np.ndarray,
        indices: np.ndarray | None = None,
    ) -> Records:
        """Records for `values` (a list of bytes or a pyarrow binary array), optionally
        restricted to `indices` (the records that go to one partition)."""
        if indices is not None:
            timestamps = timestamps[indices]
            picked = indices.tolist()
            if keys is not None:
                keys = [keys[i] for i in picked]
            if is_arrow_array(values):
                import pyarrow as pa

                values = values.take(pa.array(indices))
            else:
                values = [values[i] for i in picked]
        if keys is not None and all(key is None for key in keys):
            keys = None
        if is_arrow_array(values):
            data, lengths = _arrow_buffers(values)
        else:
            data, lengths = _list_buffers(values)
        return cls(data, lengths, timestamps, keys)

    def split(self, max_bytes: int) -> list[Records]:
        """Consecutive pieces of about `max_bytes` of values each (at least one record)."""
        if len(self.data) <= max_bytes or len(self) == 1:
            return [self]
        ends = np.cumsum(self.lengths)
        cuts = [0]
        while cuts[-1] < len(self):
            start = cuts[-1]
            base = int(ends[start - 1]) if start else 0
            stop = int(np.searchsorted(ends, base + max_bytes, side="right"))
            cuts.append(max(stop, start + 1))
        view = memoryview(self.data)
        pieces = []
        for start, stop in itertools.pairwise(cuts):
            first = int(ends[start - 1]) if start else 0
            pieces.append(
                Records(
                    view[first : int(ends[stop - 1])],
                    self.lengths[start:stop],
                    self.timestamps[start:stop],
                    None if self.keys is None else self.keys[start:stop],
                )
            )
        return pieces


def concat_records(chunks: list[Records]) -> Records:
    if len(chunks) == 1:
        return chunks[0]
    keys: list[bytes | None] | None = None
    if any(chunk.keys is not None for chunk in chunks):
        keys = []
        for chunk in chunks:
            keys.extend(chunk.keys if chunk.keys is not None else [None] * len(chunk))
    return Records(
        b"".join(chunk.data for chunk in chunks),
        np.concatenate([chunk.lengths for chunk in chunks]),
        np.concatenate([chunk.timestamps for chunk in chunks]),
        keys,
    )


def _list_buffers(values: Sequence[bytes]) -> tuple[bytes, np.ndarray]:
    try:
        data = b"".join(values)
    except TypeError:
        bad = next(v for v in values if not isinstance(v, bytes | bytearray | memoryview))
        raise ValueError(f"values must be bytes, got {type(bad).__name__}") from None
    return data, np.fromiter(map(len, values), np.int64, len(values))


def _arrow_buffers(values: Any) -> tuple[memoryview, np.ndarray]:
    """The value bytes and lengths of a pyarrow (large) binary array, without copying."""
    import pyarrow as pa

    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    kind = values.type
    if pa.types.is_binary(kind) or pa.types.is_string(kind):
        width = np.int32
    elif pa.types.is_large_binary(kind) or pa.types.is_large_string(kind):
        width = np.int64
    else:
        raise ValueError(f"values must be a binary array, got {kind}")
    if values.null_count:
        raise ValueError("values must not contain nulls")
    count = len(values)
    _, offsets_buffer, data_buffer = values.buffers()
    offsets = np.frombuffer(
        offsets_buffer, width, count + 1, values.offset * np.dtype(width).itemsize
    ).astype(np.int64)
    data = memoryview(data_buffer if data_buffer is not None else b"").cast("B")
    return data[int(offsets[0]) : int(offsets[-1])], np.diff(offsets)
