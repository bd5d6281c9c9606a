"""run_etl end to end: raw day D → curated partition D → warehouse partition D."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bdp.config import Settings
from bdp.etl import RunLog, run_etl
from bdp.etl.runner import EtlError
from bdp.etl.transforms import TRANSFORMS
from bdp.lake.local import LocalLake
from bdp.warehouse import WarehouseCapabilities, open_warehouse

from .conftest import write_raw

DAY = dt.date(2024, 4, 16)
BEFORE = DAY - dt.timedelta(days=1)


WEB_REQUEST = (
    '{"ip":"1","datetime":"2024-04-16T00:00:00.000Z","method":"GET","url":"/",'
    '"responseCode":200,"responseTime":5,"sessionID":"s"}'
)


def hotel(id_: str, day: dt.date = DAY, method: str = "/") -> str:
    return (
        f'{{"id":"{id_}","ip":"192.168.0.1","datetime":"{day.isoformat()}T01:00:00.000Z",'
        f'"account":"a","method":"{method}","status":0,"gender":"female","age":"20-29"}}'
    )


def warehouse_rows(settings: Settings, table: str) -> list[tuple]:
    with open_warehouse(settings) as warehouse:
        return sorted(warehouse.query(f"SELECT * FROM {table}").to_pylist(), key=repr)


def curated_rows(lake: LocalLake, table: str, day: dt.date) -> list[dict]:
    files = [
        lake.uri(f.path)
        for f in lake.list_files(f"curated/{table}/dt={day.isoformat()}")
        if f.path.endswith(".parquet")
    ]
    return [row for path in files for row in pq.read_table(path).to_pylist()]


def test_curated_rows_equal_warehouse_rows(settings, lake, engine) -> None:
    write_raw(lake, "hotellogs", DAY, "part-00000-0-1.jsonl.zst", [hotel("h1"), hotel("h2")])
    write_raw(
        lake, "hotellogs", DAY, "part-00001-0-0.jsonl.gz", [hotel("h3", method="/buy/places/4")]
    )
    result = run_etl(settings, "hotellogs", DAY, lake=lake, engine=engine)
    assert (result.dataset, result.dt, result.raw_files, result.raw_rows) == (
        "hotellogs",
        DAY,
        2,
        3,
    )
    assert result.tables == {"hotel_analysis_log": 3, "hotel_gender_daily": 1}
    for table in result.tables:
        curated = curated_rows(lake, table, DAY)
        loaded = warehouse_rows(settings, table)
        assert len(curated) == len(loaded) == result.tables[table]
        assert sorted(({**row, "dt": DAY} for row in curated), key=repr) == loaded


def test_running_a_day_twice_changes_nothing(settings, lake, engine) -> None:
    write_raw(lake, "hotellogs", DAY, "part-00000-0-1.jsonl.zst", [hotel("h1"), hotel("h2")])
    run_etl(settings, "hotellogs", DAY, lake=lake, engine=engine)
    first = warehouse_rows(settings, "hotel_analysis_log")
    run_etl(settings, "hotellogs", DAY, lake=lake, engine=engine)
    assert warehouse_rows(settings, "hotel_analysis_log") == first
    assert [r["id"] for r in first] == ["h1", "h2"]
    assert len(lake.list_files(f"curated/hotel_analysis_log/dt={DAY}")) == 1


def test_reads_only_the_requested_day(settings, lake, engine) -> None:
    write_raw(lake, "hotellogs", BEFORE, "part-00000-0-0.jsonl", [hotel("old", BEFORE)])
    write_raw(lake, "hotellogs", DAY, "part-00000-1-1.jsonl", [hotel("new")])
    result = run_etl(settings, "hotellogs", DAY, lake=lake, engine=engine)
    assert result.raw_rows == 1
    assert [(r["id"], r["dt"]) for r in warehouse_rows(settings, "hotel_analysis_log")] == [
        ("new", DAY)
    ]


def test_late_data_makes_the_day_stale_and_a_rerun_takes_it(settings, lake, engine) -> None:
    log = RunLog(settings.paths.state)
    write_raw(lake, "hotellogs", BEFORE, "part-00000-0-0.jsonl", [hotel("old", BEFORE)])
    write_raw(lake, "hotellogs", DAY, "part-00000-1-1.jsonl", [hotel("h1")])
    assert log.stale_days(lake, "hotellogs") == [BEFORE, DAY]  # never ran
    first = run_etl(settings, "hotellogs", DAY, lake=lake, engine=engine)
    assert log.stale_days(lake, "hotellogs") == [BEFORE]
    write_raw(lake, "hotellogs", DAY, "part-00001-2-2.jsonl", [hotel("late")])
    assert log.stale_days(lake, "hotellogs") == [BEFORE, DAY]
    again = run_etl(settings, "hotellogs", DAY, lake=lake, engine=engine)
    assert again.raw_fingerprint != first.raw_fingerprint
    assert log.stale_days(lake, "hotellogs") == [BEFORE]
    assert [r["id"] for r in warehouse_rows(settings, "hotel_analysis_log")] == ["h1", "late"]


def test_day_without_raw_files_gives_empty_partitions(settings, lake, engine) -> None:
    result = run_etl(settings, "hotellogs", DAY, lake=lake, engine=engine)
    assert (result.raw_files, result.raw_rows) == (0, 0)
    assert result.tables == {"hotel_analysis_log": 0, "hotel_gender_daily": 0}
    with open_warehouse(settings) as warehouse:
        assert warehouse.row_count("hotel_analysis_log", DAY) == 0
        assert "gender" in warehouse.query("SELECT * FROM hotel_analysis_log").column_names


def test_a_day_whose_raw_files_vanished_is_emptied(settings, lake, engine) -> None:
    path = write_raw(lake, "hotellogs", DAY, "part-00000-0-0.jsonl", [hotel("h1")])
    run_etl(settings, "hotellogs", DAY, lake=lake, engine=engine)
    lake.delete(path)
    run_etl(settings, "hotellogs", DAY, lake=lake, engine=engine)
    assert warehouse_rows(settings, "hotel_analysis_log") == []


@pytest.mark.parametrize("dataset", sorted(TRANSFORMS))
def test_every_dataset_creates_its_tables_on_an_empty_day(settings, lake, engine, dataset) -> None:
    result = run_etl(settings, dataset, DAY, lake=lake, engine=engine)
    assert set(result.tables) == set(TRANSFORMS[dataset].TABLES)
    assert set(result.tables.values()) == {0}
    with open_warehouse(settings) as warehouse:
        assert set(TRANSFORMS[dataset].TABLES) <= set(warehouse.tables())


class BrokenWarehouse:
    capabilities = WarehouseCapabilities()

    def replace_partition(self, table: str, dt: dt.date, parquet_uris: list[str]) -> int:
        raise RuntimeError("disk full")


def test_failed_run_is_recorded_and_raised(settings, lake, engine) -> None:
    write_raw(lake, "hotellogs", DAY, "part-00000-0-0.jsonl", [hotel("h1")])
    with pytest.raises(RuntimeError, match="disk full"):
        run_etl(settings, "hotellogs", DAY, lake=lake, engine=engine, warehouse=BrokenWarehouse())
    log = RunLog(settings.paths.state)
    [run] = log.last_runs(5)
    assert (run.status, run.dt, run.raw_rows) == ("failed", DAY, 1)
    assert "disk full" in (run.error or "")
    assert log.stale_days(lake, "hotellogs") == [DAY]


def test_successful_runs_are_listed_newest_first(settings, lake, engine) -> None:
    write_raw(lake, "hotellogs", DAY, "part-00000-0-0.jsonl", [hotel("h1")])
    run_etl(settings, "hotellogs", BEFORE, lake=lake, engine=engine)
    run_etl(settings, "hotellogs", DAY, lake=lake, engine=engine)
    runs = RunLog(settings.paths.state).last_runs(10)
    assert [(r.dt, r.status, r.raw_rows) for r in runs] == [(DAY, "ok", 1), (BEFORE, "ok", 0)]
    assert runs[0].table_rows == {"hotel_analysis_log": 1, "hotel_gender_daily": 1}
    assert runs[0].finished_at >= runs[0].started_at


def test_engine_opened_from_settings_is_closed(
    settings: Settings, lake: LocalLake, tmp_path: Path
) -> None:
    write_raw(lake, "weblogs", DAY, "part-00000-0-0.jsonl", [WEB_REQUEST])
    result = run_etl(settings, "weblogs", DAY, lake=lake)
    assert result.tables == {"weblog_access_log": 1, "weblog_url_daily": 1}
    assert list((settings.paths.home / "tmp").iterdir()) == []  # engine scratch removed


def test_an_events_table_that_is_not_the_typed_rows_is_an_error(
    settings, lake, engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # weblogs' access log is declared the typed rows; a build() that drops a column from
    # it breaks the declaration, and the run says so instead of publishing other columns.
    weblogs = TRANSFORMS["weblogs"]
    original = weblogs.build

    def build(events, engine, options):
        frames = original(events, engine, options)
        frames["weblog_access_log"] = frames["weblog_access_log"].drop("is_error")
        return frames

    monkeypatch.setattr(weblogs, "build", build)
    write_raw(lake, "weblogs", DAY, "part-00000-0-0.jsonl", [WEB_REQUEST])
    with pytest.raises(EtlError, match="weblog_access_log is declared the typed events"):
        run_etl(settings, "weblogs", DAY, lake=lake, engine=engine)
