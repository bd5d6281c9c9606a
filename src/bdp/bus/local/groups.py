"""Committed offsets of consumer groups, stored durably and atomically.

One small JSON file per (group, topic) under `<root>/.groups/`. A commit is a
read-modify-write under an exclusive `flock` (so consumers of one group on different
partitions, even in different processes, never drop each other's offsets), written to
a temporary file, fsynced and renamed over the old one: a crash leaves either the old
or the new offsets, never a mix.
"""

from __future__ import annotations

import fcntl
import glob
import json
import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote, unquote

from bdp.bus.local.appender import fsync_dir

__all__ = ["OffsetStore"]

GROUPS_DIR = ".groups"
_SEPARATOR = "@"
"""Never in a topic name, and percent-encoded in the group part."""


class OffsetStore:
    def __init__(self, root: Path) -> None:
        self.directory = root / GROUPS_DIR

    def _path(self, group: str, topic: str) -> Path:
        if not isinstance(group, str) or not group:
            raise ValueError(f"invalid group name {group!r}: use a non-empty string")
        encoded = quote(group, safe="")
        if encoded.startswith("."):
            encoded = "%2E" + encoded[1:]  # a leading dot marks temporary files
        return self.directory / f"{encoded}{_SEPARATOR}{topic}.json"

    def committed(self, group: str, topic: str) -> dict[int, int]:
        try:
            raw = self._path(group, topic).read_bytes()
        except FileNotFoundError:
            return {}
        return {int(p): int(o) for p, o in json.loads(raw)["offsets"].items()}

    def commit(self, group: str, topic: str, offsets: Mapping[int, int]) -> None:
        path = self._path(group, topic)
        self.directory.mkdir(parents=True, exist_ok=True)
        lock_fd = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            # Temporary files are only written under this lock: any present now were
            # left by a committer that died.
            for stale in self.directory.glob(f".{glob.escape(path.name)}.*.tmp"):
                stale.unlink(missing_ok=True)
            merged = self.committed(group, topic)
            merged.update(offsets)
            body = json.dumps(
                {"group": group, "topic": topic, "offsets": dict(sorted(merged.items()))}
            ).encode()
            temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            with open(temp, "wb") as handle:
                handle.write(body)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, path)
            fsync_dir(self.directory)
        finally:
            os.close(lock_fd)

    def groups(self) -> list[str]:
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        return sorted(
            {
                unquote(name.rsplit(_SEPARATOR, 1)[0])
                for name in names
                if name.endswith(".json") and not name.startswith(".")
            }
        )

    def forget_topic(self, topic: str) -> None:
        """Drop every group's offsets for a deleted topic."""
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return
        for name in names:
            stem = name.removesuffix(".json").removesuffix(".lock")
            if stem != name and stem.rsplit(_SEPARATOR, 1)[-1] == topic:
                (self.directory / name).unlink(missing_ok=True)
