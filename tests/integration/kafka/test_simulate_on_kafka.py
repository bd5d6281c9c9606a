"""`simulate` sends a session once on Kafka too: a run that failed part way is completed
by running it again, and the session's bookmark is a consumer group on the broker."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from bdp.bus.kafka import KafkaBus
from bdp.config import BusSettings, KafkaBusSettings
from bdp.simulate import SimulationParams, send_session, session_group, simulate_table
from tests.scenarios.failing_producer import FailingAfter

TOPIC = "weblogs"
START_MS = 1_713_225_600_000  # 2024-04-16T00:00:00Z


@pytest.fixture
def bus(kafka: str, kafka_namespace: str) -> Iterator[KafkaBus]:
    settings = BusSettings(
        namespace=kafka_namespace, partitions=3, kafka=KafkaBusSettings(bootstrap_servers=kafka)
    )
    with KafkaBus(settings) as bus:
        bus.create_topic(TOPIC)
        yield bus


def on_bus(bus: KafkaBus) -> list[bytes]:
    ends = bus.end_offsets(TOPIC)
    found: list[bytes] = []
    with bus.consumer("test-reader", TOPIC) as reader:
        while any(reader.position(p) < end for p, end in ends.items()):
            for batch in reader.poll(10_000, timeout_ms=500):
                found += batch.values
    return found


@pytest.mark.service("kafka")
def test_a_failed_run_is_completed_once_on_kafka(bus: KafkaBus) -> None:
    params = SimulationParams(start_ms=START_MS, users=200, minutes=5)
    table = simulate_table("weblogs", params)
    values = [value for block in table.blocks(1000) for value in block.values]
    group = session_group("weblogs", params)

    def blocks():
        return table.blocks(250)

    real = bus.producer
    bus.producer = lambda: FailingAfter(real(), len(values) // 2)  # type: ignore[method-assign]
    with pytest.raises(OSError):
        send_session(bus, TOPIC, group, blocks)
    bus.producer = real  # type: ignore[method-assign]
    assert len(on_bus(bus)) == len(values) // 2

    assert send_session(bus, TOPIC, group, blocks).sent == len(values) - len(values) // 2
    assert send_session(bus, TOPIC, group, blocks).sent == 0
    assert Counter(on_bus(bus)) == Counter(values)
