"""Where each tailed file was read up to, kept across restarts.

One JSON file per source, `<home>/collect/tail/<source-hash>.json`, replaced atomically
(`bdp.localfs.atomic_write`) and only after the records up to each position are durable
on the bus, so a restart never skips a line. A crash between the bus flush and the
save makes a restart send those lines again; they carry the same ids (`line_id`), so
the stream job lands them once.

A file is known by its device and inode, not its path, so a rename by log rotation
keeps its position. Its `epoch` (microseconds since 1970 when it was first seen, or
seen truncated) is part of every line id: a truncated file, or a new file that got the
inode of a deleted one, starts again at offset 0 and must not reuse ids of lines
already landed. An epoch is saved before any line that carries it is sent.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from bdp.config import Settings, TailSourceSettings
from bdp.errors import BdpError
from bdp.localfs import atomic_write

__all__ = ["FilePosition", "PositionStore", "line_id", "positions_path"]

FORMAT_VERSION = 1


@dataclass
class FilePosition:
    dev: int
    ino: int
    epoch: int
    offset: int
    """Byte offset of the first line not yet durable on the bus."""
    path: str
    """Where it was last seen, for people reading the file."""

    @property
    def identity(self) -> tuple[int, int]:
        return (self.dev, self.ino)


def line_id(position: FilePosition, offset: int) -> bytes:
    """The idempotency id of the line that starts at `offset` of this file."""
    return f"t:{position.dev}:{position.ino}:{position.epoch}:{offset}".encode()


def positions_path(settings: Settings, source: TailSourceSettings) -> Path:
    """The source's positions file: named by its dataset and globs, so two sources
    never share one, and changing either starts the source afresh."""
    described = json.dumps({"dataset": source.dataset, "paths": sorted(source.paths)})
    digest = hashlib.sha256(described.encode()).hexdigest()[:16]
    return settings.paths.home / "collect" / "tail" / f"{digest}.json"


class PositionStore:
    """Reads and replaces one source's positions file."""

    def __init__(self, path: Path, source: TailSourceSettings) -> None:
        self.path = path
        self.source = source

    def load(self) -> dict[tuple[int, int], FilePosition] | None:
        """The saved positions by file identity; None when the source never ran."""
        try:
            text = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise BdpError(
                f"cannot read the tail positions {self.path}: {exc.strerror or exc}"
            ) from None
        try:
            saved = json.loads(text)
            positions = [FilePosition(**entry) for entry in saved["files"]]
        except (ValueError, TypeError, KeyError) as exc:
            raise BdpError(
                f"tail positions {self.path} are unreadable ({exc}); remove the file to "
                f"read the files of {self.source.paths} afresh (by `start_at`)"
            ) from None
        return {position.identity: position for position in positions}

    def save(self, positions: list[FilePosition]) -> None:
        document = {
            "version": FORMAT_VERSION,
            "dataset": self.source.dataset,
            "paths": self.source.paths,
            "files": [asdict(position) for position in positions],
        }
        os.makedirs(self.path.parent, exist_ok=True)
        atomic_write(self.path, json.dumps(document, indent=1).encode() + b"\n")
