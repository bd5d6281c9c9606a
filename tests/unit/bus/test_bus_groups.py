"""Committed offsets: durable across reopen, merged between consumers, atomic on disk."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import pytest

from bdp.bus.local import LocalBus
from bdp.bus.local.groups import GROUPS_DIR

TOPIC = "grouped"


def test_commits_survive_reopening_the_bus(make_bus: Callable[..., LocalBus]) -> None:
    bus = make_bus(partitions=3)
    bus.create_topic(TOPIC)
    with bus.consumer("etl", TOPIC) as consumer:
        consumer.commit({0: 10, 2: 7})
        consumer.commit({0: 12})
    reopened = make_bus(partitions=3)
    assert reopened.committed("etl", TOPIC) == {0: 12, 1: None, 2: 7}
    assert reopened.groups() == ["etl"]
    with reopened.consumer("etl", TOPIC) as consumer:
        assert consumer.committed() == {0: 12, 1: None, 2: 7}
        assert consumer.position(0) == 12


def test_consumers_of_one_group_on_different_partitions_keep_each_others_commits(
    make_bus: Callable[..., LocalBus],
) -> None:
    bus = make_bus(partitions=2)
    bus.create_topic(TOPIC)
    first = bus.consumer("shared", TOPIC, partitions=[0])
    second = make_bus(partitions=2).consumer("shared", TOPIC, partitions=[1])
    first.commit({0: 5})
    second.commit({1: 9})
    first.commit({0: 6})
    assert bus.committed("shared", TOPIC) == {0: 6, 1: 9}
    assert first.committed() == {0: 6}
    first.close()
    second.close()


@pytest.mark.parametrize("group", ["a/b", "..", "x@y.json", "spaces and ünïcode", ".hidden"])
def test_any_group_name_round_trips(make_bus: Callable[..., LocalBus], group: str) -> None:
    bus = make_bus(partitions=1)
    bus.create_topic(TOPIC)
    with bus.consumer(group, TOPIC) as consumer:
        consumer.commit({0: 1})
    assert bus.groups() == [group]
    assert bus.committed(group, TOPIC) == {0: 1}
    files = os.listdir(bus.root / GROUPS_DIR)
    assert all("/" not in name for name in files)
    assert not [name for name in files if name.endswith(".tmp")]


def test_the_offsets_file_is_complete_json(make_bus: Callable[..., LocalBus]) -> None:
    bus = make_bus(partitions=2)
    bus.create_topic(TOPIC)
    with bus.consumer("g", TOPIC) as consumer:
        consumer.commit({1: 4})
    (path,) = (bus.root / GROUPS_DIR).glob("*.json")
    assert json.loads(path.read_text()) == {"group": "g", "topic": TOPIC, "offsets": {"1": 4}}


def test_bad_commits_are_refused(make_bus: Callable[..., LocalBus]) -> None:
    bus = make_bus(partitions=2)
    bus.create_topic(TOPIC)
    with bus.consumer("g", TOPIC) as consumer:
        with pytest.raises(ValueError, match="no partition 2"):
            consumer.commit({2: 1})
        with pytest.raises(ValueError, match=">= 0"):
            consumer.commit({0: -1})
        assert consumer.committed() == {0: None, 1: None}
    with pytest.raises(ValueError, match="group"):
        bus.consumer("", TOPIC)


def test_deleting_a_topic_forgets_its_commits(make_bus: Callable[..., LocalBus]) -> None:
    bus = make_bus(partitions=1)
    bus.create_topic(TOPIC)
    bus.create_topic("other")
    for topic in (TOPIC, "other"):
        with bus.consumer("g", topic) as consumer:
            consumer.commit({0: 3})
    bus.delete_topic(TOPIC)
    bus.create_topic(TOPIC)
    assert bus.committed("g", TOPIC) == {0: None}
    assert bus.committed("g", "other") == {0: 3}
