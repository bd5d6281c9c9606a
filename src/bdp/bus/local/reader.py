"""Reading one partition of the embedded log, lock-free, beside live writers.

Readers take no lock: they only ever accept complete frames whose checksum matches
and whose base offset continues the sequence, so a frame another process is writing
right now (or a torn one a killed writer left) is simply not there yet. A segment is
finished once a newer one exists, because writers roll only after catching up with
the tail under the partition lock.
"""

from __future__ import annotations

import bisect
import os
from pathlib import Path

import numpy as np

from bdp.bus.local.frame import HEADER_SIZE, NO_TIMESTAMP, Frame, parse_header
from bdp.bus.local.segment import (
    READ_AHEAD_BYTES,
    SegmentIndex,
    index_path,
    iter_frames,
    list_segments,
    log_path,
)

__all__ = ["PartitionReader", "Slice"]

Slice = tuple[Frame, int, int]
"""Records `start:stop` of a frame."""


class PartitionReader:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._base: int | None = None
        self._fd = -1
        self._position = 0
        """File position of the next frame not yet fetched."""
        self._next = 0
        """Base offset expected of that frame."""
        self._frame: Frame | None = None
        self._buf = b""
        self._buf_at = 0
        self._closed_max_ts: dict[int, int] = {}

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = -1
        self._base = None
        self._frame = None
        self._buf = b""

    # -- offsets ---------------------------------------------------------------------

    def begin_offset(self) -> int:
        bases = list_segments(self.directory)
        return bases[0] if bases else 0

    def end_offset(self) -> int:
        bases = list_segments(self.directory)
        if not bases:
            return 0
        base = bases[-1]
        try:
            fd = os.open(log_path(self.directory, base), os.O_RDONLY)
        except FileNotFoundError:
            return base
        try:
            _, _, offset = _scan_from_index(self.directory, base, fd)
            return offset
        finally:
            os.close(fd)

    def offset_for_timestamp(self, timestamp_ms: int) -> int:
        """The first offset whose timestamp is >= `timestamp_ms`, else the end offset."""
        bases = list_segments(self.directory)
        for i, base in enumerate(bases):
            last = i == len(bases) - 1
            try:
                fd = os.open(log_path(self.directory, base), os.O_RDONLY)
            except FileNotFoundError:
                continue  # removed by retention meanwhile
            try:
                if self._segment_max_ts(base, fd, last) < timestamp_ms:
                    continue
                found = _find_timestamp(self.directory, base, fd, timestamp_ms)
            finally:
                os.close(fd)
            if found is not None:
                return found
        return self.end_offset()

    def segment_max_ts(self, base: int, last: bool) -> int:
        fd = os.open(log_path(self.directory, base), os.O_RDONLY)
        try:
            return self._segment_max_ts(base, fd, last)
        finally:
            os.close(fd)

    def _segment_max_ts(self, base: int, fd: int, last: bool) -> int:
        if base in self._closed_max_ts:
            return self._closed_max_ts[base]
        max_ts, _, _ = _scan_from_index(self.directory, base, fd)
        if not last:
            self._closed_max_ts[base] = max_ts  # a closed segment never changes
        return max_ts

    # -- records ---------------------------------------------------------------------

    def read(self, offset: int, max_records: int) -> tuple[int, list[Slice]]:
        """Up to `max_records` records from `offset` on, as slices of frames.

        Returns where reading really started: later than `offset` when retention has
        removed it (the begin offset) or it falls in a gap.
        """
        frame = self._frame
        if not (frame and frame.header.base_offset <= offset < frame.header.next_offset):
            if self._base is None or offset != self._next:
                offset = self._locate(offset)
            frame = None
        start = offset
        slices: list[Slice] = []
        remaining = max_records
        while remaining > 0:
            if frame is None or offset >= frame.header.next_offset:
                frame = self._fetch()
                if frame is None:
                    break
                if frame.header.next_offset <= offset:
                    continue
                if frame.header.base_offset > offset:
                    if not slices:
                        start = frame.header.base_offset
                    offset = frame.header.base_offset
            first = offset - frame.header.base_offset
            stop = min(frame.header.count, first + remaining)
            slices.append((frame, first, stop))
            remaining -= stop - first
            offset = frame.header.base_offset + stop
        return start, slices

    def _locate(self, offset: int) -> int:
        """Point the cursor at the frame holding `offset` (or the nearest one after)."""
        for _ in range(3):  # retention may delete the segment between listing and open
            bases = list_segments(self.directory)
            if not bases:
                self.close()
                return offset
            offset = max(offset, bases[0])
            base = bases[bisect.bisect_right(bases, offset) - 1]
            try:
                self._open(base)
            except FileNotFoundError:
                continue
            index = SegmentIndex.load(index_path(self.directory, base), base)
            position, frame_base, _ = index.for_offset(offset, base)
            if position and not self._header_matches(position, frame_base):
                position, frame_base = 0, base  # stale index: scan the segment
            self._position, self._next = position, frame_base
            return offset
        raise FileNotFoundError(f"partition log under {self.directory} keeps vanishing")

    def _open(self, base: int) -> None:
        fd = os.open(log_path(self.directory, base), os.O_RDONLY)
        self.close()
        self._fd, self._base = fd, base
        self._position, self._next = 0, base

    def _header_matches(self, position: int, base_offset: int) -> bool:
        header = parse_header(os.pread(self._fd, HEADER_SIZE, position))
        return header is not None and header.base_offset == base_offset

    def _fetch(self) -> Frame | None:
        """The next complete frame, moving on to the next segment when this one is done."""
        if self._base is None:
            return None
        frame = self._frame_at_cursor()
        if frame is None:
            newer = [base for base in list_segments(self.directory) if base > self._base]
            if not newer:
                return None
            # This segment is finished (a newer one exists): read what is left of it,
            # then move on.
            frame = self._frame_at_cursor()
            if frame is None:
                try:
                    self._open(newer[0])
                except FileNotFoundError:
                    self._base = None
                    return None
                frame = self._frame_at_cursor()
                if frame is None:
                    return None
        self._position += frame.header.size
        self._next = frame.header.next_offset
        self._frame = frame
        return frame

    def _frame_at_cursor(self) -> Frame | None:
        at = self._position - self._buf_at
        frame = None
        if 0 <= at < len(self._buf):
            frame = self._checked(Frame.verified(self._buf, at))
        if frame is None:
            # Re-read from disk: the buffer may predate the rest of the frame, or hold a
            # torn tail that a writer has since replaced.
            header = parse_header(os.pread(self._fd, HEADER_SIZE, self._position))
            size = READ_AHEAD_BYTES if header is None else max(READ_AHEAD_BYTES, header.size)
            self._buf = os.pread(self._fd, size, self._position)
            self._buf_at = self._position
            frame = self._checked(Frame.verified(self._buf, 0))
        return frame

    def _checked(self, frame: Frame | None) -> Frame | None:
        if frame is None or frame.header.base_offset != self._next:
            return None
        return frame


def _scan_from_index(directory: Path, base: int, fd: int) -> tuple[int, int, int]:
    """(largest timestamp, valid end, next offset) of a segment, scanning from its last
    index entry (or from the start when the index is stale)."""
    end = os.fstat(fd).st_size
    index = SegmentIndex.load(index_path(directory, base), base).valid_before(end)
    position, offset, max_ts = index.last(base)
    scanned = _scan(fd, end, position, offset, max_ts)
    if scanned is None:
        scanned = _scan(fd, end, 0, base, NO_TIMESTAMP)
    assert scanned is not None
    return scanned


def _scan(
    fd: int, end: int, position: int, offset: int, max_ts: int
) -> tuple[int, int, int] | None:
    found = position == 0
    for at, header, _ in iter_frames(fd, position, end, offset):
        found = True
        position, offset = at + header.size, header.next_offset
        max_ts = max(max_ts, header.max_timestamp_ms)
    return (max_ts, position, offset) if found else None


def _find_timestamp(directory: Path, base: int, fd: int, timestamp_ms: int) -> int | None:
    end = os.fstat(fd).st_size
    index = SegmentIndex.load(index_path(directory, base), base).valid_before(end)
    position, offset, _ = index.for_timestamp(timestamp_ms, base)
    starts = [(position, offset), (0, base)] if position else [(0, base)]
    for start, expected in starts:
        scanned = False
        for _, header, frame in iter_frames(fd, start, end, expected):
            scanned = True
            if header.max_timestamp_ms >= timestamp_ms and frame is not None:
                return header.base_offset + int(np.argmax(frame.timestamps >= timestamp_ms))
        if scanned:
            break
    return None
