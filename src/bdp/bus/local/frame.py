"""Batch frames: the unit the embedded bus writes, checksums and reads back.

A frame holds one producer batch for one partition. Every field is little-endian:

    header, 40 bytes
        magic        4s   b"BDPF"
        crc32        u32  over the whole body, then header bytes 8..40
        body_len     u32
        flags        u32  bit 0: the body carries keys
        base_offset  i64  offset of the first record
        count        u32  records in the frame
        reserved     u32
        max_ts       i64  largest timestamp in the frame (time seek, age retention)
    body
        timestamps   i64[count]
        value_ends   u32[count]  end of each value within the value bytes
        key_lens     i32[count]  only with keys; -1 for a null key
        key bytes                only with keys
        value bytes

The length and checksum let a reader tell a complete frame from one a crashed (or still
running) writer left half-written; the layout lets it decode a batch with
`numpy.frombuffer` and slicing, with no per-record parsing.
"""

from __future__ import annotations

import struct
import zlib
from typing import NamedTuple

import numpy as np

from bdp.bus.local.records import Records

__all__ = [
    "HEADER_SIZE",
    "MAGIC",
    "MAX_BODY_BYTES",
    "NO_TIMESTAMP",
    "EncodedBody",
    "Frame",
    "FrameHeader",
    "encode_body",
    "parse_header",
]

MAGIC = b"BDPF"
_HEADER = struct.Struct("<4sIIIqIIq")
HEADER_SIZE = _HEADER.size
FLAG_KEYS = 1
MAX_BODY_BYTES = (1 << 32) - 1
NO_TIMESTAMP = -(1 << 63)
"""Running-maximum value before any record."""


class FrameHeader(NamedTuple):
    crc: int
    body_len: int
    flags: int
    base_offset: int
    count: int
    max_timestamp_ms: int

    @property
    def size(self) -> int:
        return HEADER_SIZE + self.body_len

    @property
    def next_offset(self) -> int:
        return self.base_offset + self.count


def parse_header(data: bytes | memoryview, at: int = 0) -> FrameHeader | None:
    """The header at `at`, or None when the bytes there cannot start a frame."""
    if len(data) - at < HEADER_SIZE:
        return None
    magic, crc, body_len, flags, base, count, _, max_ts = _HEADER.unpack_from(data, at)
    if magic != MAGIC or count == 0 or base < 0:
        return None
    return FrameHeader(crc, body_len, flags, base, count, max_ts)


class EncodedBody(NamedTuple):
    """A frame without its header: everything that does not depend on the offset."""

    parts: list[bytes | memoryview]
    length: int
    crc: int
    flags: int
    count: int
    max_timestamp_ms: int

    @property
    def frame_size(self) -> int:
        return HEADER_SIZE + self.length

    def header(self, base_offset: int) -> bytes:
        """The header for this body placed at `base_offset`; the checksum covers the body
        first so the expensive part runs before the offset is known (outside the lock)."""
        fields = bytearray(
            _HEADER.pack(
                MAGIC,
                0,
                self.length,
                self.flags,
                base_offset,
                self.count,
                0,
                self.max_timestamp_ms,
            )
        )
        struct.pack_into("<I", fields, 4, zlib.crc32(memoryview(fields)[8:], self.crc))
        return bytes(fields)


def encode_body(records: Records) -> EncodedBody:
    count = len(records)
    value_ends = np.cumsum(records.lengths, dtype=np.int64)
    if count and int(value_ends[-1]) > MAX_BODY_BYTES:
        raise ValueError(f"{int(value_ends[-1])} value bytes do not fit one frame")
    parts: list[bytes | memoryview] = [
        records.timestamps.astype("<i8", copy=False).tobytes(),
        value_ends.astype("<u4").tobytes(),
    ]
    flags = 0
    if records.keys is not None:
        flags |= FLAG_KEYS
        key_lens = np.fromiter(
            (-1 if key is None else len(key) for key in records.keys), np.int32, count
        )
        parts.append(key_lens.astype("<i4", copy=False).tobytes())
        parts.append(b"".join(key for key in records.keys if key is not None))
    parts.append(records.data)
    length = sum(len(part) for part in parts)
    if length > MAX_BODY_BYTES:
        raise ValueError(f"a frame body of {length} bytes exceeds {MAX_BODY_BYTES}")
    crc = 0
    for part in parts:
        crc = zlib.crc32(part, crc)
    return EncodedBody(parts, length, crc, flags, count, int(records.timestamps.max()))


class Frame:
    """A complete, checksum-verified frame held in a larger read buffer.

    Values come back as `bytes` slices of the buffer: one allocation per record and
    no Python-level parsing.
    """

    __slots__ = ("_buf", "_key_bounds", "_key_null", "_value_bounds", "header", "timestamps")

    def __init__(self, buf: bytes, at: int, header: FrameHeader) -> None:
        count = header.count
        body = at + HEADER_SIZE
        self._buf = buf
        self.header = header
        self.timestamps = np.frombuffer(buf, "<i8", count, body)
        cursor = body + 12 * count
        self._key_bounds: np.ndarray | None = None
        self._key_null: np.ndarray | None = None
        if header.flags & FLAG_KEYS:
            key_lens = np.frombuffer(buf, "<i4", count, cursor)
            cursor += 4 * count
            self._key_null = key_lens < 0
            self._key_bounds = _bounds(np.maximum(key_lens, 0), cursor)
            cursor = int(self._key_bounds[-1])
        value_bounds = np.empty(count + 1, np.int64)
        value_bounds[0] = 0
        value_bounds[1:] = np.frombuffer(buf, "<u4", count, body + 8 * count)
        value_bounds += cursor
        self._value_bounds = value_bounds

    @classmethod
    def verified(cls, buf: bytes, at: int) -> Frame | None:
        """The frame at `at` if it is complete and intact, else None."""
        header = parse_header(buf, at)
        if header is None or len(buf) - at < header.size:
            return None
        view = memoryview(buf)
        crc = zlib.crc32(view[at + HEADER_SIZE : at + header.size])
        if zlib.crc32(view[at + 8 : at + HEADER_SIZE], crc) != header.crc:
            return None
        if not _sections_fit(buf, at, header):
            return None
        return cls(buf, at, header)

    def values(self, start: int, stop: int) -> list[bytes]:
        return _slices(self._buf, self._value_bounds, start, stop)

    def keys(self, start: int, stop: int) -> list[bytes | None]:
        if self._key_bounds is None or self._key_null is None:
            return [None] * (stop - start)
        keys: list[bytes | None] = list(_slices(self._buf, self._key_bounds, start, stop))
        for i in np.flatnonzero(self._key_null[start:stop]).tolist():
            keys[i] = None
        return keys


def _bounds(lengths: np.ndarray, at: int) -> np.ndarray:
    """Absolute start of each item plus the end of the last: count + 1 positions."""
    bounds = np.empty(len(lengths) + 1, np.int64)
    bounds[0] = at
    np.cumsum(lengths, out=bounds[1:])
    bounds[1:] += at
    return bounds


def _slices(buf: bytes, bounds: np.ndarray, start: int, stop: int) -> list[bytes]:
    # map/slice runs in C: the cheapest way to cut many bytes objects out of one buffer.
    starts = bounds[start:stop].tolist()
    ends = bounds[start + 1 : stop + 1].tolist()
    return list(map(buf.__getitem__, map(slice, starts, ends)))


def _sections_fit(buf: bytes, at: int, header: FrameHeader) -> bool:
    """The section sizes add up to the body length, so no slice can leave the frame."""
    count = header.count
    fixed = (16 if header.flags & FLAG_KEYS else 12) * count
    if fixed > header.body_len:
        return False
    body = at + HEADER_SIZE
    key_bytes = 0
    if header.flags & FLAG_KEYS:
        key_bytes = int(np.maximum(np.frombuffer(buf, "<i4", count, body + 12 * count), 0).sum())
    value_ends = np.frombuffer(buf, "<u4", count, body + 8 * count)
    if count > 1 and bool((np.diff(value_ends.astype(np.int64)) < 0).any()):
        return False
    return fixed + key_bytes + int(value_ends[-1]) == header.body_len
