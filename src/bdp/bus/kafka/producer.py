"""The Kafka bus's producer: an idempotent confluent-kafka producer behind `Producer`.

Records are queued in librdkafka, which batches them per partition (`linger_ms`,
`batch_bytes`, `compression` of `[bus.kafka]`) and retries through broker outages for up
to `delivery_timeout_ms`. `flush()` returns once the broker acknowledged everything
(`acks`, "all" by default) or raises a `DeliveryError` with the broker's reason.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from bdp.bus.base import Producer
from bdp.bus.checks import check_topic_name, is_arrow_array
from bdp.bus.kafka.config import Names, load_client, producer_config
from bdp.bus.kafka.errors import DeliveryError, KafkaBusError, delivery_error
from bdp.config import KafkaBusSettings

__all__ = ["KafkaProducer"]

_FULL_QUEUE_WAIT_S = 0.05
"""How long `send_batch` serves the client when librdkafka's queue is full, per try."""
_FLUSH_SLICE_S = 0.5


class KafkaProducer(Producer):
    def __init__(self, settings: KafkaBusSettings, names: Names) -> None:
        self._names = names
        self._failures: dict[str, tuple[Any, int]] = {}
        self._fatal: Any = None
        self._lock = threading.Lock()
        client = load_client()
        self._client_error = client.KafkaException
        self._client = client.Producer(producer_config(settings, self._on_delivery, self._on_error))
        self._closed = False

    def _send_batch(
        self,
        topic: str,
        values: Sequence[bytes],
        keys: Sequence[bytes | None] | None,
        timestamps_ms: np.ndarray,
        partitions: np.ndarray | None = None,
    ) -> None:
        self._raise_fatal()
        if is_arrow_array(values):
            values = values.to_pylist()  # type: ignore[attr-defined]
        count = len(values)
        stamps = timestamps_ms.tolist()
        physical = self._names.physical(check_topic_name(topic))
        produce = self._client.produce
        key_list: Sequence[bytes | None] = keys if keys is not None else [None] * count
        # -1 is librdkafka's "let the partitioner choose".
        targets = partitions.tolist() if partitions is not None else [-1] * count
        for value, key, stamp, partition in zip(values, key_list, stamps, targets, strict=True):
            try:
                produce(physical, value, key, partition=partition, timestamp=stamp)
            except BufferError:
                self._wait_for_room(physical, value, key, stamp, partition)
            except TypeError as exc:
                raise ValueError(f"values and keys must be bytes: {exc}") from None
            except self._client_error as exc:
                # Refused before it left the process (too large for the producer, ...).
                raise delivery_error(exc, topic, 1) from None
        # Serve delivery reports (failures only) so they do not pile up.
        self._client.poll(0)

    def flush(self, timeout_s: float | None = None) -> None:
        """Wait until the broker acknowledged every record sent; raise if any failed."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            left = _FLUSH_SLICE_S if deadline is None else deadline - time.monotonic()
            remaining = self._client.flush(max(0.0, min(left, _FLUSH_SLICE_S)))
            self._raise_fatal()
            if remaining == 0:
                break
            if deadline is not None and time.monotonic() >= deadline:
                self._raise_failures()
                raise DeliveryError(
                    f"{remaining} record(s) not acknowledged within {timeout_s:g} s",
                    topic="",
                    failed=remaining,
                    code="_TIMED_OUT",
                )
        self._raise_failures()

    def close(self) -> None:
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True

    # -- internals -------------------------------------------------------------------

    def _wait_for_room(
        self, physical: str, value: bytes, key: bytes | None, stamp: int, partition: int = -1
    ) -> None:
        """librdkafka's queue is full: serve it until the record fits (backpressure)."""
        while True:
            self._client.poll(_FULL_QUEUE_WAIT_S)
            self._raise_fatal()
            try:
                self._client.produce(physical, value, key, partition=partition, timestamp=stamp)
                return
            except BufferError:
                continue

    def _on_delivery(self, error: Any, message: Any) -> None:
        if error is None:
            return
        topic = self._names.logical(message.topic()) or message.topic()
        with self._lock:
            first, count = self._failures.get(topic, (error, 0))
            self._failures[topic] = (first, count + 1)

    def _on_error(self, error: Any) -> None:
        # Connection trouble is retried by the client and reported in its log; only a
        # fatal error (the idempotent producer cannot go on) ends this producer.
        if error.fatal():
            self._fatal = error

    def _raise_fatal(self) -> None:
        if self._fatal is not None:
            raise KafkaBusError(
                f"the producer failed and cannot continue: {self._fatal.str()}",
                self._fatal.name(),
                self._fatal.str(),
            )

    def _raise_failures(self) -> None:
        with self._lock:
            failures, self._failures = self._failures, {}
        if failures:
            topic, (error, count) = next(iter(failures.items()))
            raise delivery_error(error, topic, count)
