"""Day completeness against a real broker: its end offsets against the lake's checkpoints."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bdp.bus import open_bus
from bdp.config import Settings, load_settings
from bdp.lake import open_lake
from bdp.orchestrate.completeness import day_completeness
from bdp.stream.embedded import EmbeddedStreamJob

pytestmark = pytest.mark.service("kafka")

D = date(2024, 4, 16)
AFTER = datetime(2024, 4, 17, 1, 1, tzinfo=UTC)
"""Past the end of D (UTC) plus the default hour of allowed lateness."""

WEB = (
    '{"ip":"192.168.0.1","datetime":"%s","method":"GET","url":"/","responseCode":200,'
    '"responseTime":%d,"sessionID":"s%d"}'
)


@pytest.fixture
def settings(tmp_path: Path, kafka_env: dict[str, str]) -> Settings:
    return load_settings(home=tmp_path, environ=kafka_env)


def produce(settings: Settings, partition: int, count: int) -> None:
    values = [(WEB % ("2024-04-16T10:00:00Z", i, i)).encode() for i in range(count)]
    with open_bus(settings) as bus, bus.producer() as producer:
        producer.send_batch("weblogs", values, partitions=[partition] * count)
        producer.flush()


def test_a_partition_behind_the_broker_holds_the_day_back(settings: Settings) -> None:
    with open_bus(settings) as bus:
        bus.create_topic("weblogs", partitions=2)
    assert day_completeness(settings, "weblogs", D, AFTER).complete  # an empty topic
    produce(settings, 0, 5)
    produce(settings, 1, 3)
    with open_bus(settings) as bus:
        EmbeddedStreamJob(settings, open_lake(settings), ["weblogs"], bus=bus).run(until_idle=True)
    found = day_completeness(settings, "weblogs", D, AFTER)
    assert found.complete, found.reasons
    assert [(p.end_offset, p.done_by) for p in found.partitions] == [
        (5, "caught_up"),
        (3, "caught_up"),
    ]
    produce(settings, 1, 2)
    behind = day_completeness(settings, "weblogs", D, AFTER)
    assert not behind.complete
    assert behind.reasons == (
        "partition 1: 2 records to land, landed up to 2024-04-16T10:00:00+00:00",
    )
    assert not day_completeness(settings, "weblogs", D, AFTER - timedelta(minutes=2)).complete


def test_a_topic_the_broker_does_not_have_has_nothing_to_land(settings: Settings) -> None:
    found = day_completeness(settings, "hotellogs", D, AFTER)
    assert found.complete and not found.topic_exists
    with open_bus(settings) as bus:
        assert "hotellogs" not in bus.topics()  # asking did not create it
