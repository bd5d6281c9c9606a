"""The embedded bus: a durable, multi-process-safe log on the local disk.

Layout under the root:

    <topic>/topic.json                    partition count, retention overrides
    <topic>/<partition>/<base>.log        segments of checksummed batch frames
    <topic>/<partition>/<base>.index      sparse offset / time index of each segment
    <topic>/<partition>/.lock             flock serialising appenders of the partition
    .groups/<group>@<topic>.json          committed offsets

Producing to a topic that does not exist creates it with the default partition count
(like Kafka's `auto.create.topics.enable`); consuming from or asking about one that
does not exist raises `NotFoundError`.

Retention drops whole closed segments, oldest first: those whose newest timestamp is
older than `retention_hours`, then as many as needed to bring the partition within
`retention_bytes`. The active segment is never removed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from bdp.bus import BUSES
from bdp.bus.base import Bus, Consumer, Producer, StartFrom
from bdp.bus.local.appender import PartitionLock, fsync_dir
from bdp.bus.local.consumer import LocalConsumer
from bdp.bus.local.groups import OffsetStore
from bdp.bus.local.producer import LocalProducer
from bdp.bus.local.reader import PartitionReader
from bdp.bus.local.segment import INDEX_SUFFIX, list_segments, log_path
from bdp.bus.local.topics import (
    TOPIC_FILE,
    TopicConfig,
    create_topic_dir,
    delete_topic_dir,
    load_topic,
)
from bdp.config import BusSettings
from bdp.errors import NotFoundError

__all__ = ["LocalBus"]


class LocalBus(Bus):
    name = "local"
    capabilities = BUSES.capabilities(name)

    def __init__(self, root: str | Path, settings: BusSettings | None = None) -> None:
        self.root = Path(root).absolute()
        self.root.mkdir(parents=True, exist_ok=True)
        self.settings = settings or BusSettings()
        self._store = OffsetStore(self.root)
        self._configs: dict[str, TopicConfig] = {}

    # -- topics ----------------------------------------------------------------------

    def _create_topic(
        self,
        topic: str,
        partitions: int | None,
        retention_hours: float | None,
        retention_bytes: int | None,
    ) -> bool:
        config = TopicConfig(
            partitions or self.settings.partitions, retention_hours, retention_bytes
        )
        return create_topic_dir(self.root, topic, config)

    def delete_topic(self, topic: str) -> None:
        delete_topic_dir(self.root, topic)
        self._configs.pop(topic, None)
        self._store.forget_topic(topic)

    def topics(self) -> list[str]:
        return sorted(
            entry.name
            for entry in self.root.iterdir()
            if not entry.name.startswith(".") and (entry / TOPIC_FILE).is_file()
        )

    def partitions(self, topic: str) -> int:
        return self._config(topic).partitions

    def begin_offsets(self, topic: str) -> dict[int, int]:
        return {p: self._reader(topic, p).begin_offset() for p in range(self.partitions(topic))}

    def end_offsets(self, topic: str) -> dict[int, int]:
        return {p: self._reader(topic, p).end_offset() for p in range(self.partitions(topic))}

    # -- groups ----------------------------------------------------------------------

    def committed(self, group: str, topic: str) -> dict[int, int | None]:
        count = self.partitions(topic)
        stored = self._store.committed(group, topic)
        return {p: stored.get(p) for p in range(count)}

    def groups(self) -> list[str]:
        return self._store.groups()

    # -- clients ---------------------------------------------------------------------

    def producer(self) -> Producer:
        return LocalProducer(
            self.root,
            self._config_or_create,
            self.settings.local.segment_bytes,
            self.settings.local.fsync,
            self.settings.local.fsync_interval_ms,
        )

    def _consumer(
        self,
        group: str,
        topic: str,
        count: int,
        chosen: list[int],
        start: StartFrom,
        with_keys: bool,
    ) -> Consumer:
        return LocalConsumer(self.root, self._store, group, topic, count, chosen, start, with_keys)

    # -- retention -------------------------------------------------------------------

    def apply_retention(self, now_ms: int | None = None) -> int:
        now_ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        removed = 0
        for topic in self.topics():
            try:
                config = self._config(topic)
            except NotFoundError:
                continue  # deleted meanwhile
            hours = config.retention_hours or self.settings.retention_hours
            limit = (
                self.settings.retention_bytes
                if config.retention_bytes is None
                else config.retention_bytes
            )
            oldest_kept_ms = now_ms - int(hours * 3_600_000)
            for p in range(config.partitions):
                try:
                    removed += _retain(self.root / topic / str(p), oldest_kept_ms, limit)
                except FileNotFoundError:
                    break  # the topic was deleted meanwhile
        return removed

    # -- internals -------------------------------------------------------------------

    def _config(self, topic: str) -> TopicConfig:
        config = self._configs.get(topic)
        if config is None:
            config = self._configs[topic] = load_topic(self.root, topic)
        return config

    def _config_or_create(self, topic: str) -> TopicConfig:
        try:
            return self._config(topic)
        except NotFoundError:
            self.create_topic(topic)
            return self._config(topic)

    def _reader(self, topic: str, partition: int) -> PartitionReader:
        return PartitionReader(self.root / topic / str(partition))


def _retain(directory: Path, oldest_kept_ms: int, limit_bytes: int) -> int:
    """Delete the partition's closed segments past the limits; return records removed."""
    lock = PartitionLock(directory)
    try:
        with lock:
            bases = list_segments(directory)
            reader = PartitionReader(directory)
            sizes = [log_path(directory, base).stat().st_size for base in bases]
            total = sum(sizes)
            doomed = 0
            for base, size in zip(bases[:-1], sizes, strict=False):
                too_old = reader.segment_max_ts(base, last=False) < oldest_kept_ms
                too_big = limit_bytes >= 0 and total > limit_bytes
                if not (too_old or too_big):
                    break
                doomed += 1
                total -= size
            for base in bases[:doomed]:
                # The log goes first: a segment is listed by its log, the index is a hint.
                log_path(directory, base).unlink()
                log_path(directory, base).with_suffix(INDEX_SUFFIX).unlink(missing_ok=True)
            _remove_orphan_indexes(directory, set(bases[doomed:]))
            if doomed:
                fsync_dir(directory)
                return bases[doomed] - bases[0]
            return 0
    finally:
        lock.close()


def _remove_orphan_indexes(directory: Path, live: set[int]) -> None:
    """Indexes whose log is gone (a crash between the two unlinks)."""
    for name in os.listdir(directory):
        stem = name.removesuffix(INDEX_SUFFIX)
        if stem != name and stem.isdigit() and int(stem) not in live:
            (directory / name).unlink(missing_ok=True)
