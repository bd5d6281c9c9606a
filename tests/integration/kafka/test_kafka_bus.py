"""The Kafka bus against a real broker: what the contract suite does not cover.

Partitioning agrees with `partition_for_key`, backpressure, records too large, missing
topics, an unreachable broker, the settings reaching the topic and the client.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from bdp.bus import partition_for_key
from bdp.bus.kafka import (
    BrokerUnavailableError,
    KafkaBus,
    RecordTooLargeError,
)
from bdp.config import BusSettings, KafkaBusSettings
from bdp.errors import NotFoundError, TransientError

pytestmark = pytest.mark.service("kafka")


def settings(namespace: str, **kafka: object) -> BusSettings:
    """Bus settings in `namespace`; keyword arguments are `[bus.kafka]` settings."""
    return BusSettings(namespace=namespace, kafka=KafkaBusSettings(**kafka))  # type: ignore[arg-type]


@pytest.fixture
def bus(kafka_namespace: str) -> Iterator[KafkaBus]:
    with KafkaBus(settings(kafka_namespace)) as opened:
        yield opened


def drain(bus: KafkaBus, topic: str, group: str, with_keys: bool = False) -> list:
    batches = []
    with bus.consumer(group, topic, with_keys=with_keys) as consumer:  # type: ignore[call-arg]
        while found := consumer.poll(10_000, timeout_ms=500):
            batches.extend(found)
    return batches


@pytest.mark.parametrize("partitions", [1, 4, 7, 12])
def test_keys_land_where_partition_for_key_says(bus: KafkaBus, partitions: int) -> None:
    bus.create_topic("keys", partitions=partitions)
    # Keys of every length mod 4 exercise the hash's tail handling.
    keys = [f"account-{i}".encode() * (1 + i % 3) for i in range(400)]
    with bus.producer() as producer:
        producer.send_batch("keys", keys, keys)
        producer.flush()
    placed = {}
    for batch in drain(bus, "keys", "placement"):
        for value in batch.values:
            placed[value] = batch.partition
    assert len(placed) == len(keys)
    assert all(placed[key] == partition_for_key(key, partitions) for key in keys)


def test_keys_come_back_when_asked_for(bus: KafkaBus) -> None:
    with bus.producer() as producer:
        producer.send_batch("keyed", [b"a", b"b", b"c"], [b"k1", None, b"k1"])
        producer.flush()
    batches = drain(bus, "keyed", "with-keys", with_keys=True)
    pairs = {v: k for b in batches for k, v in zip(b.keys, b.values, strict=True)}
    assert pairs == {b"a": b"k1", b"b": None, b"c": b"k1"}
    assert all(b.keys == [] for b in drain(bus, "keyed", "without-keys"))


def test_a_full_client_queue_is_waited_out_not_dropped(kafka_namespace: str) -> None:
    tight = settings(kafka_namespace, client_options={"queue.buffering.max.messages": "500"})
    with KafkaBus(tight) as bus:
        values = [b"%06d" % i for i in range(20_000)]
        with bus.producer() as producer:
            producer.send_batch("queue", values)
            producer.flush()
        assert sum(bus.end_offsets("queue").values()) == len(values)
        got = sorted(v for b in drain(bus, "queue", "all") for v in b.values)
    assert got == values


def test_producing_creates_a_topic_with_the_default_partitions(bus: KafkaBus) -> None:
    with bus.producer() as producer:
        producer.send("fresh", b"x")
        producer.flush()
    assert "fresh" in bus.topics()
    assert bus.partitions("fresh") == bus.settings.partitions


def test_topics_carry_retention_and_record_size_settings(bus: KafkaBus) -> None:
    from confluent_kafka.admin import ConfigResource

    bus.create_topic("kept", partitions=2, retention_hours=2, retention_bytes=1_000_000)
    resource = ConfigResource("topic", bus.kafka_connection().names.physical("kept"))
    (future,) = bus._admin.describe_configs([resource]).values()
    config = {name: entry.value for name, entry in future.result(timeout=10).items()}
    assert config["retention.ms"] == str(2 * 3_600_000)
    assert config["retention.bytes"] == "1000000"
    assert config["max.message.bytes"] == str(bus.settings.kafka.max_message_bytes)


def test_the_stream_s_largest_records_pass(bus: KafkaBus) -> None:
    # The stream accepts records up to 1 MiB and quarantines bigger ones: both must
    # reach it through the bus.
    big = [b"x" * (1024 * 1024), b"y" * (1024 * 1024 + 100)]
    with bus.producer() as producer:
        producer.send_batch("big", big)
        producer.flush()
    assert sorted(len(v) for b in drain(bus, "big", "big") for v in b.values) == [
        1024 * 1024,
        1024 * 1024 + 100,
    ]


def test_a_record_over_the_producer_limit_is_refused_with_the_reason(bus: KafkaBus) -> None:
    with bus.producer() as producer, pytest.raises(RecordTooLargeError) as caught:
        producer.send("big", b"x" * (bus.settings.kafka.max_message_bytes + 1))
    assert caught.value.topic == "big"
    assert "max_message_bytes" in str(caught.value)
    assert "too large" in str(caught.value).lower()


def test_a_record_over_the_topic_limit_fails_the_flush_with_the_broker_reason(
    kafka_namespace: str,
) -> None:
    # The topic accepts 64 KiB records; this producer would send up to 2 MiB.
    small = KafkaBus(settings(kafka_namespace, max_message_bytes=64 * 1024))
    small.create_topic("strict", partitions=1)
    with KafkaBus(settings(kafka_namespace)) as bus, bus.producer() as producer:
        producer.send("strict", b"fits")
        producer.flush()
        # The broker refuses the whole batch that holds it: send it on its own.
        producer.send("strict", b"x" * 200_000)
        with pytest.raises(RecordTooLargeError) as caught:
            producer.flush()
        assert caught.value.topic == "strict"
        assert caught.value.failed == 1
        assert caught.value.code == "MSG_SIZE_TOO_LARGE"
        # The producer goes on after a refused record.
        producer.send("strict", b"after")
        producer.flush()
    values = [v for b in drain(small, "strict", "strict") for v in b.values]
    assert values == [b"fits", b"after"]


def test_missing_topics_raise_not_found(bus: KafkaBus) -> None:
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    for call in (
        lambda: bus.partitions(missing),
        lambda: bus.begin_offsets(missing),
        lambda: bus.end_offsets(missing),
        lambda: bus.committed("g", missing),
        lambda: bus.consumer("g", missing),
        lambda: bus.delete_topic(missing),
    ):
        with pytest.raises(NotFoundError, match=missing):
            call()
    assert missing not in bus.topics()  # asking did not create it


def test_an_unreachable_broker_fails_fast_and_names_the_address(closed_address: str) -> None:
    address = closed_address
    bus = KafkaBus(settings("", bootstrap_servers=address, connect_timeout_ms=2000))
    for call in (bus.topics, bus.producer, lambda: bus.consumer("g", "t")):
        started = time.monotonic()
        with pytest.raises(BrokerUnavailableError) as caught:
            call()
        assert time.monotonic() - started < 2 + 3  # the timeout plus a margin
        assert address in str(caught.value)
        assert "is it running" in str(caught.value)
        assert isinstance(caught.value, TransientError)
        assert caught.value.bootstrap_servers == address


def test_the_namespace_hides_other_namespaces(kafka_namespace: str) -> None:
    with KafkaBus(settings(kafka_namespace + "a.")) as first:
        first.create_topic("shared-name", partitions=1)
    with KafkaBus(settings(kafka_namespace + "b.")) as second:
        assert "shared-name" not in second.topics()
        with pytest.raises(NotFoundError):
            second.partitions("shared-name")
        second.create_topic("shared-name", partitions=2)
        assert second.partitions("shared-name") == 2
    with KafkaBus(settings(kafka_namespace + "a.")) as first:
        assert first.partitions("shared-name") == 1
