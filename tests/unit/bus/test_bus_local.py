"""The embedded bus's own surface: registry, partitioning, validation, fsync policies."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from bdp.bus import Bus, open_bus, partition_for_key
from bdp.bus.local import LocalBus
from bdp.config import BusSettings, Settings
from bdp.errors import ConfigError, MissingExtraError, NotFoundError, UnknownNameError


def settings_for(tmp_path: Path, backend: str) -> Settings:
    return Settings(home=tmp_path / "home", bus=BusSettings(backend=backend))


def test_open_bus_gives_the_local_bus_under_the_data_home(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "local")
    with open_bus(settings) as bus:
        assert isinstance(bus, LocalBus)
        assert bus.root == settings.paths.bus
        assert bus.name == "local"
        assert not bus.capabilities.shared and not bus.capabilities.kafka_protocol
        with pytest.raises(ConfigError, match="does not speak Kafka's protocol"):
            bus.kafka_connection()


def test_open_bus_names_the_extra_kafka_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "confluent_kafka", None)  # import fails
    with pytest.raises(MissingExtraError) as caught:
        open_bus(settings_for(tmp_path, "kafka"))
    assert caught.value.extra == "kafka"
    assert "pip install 'bdp[kafka]'" in str(caught.value)


def test_open_bus_suggests_the_closest_backend(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'local'") as caught:
        open_bus(settings_for(tmp_path, "locale"))
    assert caught.value.known == ["kafka", "local"]


def test_producing_to_a_new_topic_creates_it_with_the_default_partitions(
    make_bus: Callable[..., LocalBus],
) -> None:
    bus = make_bus(partitions=5)
    assert bus.topics() == []
    with bus.producer() as producer:
        producer.send("fresh", b"hello")
    assert bus.topics() == ["fresh"]
    assert bus.partitions("fresh") == 5
    assert sum(bus.end_offsets("fresh").values()) == 1


def test_unkeyed_batches_stick_to_one_partition_and_rotate(
    make_bus: Callable[..., LocalBus],
) -> None:
    bus = make_bus(partitions=4)
    with bus.producer() as producer:
        for b in range(8):
            producer.send_batch("spread", [b"%d" % b] * 10)
    ends = bus.end_offsets("spread")
    assert ends == dict.fromkeys(range(4), 20)


def test_keyed_records_follow_partition_for_key_and_nulls_stick(
    make_bus: Callable[..., LocalBus], read_all: Callable
) -> None:
    bus = make_bus(partitions=4)
    keys = [None if i % 5 == 0 else b"user-%d" % (i % 13) for i in range(200)]
    with bus.producer() as producer:
        producer.send_batch("keyed", [b"v%d" % i for i in range(200)], keys)
    placed: dict[bytes | None, set[int]] = {}
    for partition in range(4):
        batch = read_all(bus, "keyed", partition, with_keys=True)
        assert len(batch.keys) == len(batch.values)
        for key, value in zip(batch.keys, batch.values, strict=True):
            assert keys[int(value[1:])] == key
            placed.setdefault(key, set()).add(partition)
    for key, partitions in placed.items():
        if key is not None:
            assert partitions == {partition_for_key(key, 4)}
    assert len(placed[None]) == 1
    assert sum(bus.end_offsets("keyed").values()) == 200


def test_keys_are_left_out_unless_asked_for(
    make_bus: Callable[..., LocalBus], read_all: Callable
) -> None:
    bus = make_bus(partitions=1)
    with bus.producer() as producer:
        producer.send_batch("k", [b"a", b"b"], [b"x", None])
    assert read_all(bus, "k").keys == []
    assert read_all(bus, "k", with_keys=True).keys == [b"x", None]


def test_arrow_binary_arrays_are_accepted_as_values(
    make_bus: Callable[..., LocalBus], read_all: Callable
) -> None:
    bus = make_bus(partitions=2)
    values = [b"row-%d" % i for i in range(100)]
    keys = [b"k%d" % (i % 7) for i in range(100)]
    with bus.producer() as producer:
        producer.send_batch("arrow", pa.array(values, pa.large_binary()), keys)
        producer.send_batch("plain", pa.array(values, pa.binary()), timestamps_ms=np.arange(100))
    got = Counter(v for p in range(2) for v in read_all(bus, "arrow", p).values)
    assert got == Counter(values)
    plain = [read_all(bus, "plain", p) for p in range(2)]
    (full,) = [batch for batch in plain if len(batch)]
    assert full.values == values
    assert full.timestamps_ms.tolist() == list(range(100))


def test_small_sends_are_buffered_until_flush(make_bus: Callable[..., LocalBus]) -> None:
    bus = make_bus(partitions=1)
    producer = bus.producer()
    for i in range(10):
        producer.send("buffered", b"%d" % i)
    assert bus.end_offsets("buffered") == {0: 0}
    producer.flush()
    assert bus.end_offsets("buffered") == {0: 10}
    producer.close()
    with pytest.raises(ValueError, match="closed"):
        producer.send("buffered", b"late")


@pytest.mark.parametrize("fsync", ["always", "interval", "never"])
def test_every_fsync_policy_acknowledges_and_reads_back(
    make_bus: Callable[..., LocalBus], read_all: Callable, fsync: str
) -> None:
    bus = make_bus(partitions=1, fsync=fsync, fsync_interval_ms=5, segment_bytes=4096)
    with bus.producer() as producer:
        for b in range(20):
            producer.send_batch("durable", [b"%d-%d" % (b, i) + bytes(200) for i in range(5)])
            producer.flush()
    assert read_all(make_bus(partitions=1), "durable").offsets.tolist() == list(range(100))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda bus: bus.create_topic("bad/name"), "invalid topic name"),
        (lambda bus: bus.create_topic(".hidden"), "invalid topic name"),
        (lambda bus: bus.create_topic("x" * 250), "invalid topic name"),
        (lambda bus: bus.create_topic("t", partitions=0), "partitions"),
        (lambda bus: bus.create_topic("t", retention_hours=0), "retention_hours"),
        (lambda bus: bus.create_topic("t", retention_bytes=-2), "retention_bytes"),
        (lambda bus: bus.consumer("g", "t", partitions=[3]), "partitions 0..0"),
        (lambda bus: bus.consumer("g", "t", partitions=[]), "empty"),
        (lambda bus: bus.consumer("g", "t", start="middle"), "start"),
        (lambda bus: bus.consumer("g", "t").poll(0), "max_records"),
        (lambda bus: bus.consumer("g", "t").poll(1, timeout_ms=-1), "timeout_ms"),
        (lambda bus: bus.consumer("g", "t").seek(0, -1), "offset"),
        (lambda bus: bus.consumer("g", "t").seek(1, 0), "not assigned"),
        (lambda bus: bus.producer().send_batch("t", [b"a"], [b"k", b"l"]), "2 keys for 1"),
        (lambda bus: bus.producer().send_batch("t", [b"a"], timestamps_ms=[1, 2]), "timestamps"),
        (lambda bus: bus.producer().send_batch("t", [b"a"], timestamps_ms=[1.5]), "integers"),
        (lambda bus: bus.producer().send_batch("t", [b"a"], [7]), "keys must be bytes"),
        (lambda bus: bus.producer().send_batch("t", b"abc"), "sequence of bytes"),
        (lambda bus: bus.producer().send_batch("t", ["text"]), "values must be bytes"),
    ],
)
def test_bad_arguments_raise_value_errors(
    make_bus: Callable[..., LocalBus], call: Callable[[Bus], object], message: str
) -> None:
    bus = make_bus(partitions=1)
    bus.create_topic("t")
    with pytest.raises(ValueError, match=message):
        call(bus)


def test_unknown_topics_raise_not_found_everywhere(make_bus: Callable[..., LocalBus]) -> None:
    bus = make_bus()
    for call in (
        lambda: bus.partitions("nope"),
        lambda: bus.begin_offsets("nope"),
        lambda: bus.end_offsets("nope"),
        lambda: bus.committed("g", "nope"),
        lambda: bus.lag("g", "nope"),
        lambda: bus.consumer("g", "nope"),
        lambda: bus.delete_topic("nope"),
    ):
        with pytest.raises(NotFoundError, match="'nope'"):
            call()


def test_a_topic_is_created_once_even_when_asked_twice(make_bus: Callable[..., LocalBus]) -> None:
    first, second = make_bus(partitions=2), make_bus(partitions=3)
    assert first.create_topic("once")
    assert not second.create_topic("once", partitions=7)
    assert second.partitions("once") == 2
    assert not [p for p in first.root.iterdir() if p.name.startswith(".new-")]


def test_fsync_always_syncs_every_flushed_batch(
    make_bus: Callable[..., LocalBus], monkeypatch: pytest.MonkeyPatch
) -> None:
    import bdp.bus.local.appender as appender_module

    synced: list[int] = []
    monkeypatch.setattr(appender_module.os, "fdatasync", synced.append)
    bus = make_bus(partitions=1, fsync="always")
    with bus.producer() as producer:
        for b in range(3):
            producer.send_batch("synced", [b"%d" % b])
            producer.flush()
            assert len(synced) == b + 1
    assert len(synced) == 3


def test_fsync_never_leaves_syncing_to_the_os(
    make_bus: Callable[..., LocalBus], monkeypatch: pytest.MonkeyPatch
) -> None:
    import bdp.bus.local.appender as appender_module

    synced: list[int] = []
    monkeypatch.setattr(appender_module.os, "fdatasync", synced.append)
    bus = make_bus(partitions=1, fsync="never", segment_bytes=4096)
    with bus.producer() as producer:
        for _ in range(10):
            producer.send_batch("unsynced", [bytes(1000)])
            producer.flush()
    assert synced == []


def test_the_interval_syncer_syncs_what_was_written_when_closed() -> None:
    from bdp.bus.local.appender import IntervalSyncer

    class Recorder:
        syncs = 0

        def sync(self) -> None:
            self.syncs += 1

    recorder = Recorder()
    syncer = IntervalSyncer(interval_s=3600)
    syncer.note_write(recorder)  # type: ignore[arg-type]
    syncer.close()
    assert recorder.syncs == 1
