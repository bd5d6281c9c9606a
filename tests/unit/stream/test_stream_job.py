"""The landing job: event-date partitions, quarantine with reasons, crash recovery."""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path

import orjson
import pytest

from bdp.bus import open_bus
from bdp.config import Settings, load_settings
from bdp.datasets import DATASETS
from bdp.lake import open_lake
from bdp.lake.rawfiles import decode_lines
from bdp.stream.checkpoint import Checkpoint, CheckpointStore
from bdp.stream.embedded import EmbeddedStreamJob

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


def landed(settings: Settings, zone: str, dataset: str) -> dict[str, list[bytes]]:
    lake = open_lake(settings)
    found: dict[str, list[bytes]] = {}
    for info in lake.list_files(f"{zone}/{dataset}"):
        day = info.path.split("/")[2].removeprefix("dt=")
        found.setdefault(day, []).extend(decode_lines(lake.read(info.path), info.path))
    return found


def produce(settings: Settings, values: list[bytes]) -> None:
    with open_bus(settings) as bus, bus.producer() as producer:
        bus.create_topic("weblogs")
        producer.send_batch("weblogs", values, [b"k%d" % (i % 5) for i in range(len(values))])


def run(settings: Settings) -> dict:
    with open_bus(settings) as bus:
        return EmbeddedStreamJob(settings, open_lake(settings), ["weblogs"], bus=bus).run(
            until_idle=True
        )


def test_records_land_in_their_event_date_in_the_platform_timezone(settings: Settings) -> None:
    # 14:59 UTC is 23:59 in Seoul; 15:00 UTC is the next day there.
    values = [web(i, "2024-04-16T14:59:00.000Z") for i in range(5)]
    values += [web(i, "2024-04-16T15:00:00.000Z") for i in range(5, 8)]
    produce(settings, values)
    stats = run(settings)["weblogs"]
    assert (stats.read, stats.landed, stats.quarantined) == (8, 8, 0)
    days = landed(settings, "raw", "weblogs")
    assert {day: len(lines) for day, lines in days.items()} == {"2024-04-16": 5, "2024-04-17": 3}
    assert sorted(days["2024-04-16"] + days["2024-04-17"]) == sorted(values)  # bytes as received


def test_bad_records_are_quarantined_with_reason_and_original_bytes(settings: Settings) -> None:
    ten_megabytes = b'{"ip": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    bad = [b"", b"{nope", b'{"ip": "\xff"}', ten_megabytes]
    produce(settings, [web(0, "2024-04-16T01:00:00.000Z"), *bad, web(1, "2024-04-16T02:00:00Z")])
    stats = run(settings)["weblogs"]
    assert (stats.landed, stats.quarantined) == (2, 4)
    assert dict(stats.reasons) == {"empty": 1, "invalid_json": 1, "not_utf8": 1, "too_large": 1}
    # The stream keeps going: a later batch lands normally.
    produce(settings, [web(2, "2024-04-16T03:00:00Z")])
    assert run(settings)["weblogs"].landed == 1
    lines = [
        orjson.loads(line)
        for lines in landed(settings, "quarantine", "weblogs").values()
        for line in lines
    ]
    assert sorted(base64.b64decode(q["value_b64"]) for q in lines) == sorted(bad)
    assert all(q["topic"] == "weblogs" and q["offset"] >= 0 and q["detail"] for q in lines)


def test_a_second_run_lands_only_new_records(settings: Settings) -> None:
    produce(settings, [web(i, "2024-04-16T01:00:00.000Z") for i in range(10)])
    assert run(settings)["weblogs"].landed == 10
    assert run(settings)["weblogs"].read == 0
    produce(settings, [web(i, "2024-04-16T01:00:00.000Z") for i in range(10, 13)])
    assert run(settings)["weblogs"].landed == 3
    assert len(landed(settings, "raw", "weblogs")["2024-04-16"]) == 13


def test_a_pending_batch_is_relanded_exactly(settings: Settings) -> None:
    values = [web(i, f"2024-04-{15 + i % 2}T01:00:00.000Z") for i in range(40)]
    produce(settings, values)
    assert run(settings)["weblogs"].landed == 40
    lake = open_lake(settings)
    store = CheckpointStore(lake, "stream")
    # Simulate a crash in the middle of landing partition 0's batch: its range is pending,
    # one of its files was published, the other not yet.
    with open_bus(settings) as bus:
        end = bus.end_offsets("weblogs")[0]
    files = [f for f in lake.list_files("raw/weblogs") if "/part-00000-" in f.path]
    assert len(files) == 2
    lake.delete(files[1].path)
    store.save("weblogs", 0, Checkpoint(0, (0, end - 1)))
    stats = run(settings)["weblogs"]
    assert stats.landed == end  # exactly the pending range, once
    after = landed(settings, "raw", "weblogs")
    assert sorted(after["2024-04-15"] + after["2024-04-16"]) == sorted(values)
    relanded = store.load("weblogs", 0)
    assert (relanded.next_offset, relanded.pending) == (end, None)
    # The re-landed range sets the watermark: its latest event time, 2024-04-16 01:00 UTC.
    assert relanded.watermark_ms == 1713229200000


def test_workers_share_the_partitions_and_land_the_same_files(settings: Settings) -> None:

    values = [web(i, f"2024-04-{15 + i % 3}T01:00:00.000Z") for i in range(300)]
    values.append(b"{broken")
    produce(settings, values)
    job = EmbeddedStreamJob(settings, open_lake(settings), ["weblogs"], workers=3)
    stats = job.run(until_idle=True)["weblogs"]
    assert (stats.read, stats.landed, stats.quarantined) == (301, 300, 1)
    days = landed(settings, "raw", "weblogs")
    assert sorted(line for lines in days.values() for line in lines) == sorted(values[:-1])
    # Each partition was landed by exactly one worker: one checkpoint each, all complete.
    store = CheckpointStore(open_lake(settings), "stream")
    with open_bus(settings) as bus:
        ends = bus.end_offsets("weblogs")
    loaded = {p: store.load("weblogs", p) for p in ends}
    assert {p: (c.next_offset, c.pending) for p, c in loaded.items()} == {
        p: (end, None) for p, end in ends.items()
    }


def test_each_batch_records_its_files_counts_and_sizes(settings: Settings) -> None:
    # Two event dates (in Seoul) and a bad record: three files per partition's batch.
    values = [web(i, f"2024-04-16T{14 + i % 2}:30:00.000Z") for i in range(40)]
    produce(settings, [*values, b"{broken"])
    run(settings)
    lake = open_lake(settings)
    files = {
        info.path: info
        for zone in ("raw", "quarantine")
        for info in lake.list_files(f"{zone}/weblogs")
    }
    recorded = {}
    for info in lake.list_files("_manifests/weblogs"):
        manifest = orjson.loads(lake.read(info.path))
        # A batch's files add up to its offset range (the local bus has no gaps).
        counts = [f["records"] for f in manifest["files"].values()]
        assert sum(counts) == manifest["records"] == manifest["last"] - manifest["first"] + 1
        recorded.update(manifest["files"])
    assert sorted(recorded) == sorted(files)
    for path, record in recorded.items():
        assert record["bytes"] == files[path].size
        assert record["records"] == len(decode_lines(lake.read(path), path))
    assert len([p for p in recorded if p.startswith("quarantine/")]) == 1


HOTEL = (
    '{"id":"h%d","ip":"192.168.0.1","datetime":"2024-04-16T01:00:00.000Z","account":"a",'
    '"method":"/","status":0,"gender":"female","age":"20-29"}'
)


def land_web_and_hotel(settings: Settings, web_values: list[bytes]) -> dict:
    """Land weblogs records and, behind them, three hotellogs records."""
    produce(settings, web_values)
    with open_bus(settings) as bus, bus.producer() as producer:
        bus.create_topic("hotellogs")
        producer.send_batch("hotellogs", [(HOTEL % i).encode() for i in range(3)], [b"a"] * 3)
    with open_bus(settings) as bus:
        job = EmbeddedStreamJob(settings, open_lake(settings), ["weblogs", "hotellogs"], bus=bus)
        return job.run(until_idle=True)


def quarantined(settings: Settings, dataset: str) -> list[dict]:
    days = landed(settings, "quarantine", dataset).values()
    return [orjson.loads(line) for lines in days for line in lines]


def no_batch_pending(settings: Settings, dataset: str) -> bool:
    store = CheckpointStore(open_lake(settings), "stream")
    with open_bus(settings) as bus:
        ends = bus.end_offsets(dataset)
    checkpoints = {p: store.load(dataset, p) for p in ends}
    # A partition that never had a record has no checkpoint yet.
    return all(
        checkpoints[p].pending is None and (checkpoints[p].next_offset or 0) == end
        for p, end in ends.items()
    )


def test_a_record_nested_a_thousand_deep_is_quarantined_and_landing_goes_on(
    settings: Settings,
) -> None:
    good = [web(i, "2024-04-16T01:00:00.000Z") for i in range(6)]
    deep = good[0][:-1] + b',"x":' + b"[" * 1000 + b"]" * 1000 + b"}"
    stats = land_web_and_hotel(settings, [*good[:3], deep, *good[3:]])
    assert (stats["weblogs"].landed, stats["weblogs"].quarantined) == (6, 1)
    [record] = quarantined(settings, "weblogs")
    assert record["reason"] == "too_deep" and base64.b64decode(record["value_b64"]) == deep
    assert sorted(landed(settings, "raw", "weblogs")["2024-04-16"]) == sorted(good)
    assert stats["hotellogs"].landed == 3
    assert no_batch_pending(settings, "weblogs") and no_batch_pending(settings, "hotellogs")


def test_a_check_that_fails_on_a_record_does_not_stop_the_job(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def check(event):
        if event.url == "/boom":
            raise MemoryError("one record too many")
        return None

    weblogs = dataclasses.replace(DATASETS["weblogs"], check=check)
    monkeypatch.setitem(DATASETS, "weblogs", weblogs)
    good = [web(i, "2024-04-16T01:00:00.000Z") for i in range(4)]
    boom = good[0].replace(b'"url":"/"', b'"url":"/boom"')
    stats = land_web_and_hotel(settings, [*good[:2], boom, *good[2:]])
    assert (stats["weblogs"].landed, stats["weblogs"].quarantined) == (4, 1)
    [record] = quarantined(settings, "weblogs")
    assert record["reason"] == "unprocessable"
    assert "MemoryError: one record too many" in record["detail"]
    assert stats["hotellogs"].landed == 3
    assert no_batch_pending(settings, "weblogs") and no_batch_pending(settings, "hotellogs")


def test_values_the_etl_could_not_load_are_quarantined_at_landing(settings: Settings) -> None:
    good = web(0, "2024-04-16T01:00:00.000Z")
    huge = good.replace(b'"responseCode":200', b'"responseCode":3000000000')
    twice = good.replace(b'"method":"GET"', b'"method":"GET","method":"PUT"')
    stats = land_web_and_hotel(settings, [good, huge, twice])["weblogs"]
    assert (stats.landed, dict(stats.reasons)) == (1, {"out_of_range": 1, "duplicate_key": 1})
    assert landed(settings, "raw", "weblogs") == {"2024-04-16": [good]}


def test_a_detail_quoting_broken_text_is_kept_in_quarantine() -> None:
    from bdp.lake.rawfiles import quarantine_line

    line = quarantine_line("unprocessable", "bad \ud800 text", "weblogs", 0, 7, 0, b"\xff")
    assert orjson.loads(line)["detail"] == "bad \\ud800 text"
