"""What is where: topics and lag, lake partitions with row counts, last ETL runs.

Shared by `bdp status` and the demo's reconciliation, so both count the same way:
rows are counted from the landed files themselves, not from the job's own tally.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from bdp.bus import Bus
from bdp.errors import CorruptSegmentError
from bdp.lake import Lake
from bdp.stream import GROUP
from bdp.stream.files import count_lines

__all__ = ["TopicStatus", "topic_status", "zone_rows"]


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


def zone_rows(lake: Lake, zone: str, name: str) -> dict[str, int]:
    """Rows per `dt` partition of one dataset in the raw or quarantine zone."""
    rows: dict[str, int] = defaultdict(int)
    for info in lake.list_files(f"{zone}/{name}"):
        parts = info.path.split("/")
        day = next((p.removeprefix("dt=") for p in parts if p.startswith("dt=")), None)
        if day is not None:
            rows[day] += count_lines(lake.read(info.path), info.path)
    return dict(sorted(rows.items()))
