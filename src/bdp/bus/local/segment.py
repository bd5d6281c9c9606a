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

Bytes where no readable frame is are damage. Damage with readable frames after it
(found again by their magic, checksum and an offset that continues the sequence) is
corruption; damage at the end of a segment is a tail, torn when it is only the start
of a frame its writer never finished. What was cut or skipped is kept, bytes and all,
under `corrupt/` in the partition directory, with one journal line each.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import struct
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from bdp.bus.local.frame import (
    HEADER_SIZE,
    MAGIC,
    NO_TIMESTAMP,
    Frame,
    FrameHeader,
    damage_reason,
    parse_header,
    torn_prefix,
)
from bdp.errors import CorruptSegmentError
from bdp.localfs import fsync_dir

__all__ = [
    "CORRUPT_DIR",
    "INDEX_ENTRY",
    "INDEX_INTERVAL_BYTES",
    "READ_AHEAD_BYTES",
    "Damage",
    "SegmentIndex",
    "SegmentScan",
    "corruption",
    "find_next_frame",
    "index_due",
    "index_path",
    "iter_frames",
    "list_segments",
    "log_path",
    "read_journal",
    "record_damage",
    "scan_segment",
]

LOG_SUFFIX = ".log"
INDEX_SUFFIX = ".index"
INDEX_ENTRY = struct.Struct("<qqq")
INDEX_INTERVAL_BYTES = 4096
READ_AHEAD_BYTES = 1 << 20
CORRUPT_DIR = "corrupt"
JOURNAL_FILE = "journal.jsonl"


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


@dataclass(frozen=True)
class Damage:
    """Bytes `start:end` of segment `segment` where no readable frame is, at the place
    of offset `offset`.

    `next_offset` is the base offset of the readable frame that follows (the records
    in between are lost), None when nothing readable follows in the segment (a tail).
    `torn` marks a tail that is only the start of a frame its writer never finished;
    `claimed` is the record count of the damaged frame's header when that header is
    readable and in sequence.
    """

    segment: int
    start: int
    end: int
    offset: int
    next_offset: int | None
    reason: str
    torn: bool = False
    claimed: int | None = None


class SegmentScan(NamedTuple):
    end: int
    """End of the last readable frame."""
    next_offset: int
    max_timestamp_ms: int
    damage: list[Damage]
    """Damaged stretches with readable frames after them, in file order."""
    tail: Damage | None
    """What follows the last readable frame, if anything does."""


def scan_segment(
    fd: int,
    segment: int,
    position: int,
    offset: int,
    max_ts: int = NO_TIMESTAMP,
    next_segment: int | None = None,
    from_hint: bool = False,
) -> SegmentScan | None:
    """Every readable frame from `position` (holding `offset`) to the end of the file,
    stepping over damaged stretches to the readable frames after them.

    `next_segment`, the base offset of the following segment, bounds the offsets a frame
    found after damage may hold. From an index hint (`from_hint`) that turns out not to
    start a readable frame, return None: the caller scans from the segment start.
    """
    end = os.fstat(fd).st_size
    damage: list[Damage] = []
    start = position
    while True:
        for at, header, _ in iter_frames(fd, position, end, offset):
            position, offset = at + header.size, header.next_offset
            max_ts = max(max_ts, header.max_timestamp_ms)
        if from_hint and position == start and position < end:
            return None
        if position >= end:
            return SegmentScan(position, offset, max_ts, damage, None)
        found = find_next_frame(fd, position + HEADER_SIZE, end, offset, next_segment)
        if found is None:
            tail = _tail(fd, segment, position, end, offset)
            return SegmentScan(position, offset, max_ts, damage, tail)
        at, header = found
        damage.append(_damage(fd, segment, position, at, end, offset, header.base_offset))
        position, offset = at, header.base_offset


def find_next_frame(
    fd: int, start: int, end: int, min_offset: int, max_offset: int | None = None
) -> tuple[int, FrameHeader] | None:
    """The first readable frame at or after byte `start` whose records lie between
    `min_offset` and `max_offset`: where reading can resume after damage."""
    position = start
    while position + HEADER_SIZE <= end:
        chunk = os.pread(fd, min(READ_AHEAD_BYTES, end - position), position)
        at = chunk.find(MAGIC)
        while at >= 0:
            header = _readable_frame(fd, position + at, end)
            if (
                header is not None
                and header.base_offset >= min_offset
                and (max_offset is None or header.next_offset <= max_offset)
            ):
                return position + at, header
            at = chunk.find(MAGIC, at + 1)
        # Step back a little so a magic cut by the chunk boundary is seen whole.
        position += max(len(chunk) - len(MAGIC) + 1, 1)
    return None


def _readable_frame(fd: int, at: int, end: int) -> FrameHeader | None:
    header = parse_header(os.pread(fd, HEADER_SIZE, at))
    if header is None or at + header.size > end:
        return None
    frame = Frame.verified(os.pread(fd, header.size, at), 0)
    return None if frame is None else frame.header


def _damage(
    fd: int, segment: int, start: int, stop: int, end: int, offset: int, next_offset: int
) -> Damage:
    reason = damage_reason(_frame_bytes(fd, start, end), offset, end - start)
    return Damage(segment, start, stop, offset, next_offset, reason)


def _tail(fd: int, segment: int, start: int, end: int, offset: int) -> Damage:
    data = os.pread(fd, end - start, start)
    torn = torn_prefix(data, offset)
    if torn and not data.strip(b"\0"):
        reason = f"{len(data)} zero bytes (blocks a crash left unwritten)"
    else:
        reason = damage_reason(data, offset, len(data))
    header = parse_header(data)
    claimed = None
    if header is not None and header.base_offset == offset and not header.is_gap:
        # Each record takes at least 12 body bytes: a count beyond that is damage itself.
        room = header.body_len if torn else min(header.body_len, len(data) - HEADER_SIZE)
        if 12 * header.record_count <= room:
            claimed = header.record_count
    return Damage(segment, start, end, offset, None, reason, torn, claimed)


def _frame_bytes(fd: int, start: int, end: int) -> bytes:
    """The frame at `start` as far as the file holds it (just the header when its
    length runs past the file)."""
    header = parse_header(os.pread(fd, HEADER_SIZE, start))
    size = HEADER_SIZE if header is None or start + header.size > end else header.size
    return os.pread(fd, size, start)


def corruption(directory: Path, damage: Damage) -> CorruptSegmentError:
    """The error that tells an operator where this partition's damage is."""
    return CorruptSegmentError(
        directory.parent.name,
        int(directory.name),
        damage.offset,
        str(log_path(directory, damage.segment)),
        damage.start,
        damage.reason,
    )


def record_damage(directory: Path, damage: Damage, action: str, lost: int | None) -> str | None:
    """Keep the damaged bytes in `corrupt/` and add a journal line saying what was done
    with them (`action`) and how many records were `lost` (None: unknown). Both are
    synced before the caller changes the log: they are the only trace left. Returns the
    saved file's path relative to the partition directory (None: no bytes to keep)."""
    folder = directory / CORRUPT_DIR
    folder.mkdir(exist_ok=True)
    name = f"{damage.segment:020d}-{damage.start}-{damage.end}.bin"
    kept = f"{CORRUPT_DIR}/{name}" if damage.end > damage.start else None
    saved = folder / name
    # A repair run again after a crash must keep the bytes of the first run.
    if kept is not None and not saved.exists():
        fd = os.open(log_path(directory, damage.segment), os.O_RDONLY)
        try:
            data = os.pread(fd, damage.end - damage.start, damage.start)
        finally:
            os.close(fd)
        partial = saved.with_suffix(".tmp")
        with open(partial, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        partial.rename(saved)
    entry = {
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "action": action,
        "file": log_path(directory, damage.segment).name,
        **asdict(damage),
        "lost": lost,
        "saved": kept,
    }
    with open(folder / JOURNAL_FILE, "ab") as handle:
        handle.write(json.dumps(entry).encode() + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    fsync_dir(folder)
    return kept


def read_journal(directory: Path) -> list[dict[str, Any]]:
    """Every journal line of a partition: what was cut or skipped, oldest first."""
    try:
        lines = (directory / CORRUPT_DIR / JOURNAL_FILE).read_bytes().splitlines()
    except FileNotFoundError:
        return []
    entries = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue  # a line a crash cut short
    return entries


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
