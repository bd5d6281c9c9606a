"""Day D is complete once due and every partition has landed past it or caught up."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from bdp.bus import open_bus
from bdp.config import Settings, load_settings
from bdp.errors import TransientError
from bdp.lake import open_lake
from bdp.orchestrate import completeness, get_dag
from bdp.orchestrate.completeness import day_completeness, day_due, wait_complete
from bdp.orchestrate.operations import NotReady, TaskContext
from bdp.stream.checkpoint import Checkpoint, CheckpointStore
from bdp.stream.embedded import EmbeddedStreamJob

D = date(2024, 4, 16)
END = datetime(2024, 4, 16, 15, 0, tzinfo=UTC)
"""Midnight after D in Seoul (UTC+9)."""
DUE = END + timedelta(minutes=60)
"""With the default allowed lateness."""
BEFORE = DUE - timedelta(minutes=1)
AFTER = DUE + timedelta(minutes=1)

WEB = (
    '{"ip":"192.168.0.1","datetime":"%s","method":"GET","url":"/","responseCode":200,'
    '"responseTime":%d,"sessionID":"s%d"}'
)


def web(i: int, ts: str) -> bytes:
    return (WEB % (ts, i, i % 3)).encode()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(
        home=tmp_path,
        environ={"BDP_PLATFORM__TIMEZONE": "Asia/Seoul", "BDP_BUS__PARTITIONS": "2"},
    )


def produce(settings: Settings, partition: int, times: list[str]) -> None:
    with open_bus(settings) as bus, bus.producer() as producer:
        bus.create_topic("weblogs")
        values = [web(i, ts) for i, ts in enumerate(times)]
        producer.send_batch("weblogs", values, partitions=[partition] * len(values))


def land(settings: Settings) -> None:
    with open_bus(settings) as bus:
        EmbeddedStreamJob(settings, open_lake(settings), ["weblogs"], bus=bus).run(until_idle=True)


def check(settings: Settings, now: datetime) -> completeness.Completeness:
    return day_completeness(settings, "weblogs", D, now)


def test_the_day_is_due_an_allowed_lateness_after_its_end(settings: Settings) -> None:
    assert day_due(settings, D) == DUE
    later = settings.model_copy(
        update={
            "scheduler": settings.scheduler.model_copy(update={"allowed_lateness_minutes": 150})
        }
    )
    assert day_due(later, D) == END + timedelta(minutes=150)


def test_a_landed_day_is_complete_once_due_and_not_before(settings: Settings) -> None:
    # Events up to the last minute of D in Seoul, in both partitions, none after.
    produce(settings, 0, ["2024-04-16T02:00:00Z", "2024-04-16T14:59:00Z"])
    produce(settings, 1, ["2024-04-16T10:00:00Z"])
    land(settings)
    early = check(settings, BEFORE)
    assert not early.complete
    assert early.reasons and "waiting until 2024-04-17T01:00:00+09:00" in early.reasons[0]
    found = check(settings, AFTER)
    assert found.complete and found.reasons == ()
    assert [(p.partition, p.lag, p.done_by) for p in found.partitions] == [
        (0, 0, "caught_up"),
        (1, 0, "caught_up"),
    ]
    assert found.partitions[0].watermark_ms == int(
        datetime(2024, 4, 16, 14, 59, tzinfo=UTC).timestamp() * 1000
    )


def test_a_partition_with_lag_holds_the_day_back_until_it_catches_up(
    settings: Settings,
) -> None:
    produce(settings, 0, ["2024-04-16T02:00:00Z"])
    produce(settings, 1, ["2024-04-16T03:00:00Z"])
    land(settings)
    produce(settings, 1, ["2024-04-16T14:00:00Z"] * 3)  # on the bus, not landed yet
    found = check(settings, AFTER)
    assert not found.complete
    assert [p.done_by for p in found.partitions] == ["caught_up", None]
    assert found.partitions[1].lag == 3
    assert found.reasons == (
        "partition 1: 3 records to land, landed up to 2024-04-16T12:00:00+09:00",
    )
    assert "partition 1: 3 records to land" in found.summary()
    land(settings)
    assert check(settings, AFTER).complete


def test_a_watermark_past_due_completes_a_partition_that_still_has_lag(
    settings: Settings,
) -> None:
    produce(settings, 0, ["2024-04-16T02:00:00Z"])
    # 16:30 UTC on D is 01:30 on D + 1 in Seoul: past the end of D plus an hour.
    produce(settings, 1, ["2024-04-16T16:30:00Z"])
    land(settings)
    produce(settings, 0, ["2024-04-16T14:00:00Z"])
    produce(settings, 1, ["2024-04-16T17:00:00Z"] * 2)
    found = check(settings, AFTER)
    assert [(p.done_by, p.lag) for p in found.partitions] == [(None, 1), ("watermark", 2)]
    assert not found.complete
    assert len(found.reasons) == 1 and found.reasons[0].startswith("partition 0: 1 records")
    # A watermark past due before the clock is: still not complete.
    assert not check(settings, BEFORE).complete


def test_the_watermark_is_read_back_after_the_job_restarts(settings: Settings) -> None:
    produce(settings, 1, ["2024-04-16T16:30:00Z"])
    land(settings)
    produce(settings, 1, ["2024-04-16T01:00:00Z"])
    land(settings)  # a new job: it lands older events only
    produce(settings, 1, ["2024-04-16T02:00:00Z"])
    found = check(settings, AFTER)
    assert found.partitions[1].done_by == "watermark"
    assert found.partitions[1].watermark_ms == int(
        datetime(2024, 4, 16, 16, 30, tzinfo=UTC).timestamp() * 1000
    )


def test_a_checkpoint_without_a_watermark_counts_by_its_offsets(settings: Settings) -> None:
    produce(settings, 0, ["2024-04-16T02:00:00Z"] * 4)
    produce(settings, 1, [])
    lake = open_lake(settings)
    # As written before watermarks were kept: three of partition 0's four records landed.
    path = "_checkpoints/stream/weblogs/partition-00000.json"
    lake.publish(path, orjson.dumps({"next_offset": 3, "pending": None}))
    found = check(settings, AFTER)
    assert found.reasons == ("partition 0: 1 records to land, no event landed yet",)
    lake.publish(path, orjson.dumps({"next_offset": 4, "pending": None}))
    assert check(settings, AFTER).complete


def test_a_missing_topic_has_nothing_to_land(settings: Settings) -> None:
    early = check(settings, BEFORE)
    assert not early.complete and not early.topic_exists
    found = check(settings, AFTER)
    assert found.complete and not found.topic_exists and found.partitions == ()


def test_an_empty_topic_is_complete_once_due(settings: Settings) -> None:
    produce(settings, 0, [])
    found = check(settings, AFTER)
    assert found.complete and found.topic_exists
    assert [p.done_by for p in found.partitions] == ["caught_up", "caught_up"]


def test_progress_another_engine_recorded_counts(settings: Settings) -> None:
    produce(settings, 0, ["2024-04-16T02:00:00Z"] * 2)
    lake = open_lake(settings)
    spark = CheckpointStore(lake, "spark-stream/partitions")
    spark.save("weblogs", 0, Checkpoint(2, None, None))
    assert check(settings, AFTER).complete
    # A pending range is still to land.
    spark.save("weblogs", 0, Checkpoint(1, (1, 1), None))
    found = check(settings, AFTER)
    assert found.reasons == (
        "partition 0: 1 records to land, no event landed yet, a batch mid-landing",
    )


def test_the_answer_reads_as_json(settings: Settings) -> None:
    produce(settings, 0, ["2024-04-16T02:00:00Z"])
    land(settings)
    document = orjson.loads(orjson.dumps(check(settings, AFTER).as_dict()))
    assert document["complete"] is True
    assert document["due"] == "2024-04-17T01:00:00+09:00"
    assert document["partitions"][0]["watermark"] == "2024-04-16T11:00:00+09:00"


def context(settings: Settings, now: datetime) -> TaskContext:
    dag = get_dag(settings, "weblogs")
    return TaskContext(settings, dag, dag.task("wait_complete"), D, now)


def test_the_sensor_says_not_yet_with_the_reason_then_summarises(settings: Settings) -> None:
    produce(settings, 0, ["2024-04-16T02:00:00Z"])
    with pytest.raises(NotReady, match="not complete: waiting until 2024-04-17T01:00"):
        wait_complete(context(settings, BEFORE))
    produce(settings, 1, ["2024-04-16T02:00:00Z"])
    land(settings)
    produce(settings, 1, ["2024-04-16T03:00:00Z"])
    with pytest.raises(NotReady, match=r"weblogs 2024-04-16 is not complete: partition 1: 1 "):
        wait_complete(context(settings, AFTER))
    land(settings)
    summary = wait_complete(context(settings, AFTER))
    assert summary["partitions"] == 2 and summary["caught_up"] == 2 and summary["lag"] == 0
    assert orjson.loads(orjson.dumps(summary)) == summary


def test_a_bus_that_does_not_answer_now_is_a_not_yet(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(*args: object, **kwargs: object) -> None:
        raise TransientError("no broker answered at 127.0.0.1:19092")

    monkeypatch.setattr(completeness, "day_completeness", unreachable)
    with pytest.raises(NotReady, match=r"cannot tell yet.*no broker answered"):
        wait_complete(context(settings, AFTER))


def test_now_must_say_its_zone(settings: Settings) -> None:
    with pytest.raises(ValueError, match="aware"):
        check(settings, datetime(2024, 4, 17, 12, 0))
