"""The distributed bus: Apache Kafka through confluent-kafka (the `kafka` extra).

`KafkaBus(settings)` holds the configuration and an admin client, built on first use;
producers and consumers are separate clients (`producer.py`, `consumer.py`).
Topic and group names are prefixed with `bus.namespace` on the broker; Kafka clients of
their own (Spark's Kafka source) get the address, options and names from
`kafka_connection()`. Client settings are `[bus.kafka]`.

Differences from the embedded bus, all within the `Bus` contract:
- acknowledged means replicated per `acks`, not fsynced;
- the broker enforces retention itself, so `apply_retention()` drops nothing; topics
  bdp creates carry `retention.ms` / `retention.bytes` from the arguments or settings;
- every call that needs the broker fails within `connect_timeout_ms` with an error
  naming the bootstrap servers when none answers, instead of hanging.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from bdp.bus import BUSES
from bdp.bus.base import Bus, Consumer, Producer, StartFrom
from bdp.bus.checks import check_topic_name
from bdp.bus.kafka.config import KafkaConnection, admin_config, consumer_config, load_client
from bdp.bus.kafka.consumer import KafkaConsumer
from bdp.bus.kafka.errors import (
    BrokerUnavailableError,
    KafkaBusError,
    bus_error,
    is_refusal,
    is_retriable,
    refusal_error,
)
from bdp.bus.kafka.producer import KafkaProducer
from bdp.config import BusSettings
from bdp.errors import NotFoundError

__all__ = ["KafkaBus"]

_SETTLE_PAUSE_S = 0.05
"""Pause between looks at the metadata while a created or deleted topic settles."""
_REFUSAL_CHECK_S = 0.2
"""How often a pending admin call looks for a refusal the client reported."""


class KafkaBus(Bus):
    name = "kafka"
    capabilities = BUSES.capabilities(name)

    def __init__(self, settings: BusSettings | None = None) -> None:
        self.settings = settings or BusSettings()
        self._kafka = self.settings.kafka
        self._connection = KafkaConnection.of(self.settings)
        self._names = self._connection.names
        self._client = load_client()
        self._admin_client: Any = None
        self._refused: Any = None
        """The last refusal the client reported (wrong credentials), which it otherwise
        only logs: calls that then time out report it instead of an absent broker."""

    # -- topics ----------------------------------------------------------------------

    def _create_topic(
        self,
        topic: str,
        partitions: int | None,
        retention_hours: float | None,
        retention_bytes: int | None,
    ) -> bool:
        hours = self.settings.retention_hours if retention_hours is None else retention_hours
        limit = self.settings.retention_bytes if retention_bytes is None else retention_bytes
        count = partitions or self.settings.partitions
        config = {
            "retention.ms": str(int(hours * 3_600_000)),
            "retention.bytes": str(limit),
            # Records up to the producer's limit must fit whatever the broker default is.
            "max.message.bytes": str(self._kafka.max_message_bytes),
        }
        physical = self._names.physical(topic)
        # -1: the cluster's default replication factor.
        wanted = self._client.admin.NewTopic(physical, count, -1, config=config)
        futures = self._admin.create_topics(
            [wanted], operation_timeout=self._timeout, request_timeout=self._timeout
        )
        try:
            self._result(futures[physical], f"create topic {topic!r}")
        except KafkaBusError as exc:
            if exc.code == "TOPIC_ALREADY_EXISTS":
                return False
            raise
        # Clients asking right after must find it with every partition led and served.
        self._settle(topic, lambda meta: meta is not None and _led(meta) == count)
        self._list_offsets(topic, "latest")
        return True

    def delete_topic(self, topic: str) -> None:
        physical = self._names.physical(check_topic_name(topic))
        futures = self._admin.delete_topics([physical], operation_timeout=self._timeout)
        self._result(futures[physical], f"delete topic {topic!r}")
        self._settle(topic, lambda meta: meta is None)

    def topics(self) -> list[str]:
        metadata = self._metadata()
        names = (self._names.logical(name) for name in metadata.topics)
        return sorted(name for name in names if name)

    def partitions(self, topic: str) -> int:
        meta = self._topic_metadata(topic)
        if meta is None:
            raise NotFoundError(f"topic {topic!r} does not exist")
        return len(meta.partitions)

    def begin_offsets(self, topic: str) -> dict[int, int]:
        return self._list_offsets(topic, "earliest")

    def end_offsets(self, topic: str) -> dict[int, int]:
        return self._list_offsets(topic, "latest")

    # -- groups ----------------------------------------------------------------------

    def committed(self, group: str, topic: str) -> dict[int, int | None]:
        count = self.partitions(topic)
        physical = self._names.physical(topic)
        # Asked through a consumer of the group, not the admin client: librdkafka's admin
        # offset fetch crashes the process when the coordinator is not ready yet (a new
        # broker, a coordinator moving), where a consumer waits for it.
        reader = self._client.Consumer(
            consumer_config(self._kafka, self._names.physical(group), _ignore)
        )
        asked = [self._client.TopicPartition(physical, p) for p in range(count)]
        deadline = time.monotonic() + self._timeout
        try:
            while True:
                try:
                    found = reader.committed(asked, timeout=self._timeout)
                    break
                except self._client.KafkaException as exc:
                    # A coordinator still being elected or loading answers at once.
                    if not (is_retriable(exc) and time.monotonic() < deadline):
                        raise bus_error(
                            exc,
                            f"read the offsets of group {group!r}",
                            self._kafka.bootstrap_servers,
                            self._timeout,
                        ) from None
                time.sleep(_SETTLE_PAUSE_S)
        finally:
            reader.close()
        stored = {part.partition: part.offset for part in found if part.offset >= 0}
        return {p: stored.get(p) for p in range(count)}

    def groups(self) -> list[str]:
        listed = self._result(
            self._admin.list_consumer_groups(request_timeout=self._timeout), "list groups"
        )
        names = (self._names.logical(group.group_id) for group in listed.valid)
        return sorted(name for name in names if name)

    # -- clients ---------------------------------------------------------------------

    def producer(self) -> Producer:
        # First contact: an unreachable broker fails here, quickly and clearly, rather
        # than after `delivery_timeout_ms` of silent retries.
        self._metadata()
        return KafkaProducer(self._kafka, self._names)

    def _consumer(
        self,
        group: str,
        topic: str,
        count: int,
        chosen: list[int],
        start: StartFrom,
        with_keys: bool,
    ) -> Consumer:
        client = self._client.Consumer(
            consumer_config(self._kafka, self._names.physical(group), _ignore)
        )
        return KafkaConsumer(
            client,
            self._client,
            self._kafka,
            topic,
            self._names.physical(topic),
            count,
            chosen,
            start,
            with_keys,
            lambda where, parts=None: self._list_offsets(topic, where, parts),
            lambda: self.committed(group, topic),
        )

    def kafka_connection(self) -> KafkaConnection:
        return self._connection

    def close(self) -> None:
        # The admin client holds no state worth flushing; drop it with its threads.
        self._admin_client = None

    # -- internals -------------------------------------------------------------------

    @property
    def _timeout(self) -> float:
        return self._kafka.connect_timeout_ms / 1000

    @property
    def _admin(self) -> Any:
        if self._admin_client is None:
            self._admin_client = self._client.admin.AdminClient(
                admin_config(self._kafka, self._on_admin_error)
            )
        return self._admin_client

    def _on_admin_error(self, error: Any) -> None:
        if is_refusal(error):
            self._refused = error

    def _check_refused(self, action: str) -> None:
        self._admin.poll(0)  # serve the client's callbacks, `_on_admin_error` among them
        if self._refused is not None:
            raise refusal_error(self._refused, action, self._kafka.bootstrap_servers)

    def _result(self, future: Any, action: str) -> Any:
        # The client enforces its request timeout; the margin only guards a stuck call.
        deadline = time.monotonic() + self._timeout + 5
        try:
            while True:
                try:
                    return future.result(timeout=_REFUSAL_CHECK_S)
                except TimeoutError:
                    # A refused client would otherwise wait out the whole timeout.
                    self._check_refused(action)
                    if time.monotonic() >= deadline:
                        raise BrokerUnavailableError(
                            f"{action}: no answer from {self._kafka.bootstrap_servers} "
                            f"within {self._timeout:g} s",
                            self._kafka.bootstrap_servers,
                        ) from None
        except self._client.KafkaException as exc:
            self._check_refused(action)
            raise bus_error(exc, action, self._kafka.bootstrap_servers, self._timeout) from None
        finally:
            self._admin.poll(0)  # serve the client's log lines

    def _metadata(self, physical: str | None = None) -> Any:
        action = "read the cluster metadata"
        try:
            return self._admin.list_topics(topic=physical, timeout=self._timeout)
        except self._client.KafkaException as exc:
            self._check_refused(action)
            raise bus_error(exc, action, self._kafka.bootstrap_servers, self._timeout) from None
        finally:
            self._admin.poll(0)

    def _topic_metadata(self, topic: str) -> Any:
        """The topic's metadata, or None when it does not exist."""
        physical = self._names.physical(check_topic_name(topic))
        meta = self._metadata(physical).topics.get(physical)
        if meta is None or (meta.error is not None and meta.error.name() in _MISSING):
            return None
        if meta.error is not None:
            raise bus_error(
                meta.error,
                f"read the metadata of {topic!r}",
                self._kafka.bootstrap_servers,
                self._timeout,
            )
        return meta

    def _settle(self, topic: str, done: Callable[[Any], bool]) -> None:
        deadline = time.monotonic() + self._timeout
        while not done(self._topic_metadata(topic)) and time.monotonic() < deadline:
            time.sleep(_SETTLE_PAUSE_S)

    def _list_offsets(
        self, topic: str, where: str | int, partitions: Sequence[int] | None = None
    ) -> dict[int, int]:
        """Offsets per partition at "earliest", "latest" or a timestamp in milliseconds
        (-1 where no record is that recent)."""
        if partitions is None:
            partitions = range(self.partitions(topic))
        physical = self._names.physical(topic)
        offset_spec = self._client.admin.OffsetSpec
        spec = (
            offset_spec.for_timestamp(where)
            if isinstance(where, int)
            else (getattr(offset_spec, where)())
        )
        asked = {self._client.TopicPartition(physical, p): spec for p in partitions}
        # A partition led moments ago may not be served yet: retry that for a while.
        deadline = time.monotonic() + self._timeout
        while True:
            futures = self._admin.list_offsets(asked, request_timeout=self._timeout)
            try:
                return {
                    part.partition: self._result(future, f"list the offsets of {topic!r}").offset
                    for part, future in futures.items()
                }
            except KafkaBusError as exc:
                if not (is_retriable(exc.code) and time.monotonic() < deadline):
                    raise
            time.sleep(_SETTLE_PAUSE_S)


_MISSING = {"UNKNOWN_TOPIC_OR_PART", "_UNKNOWN_TOPIC"}


def _led(meta: Any) -> int:
    """Partitions of a topic that have a leader."""
    return sum(1 for part in meta.partitions.values() if part.leader >= 0)


def _ignore(error: Any) -> None:
    """Consumer-wide errors (a broker away) are retried by the client and logged."""
