"""Segment files of one partition: naming, frame scanning and the sparse index.

A partition directory holds `<base offset, 20 digits>.log` segment files (Kafka's
naming) and beside each a `.index` file of fixed 24-byte entries
`(frame base offset, file position, largest timestamp before that frame)`. An entry is
written for the frame that covers each 4 KiB boundary of the log, so a lookup lands at
most one interval plus one frame before its target.

The index is a hint, never the truth: the log is, and every frame is checked (magic,
length, checksum, offset continuity) when read. Entries past the valid end of the log
are ignored. Because the largest timestamp seen so far only grows, the index answers
"first record with timestamp >= t" exactly, even when producers' clocks disagree.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from bdp.bus.local.frame import HEADER_SIZE, NO_TIMESTAMP, Frame, FrameHeader, parse_header

__all__ = [
    "INDEX_ENTRY",
    "INDEX_INTERVAL_BYTES",
    "READ_AHEAD_BYTES",
    "SegmentIndex",
    "index_due",
    "index_path",
    "iter_frames",
    "list_segments",
    "log_path",
]

LOG_SUFFIX = ".log"
INDEX_SUFFIX = ".index"
INDEX_ENTRY = struct.Struct("<qqq")
INDEX_INTERVAL_BYTES = 4096
READ_AHEAD_BYTES = 1 << 20


def log_path(directory: Path, base_offset: int) -> Path:
    return directory / f"{base_offset:020d}{LOG_SUFFIX}"


def index_path(directory: Path, base_offset: int) -> Path:
    return directory / f"{base_offset:020d}{INDEX_SUFFIX}"


def list_segments(directory: Path) -> list[int]:
    """Base offsets of the segments in `directory`, ascending."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    return sorted(
        int(name[: -len(LOG_SUFFIX)])
        for name in names
        if name.endswith(LOG_SUFFIX) and name[: -len(LOG_SUFFIX)].isdigit()
    )


def index_due(position: int, size: int) -> bool:
    """Whether the frame at `position` covers an index boundary (the first always does)."""
    next_boundary = -(-position // INDEX_INTERVAL_BYTES) * INDEX_INTERVAL_BYTES
    return next_boundary < position + size


def iter_frames(
    fd: int,
    position: int,
    end: int,
    expected_offset: int | None,
    verify: bool = True,
) -> Iterator[tuple[int, FrameHeader, Frame | None]]:
    """Frames from `position` up to `end`, stopping at the first one that is incomplete,
    corrupt or out of sequence. With `verify` each frame is read whole and checksummed
    (and returned decoded); without it only headers are read."""
    buf = b""
    buf_at = position
    while position + HEADER_SIZE <= end:
        if position + HEADER_SIZE > buf_at + len(buf):
            buf = os.pread(fd, READ_AHEAD_BYTES if verify else HEADER_SIZE, position)
            buf_at = position
        header = parse_header(buf, position - buf_at)
        if header is None or position + header.size > end:
            return
        if expected_offset is not None and header.base_offset != expected_offset:
            return
        frame = None
        if verify:
            if position + header.size > buf_at + len(buf):
                buf = os.pread(fd, max(READ_AHEAD_BYTES, header.size), position)
                buf_at = position
            frame = Frame.verified(buf, position - buf_at)
            if frame is None:
                return
        yield position, header, frame
        position += header.size
        expected_offset = header.next_offset


class SegmentIndex:
    """The sparse index of one segment, loaded into numpy columns."""

    __slots__ = ("max_before", "offsets", "positions")

    def __init__(self, entries: np.ndarray) -> None:
        self.offsets = entries[:, 0]
        self.positions = entries[:, 1]
        self.max_before = entries[:, 2]

    @classmethod
    def load(cls, path: Path, base_offset: int) -> SegmentIndex:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raw = b""
        whole = len(raw) - len(raw) % INDEX_ENTRY.size
        entries = np.frombuffer(raw, "<i8", whole // 8).reshape(-1, 3)
        # Keep the plausible, strictly increasing prefix: anything else is torn or stale.
        bad = (entries[:, 0] < base_offset) | (entries[:, 1] < 0)
        # Comparisons, not differences: garbage values would overflow a subtraction.
        bad[1:] |= (
            (entries[1:, 0] <= entries[:-1, 0])
            | (entries[1:, 1] <= entries[:-1, 1])
            | (entries[1:, 2] < entries[:-1, 2])
        )
        first_bad = np.flatnonzero(bad)
        if len(first_bad):
            entries = entries[: first_bad[0]]
        return cls(entries)

    def __len__(self) -> int:
        return len(self.offsets)

    def valid_before(self, end: int) -> SegmentIndex:
        """Only the entries that point inside the first `end` bytes of the log."""
        keep = int(np.searchsorted(self.positions, end, side="left"))
        if keep == len(self):
            return self
        return SegmentIndex(np.stack([self.offsets, self.positions, self.max_before], 1)[:keep])

    def for_offset(self, offset: int, base_offset: int) -> tuple[int, int, int]:
        """(position, frame base offset, largest timestamp before) to scan from for `offset`."""
        i = int(np.searchsorted(self.offsets, offset, side="right")) - 1
        return self._entry(i, base_offset)

    def for_timestamp(self, timestamp_ms: int, base_offset: int) -> tuple[int, int, int]:
        """Where to scan from for the first record with timestamp >= `timestamp_ms`:
        the last entry before which every timestamp is smaller."""
        i = int(np.searchsorted(self.max_before, timestamp_ms, side="left")) - 1
        return self._entry(i, base_offset)

    def last(self, base_offset: int) -> tuple[int, int, int]:
        return self._entry(len(self) - 1, base_offset)

    def entry(self, i: int) -> tuple[int, int, int]:
        """(position, frame base offset, largest timestamp before) of entry `i`."""
        return int(self.positions[i]), int(self.offsets[i]), int(self.max_before[i])

    def _entry(self, i: int, base_offset: int) -> tuple[int, int, int]:
        if i < 0:
            return 0, base_offset, NO_TIMESTAMP
        return int(self.positions[i]), int(self.offsets[i]), int(self.max_before[i])
