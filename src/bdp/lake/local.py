"""The lake on a local file system (the embedded default)."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from bdp.lake import LAKES
from bdp.lake.base import FileInfo, Lake

__all__ = ["LocalLake"]

TEMP_PREFIX = "."
"""Unfinished files and staging directories start with a dot and are never listed."""


class LocalLake(Lake):
    capabilities = LAKES.capabilities("file")

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).absolute()
        self.root.mkdir(parents=True, exist_ok=True)
        self.url = str(self.root)

    def _abs(self, path: str) -> Path:
        return self.root / path.strip("/")

    def publish(self, path: str, data: bytes) -> None:
        target = self._abs(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f"{TEMP_PREFIX}{target.name}.{uuid.uuid4().hex}.tmp")
        with open(temp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
        _fsync_dir(target.parent)

    def read(self, path: str) -> bytes:
        return self._abs(path).read_bytes()

    def exists(self, path: str) -> bool:
        return self._abs(path).exists()

    def list_files(self, prefix: str) -> list[FileInfo]:
        base = self._abs(prefix)
        if not base.exists():
            return []
        found = []
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if not d.startswith(TEMP_PREFIX)]
            for name in filenames:
                if name.startswith(TEMP_PREFIX):
                    continue
                full = Path(dirpath) / name
                stat = full.stat()
                found.append(
                    FileInfo(full.relative_to(self.root).as_posix(), stat.st_size, stat.st_mtime_ns)
                )
        return sorted(found, key=lambda info: info.path)

    def list_dirs(self, prefix: str) -> list[str]:
        base = self._abs(prefix)
        if not base.is_dir():
            return []
        return sorted(
            entry.name
            for entry in base.iterdir()
            if entry.is_dir() and not entry.name.startswith(TEMP_PREFIX)
        )

    def delete(self, path: str) -> None:
        target = self._abs(path)
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()

    def staging_dir(self, purpose: str) -> str:
        relative = f"_staging/{TEMP_PREFIX}{purpose}-{uuid.uuid4().hex}"
        self._abs(relative).mkdir(parents=True)
        return relative

    def replace_dir(self, staged: str, path: str) -> None:
        source, target = self._abs(staged), self._abs(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        for dirpath, _, filenames in os.walk(source):
            for name in filenames:
                with open(Path(dirpath) / name, "rb") as handle:
                    os.fsync(handle.fileno())
        # Two renames: a reader sees the old partition or the new one, never a mix. A
        # crash between them leaves the day absent until it is re-run, and the retired
        # copy behind, which the next replace of the same directory clears away.
        for leftover in target.parent.glob(f"{TEMP_PREFIX}{target.name}.*.old"):
            shutil.rmtree(leftover, ignore_errors=True)
        retired = target.with_name(f"{TEMP_PREFIX}{target.name}.{uuid.uuid4().hex}.old")
        if target.exists():
            os.replace(target, retired)
        os.replace(source, target)
        _fsync_dir(target.parent)
        if retired.exists():
            shutil.rmtree(retired)

    def uri(self, path: str) -> str:
        return str(self._abs(path))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
