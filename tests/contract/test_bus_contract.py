"""The bus contract: what every backend must do, run against each of them.

Adding a backend is one entry in `BUS_BACKENDS` plus one branch in the `bus` fixture.
Topic names are unique per test so a shared server needs no cleanup between tests.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bdp.bus import Bus, RecordBatch, partition_for_key
from bdp.errors import BdpError, NotFoundError

# Real-service backends always run: a broker that is down fails them, it never skips them.
BUS_BACKENDS = ["local", pytest.param("kafka", marks=pytest.mark.service("kafka"))]
PARTITIONS = 3

pytestmark = pytest.mark.parametrize("bus", BUS_BACKENDS, indirect=True)


@pytest.fixture
def bus(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Bus]:
    backend = request.param
    if backend == "local":
        from bdp.bus.local import LocalBus
        from bdp.config import BusSettings

        opened: Bus = LocalBus(tmp_path / "bus", BusSettings(partitions=PARTITIONS))
    elif backend == "kafka":
        from bdp.bus.kafka import BrokerUnavailableError, KafkaBus
        from bdp.config import BusSettings

        # A namespace per test: groups and topics of earlier runs stay out of sight.
        namespace = f"contract-{uuid.uuid4().hex[:8]}."
        opened = KafkaBus(BusSettings(partitions=PARTITIONS, namespace=namespace))
        try:
            opened.topics()
        except BrokerUnavailableError as exc:
            pytest.fail(f"Kafka is not running ({exc}); start it with stack/kafka start")
    else:
        raise ValueError(f"no fixture branch for bus backend {backend!r}")
    with opened:
        yield opened


@pytest.fixture
def topic(bus: Bus) -> str:
    name = f"contract-{uuid.uuid4().hex[:12]}"
    assert bus.create_topic(name, partitions=PARTITIONS)
    return name


def drain(bus: Bus, topic: str, group: str, **consumer_args: object) -> list[RecordBatch]:
    """Everything currently in the topic, read by a fresh consumer of `group`."""
    batches = []
    with bus.consumer(group, topic, **consumer_args) as consumer:  # type: ignore[arg-type]
        while batch_list := consumer.poll(1000, timeout_ms=200):
            batches.extend(batch_list)
    return batches


def send_keyed(bus: Bus, topic: str, count: int, keys: int = 10) -> None:
    with bus.producer() as producer:
        producer.send_batch(
            topic,
            [b"%d:%d" % (i % keys, i) for i in range(count)],
            [b"key-%d" % (i % keys) for i in range(count)],
        )
        producer.flush()


def test_records_come_back_in_send_order_per_partition(bus: Bus, topic: str) -> None:
    send_keyed(bus, topic, 600)
    seen: dict[int, list[int]] = {}
    offsets: dict[int, list[int]] = {}
    for batch in drain(bus, topic, "order"):
        assert batch.topic == topic
        assert len(batch.offsets) == len(batch.timestamps_ms) == len(batch.values)
        offsets.setdefault(batch.partition, []).extend(batch.offsets.tolist())
        seen.setdefault(batch.partition, []).extend(int(v.split(b":")[1]) for v in batch.values)
    assert sum(len(v) for v in seen.values()) == 600
    for partition, sequence in seen.items():
        assert sequence == sorted(sequence), f"partition {partition} out of order"
        assert offsets[partition] == sorted(set(offsets[partition]))


def test_a_key_always_lands_in_its_partition_for_key(bus: Bus, topic: str) -> None:
    send_keyed(bus, topic, 300, keys=25)
    placed: dict[int, set[int]] = {}
    for batch in drain(bus, topic, "keys"):
        for value in batch.values:
            placed.setdefault(int(value.split(b":")[0]), set()).add(batch.partition)
    assert len(placed) == 25
    for key, partitions in placed.items():
        assert partitions == {partition_for_key(b"key-%d" % key, PARTITIONS)}


def test_chosen_partitions_override_the_key(bus: Bus, topic: str) -> None:
    targets = [i % PARTITIONS for i in range(40)]
    with bus.producer() as producer:
        producer.send_batch(
            topic,
            [b"%d" % i for i in range(40)],
            [b"same-key" if i % 2 else None for i in range(40)],
            partitions=targets,
        )
        producer.flush()
    placed = {
        int(value): (batch.partition, key)
        for batch in drain(bus, topic, "chosen", with_keys=True)
        for value, key in zip(batch.values, batch.keys, strict=True)
    }
    assert placed == {i: (targets[i], b"same-key" if i % 2 else None) for i in range(40)}


def test_a_partition_past_the_topic_is_refused(bus: Bus, topic: str) -> None:
    with bus.producer() as producer, pytest.raises((ValueError, BdpError)):
        producer.send_batch(topic, [b"x"], partitions=[PARTITIONS])
        producer.flush()


def test_begin_and_end_offsets_track_what_was_written(bus: Bus, topic: str) -> None:
    assert bus.begin_offsets(topic) == dict.fromkeys(range(PARTITIONS), 0)
    assert bus.end_offsets(topic) == dict.fromkeys(range(PARTITIONS), 0)
    send_keyed(bus, topic, 90, keys=9)
    counts = {p: 0 for p in range(PARTITIONS)}
    for k in range(9):
        counts[partition_for_key(b"key-%d" % k, PARTITIONS)] += 10
    assert bus.end_offsets(topic) == counts
    assert bus.begin_offsets(topic) == dict.fromkeys(range(PARTITIONS), 0)
    assert bus.partitions(topic) == PARTITIONS


def test_a_group_resumes_from_its_commit_after_reopening(bus: Bus, topic: str) -> None:
    with bus.producer() as producer:
        producer.send_batch(topic, [b"r%d" % i for i in range(50)], [b"one"] * 50)
        producer.flush()
    partition = partition_for_key(b"one", PARTITIONS)
    with bus.consumer("resume", topic, partitions=[partition]) as consumer:
        first = consumer.poll(20, timeout_ms=2000)
        assert sum(len(b) for b in first) == 20
        consumer.commit({partition: first[-1].last_offset + 1})
    with bus.consumer("resume", topic, partitions=[partition]) as consumer:
        assert consumer.position(partition) == 20
        rest = consumer.poll(1000, timeout_ms=2000)
    assert [v for b in rest for v in b.values] == [b"r%d" % i for i in range(20, 50)]
    # Another group is independent and starts at the beginning.
    others = drain(bus, topic, "other-group", partitions=[partition])
    assert others[0].first_offset == 0


def test_commit_and_committed_agree_between_consumer_and_bus(bus: Bus, topic: str) -> None:
    send_keyed(bus, topic, 30)
    with bus.consumer("commits", topic) as consumer:
        assert consumer.committed() == dict.fromkeys(range(PARTITIONS), None)
        consumer.commit({0: 3})
        consumer.commit({1: 2})
        assert consumer.committed() == {0: 3, 1: 2, 2: None}
    assert bus.committed("commits", topic) == {0: 3, 1: 2, 2: None}
    assert "commits" in bus.groups()


def test_lag_counts_records_past_the_commit(bus: Bus, topic: str) -> None:
    send_keyed(bus, topic, 60, keys=6)
    ends = bus.end_offsets(topic)
    assert bus.lag("lagging", topic) == ends
    with bus.consumer("lagging", topic) as consumer:
        consumer.commit({p: end // 2 for p, end in ends.items()})
    assert bus.lag("lagging", topic) == {p: end - end // 2 for p, end in ends.items()}


def test_seek_to_an_offset_rereads_from_there(bus: Bus, topic: str) -> None:
    with bus.producer() as producer:
        producer.send_batch(topic, [b"s%d" % i for i in range(40)], [b"seek"] * 40)
        producer.flush()
    partition = partition_for_key(b"seek", PARTITIONS)
    with bus.consumer("seeker", topic, partitions=[partition]) as consumer:
        assert sum(len(b) for b in consumer.poll(100, timeout_ms=2000)) == 40
        consumer.seek(partition, 35)
        assert consumer.position(partition) == 35
        batches = consumer.poll(100, timeout_ms=2000)
    assert batches[0].offsets.tolist() == [35, 36, 37, 38, 39]
    assert batches[0].values == [b"s%d" % i for i in range(35, 40)]


def test_seek_to_timestamp_finds_the_first_record_at_or_after(bus: Bus, topic: str) -> None:
    # Producer clocks may disagree: timestamps are not sorted by offset. They are recent:
    # a broker's time retention may delete records stamped decades ago at any moment.
    base = int(time.time() * 1000) - 60_000
    stamps = [base + s for s in (1_000, 5_000, 3_000, 9_000, 7_000, 7_000, 12_000)]
    with bus.producer() as producer:
        for i, stamp in enumerate(stamps):
            producer.send(topic, b"t%d" % i, key=b"clock", timestamp_ms=stamp)
        producer.flush()
    partition = partition_for_key(b"clock", PARTITIONS)
    with bus.consumer("timer", topic, partitions=[partition]) as consumer:
        assert consumer.seek_to_timestamp(partition, base) == 0
        assert consumer.seek_to_timestamp(partition, base + 4_000) == 1
        assert consumer.seek_to_timestamp(partition, base + 6_000) == 3
        assert consumer.seek_to_timestamp(partition, base + 10_000) == 6
        assert consumer.seek_to_timestamp(partition, base + 8_000) == 3
        assert consumer.position(partition) == 3
        batch = consumer.poll(1, timeout_ms=2000)[0]
        assert batch.values == [b"t3"]
        assert batch.timestamps_ms.tolist() == [base + 9_000]
        assert consumer.seek_to_timestamp(partition, base + 13_000) == len(stamps)


def test_latest_start_skips_what_is_already_there(bus: Bus, topic: str) -> None:
    send_keyed(bus, topic, 30)
    with bus.consumer("late", topic, start="latest") as consumer:
        assert consumer.poll(100, timeout_ms=0) == []
        assert {p: consumer.position(p) for p in consumer.assignment} == bus.end_offsets(topic)


def test_poll_respects_max_records(bus: Bus, topic: str) -> None:
    send_keyed(bus, topic, 300)
    with bus.consumer("bounded", topic) as consumer:
        total = 0
        while batches := consumer.poll(7, timeout_ms=200):
            assert sum(len(b) for b in batches) <= 7
            assert len({b.partition for b in batches}) == len(batches)
            total += sum(len(b) for b in batches)
    assert total == 300


def test_an_empty_poll_returns_nothing_after_waiting(bus: Bus, topic: str) -> None:
    with bus.consumer("idle", topic) as consumer:
        assert consumer.poll(10, timeout_ms=0) == []
        started = time.monotonic()
        assert consumer.poll(10, timeout_ms=150) == []
        assert time.monotonic() - started >= 0.15 * 0.9  # it waited, not returned early


def test_timestamps_default_to_the_send_time(bus: Bus, topic: str) -> None:
    before = time.time_ns() // 1_000_000
    with bus.producer() as producer:
        producer.send_batch(topic, [b"a", b"b"], [b"k", b"k"])
        producer.flush()
    after = time.time_ns() // 1_000_000
    (batch,) = drain(bus, topic, "clock")
    assert all(before <= int(t) <= after for t in batch.timestamps_ms)
    assert batch.timestamps_ms.dtype == np.int64


def test_create_list_and_delete_topics(bus: Bus) -> None:
    name = f"contract-{uuid.uuid4().hex[:12]}"
    assert bus.create_topic(name, partitions=2)
    assert not bus.create_topic(name, partitions=2)
    assert name in bus.topics()
    assert bus.partitions(name) == 2
    bus.delete_topic(name)
    assert name not in bus.topics()


def test_unknown_topics_raise_not_found(bus: Bus) -> None:
    missing = f"missing-{uuid.uuid4().hex[:12]}"
    with pytest.raises(NotFoundError):
        bus.partitions(missing)
    with pytest.raises(NotFoundError):
        bus.end_offsets(missing)
    with pytest.raises(NotFoundError):
        bus.consumer("g", missing)
    with pytest.raises(NotFoundError):
        bus.committed("g", missing)
