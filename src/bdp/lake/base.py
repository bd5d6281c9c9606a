"""The lake interface: a file tree with atomic publication.

Paths are relative to the lake root and always use `/`. The zones are
`raw/<dataset>/dt=YYYY-MM-DD/`, `quarantine/<dataset>/dt=…/`, `curated/<table>/dt=…/`
and `_checkpoints/<job>/`. A reader never sees a half-written file: `publish` writes a
temporary file, makes it durable, then renames it into place; `replace_dir` swaps a
whole directory (a curated partition) in one step.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

__all__ = ["FileInfo", "Lake", "LakeCapabilities", "partition_dir"]


@dataclass(frozen=True)
class LakeCapabilities:
    local_paths: bool
    """Files have local paths an embedded engine can open directly."""


@dataclass(frozen=True)
class FileInfo:
    path: str
    size: int
    mtime_ns: int


def partition_dir(zone: str, name: str, dt: str) -> str:
    return f"{zone}/{name}/dt={dt}"


class Lake(abc.ABC):
    capabilities: LakeCapabilities
    url: str

    @abc.abstractmethod
    def publish(self, path: str, data: bytes) -> None:
        """Atomically create or replace the file at `path` with `data`, durably."""

    @abc.abstractmethod
    def read(self, path: str) -> bytes: ...

    @abc.abstractmethod
    def exists(self, path: str) -> bool: ...

    @abc.abstractmethod
    def list_files(self, prefix: str) -> list[FileInfo]:
        """Every published file under `prefix`, recursively, sorted by path.

        Temporary files of unfinished writes are never listed.
        """

    @abc.abstractmethod
    def list_dirs(self, prefix: str) -> list[str]:
        """Names of the directories directly under `prefix`, sorted."""

    @abc.abstractmethod
    def delete(self, path: str) -> None:
        """Remove a file or a directory tree; no error if it is absent."""

    @abc.abstractmethod
    def staging_dir(self, purpose: str) -> str:
        """A fresh, empty directory inside the lake for an engine to write into."""

    @abc.abstractmethod
    def replace_dir(self, staged: str, path: str) -> None:
        """Make the staged directory the content of `path`, replacing what was there."""

    @abc.abstractmethod
    def uri(self, path: str) -> str:
        """A location engines understand: a local path, or a URL such as hdfs://…"""

    def partitions(self, zone: str, name: str) -> list[str]:
        """The `dt` values present for a dataset or table, sorted."""
        prefix = f"{zone}/{name}"
        return [d.removeprefix("dt=") for d in self.list_dirs(prefix) if d.startswith("dt=")]
