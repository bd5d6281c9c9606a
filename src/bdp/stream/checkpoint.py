"""The stream job's progress per bus partition, kept in the lake beside the data.

The checkpoint, not the bus's committed offset, is the source of truth: it is written
in the same store as the files, so the two cannot disagree after a crash. Before a
batch is landed its offset range is recorded as pending; after its files are
published the next offset replaces it. A job that finds a pending range re-lands
exactly that range, which rewrites the same file names with the same content.

Maintenance reads every job's checkpoints (`landing_progress`): compaction merges only
batches no job will land again, bus retention keeps every record not landed yet.

Each checkpoint also carries the partition's watermark: how far in event time what
landed from it reaches, which says when a day is complete
(`bdp.orchestrate.completeness`). Files written before watermarks were kept have no
`watermark_ms` and read as having none yet.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

import orjson

from bdp.lake import Lake

__all__ = ["CHECKPOINTS", "Checkpoint", "CheckpointStore", "LandingProgress", "landing_progress"]

CHECKPOINTS = "_checkpoints"
_PARTITION_FILE = re.compile(
    rf"^{CHECKPOINTS}/(?P<job>.+)/(?P<topic>[^/]+)/partition-(?P<p>\d+)\.json$"
)


@dataclass(frozen=True)
class Checkpoint:
    next_offset: int | None = None
    pending: tuple[int, int] | None = None
    watermark_ms: int | None = None
    """The greatest event time (milliseconds since the epoch) among the raw records
    landed from the partition so far, each taken no later than the record's bus
    timestamp (when it was sent): one record dated in the future by a wrong clock must
    not declare days complete. None: nothing valid landed since watermarks were kept."""


class CheckpointStore:
    def __init__(self, lake: Lake, job: str) -> None:
        self.lake = lake
        self.prefix = f"{CHECKPOINTS}/{job}"

    def _path(self, topic: str, partition: int) -> str:
        return f"{self.prefix}/{topic}/partition-{partition:05d}.json"

    def load(self, topic: str, partition: int) -> Checkpoint:
        path = self._path(topic, partition)
        if not self.lake.exists(path):
            return Checkpoint()
        data = orjson.loads(self.lake.read(path))
        pending = data.get("pending")
        return Checkpoint(
            data.get("next_offset"),
            tuple(pending) if pending else None,
            data.get("watermark_ms"),
        )

    def save(self, topic: str, partition: int, checkpoint: Checkpoint) -> None:
        payload = {
            "next_offset": checkpoint.next_offset,
            "pending": checkpoint.pending,
            "watermark_ms": checkpoint.watermark_ms,
        }
        self.lake.publish(self._path(topic, partition), orjson.dumps(payload))


@dataclass(frozen=True)
class LandingProgress:
    """How far the stream jobs have landed one topic, per partition, from their
    checkpoints (every job's: the embedded one's, Spark's, any other engine's)."""

    next_offsets: dict[int, int] = field(default_factory=dict)
    """Per partition, the furthest `next_offset` of any job: offsets below it landed."""
    pending: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    """Per partition, the ranges a job is landing (or will land again when it starts)."""

    def landed(self, partition: int, first: int, last: int) -> bool:
        """Whether the batch of `first`..`last` landed and no job is landing it now, so
        that no job rewrites its files (a pending range is landed again on restart)."""
        done = self.next_offsets.get(partition)
        if done is None or last >= done:
            return False
        return not any(a <= last and first <= b for a, b in self.pending.get(partition, ()))

    def keep_from(self, partition: int) -> int:
        """The first offset of `partition` that may not be landed yet: 0 when no job has
        landed any of it."""
        starts = [a for a, _ in self.pending.get(partition, ())]
        return min([self.next_offsets.get(partition, 0), *starts])


def landing_progress(lake: Lake) -> dict[str, LandingProgress]:
    """Every topic's `LandingProgress`, from one listing of the checkpoints."""
    next_offsets: dict[str, dict[int, int]] = defaultdict(dict)
    pending: dict[str, dict[int, list[tuple[int, int]]]] = defaultdict(lambda: defaultdict(list))
    for info in lake.list_files(CHECKPOINTS):
        found = _PARTITION_FILE.match(info.path)
        if found is None:
            continue  # an engine's own files (Spark's offsets and commits)
        topic, partition = found["topic"], int(found["p"])
        checkpoint = CheckpointStore(lake, found["job"]).load(topic, partition)
        if checkpoint.next_offset is not None:
            best = next_offsets[topic].get(partition, checkpoint.next_offset)
            next_offsets[topic][partition] = max(best, checkpoint.next_offset)
        if checkpoint.pending is not None:
            pending[topic][partition].append(checkpoint.pending)
    return {
        topic: LandingProgress(dict(next_offsets.get(topic, {})), dict(pending.get(topic, {})))
        for topic in sorted(set(next_offsets) | set(pending))
    }
