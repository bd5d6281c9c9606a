"""Appending to one partition, safely alongside other processes doing the same.

Every append runs under an exclusive `flock` on the partition's `.lock` file. Inside
it the appender first catches up with the log as it is on disk: the newest segment
may have changed (another process rolled), the file may have grown (another process
appended) or may end in a torn frame (a process killed mid-write). It re-reads what
it has not seen, truncates a torn tail, and only then writes, at the true end, with
the next dense offset. Offsets therefore stay dense and unique across processes.

The checksum of the body is computed before taking the lock; only the 40-byte
header, which carries the offset, is made inside it.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path
from typing import Literal

from bdp.bus.local.frame import NO_TIMESTAMP, EncodedBody
from bdp.bus.local.segment import (
    INDEX_ENTRY,
    SegmentIndex,
    index_due,
    index_path,
    iter_frames,
    list_segments,
    log_path,
)

__all__ = ["LOCK_FILE", "FsyncMode", "IntervalSyncer", "PartitionAppender", "fsync_dir"]

LOCK_FILE = ".lock"
FsyncMode = Literal["always", "interval", "never"]


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class PartitionLock:
    """The exclusive, cross-process lock of one partition (released by the OS on death)."""

    def __init__(self, directory: Path) -> None:
        self._fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)

    def __enter__(self) -> PartitionLock:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class PartitionAppender:
    """One producer's handle on one partition: lock, newest segment and its index."""

    def __init__(self, directory: Path, segment_bytes: int, fsync: FsyncMode) -> None:
        self.directory = directory
        self._segment_bytes = segment_bytes
        self._fsync = fsync
        self._lock = PartitionLock(directory)
        # Guards the descriptors against the background syncer.
        self._fd_lock = threading.Lock()
        self._base: int | None = None
        self._log_fd = -1
        self._index_fd = -1
        self._size = 0
        """Valid end of the newest segment, as far as this appender knows."""
        self._index_size = 0
        self._next_offset = 0
        self._max_ts = NO_TIMESTAMP
        self._unsynced = False

    def append(self, bodies: list[EncodedBody]) -> int:
        """Write the frames at the end of the partition; return the first offset."""
        with self._lock:
            self._catch_up()
            first = self._next_offset
            pending: list[bytes | memoryview] = []
            entries: list[bytes] = []
            at, offset, max_ts = self._size, self._next_offset, self._max_ts
            for body in bodies:
                if at > 0 and at + body.frame_size > self._segment_bytes:
                    self._write(pending, entries, at, offset, max_ts)
                    pending, entries = [], []
                    self._create_segment(offset)
                    at, max_ts = 0, NO_TIMESTAMP
                if index_due(at, body.frame_size):
                    entries.append(INDEX_ENTRY.pack(offset, at, max_ts))
                pending.append(body.header(offset))
                pending.extend(body.parts)
                at += body.frame_size
                offset += body.count
                max_ts = max(max_ts, body.max_timestamp_ms)
            self._write(pending, entries, at, offset, max_ts)
        if self._fsync == "always":
            self.sync()
        return first

    def sync(self) -> None:
        """Make every frame this appender wrote durable."""
        with self._fd_lock:
            if self._unsynced and self._log_fd >= 0:
                os.fdatasync(self._log_fd)
            self._unsynced = False

    def close(self) -> None:
        with self._fd_lock:
            self._close_segment()
        self._lock.close()

    # -- inside the lock ------------------------------------------------------------

    def _write(
        self,
        buffers: list[bytes | memoryview],
        entries: list[bytes],
        end: int,
        next_offset: int,
        max_ts: int,
    ) -> None:
        """Write frames, then advance the in-memory end (only once they are written: a
        failed write leaves a tail the next catch-up inspects)."""
        if not buffers:
            return
        self._unsynced = True
        _pwrite_all(self._log_fd, buffers, self._size)
        self._size, self._next_offset, self._max_ts = end, next_offset, max_ts
        if entries:
            # The index is a hint written after its frames: a crash in between only
            # costs a longer scan, never a wrong answer.
            data = b"".join(entries)
            os.pwrite(self._index_fd, data, self._index_size)
            self._index_size += len(data)

    def _catch_up(self) -> None:
        bases = list_segments(self.directory)
        if not bases:
            self._create_segment(self._next_offset)
        elif bases[-1] != self._base:
            self._open_segment(bases[-1])
        elif os.fstat(self._log_fd).st_size != self._size:
            self._scan_tail(self._size, self._next_offset)

    def _open_segment(self, base: int) -> None:
        with self._fd_lock:
            self._close_segment()
            self._log_fd = os.open(log_path(self.directory, base), os.O_RDWR | os.O_CREAT, 0o644)
            self._index_fd = os.open(
                index_path(self.directory, base), os.O_RDWR | os.O_CREAT, 0o644
            )
        self._base = base
        index = SegmentIndex.load(index_path(self.directory, base), base)
        index = index.valid_before(os.fstat(self._log_fd).st_size)
        keep = 0
        # Scan from the newest entries back: the very last one may describe a frame
        # that never fully reached the log.
        for i in range(len(index) - 1, max(len(index) - 4, 0) - 1, -1):
            position, offset, self._max_ts = index.entry(i)
            if self._scan_tail(position, offset, from_hint=True):
                keep = len(index.valid_before(self._size))
                break
        else:
            # No entry points at a frame: trust only the log, rebuild the index.
            self._max_ts = NO_TIMESTAMP
            self._scan_tail(0, base)
        self._index_size = keep * INDEX_ENTRY.size
        os.ftruncate(self._index_fd, self._index_size)

    def _scan_tail(self, position: int, offset: int, from_hint: bool = False) -> bool:
        """Adopt the frames after `position`; cut off whatever follows the last valid one.

        From an index hint that turns out not to be a frame, change nothing and return
        False: the caller rescans from the start of the segment.
        """
        end = os.fstat(self._log_fd).st_size
        found = position == end
        max_ts = self._max_ts
        for at, header, _ in iter_frames(self._log_fd, position, end, offset):
            found = True
            position = at + header.size
            offset = header.next_offset
            max_ts = max(max_ts, header.max_timestamp_ms)
        if from_hint and not found:
            return False
        self._max_ts = max_ts
        self._size = position
        self._next_offset = offset
        if position < end:
            # A torn or corrupt tail. We hold the lock, so no live writer is behind it.
            os.ftruncate(self._log_fd, position)
            self._unsynced = True
            self._drop_index_past(position)
        else:
            index_size = os.fstat(self._index_fd).st_size
            self._index_size = index_size - index_size % INDEX_ENTRY.size
            if self._index_size != index_size:
                os.ftruncate(self._index_fd, self._index_size)
        return found

    def _drop_index_past(self, end: int) -> None:
        assert self._base is not None
        index = SegmentIndex.load(index_path(self.directory, self._base), self._base)
        index = index.valid_before(end)
        self._index_size = len(index) * INDEX_ENTRY.size
        os.ftruncate(self._index_fd, self._index_size)

    def _create_segment(self, base: int) -> None:
        with self._fd_lock:
            if self._unsynced and self._log_fd >= 0 and self._fsync != "never":
                os.fdatasync(self._log_fd)
            self._unsynced = False
            self._close_segment()
            self._log_fd = os.open(log_path(self.directory, base), os.O_RDWR | os.O_CREAT, 0o644)
            self._index_fd = os.open(
                index_path(self.directory, base), os.O_RDWR | os.O_CREAT, 0o644
            )
        if self._fsync != "never":
            fsync_dir(self.directory)
        self._base = base
        self._size = 0
        self._index_size = 0
        self._next_offset = base
        self._max_ts = NO_TIMESTAMP

    def _close_segment(self) -> None:
        if self._unsynced and self._log_fd >= 0 and self._fsync != "never":
            os.fdatasync(self._log_fd)
        self._unsynced = False
        for fd in (self._log_fd, self._index_fd):
            if fd >= 0:
                os.close(fd)
        self._log_fd = self._index_fd = -1
        self._base = None


def _pwrite_all(fd: int, buffers: list[bytes | memoryview], position: int) -> None:
    """One gathered write; the rare short write is finished piece by piece."""
    total = sum(len(buffer) for buffer in buffers)
    written = os.pwritev(fd, buffers, position)
    while written < total:
        rest = memoryview(b"".join(buffers))[written:]
        written += os.pwrite(fd, rest, position + written)


class IntervalSyncer:
    """Background fsync of written partitions, at most once per interval.

    With `fsync = "interval"` an acknowledged record survives any process crash at
    once (it is in the page cache) and a power cut after at most the interval.
    """

    def __init__(self, interval_s: float) -> None:
        self._interval_s = interval_s
        self._dirty: set[PartitionAppender] = set()
        self._wake = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def note_write(self, appender: PartitionAppender) -> None:
        with self._wake:
            self._dirty.add(appender)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="bdp-bus-fsync", daemon=True)
                self._thread.start()
            self._wake.notify()

    def close(self) -> None:
        """Stop the thread after one last sync of everything written."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join()
        self._sync(self._take())

    def _take(self) -> set[PartitionAppender]:
        with self._wake:
            dirty, self._dirty = self._dirty, set()
        return dirty

    def _run(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._stopping or bool(self._dirty))
                if self._stopping:
                    return
                # Let writes accumulate for one interval, then sync them together.
                self._wake.wait_for(lambda: self._stopping, self._interval_s)
                if self._stopping:
                    return
            self._sync(self._take())

    @staticmethod
    def _sync(appenders: set[PartitionAppender]) -> None:
        for appender in appenders:
            appender.sync()
