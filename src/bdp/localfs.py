"""Durable writes on the local file system, shared by every component that keeps files.

A file that must survive a crash whole is written to a temporary name beside it,
flushed to disk, renamed over the target, and its directory is flushed too, so that
the rename itself is durable: a reader or a restart sees the old content or the new,
never a mix. The local lake, the embedded bus and the report writer all rely on it.

Temporary files are named `.<name>.<unique>.tmp` in the target's directory: hidden
from listings that skip dot files, and recognisable by whoever clears leftovers of a
writer that died.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

__all__ = ["atomic_write", "fsync_dir", "fsync_file", "temp_name"]


def fsync_dir(directory: Path) -> None:
    """Make the entries of `directory` (creations, renames, removals) durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    """Make the content of a file written earlier durable."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def temp_name(target: Path) -> Path:
    """A fresh temporary path beside `target`, for a write that will replace it."""
    return target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")


def atomic_write(target: Path, data: bytes) -> None:
    """Create or replace `target` with `data`, atomically and durably.

    The parent directory must exist. On failure the temporary file is removed and
    `target` is left as it was.
    """
    temp = temp_name(target)
    try:
        with open(temp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)
