"""What is where: topics and lag, lake partitions with row counts, last ETL runs.

Shared by `bdp status` and the demo's reconciliation, so both count the same way.
Rows come from what landing recorded for each file (`bdp.lake.manifests`), not from
the files' contents: status costs a listing and one small read per batch, however
big the files grow. Each file's size is compared with its record on the way, so a
file cut short or altered is reported; `verify=True` also decompresses every file
and counts its records. Files landed before counts were recorded are counted by
reading them. A file whose records a merged file beside it holds (a compaction not
finished yet) is not counted (`LandedFiles.current`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from bdp.bus import Bus
from bdp.errors import CorruptSegmentError
from bdp.lake import Lake
from bdp.lake.manifests import FileCheck, LandedFiles
from bdp.lake.rawfiles import RAW_SUFFIXES
from bdp.stream import GROUP

__all__ = ["ZONES", "DatasetRows", "TopicStatus", "dataset_rows", "topic_status"]

ZONES = ("raw", "quarantine")


@dataclass
class TopicStatus:
    topic: str
    partitions: int
    begin_offsets: dict[int, int] = field(default_factory=dict)
    end_offsets: dict[int, int] = field(default_factory=dict)
    lag: dict[int, int] = field(default_factory=dict)
    corrupt: dict[int, CorruptSegmentError] = field(default_factory=dict)
    """Partitions the stream job cannot read on from where it is: damaged records."""
    skipped: dict[int, int] = field(default_factory=dict)
    """Offsets per partition whose damaged records a repair skipped."""

    @property
    def records(self) -> int:
        return sum(self.end_offsets.values()) - sum(self.begin_offsets.values())

    @property
    def total_lag(self) -> int:
        return sum(self.lag.values())


def topic_status(bus: Bus, group: str = GROUP) -> list[TopicStatus]:
    found = []
    for topic in sorted(bus.topics()):
        found.append(
            TopicStatus(
                topic,
                bus.partitions(topic),
                bus.begin_offsets(topic),
                bus.end_offsets(topic),
                bus.lag(group, topic),
                bus.corrupt_partitions(group, topic),
                bus.skipped_offsets(topic),
            )
        )
    return found


@dataclass
class DatasetRows:
    """Rows per `dt` partition of one dataset in each zone, and its damaged files."""

    zones: dict[str, dict[str, int]]
    damaged: list[FileCheck]

    def total(self, zone: str) -> int:
        return sum(self.zones[zone].values())


def dataset_rows(
    lake: Lake, name: str, verify: bool = False, only: date | None = None
) -> DatasetRows:
    """Rows of every day of dataset `name`, or of day `only` (listing only its
    partitions)."""
    landed = LandedFiles(lake, name)
    zones, damaged = {}, []
    for zone in ZONES:
        rows: dict[str, int] = defaultdict(int)
        prefix = f"{zone}/{name}" if only is None else f"{zone}/{name}/dt={only.isoformat()}"
        files = [f for f in lake.list_files(prefix) if f.path.endswith(RAW_SUFFIXES)]
        for info in landed.current(files):
            parts = info.path.split("/")
            day = next((p.removeprefix("dt=") for p in parts if p.startswith("dt=")), None)
            if day is None:
                continue
            check = landed.check(info, verify)
            rows[day] += check.records
            if check.problem:
                damaged.append(check)
        zones[zone] = dict(sorted(rows.items()))
    return DatasetRows(zones, damaged)
