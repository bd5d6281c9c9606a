"""Fixtures shared by the unit tests of several packages."""

from __future__ import annotations

from pathlib import Path

import pytest

from bdp.lake.local import LocalLake


class RecordingLake(LocalLake):
    """A local lake that remembers which paths were read and published, in order."""

    def __init__(self, root: str | Path) -> None:
        super().__init__(root)
        self.reads: list[str] = []
        self.published: list[str] = []

    def read(self, path: str) -> bytes:
        self.reads.append(path)
        return super().read(path)

    def publish(self, path: str, data: bytes) -> None:
        self.published.append(path)
        super().publish(path, data)


@pytest.fixture
def recording_lake(tmp_path: Path) -> RecordingLake:
    return RecordingLake(tmp_path / "recorded-lake")
