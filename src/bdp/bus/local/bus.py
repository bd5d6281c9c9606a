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

    <topic>/<partition>/corrupt/          damaged bytes cut or skipped, and their journal

Retention drops whole closed segments, oldest first: those whose newest timestamp is
older than `retention_hours`, then as many as needed to bring the partition within
`retention_bytes`. The active segment is never removed, nor a segment holding an offset
the caller asks to keep (records the stream job has not landed yet): retention stops
there and says how many segments it held back.

`repair` is the operator's way past damage that readers report: each damaged stretch
is kept under `corrupt/`, journalled, and overwritten in place by a gap frame holding
the offsets of the records lost there, so readers step over them and every offset
after the damage stays what it was. A torn tail is cut, as the next append would.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bdp.bus import BUSES
from bdp.bus.base import Bus, Consumer, Producer, RetentionOutcome, StartFrom
from bdp.bus.local.appender import PartitionLock
from bdp.bus.local.consumer import LocalConsumer
from bdp.bus.local.frame import HEADER_SIZE, gap_frame
from bdp.bus.local.groups import OffsetStore
from bdp.bus.local.producer import LocalProducer
from bdp.bus.local.reader import PartitionReader
from bdp.bus.local.segment import (
    INDEX_SUFFIX,
    Damage,
    list_segments,
    log_path,
    read_journal,
    record_damage,
    scan_segment,
)
from bdp.bus.local.topics import (
    TOPIC_FILE,
    TopicConfig,
    create_topic_dir,
    delete_topic_dir,
    load_topic,
)
from bdp.config import BusSettings
from bdp.errors import CorruptSegmentError, NotFoundError
from bdp.localfs import fsync_dir

__all__ = ["LocalBus", "Repair"]


@dataclass(frozen=True)
class Repair:
    """One damaged stretch of a partition and what `repair` did (or would do) with it."""

    topic: str
    partition: int
    segment: str
    """The segment's file name."""
    start: int
    end: int
    """Byte range of the damage in the segment."""
    offset: int
    """First offset the damage holds."""
    skipped: int
    """Offsets marked lost: records no consumer will see (0 when none were there)."""
    action: str
    """"skipped" (a gap frame now stands there), "cut torn tail" or "dropped" (bytes
    that held no records, cut off)."""
    reason: str
    saved: str | None
    """Where the damaged bytes are kept (None on a dry run or when there were none)."""


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

    # -- damage ----------------------------------------------------------------------

    def corrupt_partitions(self, group: str, topic: str) -> dict[int, CorruptSegmentError]:
        """Partitions the group cannot read on from its committed offset (or the begin)."""
        committed = self._store.committed(group, topic)
        found = {}
        for p in range(self.partitions(topic)):
            reader = self._reader(topic, p)
            try:
                reader.read(committed.get(p, reader.begin_offset()), 1)
            except CorruptSegmentError as exc:
                found[p] = exc
            finally:
                reader.close()
        return found

    def skipped_offsets(self, topic: str) -> dict[int, int]:
        """Offsets per partition that repairs marked as lost."""
        counts = {}
        for p in range(self.partitions(topic)):
            entries = read_journal(self.root / topic / str(p))
            skipped = sum(e["lost"] or 0 for e in entries if e["action"] == "skipped")
            if skipped:
                counts[p] = skipped
        return counts

    def repair(
        self, topic: str, partitions: list[int] | None = None, dry_run: bool = False
    ) -> list[Repair]:
        """Step every damaged stretch of the partitions (all by default): keep its bytes
        and a journal line under `corrupt/`, then put a gap frame in its place holding
        the offsets of the records lost there. Changes nothing with `dry_run`."""
        count = self.partitions(topic)
        chosen = list(range(count)) if partitions is None else list(dict.fromkeys(partitions))
        bad = [p for p in chosen if not 0 <= p < count]
        if bad:
            raise NotFoundError(f"topic {topic!r} has partitions 0..{count - 1}, not {bad}")
        # A tail whose length is unknown takes at least the offsets some group has read
        # past already, so that no new record is ever given an offset a group skips.
        read_up_to: dict[int, int] = {}
        for group in self._store.groups():
            for p, offset in self._store.committed(group, topic).items():
                read_up_to[p] = max(read_up_to.get(p, 0), offset)
        repairs = []
        for p in chosen:
            directory = self.root / topic / str(p)
            repairs += _repair_partition(directory, read_up_to.get(p, 0), dry_run)
        return repairs

    # -- retention -------------------------------------------------------------------

    def enforce_retention(
        self,
        now_ms: int | None = None,
        keep_from: Mapping[str, Mapping[int, int]] | None = None,
    ) -> RetentionOutcome:
        now_ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        outcome = RetentionOutcome()
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
            guard = None if keep_from is None else keep_from.get(topic)
            for p in range(config.partitions):
                keep = None if guard is None else guard.get(p, 0)
                try:
                    held = _retain(self.root / topic / str(p), oldest_kept_ms, limit, keep, outcome)
                except FileNotFoundError:
                    break  # the topic was deleted meanwhile
                if held:
                    outcome.held_back.setdefault(topic, {})[p] = held
        return outcome

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


def _retain(
    directory: Path,
    oldest_kept_ms: int,
    limit_bytes: int,
    keep_from: int | None,
    outcome: RetentionOutcome,
) -> int:
    """Delete the partition's closed segments past the limits, but none holding an
    offset at or after `keep_from`; add what went to `outcome` and return how many
    segments past the limits were kept for `keep_from`."""
    lock = PartitionLock(directory)
    try:
        with lock:
            bases = list_segments(directory)
            reader = PartitionReader(directory)
            sizes = [log_path(directory, base).stat().st_size for base in bases]
            total = sum(sizes)
            doomed = held = 0
            for i, (base, size) in enumerate(zip(bases[:-1], sizes, strict=False)):
                too_old = reader.segment_max_ts(base, last=False) < oldest_kept_ms
                too_big = limit_bytes >= 0 and total > limit_bytes
                if not (too_old or too_big):
                    break
                if keep_from is not None and bases[i + 1] > keep_from:
                    # It holds records not landed yet: it and all after it stay, for now.
                    held = _past_limits(
                        reader, bases[i:-1], sizes[i:], total, oldest_kept_ms, limit_bytes
                    )
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
                outcome.records += bases[doomed] - bases[0]
                outcome.segments += doomed
                outcome.bytes += sum(sizes[:doomed])
            return held
    finally:
        lock.close()


def _past_limits(
    reader: PartitionReader,
    bases: list[int],
    sizes: list[int],
    total: int,
    oldest_kept_ms: int,
    limit_bytes: int,
) -> int:
    """How many of the closed segments `bases` (oldest first) retention would delete
    but for what they hold."""
    count = 0
    for base, size in zip(bases, sizes, strict=False):
        too_old = reader.segment_max_ts(base, last=False) < oldest_kept_ms
        too_big = limit_bytes >= 0 and total > limit_bytes
        if not (too_old or too_big):
            break
        count += 1
        total -= size
    return count


def _repair_partition(directory: Path, read_up_to: int, dry_run: bool) -> list[Repair]:
    lock = PartitionLock(directory)
    try:
        with lock:  # no append runs meanwhile, and readers wait before judging damage
            bases = list_segments(directory)
            repairs = []
            for i, base in enumerate(bases):
                following = bases[i + 1] if i + 1 < len(bases) else None
                repairs += _repair_segment(directory, base, following, read_up_to, dry_run)
            return repairs
    finally:
        lock.close()


def _repair_segment(
    directory: Path, base: int, following: int | None, read_up_to: int, dry_run: bool
) -> list[Repair]:
    fd = os.open(log_path(directory, base), os.O_RDONLY if dry_run else os.O_RDWR)
    try:
        scan = scan_segment(fd, base, 0, base, next_segment=following)
        assert scan is not None
        # (damage, offsets to keep for it, gap frame size: 0 cuts the bytes off)
        plan: list[tuple[Damage, int, int]] = []
        for d in scan.damage:
            assert d.next_offset is not None  # a readable frame follows: its offset
            plan.append((d, d.next_offset - d.offset, d.end - d.start))
        tail = scan.tail
        if tail is not None and tail.torn and following is None:
            plan.append((tail, 0, 0))
        elif tail is not None:
            if following is None:
                lost = max(tail.claimed or 1, read_up_to - tail.offset)
            else:
                lost = max(following - tail.offset, 0)
            plan.append((tail, lost, max(tail.end - tail.start, HEADER_SIZE) if lost else 0))
        elif following is not None and following > scan.next_offset:
            reason = f"offsets {scan.next_offset}..{following - 1} are in no segment"
            gap = Damage(base, scan.end, scan.end, scan.next_offset, following, reason)
            plan.append((gap, following - scan.next_offset, HEADER_SIZE))
        repairs = []
        for damage, lost, size in plan:
            action = "skipped" if size else "cut torn tail" if damage.torn else "dropped"
            saved = None
            if not dry_run:
                gone = lost if size else damage.claimed if damage.torn else 0
                saved = record_damage(directory, damage, action, gone)
                if not size or damage.start + size > damage.end:
                    os.ftruncate(fd, damage.start)
                if size:
                    os.pwrite(fd, gap_frame(damage.offset, lost, size), damage.start)
                os.fdatasync(fd)
            repairs.append(
                Repair(
                    directory.parent.name,
                    int(directory.name),
                    log_path(directory, base).name,
                    damage.start,
                    damage.end,
                    damage.offset,
                    lost if size else 0,
                    action,
                    damage.reason,
                    None if saved is None else str(directory / saved),
                )
            )
        return repairs
    finally:
        os.close(fd)


def _remove_orphan_indexes(directory: Path, live: set[int]) -> None:
    """Indexes whose log is gone (a crash between the two unlinks)."""
    for name in os.listdir(directory):
        stem = name.removesuffix(INDEX_SUFFIX)
        if stem != name and stem.isdigit() and int(stem) not in live:
            (directory / name).unlink(missing_ok=True)
