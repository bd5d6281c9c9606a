"""Reading one partition of the embedded log, lock-free, beside live writers.

Readers take no lock to read: they only ever accept complete frames whose checksum
matches and whose base offset continues the sequence. A segment is finished once a
newer one exists, because writers roll only after catching up with the tail under the
partition lock.

When the bytes at the cursor are not such a frame, the reader takes the partition lock
to look again, since no append is under way while it holds it: the start of a frame
being written is then complete, a torn tail a killed writer left is said once (and
otherwise treated as the end), and anything else is damage, raised as
`CorruptSegmentError` naming topic, partition, offset, file and byte. Only a start of
a frame that looks unfinished while a writer holds the lock counts as "not there yet";
the lock is never waited for on that path, so tailing a busy partition stays lock-free.
"""

from __future__ import annotations

import bisect
import logging
import os
from pathlib import Path

import numpy as np

from bdp.bus.local.appender import PartitionLock
from bdp.bus.local.frame import HEADER_SIZE, NO_TIMESTAMP, Frame, parse_header, torn_prefix
from bdp.bus.local.segment import (
    READ_AHEAD_BYTES,
    Damage,
    SegmentIndex,
    corruption,
    index_path,
    iter_frames,
    list_segments,
    log_path,
    scan_segment,
)
from bdp.errors import CorruptSegmentError

__all__ = ["PartitionReader", "Slice"]

Slice = tuple[Frame, int, int]
"""Records `start:stop` of a frame."""

_LOG = logging.getLogger(__name__)


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
        self._torn_seen: tuple[int, int, int] | None = None
        """(segment, first byte, end) of the torn tail last reported."""
        self._segment_done = False
        """Set when `_beyond_frames` moved on to the next segment."""

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
        removed it (the begin offset) or it falls in a gap. Raises CorruptSegmentError
        when damage stands right at `offset` (or wherever reading resumed).
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
                try:
                    frame = self._fetch()
                except CorruptSegmentError:
                    if not slices:
                        raise
                    break  # return the records before the damage; the next read raises
                if frame is None:
                    break
                if frame.header.next_offset <= offset:
                    continue
                if frame.header.base_offset > offset:
                    if not slices:
                        start = frame.header.base_offset
                    offset = frame.header.base_offset
            if frame.header.is_gap:
                # Records lost to damage, their offsets kept by a repair: step over them.
                offset = frame.header.next_offset
                if not slices:
                    start = offset
                continue
            first = offset - frame.header.base_offset
            stop = min(frame.header.record_count, first + remaining)
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
        """The next complete frame, moving on to the next segment when this one is done;
        None when there is none yet. Raises CorruptSegmentError at damage."""
        while self._base is not None:
            frame = self._frame_at_cursor()
            if frame is None:
                frame = self._beyond_frames()
            if frame is not None:
                self._position += frame.header.size
                self._next = frame.header.next_offset
                self._frame = frame
                return frame
            if self._base is None or not self._segment_done:
                return None
        return None

    def _beyond_frames(self) -> Frame | None:
        """No readable frame at the cursor: the frame there, once settled under the lock;
        else None, with `_segment_done` set when reading goes on in the next segment."""
        self._segment_done = False
        assert self._base is not None
        size = os.fstat(self._fd).st_size
        bases = list_segments(self.directory)
        newer = [base for base in bases if base > self._base]
        if self._position >= size and not newer:
            return None  # the end of the log, for now
        # The start of a frame is most likely being written right now: then never wait
        # for its writer. Anything else waits for the lock, to be judged settled.
        wait = bool(newer) or not self._looks_unfinished(size)
        try:
            lock = PartitionLock(self.directory)
        except FileNotFoundError:
            return None  # the topic was deleted meanwhile
        try:
            if not lock.acquire(wait):
                return None
            try:
                return self._settled(bases, newer)
            finally:
                lock.release()
        finally:
            lock.close()

    def _looks_unfinished(self, size: int) -> bool:
        """Whether the bytes at the cursor can be the start of a frame being written:
        a header (or part of one) that continues the sequence and runs past the end."""
        head = os.pread(self._fd, HEADER_SIZE, self._position)
        if not torn_prefix(head, self._next):
            return False
        header = parse_header(head)
        return header is None or self._position + header.size > size

    def _settled(self, bases: list[int], newer: list[int]) -> Frame | None:
        """`_beyond_frames` under the partition lock: no append is under way, so what the
        file holds now is what a writer left."""
        assert self._base is not None
        frame = self._frame_at_cursor()
        if frame is not None:
            return frame
        if newer != [base for base in list_segments(self.directory) if base > self._base]:
            # The partition rolled meanwhile: the segment is complete now, look again.
            frame = self._frame_at_cursor()
            if frame is not None:
                return frame
            newer = [base for base in list_segments(self.directory) if base > self._base]
        next_segment = newer[0] if newer else None
        scan = scan_segment(
            self._fd, self._base, self._position, self._next, NO_TIMESTAMP, next_segment
        )
        assert scan is not None
        if scan.damage:
            raise corruption(self.directory, scan.damage[0])
        tail = scan.tail
        if next_segment is None:
            if tail is not None:
                if not tail.torn:
                    raise corruption(self.directory, tail)
                self._report_tail(
                    tail, "left by a writer that died mid-append; cut at the next append"
                )
            return None
        if next_segment > self._next and self._base in bases:
            # Offsets missing before the next segment (a segment retention removed meanwhile
            # is not missing: the consumer just moves on to the begin offset).
            raise corruption(self.directory, tail or self._missing(next_segment))
        if tail is not None:
            self._report_tail(tail, "skipped: the next segment starts at the next offset")
        try:
            self._open(next_segment)
        except FileNotFoundError:
            self._base = None
            return None
        self._segment_done = True
        return None

    def _missing(self, next_segment: int) -> Damage:
        assert self._base is not None
        reason = f"the segment ends at offset {self._next}, the next one starts at {next_segment}"
        return Damage(self._base, self._position, self._position, self._next, next_segment, reason)

    def _report_tail(self, tail: Damage, why: str) -> None:
        """Say once that bytes at the end of a segment hold no readable records."""
        seen = (tail.segment, tail.start, tail.end)
        if self._torn_seen == seen:
            return
        self._torn_seen = seen
        _LOG.warning(
            "bus topic %r partition %s: %d bytes where offset %d would start, at byte %d"
            " of %s, hold no readable records (%s; %s)",
            self.directory.parent.name,
            self.directory.name,
            tail.end - tail.start,
            tail.offset,
            tail.start,
            log_path(self.directory, tail.segment),
            tail.reason,
            why,
        )

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
    """(largest timestamp, readable end, next offset) of a segment, scanning from its
    last index entry (or from the start when the index is stale) and over damage, so
    records stuck behind damage still count."""
    end = os.fstat(fd).st_size
    index = SegmentIndex.load(index_path(directory, base), base).valid_before(end)
    position, offset, max_ts = index.last(base)
    scan = scan_segment(fd, base, position, offset, max_ts, from_hint=position > 0)
    if scan is None:
        scan = scan_segment(fd, base, 0, base)
    assert scan is not None
    return scan.max_timestamp_ms, scan.end, scan.next_offset


def _find_timestamp(directory: Path, base: int, fd: int, timestamp_ms: int) -> int | None:
    """The first offset of the segment with a timestamp >= `timestamp_ms`, None when
    every record is older. Where frames stop short of the end, their next offset: what
    lies behind damage is unknown, and reading from there reports the damage instead
    of landing silently later."""
    end = os.fstat(fd).st_size
    index = SegmentIndex.load(index_path(directory, base), base).valid_before(end)
    position, offset, _ = index.for_timestamp(timestamp_ms, base)
    starts = [(position, offset), (0, base)] if position else [(0, base)]
    for start, expected in starts:
        stop = start
        for at, header, frame in iter_frames(fd, start, end, expected):
            stop, expected = at + header.size, header.next_offset
            if header.max_timestamp_ms >= timestamp_ms and frame is not None:
                return header.base_offset + int(np.argmax(frame.timestamps >= timestamp_ms))
        if stop > start or start == 0:
            return expected if stop < end else None
    return None
