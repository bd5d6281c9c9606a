"""A session is sent once: a run that failed part way is completed by running it again."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bdp.bus.local import LocalBus
from bdp.config import BusSettings
from bdp.simulate import SimulationParams, send_session, session_group, simulate_table
from tests.scenarios.failing_producer import FailingAfter

TOPIC = "weblogs"


@pytest.fixture
def bus(tmp_path: Path) -> LocalBus:
    bus = LocalBus(tmp_path / "bus", BusSettings(partitions=3))
    bus.create_topic(TOPIC)
    return bus


def session(start_ms: int, seed: int = 0) -> tuple[str, list[bytes], object]:
    params = SimulationParams(start_ms=start_ms, seed=seed, users=200, minutes=5)
    table = simulate_table("weblogs", params)
    values = [value for block in table.blocks(1000) for value in block.values]
    return session_group("weblogs", params), values, lambda: table.blocks(250)


def on_bus(bus: LocalBus) -> list[bytes]:
    ends = bus.end_offsets(TOPIC)
    found: list[bytes] = []
    with bus.consumer("test-reader", TOPIC) as reader:
        while any(reader.position(p) < end for p, end in ends.items()):
            for batch in reader.poll(10_000, timeout_ms=100):
                found += batch.values
    return found


def send_failing(bus: LocalBus, limit: int, group: str, blocks) -> None:
    real = bus.producer
    bus.producer = lambda: FailingAfter(real(), limit)  # type: ignore[method-assign]
    try:
        with pytest.raises(OSError, match="No space left"):
            send_session(bus, TOPIC, group, blocks)
    finally:
        bus.producer = real  # type: ignore[method-assign]


@pytest.mark.parametrize("share", [0.0, 0.001, 0.5, 0.999])
def test_a_failed_run_is_completed_by_running_it_again(bus, start_ms, share) -> None:
    group, values, blocks = session(start_ms)
    limit = int(len(values) * share)
    send_failing(bus, limit, group, blocks)
    partial = on_bus(bus)
    assert len(partial) == limit

    result = send_session(bus, TOPIC, group, blocks)
    assert (result.generated, result.sent) == (len(values), len(values) - limit)
    assert Counter(on_bus(bus)) == Counter(values)  # every event, once


def test_a_session_sent_in_full_is_not_sent_again(bus, start_ms) -> None:
    group, values, blocks = session(start_ms)
    assert send_session(bus, TOPIC, group, blocks).sent == len(values)
    again = send_session(bus, TOPIC, group, blocks)
    assert (again.generated, again.sent) == (len(values), 0)
    assert len(on_bus(bus)) == len(values)


def test_other_sessions_between_a_failure_and_its_retry_are_left_alone(bus, start_ms) -> None:
    group, values, blocks = session(start_ms)
    other_group, other_values, other_blocks = session(start_ms, seed=1)
    assert other_group != group
    send_failing(bus, 100, group, blocks)
    assert send_session(bus, TOPIC, other_group, other_blocks).sent == len(other_values)
    assert send_session(bus, TOPIC, group, blocks).sent == len(values) - 100
    assert Counter(on_bus(bus)) == Counter(values) + Counter(other_values)


def test_a_recreated_topic_gets_the_whole_session(bus, start_ms) -> None:
    group, values, blocks = session(start_ms)
    send_session(bus, TOPIC, group, blocks)
    bus.delete_topic(TOPIC)
    bus.create_topic(TOPIC)
    assert send_session(bus, TOPIC, group, blocks).sent == len(values)
    assert Counter(on_bus(bus)) == Counter(values)


def test_the_bookmark_names_everything_that_decides_the_events(start_ms) -> None:
    base = SimulationParams(start_ms=start_ms, users=40)
    groups = {
        session_group("weblogs", base),
        session_group("hotellogs", base),
        session_group("weblogs", SimulationParams(start_ms=start_ms + 1, users=40)),
        session_group("weblogs", SimulationParams(start_ms=start_ms, users=41)),
        session_group("weblogs", SimulationParams(start_ms=start_ms, users=40, seed=2)),
        session_group("weblogs", SimulationParams(start_ms=start_ms, users=40, minutes=3)),
        session_group(
            "weblogs", SimulationParams(start_ms=start_ms, users=40, legacy_wire_format=True)
        ),
    }
    assert len(groups) == 7
    assert session_group("weblogs", SimulationParams(start_ms=start_ms, users=40)) in groups
