"""Reading whole lines from an open file, from a byte offset, in bounded memory.

A line is read only once its newline is written, since a writer may be halfway through
it; the exception is a file being let go after rotation (`at_end`), whose unfinished
last line is all there will ever be. A line longer than the limit is not held whole:
its first `max_line_bytes + 1` bytes are kept — enough for the stream job to see that
it is oversize and quarantine it — and the rest is skipped up to its newline, so one
runaway line (or a binary file matched by mistake) cannot exhaust memory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["Line", "LineChunk", "offset_after_last_line", "read_lines"]

READ_BYTES = 1 << 20


@dataclass(frozen=True)
class Line:
    offset: int
    """Where the line starts in the file: its id, with the file's identity."""
    data: bytes
    """Without the newline and a trailing `\\r`; only the head of an oversize line."""
    length: int
    """The whole line's length, newline excluded."""


@dataclass(frozen=True)
class LineChunk:
    lines: list[Line]
    next_offset: int
    """Where the next unread line starts."""
    at_eof: bool
    """Everything complete up to the end of the file was read (not stopped by count)."""


def read_lines(
    fd: int, offset: int, max_lines: int, max_line_bytes: int, at_end: bool = False
) -> LineChunk:
    """Up to `max_lines` complete lines from `offset`; empty lines are passed over."""
    lines: list[Line] = []
    position = offset
    buffer = bytearray()
    buffer_at = offset  # file offset of buffer[0]
    while len(lines) < max_lines:
        newline = buffer.find(b"\n", position - buffer_at)
        if newline >= 0:
            _take(lines, position, bytes(buffer[position - buffer_at : newline]), max_line_bytes)
            position = buffer_at + newline + 1
            continue
        del buffer[: position - buffer_at]
        buffer_at = position
        if len(buffer) > max_line_bytes:
            end = _next_newline(fd, buffer_at + len(buffer))
            if end is None and not at_end:
                return LineChunk(lines, position, True)  # an oversize line still being written
            stop = end if end is not None else _file_size(fd)
            lines.append(Line(position, bytes(buffer[: max_line_bytes + 1]), stop - position))
            position = stop + 1 if end is not None else stop
            buffer.clear()
            buffer_at = position
            continue
        data = os.pread(fd, READ_BYTES, buffer_at + len(buffer))
        if not data:
            if at_end and buffer:
                _take(lines, position, bytes(buffer), max_line_bytes)
                position += len(buffer)
            return LineChunk(lines, position, True)
        buffer += data
    return LineChunk(lines, position, False)


def offset_after_last_line(fd: int, size: int) -> int:
    """Where a line that starts after the file's last complete line begins: reading from
    the end starts there, so a line being written when bdp arrived is read whole."""
    end = size
    while end > 0:
        start = max(0, end - READ_BYTES)
        newline = os.pread(fd, end - start, start).rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        end = start
    return 0


def _take(lines: list[Line], offset: int, line: bytes, max_line_bytes: int) -> None:
    if line.endswith(b"\r"):
        line = line[:-1]
    if not line:
        return
    lines.append(Line(offset, line[: max_line_bytes + 1], len(line)))


def _next_newline(fd: int, start: int) -> int | None:
    while data := os.pread(fd, READ_BYTES, start):
        found = data.find(b"\n")
        if found >= 0:
            return start + found
        start += len(data)
    return None


def _file_size(fd: int) -> int:
    return os.fstat(fd).st_size
