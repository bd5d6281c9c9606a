"""Landing small batches by hand, through the stream job's own `Lander`: real file names,
manifests and checkpoints, without a bus."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bdp.bus import RecordBatch
from bdp.config import Settings, load_settings
from bdp.datasets import get_dataset
from bdp.lake import Lake, open_lake
from bdp.lake.local import LocalLake
from bdp.lake.rawfiles import RAW_SUFFIXES, decode_lines
from bdp.stream.checkpoint import Checkpoint, CheckpointStore, landing_progress
from bdp.stream.landing import Lander

DATASET = "weblogs"
JOB = "stream"
WEB = (
    '{"ip":"10.0.0.%d","datetime":"%sT%02d:00:00.000Z","method":"GET","url":"/p%d",'
    '"responseCode":200,"responseTime":%d,"sessionID":"s%d"}'
)


def web(offset: int, day: str) -> bytes:
    return (WEB % (offset % 250, day, offset % 24, offset, offset, offset % 7)).encode()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(home=tmp_path / "home", environ={"BDP_BUS__PARTITIONS": "2"}, cwd=tmp_path)


@pytest.fixture
def lake(settings: Settings) -> Lake:
    return open_lake(settings)


class Landing:
    """Lands batches of weblogs records into a lake as the stream job would."""

    def __init__(self, settings: Settings, lake: Lake) -> None:
        self.settings, self.lake = settings, lake
        self.lander = Lander(settings, lake, JOB)
        self.dataset = get_dataset(DATASET)
        self.next = {0: 0, 1: 0}

    def batch(self, partition: int, days: dict[str, int], bad: int = 0) -> RecordBatch:
        """The next batch of `partition`: `days` maps a day to its number of records,
        then `bad` records the stream job quarantines."""
        first = self.next[partition]
        values = [
            web(first + i, day)
            for i, day in enumerate(day for day, n in days.items() for _ in range(n))
        ]
        values += [b"{broken %d" % i for i in range(bad)]
        offsets = np.arange(first, first + len(values), dtype=np.int64)
        self.next[partition] = first + len(values)
        # Rejected records are filed by arrival date: the bus timestamp, on the first day.
        stamp = np.datetime64(next(iter(days)), "ms").astype(np.int64)
        stamps = np.full(len(values), stamp, dtype=np.int64)
        return RecordBatch(DATASET, partition, offsets, stamps, values)

    def land(self, partition: int, days: dict[str, int], bad: int = 0) -> RecordBatch:
        batch = self.batch(partition, days, bad)
        self.lander.land(self.dataset, batch)
        return batch

    def replay(self, partition: int, first: int, days: dict[str, int]) -> None:
        """Land the batch from `first` again (a replayed micro-batch), then go on where
        the partition was."""
        going_on = self.next[partition]
        self.next[partition] = first
        self.land(partition, days)
        self.next[partition] = going_on
        CheckpointStore(self.lake, JOB).save(DATASET, partition, Checkpoint(going_on))

    def pending(self, batch: RecordBatch) -> None:
        """Leave `batch` as a crash mid-landing leaves it: its range pending."""
        store = CheckpointStore(self.lake, JOB)
        store.save(
            DATASET,
            batch.partition,
            Checkpoint(batch.first_offset, (batch.first_offset, batch.last_offset)),
        )

    def landed(self):  # type: ignore[no-untyped-def]
        """The stream jobs' progress on the dataset's topic, as maintenance reads it."""
        return landing_progress(self.lake)[DATASET].landed


@pytest.fixture
def landing(settings: Settings, lake: Lake) -> Landing:
    return Landing(settings, lake)


def record_files(lake: Lake, zone: str = "raw", day: str | None = None) -> list[str]:
    prefix = f"{zone}/{DATASET}" + (f"/dt={day}" if day else "")
    return [f.path for f in lake.list_files(prefix) if f.path.endswith(RAW_SUFFIXES)]


def lines_of(lake: Lake, paths: list[str]) -> list[bytes]:
    return [line for path in paths for line in decode_lines(lake.read(path), path)]


class Crash(Exception):
    """Stands for the process being killed."""


class CrashingLake(LocalLake):
    """A local lake that dies before its `at`-th change (a publish or a delete)."""

    def __init__(self, root: str | Path, at: int) -> None:
        super().__init__(root)
        self.at, self.changes = at, 0

    def _change(self) -> None:
        self.changes += 1
        if self.changes == self.at:
            raise Crash(f"killed before change {self.at}")

    def publish(self, path: str, data: bytes) -> None:
        self._change()
        super().publish(path, data)

    def delete(self, path: str) -> None:
        self._change()
        super().delete(path)
