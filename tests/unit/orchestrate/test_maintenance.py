"""The maintenance DAGs' operations, run as the scheduler runs them: on a lake landed by
the embedded stream job from the embedded bus."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from bdp.bus import BUSES, BusCapabilities, open_bus
from bdp.bus.local import LocalBus
from bdp.config import Settings, load_settings
from bdp.lake import open_lake
from bdp.lake.rawfiles import merged_name
from bdp.orchestrate.dags import build_dags
from bdp.orchestrate.operations import TaskContext, run_operation
from bdp.status import dataset_rows
from bdp.stream.embedded import EmbeddedStreamJob

DAY = dt.date(2024, 4, 16)
NOW = dt.datetime.now(dt.UTC)
WEB = (
    '{"ip":"1","datetime":"%sT%02d:00:00.000Z","method":"GET","url":"/%d",'
    '"responseCode":200,"responseTime":5,"sessionID":"s"}'
)


def settings_for(tmp_path: Path, **environ: str) -> Settings:
    base = {
        "BDP_BUS__PARTITIONS": "1",
        "BDP_STREAM__BATCH_RECORDS": "5",
        "BDP_STREAM__BATCH_MAX_DELAY_MS": "0",
        "BDP_MAINTENANCE__COMPACT_MIN_FILES": "2",
    }
    return load_settings(home=tmp_path / "home", environ={**base, **environ}, cwd=tmp_path)


def produce(settings: Settings, day: dt.date, count: int, at_ms: int | None = None) -> None:
    values = [(WEB % (day.isoformat(), i % 24, i)).encode() for i in range(count)]
    with open_bus(settings) as bus, bus.producer() as producer:
        for start in range(0, count, 5):
            chunk = values[start : start + 5]
            stamps = None if at_ms is None else [at_ms] * len(chunk)
            producer.send_batch("weblogs", chunk, timestamps_ms=stamps)
            producer.flush()


def land(settings: Settings) -> None:
    with open_bus(settings) as bus:
        EmbeddedStreamJob(settings, open_lake(settings), ["weblogs"], bus=bus).run(until_idle=True)


def run(settings: Settings, dag_id: str, day: dt.date, now: dt.datetime = NOW) -> dict[str, Any]:
    dag = build_dags(settings)[dag_id]
    summary = run_operation(TaskContext(settings, dag, dag.tasks[0], day, now))
    json.dumps(summary)  # JSON-ready, as the scheduler keeps it
    return summary


def raw_rows(settings: Settings) -> dict[str, int]:
    rows = dataset_rows(open_lake(settings), "weblogs", verify=True)
    assert rows.damaged == []
    return rows.zones["raw"]


def test_compact_raw_merges_days_older_than_d_minus_n(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    produce(settings, DAY, 40)
    produce(settings, DAY + dt.timedelta(days=1), 10)
    land(settings)
    lake = open_lake(settings)
    before = raw_rows(settings)
    assert len(lake.list_files(f"raw/weblogs/dt={DAY}")) == 8
    # D = DAY + 3, N = 2: DAY is merged, DAY + 1 is not finished yet.
    summary = run(settings, "raw_compaction", DAY + dt.timedelta(days=3))
    assert summary["compacted_before"] == (DAY + dt.timedelta(days=1)).isoformat()
    assert (summary["merged_files"], summary["source_files"]) == (1, 8)
    assert summary["datasets"]["weblogs"]["records"] == 40
    assert summary["bytes_after"] > 0 and summary["damaged"] == []
    [merged] = lake.list_files(f"raw/weblogs/dt={DAY}")
    assert merged_name(merged.path)
    assert len(lake.list_files(f"raw/weblogs/dt={DAY + dt.timedelta(days=1)}")) == 2
    assert raw_rows(settings) == before
    again = run(settings, "raw_compaction", DAY + dt.timedelta(days=3))
    assert again["merged_files"] == 0


def test_lake_retention_deletes_days_past_retention(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, BDP_MAINTENANCE__LAKE_RETENTION_DAYS="2")
    for back in range(4):
        produce(settings, DAY - dt.timedelta(days=back), 5)
    land(settings)
    summary = run(settings, "lake_retention", DAY)
    kept = [(DAY - dt.timedelta(days=back)).isoformat() for back in (1, 0)]
    assert list(raw_rows(settings)) == kept
    weblogs = summary["datasets"]["weblogs"]
    assert weblogs["retention_days"] == 2 and weblogs["oldest_kept"] == kept[0]
    assert weblogs["deleted_partitions"]["raw"] == [
        (DAY - dt.timedelta(days=back)).isoformat() for back in (3, 2)
    ]
    assert summary["deleted_partitions"] == 2 and summary["bytes_freed"] > 0
    assert summary["datasets"]["gamelogs"]["deleted_partitions"] == {}
    assert "warehouse" in summary
    # Without any retention, nothing goes.
    forever = settings_for(tmp_path)
    assert run(forever, "lake_retention", DAY)["deleted_partitions"] == 0
    assert run(forever, "lake_retention", DAY)["datasets"]["weblogs"]["retention_days"] is None


def test_bus_retention_never_drops_records_not_landed(tmp_path: Path) -> None:
    settings = settings_for(
        tmp_path, BDP_BUS__RETENTION_HOURS="1", BDP_BUS__LOCAL__SEGMENT_BYTES="4096"
    )
    old = int((NOW - dt.timedelta(days=3)).timestamp() * 1000)
    produce(settings, DAY, 100, at_ms=old)
    land(settings)
    produce(settings, DAY, 100, at_ms=old)  # not landed yet
    with open_bus(settings) as bus:
        segments_before = len(list((bus.root / "weblogs" / "0").glob("*.log")))
    summary = run(settings, "bus_retention", DAY)
    assert summary["enforced_by"] == "bdp"
    assert summary["deleted_segments"] > 0 and summary["deleted_records"] > 0
    assert list(summary["held_back"]) == ["weblogs"] and summary["held_back"]["weblogs"]["0"] > 0
    assert "held back" in summary["note"]
    with open_bus(settings) as bus:
        begin = bus.begin_offsets("weblogs")[0]
    assert 0 < begin <= 100  # nothing the stream job has not landed is gone
    # The job lands the rest; the same run now deletes every closed segment.
    land(settings)
    assert raw_rows(settings) == {DAY.isoformat(): 200}
    summary = run(settings, "bus_retention", DAY)
    assert summary["held_back"] == {} and "note" not in summary
    assert summary["lost_unlanded"] == {}
    with open_bus(settings) as bus:
        segments_after = list((bus.root / "weblogs" / "0").glob("*.log"))
        assert len(segments_after) == 1 < segments_before  # the active segment stays
        assert bus.begin_offsets("weblogs")[0] > 100


class BrokerBus(LocalBus):
    """A bus whose server enforces retention itself."""

    name = "broker"
    capabilities = BusCapabilities(shared=True, kafka_protocol=True, server_retention=True)

    def enforce_retention(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a server's retention is the server's")


def test_bus_retention_leaves_a_broker_s_retention_to_it_and_reports_what_it_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert BUSES.capabilities("kafka").server_retention
    assert not BUSES.capabilities("local").server_retention
    settings = settings_for(
        tmp_path, BDP_BUS__RETENTION_HOURS="1", BDP_BUS__LOCAL__SEGMENT_BYTES="4096"
    )
    monkeypatch.setattr("bdp.bus.open_bus", lambda s: BrokerBus(s.paths.bus, s.bus))
    produce(settings, DAY, 50, at_ms=int((NOW - dt.timedelta(days=3)).timestamp() * 1000))
    summary = run(settings, "bus_retention", DAY)
    assert summary["enforced_by"] == "server" and summary["bus"] == "broker"
    assert summary["deleted_segments"] == 0 and summary["retention_hours"] == 1.0
    assert summary["lost_unlanded"] == {}
    # The broker's own retention does not wait for the stream job: say what it took.
    broker = BrokerBus(settings.paths.bus, settings.bus)
    LocalBus.enforce_retention(broker, int(NOW.timestamp() * 1000))
    begin = broker.begin_offsets("weblogs")[0]
    assert begin > 0
    assert run(settings, "bus_retention", DAY)["lost_unlanded"] == {"weblogs": {"0": begin}}
