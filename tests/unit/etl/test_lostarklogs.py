"""Lost Ark transform: every derived column against hand-worked raw events."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bdp.etl import RunLog, run_etl
from bdp.etl.transforms import TransformOptions
from bdp.etl.transforms.base import dropped_rows, kept_rows
from bdp.etl.transforms.lostarklogs import ANALYSIS_COLUMNS, ROOM_COLUMNS, TRAINING_COLUMNS

from .conftest import build, rows, write_raw

VALTAN = '"Boss":{"name":"Valtan","item_level":"1800","endTime":"600"}'
KAMEN = '"Boss":{"name":"Kamen","item_level":2700,"endTime":1200}'

EVENTS = [
    # Legacy: zone-less local start time, no event time, `inpukey`, strings everywhere.
    '{"sessionID":"S1","startTime":"2024-04-16T09:00:03.006","gametime":"10:01","success":"1",'
    '"User":{"class":"Bard","account":"a1","ip":"192.168.0.58"},' + VALTAN + ","
    r'"method":"\/chat","x":"118","y":"-240","inpukey":"space","status":"0"}',
    '{"sessionID":"S1","startTime":"2024-04-16T09:00:03.500","gametime":"0:07","success":"0",'
    '"User":{"class":"Blade","account":"a2","ip":"192.168.0.59"},' + VALTAN + ","
    r'"method":"\/move","x":"5","y":"6","inpukey":"q","status":"1"}',
    # Corrected: UTC start time, its own event time, counters left out (they default to 0).
    '{"sessionID":"S1","startTime":"2024-04-16T00:00:00.000Z","gametime":"1:00",'
    '"datetime":"2024-04-16T00:01:00.250Z",'
    '"User":{"class":"Bard","account":"a3","ip":"192.168.0.60"},' + VALTAN + ","
    '"method":"/wait","inputkey":"alt"}',
    '{"sessionID":"S1","startTime":"2024-04-16T00:00:00.000Z","gametime":"10:02",' + VALTAN + ","
    '"method":"/raid_result","result":"cleared","survivors":1,'
    '"datetime":"2024-04-16T00:10:02.000Z"}',
    '{"sessionID":"S2","startTime":"2024-04-16T02:00:00.000Z","gametime":"0:30",'
    '"datetime":"2024-04-16T02:00:30.000Z",'
    '"User":{"class":"Reaper","account":"b1","ip":"192.168.0.70"},' + KAMEN + ","
    '"method":"/move","x":-3,"y":4,"inputkey":"w","success":0,"status":1}',
    '{"sessionID":"S2","startTime":"2024-04-16T02:00:00.000Z","gametime":"0:40",'
    '"datetime":"2024-04-16T02:00:40.000Z",'
    '"User":{"class":"Bard","account":"b2","ip":"192.168.0.71"},' + KAMEN + ","
    '"method":"/chat","x":1,"y":1,"inputkey":"e","success":0,"status":1}',
]

DAY = dt.date(2024, 4, 16)
SEOUL = TransformOptions(timezone="Asia/Seoul")


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@pytest.fixture
def tables(engine, tmp_path: Path):
    return build(engine, tmp_path, "lostarklogs", EVENTS, SEOUL)


def test_legacy_record_gets_utc_start_and_event_time(tables) -> None:
    a1 = next(r for r in rows(tables["lostark_analysis_log"]) if r["User_account"] == "a1")
    assert a1 == {
        "sessionID": "S1",
        "startTime": at("2024-04-16 00:00:03.006"),  # 09:00:03.006 in Seoul
        "datetime": at("2024-04-16 00:10:04.006"),  # + 10:01
        "gametime": "10:01",
        "gametime_seconds": 601,
        "success": 1,
        "status": 0,
        "Boss_name": "Valtan",
        "Boss_item_level": 1800,
        "Boss_endTime": 600,
        "User_account": "a1",
        "User_class": "Bard",
        "User_ip": "192.168.0.58",
        "method": "/chat",
        "inputkey": "space",
        "x": 118,
        "y": -240,
        "xy": -122,
    }


def test_corrected_record_keeps_its_times_and_defaults(tables) -> None:
    by_account = {r["User_account"]: r for r in rows(tables["lostark_analysis_log"])}
    a3 = by_account["a3"]
    assert (a3["startTime"], a3["datetime"]) == (
        at("2024-04-16 00:00:00"),
        at("2024-04-16 00:01:00.25"),
    )
    assert (a3["success"], a3["status"], a3["x"], a3["y"], a3["xy"]) == (0, 0, 0, 0, 0)
    assert a3["inputkey"] == "alt" and a3["gametime_seconds"] == 60
    a2 = by_account["a2"]
    assert (a2["datetime"], a2["status"], a2["xy"]) == (at("2024-04-16 00:00:10.5"), 1, 11)
    assert by_account["b1"]["Boss_item_level"] == 2700 and by_account["b1"]["xy"] == 1


def test_zone_less_start_is_utc_when_platform_is_utc(engine, tmp_path: Path) -> None:
    found = rows(build(engine, tmp_path, "lostarklogs", EVENTS[:1])["lostark_analysis_log"])
    assert found[0]["startTime"] == at("2024-04-16 09:00:03.006")
    assert found[0]["datetime"] == at("2024-04-16 09:10:04.006")


def test_room_result_events_are_not_player_events(tables) -> None:
    analysis = rows(tables["lostark_analysis_log"], "User_account")
    assert [r["User_account"] for r in analysis] == ["a1", "a2", "a3", "b1", "b2"]
    assert "/raid_result" not in {r["method"] for r in analysis}


def test_training_projection(tables) -> None:
    first = rows(tables["lostark_training_log"], "User_account")[0]
    assert first == {
        "startTime": at("2024-04-16 00:00:03.006"),
        "gametime": "10:01",
        "User_account": "a1",
        "method": "/chat",
        "x": 118,
        "y": -240,
        "inputkey": "space",
        "xy": -122,
    }


def test_room_outcomes(tables) -> None:
    assert rows(tables["lostark_room_results"], "sessionID") == [
        {
            "sessionID": "S1",
            "Boss_name": "Valtan",
            "Boss_item_level": 1800,
            "players": 3,
            "deaths": 1,
            "clears": 1,
            "room_success": 1,
            "reported_result": "cleared",
        },
        {
            "sessionID": "S2",
            "Boss_name": "Kamen",
            "Boss_item_level": 2700,
            "players": 2,
            "deaths": 2,
            "clears": 0,
            "room_success": 0,
            "reported_result": None,
        },
    ]


def test_output_schemas(engine, tmp_path: Path, tables) -> None:
    names = {}
    for table in tables:
        engine.write_parquet(tables[table], str(tmp_path / table))
        names[table] = pq.read_schema(next((tmp_path / table).glob("*.parquet")))
    analysis = names["lostark_analysis_log"]
    assert tuple(analysis.names) == ANALYSIS_COLUMNS
    assert tuple(names["lostark_training_log"].names) == TRAINING_COLUMNS
    assert tuple(names["lostark_room_results"].names) == ROOM_COLUMNS
    assert str(analysis.field("startTime").type) == "timestamp[us, tz=UTC]"
    ints = ("gametime_seconds", "success", "status", "Boss_item_level", "Boss_endTime", "xy")
    assert {str(analysis.field(c).type) for c in ints} == {"int32"}


def test_the_etl_counts_the_room_results_the_analysis_table_leaves_out(settings, lake, engine):
    write_raw(lake, "lostarklogs", DAY, "part-00000-0-5.jsonl.zst", EVENTS)
    result = run_etl(settings, "lostarklogs", DAY, lake=lake, engine=engine)
    assert result.dropped == {"room_result": 1}
    assert result.raw_rows == result.tables["lostark_analysis_log"] + 1
    recorded = RunLog(settings.paths.state).last_ok_run("lostarklogs", DAY)
    assert recorded is not None and recorded.dropped_rows == {"room_result": 1}


def test_rules_drop_a_row_once_and_never_for_null(engine, tmp_path: Path) -> None:
    F = engine.functions
    (tmp_path / "rows").mkdir()
    table = pa.table({"m": ["a", "b", None, "b", "c"], "n": [1, 2, 3, None, 5]})
    pq.write_table(table, tmp_path / "rows" / "part-0.parquet")
    events = engine.read_parquet(str(tmp_path / "rows"))
    rules = {
        "is_b": lambda F: F.col("m") == "b",
        "big_n": lambda F: F.col("n") >= 2,  # NULL for the 4th row, already dropped as "b"
    }
    assert dropped_rows(events, F, rules) == {"is_b": 2, "big_n": 2}
    kept = sorted((r["m"], r["n"]) for r in kept_rows(events, F, rules).collect())
    assert kept == [("a", 1)]
    only_b = {"is_b": rules["is_b"]}  # a NULL `m` is not "b": kept, not dropped
    assert len(kept_rows(events, F, only_b).collect()) == 3
    assert dropped_rows(events, F, {}) == {} and kept_rows(events, F, {}) is events
