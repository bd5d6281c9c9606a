"""The stream job's progress per bus partition, kept in the lake beside the data.

The checkpoint, not the bus's committed offset, is the source of truth: it is written
in the same store as the files, so the two cannot disagree after a crash. Before a
batch is landed its offset range is recorded as pending; after its files are
published the next offset replaces it. A job that finds a pending range re-lands
exactly that range, which rewrites the same file names with the same content.

Each checkpoint also carries the partition's watermark: how far in event time what
landed from it reaches, which says when a day is complete
(`bdp.orchestrate.completeness`). Files written before watermarks were kept have no
`watermark_ms` and read as having none yet.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from bdp.lake import Lake

__all__ = ["Checkpoint", "CheckpointStore"]


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
        self.prefix = f"_checkpoints/{job}"

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
