"""The run log: fingerprints of raw partitions and the days that need a run."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from bdp.errors import BdpError
from bdp.etl.runs import (
    EtlRun,
    RunLog,
    day_fingerprint,
    last_runs,
    raw_files,
    raw_fingerprint,
    record_run,
    stale_days,
)
from bdp.lake import FileInfo
from bdp.lake.manifests import LandedFiles

from .conftest import write_raw

DAY = dt.date(2024, 4, 16)
NOW = dt.datetime(2024, 4, 17, 9, 0, tzinfo=dt.UTC)


def run(day: dt.date, fingerprint: str, status: str = "ok") -> EtlRun:
    return EtlRun("hotellogs", day, NOW, NOW, status, None, 1, {"t": 1}, fingerprint)


def test_fingerprint_is_names_and_sizes_in_any_order(lake) -> None:
    landed = LandedFiles(lake, "x")
    a = FileInfo("raw/x/dt=2024-04-16/part-1.jsonl.zst", 10, 1)
    b = FileInfo("raw/x/dt=2024-04-16/part-2.jsonl.zst", 20, 2)
    moved = FileInfo("raw/x/dt=2024-04-16/part-2.jsonl.zst", 20, 99)  # touched, not changed
    grown = FileInfo("raw/x/dt=2024-04-16/part-2.jsonl.zst", 21, 2)
    assert (
        raw_fingerprint([a, b], landed)
        == raw_fingerprint([b, a], landed)
        == raw_fingerprint([a, moved], landed)
    )
    assert raw_fingerprint([a, b], landed) != raw_fingerprint([a, grown], landed)
    assert raw_fingerprint([a], landed) != raw_fingerprint([a, b], landed)


def test_only_record_files_belong_to_a_day(lake) -> None:
    write_raw(lake, "hotellogs", DAY, "part-00000-0-0.jsonl.zst", ["{}"])
    lake.publish(f"raw/hotellogs/dt={DAY}/_SUCCESS", b"")
    assert [f.path.rsplit("/", 1)[1] for f in raw_files(lake, "hotellogs", DAY)] == [
        "part-00000-0-0.jsonl.zst"
    ]


def test_last_runs_newest_first_with_fields_kept(tmp_path) -> None:
    log = RunLog(tmp_path / "state.sqlite")
    log.record_run(run(DAY, "a"))
    log.record_run(EtlRun("adlogs", DAY, NOW, NOW, "failed", "boom", None, {}, "b"))
    newest, older = log.last_runs(2)
    assert (newest.dataset, newest.status, newest.error, newest.raw_rows) == (
        "adlogs",
        "failed",
        "boom",
        None,
    )
    assert (older.table_rows, older.raw_fingerprint, older.started_at) == ({"t": 1}, "a", NOW)
    assert [r.dataset for r in log.last_runs(1)] == ["adlogs"]
    assert [r.dataset for r in log.last_runs(5, dataset="hotellogs")] == ["hotellogs"]


def test_stale_days_compare_with_the_last_successful_run(lake, tmp_path) -> None:
    log = RunLog(tmp_path / "state.sqlite")
    write_raw(lake, "hotellogs", DAY, "part-00000-0-0.jsonl", ["{}"])
    lake.publish("raw/hotellogs/dt=not-a-day/part-00000-1-1.jsonl", b"{}\n")
    current = day_fingerprint(lake, "hotellogs", DAY)
    assert log.stale_days(lake, "hotellogs") == [DAY]
    log.record_run(run(DAY, current))
    assert log.stale_days(lake, "hotellogs") == []
    log.record_run(run(DAY, "other", status="failed"))  # a failed run changes nothing
    assert log.stale_days(lake, "hotellogs") == []
    log.record_run(run(DAY, "older contents"))
    assert log.stale_days(lake, "hotellogs") == [DAY]
    assert log.stale_days(lake, "adlogs") == []


def test_settings_level_helpers_share_one_store(settings, lake) -> None:
    write_raw(lake, "hotellogs", DAY, "part-00000-0-0.jsonl", ["{}"])
    current = day_fingerprint(lake, "hotellogs", DAY)
    assert stale_days(settings, lake, "hotellogs") == [DAY]
    record_run(settings, run(DAY, current))
    assert stale_days(settings, lake, "hotellogs") == []
    [latest] = last_runs(settings, limit=1)
    assert latest.as_dict() == {
        "dataset": "hotellogs",
        "dt": "2024-04-16",
        "started_at": "2024-04-17T09:00:00+00:00",
        "finished_at": "2024-04-17T09:00:00+00:00",
        "status": "ok",
        "error": None,
        "raw_rows": 1,
        "table_rows": {"t": 1},
        "raw_fingerprint": current,
        "dropped_rows": None,
    }


def test_the_rows_each_rule_dropped_are_kept_with_the_run(tmp_path) -> None:
    log = RunLog(tmp_path / "state.sqlite")
    assert log.last_ok_run("lostarklogs", DAY) is None
    first = EtlRun("lostarklogs", DAY, NOW, NOW, "ok", None, 9, {"t": 7}, "a", {"room_result": 2})
    log.record_run(first)
    log.record_run(EtlRun("lostarklogs", DAY, NOW, NOW, "failed", "boom", 9, {}, "b", {}))
    log.record_run(
        EtlRun("lostarklogs", DAY - dt.timedelta(days=1), NOW, NOW, "ok", None, 1, {}, "c", {})
    )
    found = log.last_ok_run("lostarklogs", DAY)
    assert found == first and found.dropped_rows == {"room_result": 2}
    assert found.as_dict()["dropped_rows"] == {"room_result": 2}


def test_a_run_log_from_before_drops_were_recorded_gains_their_column(tmp_path) -> None:
    path = tmp_path / "state.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE etl_runs (id INTEGER PRIMARY KEY AUTOINCREMENT, dataset TEXT NOT NULL,"
            " dt TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT NOT NULL,"
            " status TEXT NOT NULL, error TEXT, raw_rows INTEGER, table_rows TEXT NOT NULL,"
            " raw_fingerprint TEXT NOT NULL)"
        )
        conn.execute(
            "INSERT INTO etl_runs (dataset, dt, started_at, finished_at, status, raw_rows,"
            " table_rows, raw_fingerprint) VALUES ('hotellogs', ?, ?, ?, 'ok', 1, '{}', 'a')",
            (DAY.isoformat(), NOW.isoformat(), NOW.isoformat()),
        )
    conn.close()
    log = RunLog(path)
    old = log.last_ok_run("hotellogs", DAY)
    assert old is not None and old.dropped_rows is None
    log.record_run(run(DAY, "b"))
    assert RunLog(path).last_runs(limit=2)[0].raw_fingerprint == "b"  # opened again: no change


def test_a_run_log_that_cannot_be_written_is_an_error_naming_its_file(tmp_path, monkeypatch):
    unusable = tmp_path / "state.sqlite"
    unusable.mkdir()  # SQLite cannot open a directory
    with pytest.raises(BdpError, match=f"run log {unusable}: unable to open database file"):
        RunLog(unusable)

    def disk_full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(sqlite3, "connect", disk_full)
    with pytest.raises(BdpError, match="database or disk is full"):
        RunLog(tmp_path / "other.sqlite").last_runs(5, None)
