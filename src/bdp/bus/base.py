"""The event bus interface: topics of partitioned, offset-addressed, durable records.

Semantics follow Kafka's, so the embedded log and a real broker are interchangeable:
records in a partition are totally ordered by offset; a key always maps to the same
partition (Kafka's murmur2 partitioner, on both backends); a consumer group's committed
offset is the next offset it will read; `flush()` returns only when every record sent
before it is acknowledged (durable per the backend's policy).

Callers work in batches (`send_batch`, `poll` returning `RecordBatch`es): per-record
calls cost more than the work itself at the rates bdp targets.
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from bdp.bus.checks import check_topic_name, normalise_timestamps
from bdp.errors import ConfigError, CorruptSegmentError

if TYPE_CHECKING:
    from bdp.bus.kafka.config import KafkaConnection

__all__ = [
    "Bus",
    "BusCapabilities",
    "Consumer",
    "Producer",
    "RecordBatch",
    "RetentionOutcome",
    "StartFrom",
    "murmur2",
    "partition_for_key",
]

StartFrom = Literal["earliest", "latest"]


@dataclass(frozen=True)
class BusCapabilities:
    """What callers may count on beyond the contract every backend keeps."""

    shared: bool
    """Topics and groups live on a server outside the data home: emptying the home does
    not empty them, and other platforms may use the same server (`bus.namespace` keeps
    each one's names apart)."""
    kafka_protocol: bool
    """Speaks Kafka's protocol: a Kafka client of its own (Spark's Kafka source) reads
    its topics through `Bus.kafka_connection()`."""
    server_retention: bool = False
    """The server deletes records past the topics' retention itself (`retention.ms`,
    `retention.bytes` set when bdp creates a topic); `enforce_retention` does nothing."""


@dataclass
class RetentionOutcome:
    """What one pass of retention deleted, and what it kept past the limits."""

    records: int = 0
    segments: int = 0
    bytes: int = 0
    held_back: dict[str, dict[int, int]] = field(default_factory=dict)
    """Per topic and partition, segments past the limits kept because they hold records
    at or after the partition's `keep_from` offset (not landed yet)."""


@dataclass
class RecordBatch:
    """Consecutive records of one partition, in offset order (offsets may have gaps)."""

    topic: str
    partition: int
    offsets: np.ndarray
    """int64 offset of each record."""
    timestamps_ms: np.ndarray
    """int64 producer timestamp of each record, milliseconds since the epoch."""
    values: list[bytes]
    keys: list[bytes | None] = field(default_factory=list)
    """Empty when the caller did not ask for keys."""

    def __len__(self) -> int:
        return len(self.values)

    @property
    def first_offset(self) -> int:
        return int(self.offsets[0])

    @property
    def last_offset(self) -> int:
        return int(self.offsets[-1])


class Producer(abc.ABC):
    """Appends records; thread-compatible, not thread-safe."""

    _closed = False

    def send_batch(
        self,
        topic: str,
        values: Sequence[bytes],
        keys: Sequence[bytes | None] | None = None,
        timestamps_ms: Sequence[int] | np.ndarray | None = None,
        partitions: Sequence[int] | None = None,
    ) -> None:
        """Queue records; keyed ones go to their key's partition, unkeyed ones spread.

        `values` may also be a pyarrow binary array. Timestamps default to the wall
        clock at the call. `partitions`, one per record, overrides the choice: the
        collectors key a record by its idempotency id but keep it in the partition of
        its dataset's partition key.
        """
        if self._closed:
            raise ValueError("send_batch on a closed producer")
        if isinstance(values, bytes | str):
            raise ValueError("values must be a sequence of bytes, not a single value")
        count = len(values)
        if keys is not None and len(keys) != count:
            raise ValueError(f"{len(keys)} keys for {count} values")
        targets = None
        if partitions is not None:
            if len(partitions) != count:
                raise ValueError(f"{len(partitions)} partitions for {count} values")
            targets = np.asarray(partitions, dtype=np.int64)
            if count and targets.min() < 0:
                raise ValueError(f"partition {int(targets.min())} is negative")
        if count:
            stamps = normalise_timestamps(timestamps_ms, count)
            self._send_batch(topic, values, keys, stamps, targets)

    @abc.abstractmethod
    def _send_batch(
        self,
        topic: str,
        values: Sequence[bytes],
        keys: Sequence[bytes | None] | None,
        timestamps_ms: np.ndarray,
        partitions: np.ndarray | None = None,
    ) -> None:
        """`send_batch` with arguments checked, on an open producer: at least one value,
        and as many keys (if any), int64 timestamps and int64 partitions (if any, each
        at least 0; one past the topic's count is the backend's error) as values."""

    def send(
        self, topic: str, value: bytes, key: bytes | None = None, timestamp_ms: int | None = None
    ) -> None:
        self.send_batch(topic, [value], [key], None if timestamp_ms is None else [timestamp_ms])

    @abc.abstractmethod
    def flush(self, timeout_s: float | None = None) -> None:
        """Return once everything sent so far is acknowledged; raise if it cannot be."""

    @abc.abstractmethod
    def close(self) -> None:
        """Flush, then release resources."""

    def __enter__(self) -> Producer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Consumer(abc.ABC):
    """Reads the assigned partitions of one topic on behalf of a consumer group.

    Starts each partition at the group's committed offset, or at `start` when the group
    has none. Nothing is committed implicitly.
    """

    _closed = False
    _topic: str
    """Set by each backend: the topic read, and its partition count."""
    _topic_partitions: int

    @property
    @abc.abstractmethod
    def assignment(self) -> list[int]: ...

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("the consumer is closed")

    def _assigned(self, partition: int) -> int:
        if partition not in self.assignment:
            raise ValueError(
                f"partition {partition} is not assigned to this consumer"
                f" (assignment: {sorted(self.assignment)})"
            )
        return partition

    def poll(self, max_records: int, timeout_ms: int = 0) -> list[RecordBatch]:
        """Up to `max_records` records in total, at most one batch per partition.

        Waits up to `timeout_ms` when nothing is available; returns [] on timeout.
        """
        self._check_open()
        if max_records < 1:
            raise ValueError(f"max_records must be >= 1, got {max_records}")
        if timeout_ms < 0:
            raise ValueError(f"timeout_ms must be >= 0, got {timeout_ms}")
        return self._poll(max_records, timeout_ms)

    @abc.abstractmethod
    def _poll(self, max_records: int, timeout_ms: int) -> list[RecordBatch]:
        """`poll` with arguments already checked, on an open consumer."""

    @abc.abstractmethod
    def position(self, partition: int) -> int:
        """The offset the next poll returns for this partition."""

    def seek(self, partition: int, offset: int) -> None:
        """Read `partition` from `offset` on, whatever was read or committed before."""
        self._check_open()
        if not isinstance(offset, int | np.integer) or offset < 0:
            raise ValueError(f"offset must be a non-negative integer, got {offset!r}")
        self._seek(self._assigned(partition), int(offset))

    @abc.abstractmethod
    def _seek(self, partition: int, offset: int) -> None:
        """`seek` with arguments checked, on an open consumer."""

    @abc.abstractmethod
    def seek_to_timestamp(self, partition: int, timestamp_ms: int) -> int:
        """Move to the first record with timestamp >= `timestamp_ms`; return its offset
        (the end offset if there is none)."""

    def commit(self, offsets: Mapping[int, int]) -> None:
        """Store, per partition, the next offset the group will read."""
        self._check_open()
        clean: dict[int, int] = {}
        for partition, offset in offsets.items():
            if not 0 <= partition < self._topic_partitions:
                raise ValueError(
                    f"topic {self._topic!r} has no partition {partition}"
                    f" (it has {self._topic_partitions})"
                )
            if int(offset) < 0:
                raise ValueError(f"offset must be >= 0, got {offset} for partition {partition}")
            clean[int(partition)] = int(offset)
        if clean:
            self._commit(clean)

    @abc.abstractmethod
    def _commit(self, offsets: dict[int, int]) -> None:
        """`commit` with offsets checked, at least one, on an open consumer."""

    @abc.abstractmethod
    def committed(self) -> dict[int, int | None]: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Consumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Bus(abc.ABC):
    """Topic administration plus factories for producers and consumers."""

    name: str
    capabilities: BusCapabilities

    def create_topic(
        self,
        topic: str,
        partitions: int | None = None,
        retention_hours: float | None = None,
        retention_bytes: int | None = None,
    ) -> bool:
        """Create the topic if it does not exist; return whether it was created.

        Unset limits take the bus settings' defaults.
        """
        check_topic_name(topic)
        if partitions is not None and (not isinstance(partitions, int) or partitions < 1):
            raise ValueError(f"partitions must be a positive integer, got {partitions!r}")
        if retention_hours is not None and not retention_hours > 0:
            raise ValueError(f"retention_hours must be > 0, got {retention_hours!r}")
        if retention_bytes is not None and retention_bytes < -1:
            raise ValueError(f"retention_bytes must be >= -1, got {retention_bytes!r}")
        return self._create_topic(topic, partitions, retention_hours, retention_bytes)

    @abc.abstractmethod
    def _create_topic(
        self,
        topic: str,
        partitions: int | None,
        retention_hours: float | None,
        retention_bytes: int | None,
    ) -> bool:
        """`create_topic` with arguments already checked."""

    @abc.abstractmethod
    def delete_topic(self, topic: str) -> None: ...

    @abc.abstractmethod
    def topics(self) -> list[str]: ...

    @abc.abstractmethod
    def partitions(self, topic: str) -> int:
        """Partition count; NotFoundError when the topic does not exist."""

    @abc.abstractmethod
    def begin_offsets(self, topic: str) -> dict[int, int]: ...

    @abc.abstractmethod
    def end_offsets(self, topic: str) -> dict[int, int]: ...

    @abc.abstractmethod
    def committed(self, group: str, topic: str) -> dict[int, int | None]: ...

    @abc.abstractmethod
    def groups(self) -> list[str]: ...

    def lag(self, group: str, topic: str) -> dict[int, int]:
        """Records per partition the group has not committed past."""
        ends = self.end_offsets(topic)
        begins = self.begin_offsets(topic)
        committed = self.committed(group, topic)
        return {
            p: end - (begins[p] if (at := committed.get(p)) is None else at)
            for p, end in ends.items()
        }

    @abc.abstractmethod
    def producer(self) -> Producer: ...

    def consumer(
        self,
        group: str,
        topic: str,
        partitions: Sequence[int] | None = None,
        start: StartFrom = "earliest",
        with_keys: bool = False,
    ) -> Consumer:
        """A consumer of `partitions` (all by default, each once), starting where the
        group committed or else at `start`; `with_keys` fills `RecordBatch.keys`.
        NotFoundError when the topic does not exist."""
        if start not in ("earliest", "latest"):
            raise ValueError(f"start must be 'earliest' or 'latest', got {start!r}")
        if not isinstance(group, str) or not group:
            raise ValueError(f"invalid group name {group!r}: use a non-empty string")
        count = self.partitions(topic)
        chosen = list(range(count)) if partitions is None else list(dict.fromkeys(partitions))
        if not chosen:
            raise ValueError("partitions must not be empty")
        bad = [p for p in chosen if not isinstance(p, int) or not 0 <= p < count]
        if bad:
            raise ValueError(f"topic {topic!r} has partitions 0..{count - 1}, not {bad}")
        return self._consumer(group, topic, count, chosen, start, with_keys)

    @abc.abstractmethod
    def _consumer(
        self,
        group: str,
        topic: str,
        count: int,
        chosen: list[int],
        start: StartFrom,
        with_keys: bool,
    ) -> Consumer:
        """`consumer` with arguments checked: `chosen` of the topic's `count` partitions."""

    def kafka_connection(self) -> KafkaConnection:
        """How a Kafka client of its own reaches this bus's topics and groups; only a bus
        with `capabilities.kafka_protocol` has one."""
        raise ConfigError(
            f"the {self.name} bus does not speak Kafka's protocol, so a Kafka client cannot"
            " read it; use a bus that does (bus.backend = 'kafka')"
        )

    def apply_retention(self, now_ms: int | None = None) -> int:
        """Drop data past the retention limits; return how many records went."""
        return self.enforce_retention(now_ms).records

    def enforce_retention(
        self,
        now_ms: int | None = None,
        keep_from: Mapping[str, Mapping[int, int]] | None = None,
    ) -> RetentionOutcome:
        """Drop data past the retention limits, but never a record at or after
        `keep_from[topic][partition]` (a partition of a topic named there but missing
        keeps everything). A backend with `server_retention` leaves it to its server."""
        return RetentionOutcome()

    def corrupt_partitions(self, group: str, topic: str) -> dict[int, CorruptSegmentError]:
        """Partitions `group` cannot read on from where it is, because the stored records
        there are damaged. A backend that looks after its own storage reports none."""
        return {}

    def skipped_offsets(self, topic: str) -> dict[int, int]:
        """Offsets per partition whose records were lost to damage and skipped by a
        repair: they carry no records, so counts reconcile with them added."""
        return {}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources; the default holds none."""

    def __enter__(self) -> Bus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (the Java client's default partitioner hash), as a signed int32."""
    m, r = 0x5BD1E995, 24
    length = len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    whole = length & ~3
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    rest = length & 3
    if rest == 3:
        h ^= data[whole + 2] << 16
    if rest >= 2:
        h ^= data[whole + 1] << 8
    if rest >= 1:
        h ^= data[whole]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


@functools.lru_cache(maxsize=65536)
def partition_for_key(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for a key."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions
