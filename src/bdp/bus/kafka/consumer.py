"""The Kafka bus's consumer: manually assigned partitions, explicit positions and commits.

Partitions are assigned, not subscribed: the stream job decides what it reads, and no
group rebalance can move a partition away mid-batch. Positions are kept here, so
`position()` is exact before the first fetch and `seek()` works at any time (a seek
re-assigns with the new positions before the next poll; librdkafka drops what it had
prefetched for the old ones). Records below a position are stale prefetch and skipped.

A freshly (re)assigned client has fetched nothing yet, though the broker may hold
records: while a partition that had records past its position at assignment has not
delivered any, `poll` waits up to `bus.kafka.connect_timeout_ms` rather than only
`timeout_ms`, so a consumer's first poll sees what was flushed before it, as on the
embedded bus.

Commits are synchronous and ride out a broker restart for up to
`bus.kafka.delivery_timeout_ms`, so a running job survives one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bdp.bus.base import Consumer, RecordBatch, StartFrom
from bdp.bus.kafka.batches import group_messages
from bdp.bus.kafka.errors import bus_error, is_retriable
from bdp.config import KafkaBusSettings
from bdp.errors import NotFoundError

__all__ = ["KafkaConsumer"]

_RETRY_PAUSE_S = 0.25


class KafkaConsumer(Consumer):
    def __init__(
        self,
        client: Any,
        module: Any,
        settings: KafkaBusSettings,
        topic: str,
        physical: str,
        topic_partitions: int,
        partitions: list[int],
        start: StartFrom,
        with_keys: bool,
        offsets_at: Callable[..., dict[int, int]],
        group_committed: Callable[[], dict[int, int | None]],
    ) -> None:
        """Open positions at the group's committed offsets, else at `start`.

        The starting commits come from `group_committed` (another client): asking this
        client before its first assignment delays that assignment's first records by
        about a second."""
        self._client = client
        self._module = module
        self._settings = settings
        self._topic = topic
        self._physical = physical
        self._topic_partitions = topic_partitions
        self._with_keys = with_keys
        self._closed = False
        self._offsets_at = offsets_at
        self._reassign = True
        self._unfetched: set[int] = set()
        self._assigned_at = 0.0
        try:
            committed = group_committed()
            fallback = offsets_at(start) if None in committed.values() else {}
            self._positions = {
                p: fallback[p] if committed[p] is None else committed[p]  # type: ignore[misc]
                for p in partitions
            }
            # Assign now: fetching starts while the caller gets ready to poll.
            self._apply_positions()
        except BaseException:
            client.close()
            raise

    @property
    def assignment(self) -> list[int]:
        return list(self._positions)

    def _poll(self, max_records: int, timeout_ms: int) -> list[RecordBatch]:
        self._apply_positions()
        deadline = time.monotonic() + timeout_ms / 1000
        # consume() with a timeout waits for a *full* batch; take what is already
        # fetched without waiting, and wait only for the first record when there is none.
        messages = self._client.consume(max_records, 0)
        while True:
            batches = self._batches(messages)
            until = deadline
            if self._unfetched:
                until = max(until, self._assigned_at + self._t())
            left = until - time.monotonic()
            if batches or left <= 0:
                return batches
            first = self._client.poll(left)
            messages = [] if first is None else [first]
            if first is not None and max_records > 1:
                messages += self._client.consume(max_records - 1, 0)

    def position(self, partition: int) -> int:
        return self._positions[self._assigned(partition)]

    def _seek(self, partition: int, offset: int) -> None:
        self._positions[partition] = offset
        self._reassign = True

    def seek_to_timestamp(self, partition: int, timestamp_ms: int) -> int:
        self._check_open()
        self._assigned(partition)
        # Asked through the admin client: on this client's connection the request would
        # queue behind a fetch that the broker holds open for up to fetch.wait.max.ms.
        offset = self._offsets_at(int(timestamp_ms), [partition])[partition]
        if offset < 0:  # no record at or after it: the end of the partition
            offset = self._offsets_at("latest", [partition])[partition]
        self.seek(partition, int(offset))
        return int(offset)

    def _commit(self, offsets: dict[int, int]) -> None:
        wanted = [self._module.TopicPartition(self._physical, p, o) for p, o in offsets.items()]
        result = self._call(
            "commit offsets",
            lambda: self._client.commit(offsets=wanted, asynchronous=False),
            self._settings.delivery_timeout_ms / 1000,
        )
        for part in result or []:
            if part.error is not None:
                raise bus_error(part.error, f"commit offsets of {self._topic!r}", *self._where())

    def committed(self) -> dict[int, int | None]:
        self._check_open()
        asked = [self._module.TopicPartition(self._physical, p) for p in self._positions]
        found = self._call(
            "read committed offsets", lambda: self._client.committed(asked, self._t())
        )
        return {
            # A negative offset (OFFSET_INVALID) means the group has no commit there.
            part.partition: None if part.offset < 0 else part.offset
            for part in found
        }

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._client.close()

    # -- internals -------------------------------------------------------------------

    def _t(self) -> float:
        return self._settings.connect_timeout_ms / 1000

    def _where(self) -> tuple[str, float]:
        return self._settings.bootstrap_servers, self._t()

    def _call(self, action: str, call: Callable[[], Any], patience_s: float | None = None) -> Any:
        """Run a client call, retrying transient failures (a coordinator being elected, a
        broker away) for `patience_s`, by default `bus.kafka.connect_timeout_ms`."""
        deadline = time.monotonic() + (self._t() if patience_s is None else patience_s)
        while True:
            try:
                return call()
            except self._module.KafkaException as exc:
                if not (is_retriable(exc) and time.monotonic() < deadline):
                    raise bus_error(exc, f"{action} of {self._topic!r}", *self._where()) from None
            time.sleep(_RETRY_PAUSE_S)

    def _apply_positions(self) -> None:
        if self._reassign:
            self._client.assign(
                [
                    self._module.TopicPartition(self._physical, p, offset)
                    for p, offset in self._positions.items()
                ]
            )
            self._reassign = False
            ends = self._offsets_at("latest")
            self._unfetched = {p for p, at in self._positions.items() if at < ends[p]}
            self._assigned_at = time.monotonic()

    def _batches(self, messages: list[Any]) -> list[RecordBatch]:
        """Group fetched records into one batch per partition, skipping stale ones."""
        if self._unfetched:
            self._unfetched -= {m.partition() for m in messages if m.error() is None}
        return group_messages(
            messages, self._topic, self._positions, self._with_keys, self._raise_for
        )

    def _raise_for(self, error: Any) -> None:
        """Errors delivered in place of records: transient ones pass, the rest raise."""
        if is_retriable(error):
            return
        failure = bus_error(error, f"read {self._topic!r}", *self._where())
        if isinstance(failure, NotFoundError):
            raise NotFoundError(f"topic {self._topic!r} does not exist (deleted?)")
        raise failure
