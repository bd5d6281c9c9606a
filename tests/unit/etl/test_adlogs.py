"""Ad log transform: event kinds, deltas and daily totals against hand-worked events."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bdp.etl.transforms.adlogs import ANALYSIS_COLUMNS

from .conftest import build, rows


def legacy(
    ad: str,
    name: str,
    account: str,
    gender: str,
    totals: tuple[int, int],
    flags: tuple[str, str],
    total_time: int,
    at: str,
) -> str:
    viewing, clicks = totals
    click, view = flags
    return (
        f'{{"Ad":{{"ad_id":"{ad}","ad_name":"{name}","ad_explain":"x","genre":"game",'
        f'"viewing_time":"{viewing}","click_count":"{clicks}","start_time":"2024-03-31",'
        f'"end_time":"2024-04-15"}},"User":{{"account":"{account}","gender":"{gender}",'
        f'"age":"27","click":"{click}","view":"{view}","total_time":"{total_time}",'
        f'"offset_time":"2024-04-16T{at}Z"}}}}'
    )


def corrected(
    event: str,
    totals: tuple[int, int],
    flags: tuple[bool, bool],
    total_time: int,
    delta: tuple[int, int],
    at: str,
) -> str:
    click, view = (str(flag).lower() for flag in flags)
    return (
        f'{{"Ad":{{"ad_id":"A","ad_name":"야놀자","ad_explain":"x","genre":"game",'
        f'"viewing_time":{totals[0]},"click_count":{totals[1]},"start_time":"2024-03-31",'
        f'"end_time":"2024-04-15"}},"User":{{"account":"u2","gender":"female","age":31,'
        f'"click":{click},"view":{view},"total_time":{total_time}}},"event":"{event}",'
        f'"datetime":"2024-04-16T{at}Z","delta":{{"viewing_time":{delta[0]},'
        f'"click_count":{delta[1]}}}}}'
    )


# u1's simulator run began the day before: its running totals start at 100 s and 3 clicks.
U1 = [
    legacy("A", "야놀자", "u1", "male", (100, 3), ("false", "true"), 0, "00:00:05.000"),
    legacy("A", "야놀자", "u1", "male", (115, 3), ("false", "false"), 15, "00:00:20.000"),
    # A click and a view start in the same millisecond.
    legacy("A", "야놀자", "u1", "male", (115, 4), ("true", "false"), 15, "00:01:00.000"),
    legacy("A", "야놀자", "u1", "male", (115, 4), ("true", "true"), 0, "00:01:00.000"),
    legacy("A", "야놀자", "u1", "male", (127, 4), ("true", "false"), 12, "00:01:30.000"),
]
U2 = [
    corrected("view_start", (0, 0), (False, True), 0, (0, 0), "02:00:00.000"),
    corrected("view_end", (9, 0), (False, False), 9, (9, 0), "02:00:09.000"),
    corrected("click", (9, 1), (True, False), 9, (0, 1), "02:00:30.000"),
]
# First events of the day on ad B: a click inside its cooldown, and a view end.
B = [
    legacy("B", "유튜브", "u3", "male", (0, 1), ("true", "false"), 0, "03:00:00.000"),
    legacy("B", "유튜브", "u4", "female", (50, 0), ("false", "false"), 20, "04:00:00.000"),
]


@pytest.fixture
def tables(engine, tmp_path: Path):
    return build(engine, tmp_path, "adlogs", U1 + U2 + B)


def test_legacy_kinds_and_deltas_inferred_in_time_order(tables) -> None:
    u1 = [r for r in rows(tables["ad_analysis_logs"], "datetime", "view") if r["account"] == "u1"]
    assert [(r["event"], r["viewing_time_delta"], r["click_count_delta"]) for r in u1] == [
        ("view_start", 0, 0),
        ("view_end", 15, 0),
        ("click", 0, 1),
        ("view_start", 0, 0),
        ("view_end", 12, 0),
    ]


def test_first_event_of_the_day_uses_its_own_fields(tables) -> None:
    found = {r["account"]: r for r in rows(tables["ad_analysis_logs"]) if r["ad_id"] == "B"}
    assert (found["u3"]["event"], found["u3"]["click_count_delta"]) == ("click", 1)
    assert found["u3"]["viewing_time_delta"] == 0
    assert (found["u4"]["event"], found["u4"]["viewing_time_delta"]) == ("view_end", 20)


def test_corrected_kinds_and_deltas_pass_through(tables) -> None:
    u2 = [r for r in rows(tables["ad_analysis_logs"], "datetime") if r["account"] == "u2"]
    assert [(r["event"], r["viewing_time_delta"], r["click_count_delta"]) for r in u2] == [
        ("view_start", 0, 0),
        ("view_end", 9, 0),
        ("click", 0, 1),
    ]


def test_typed_columns_and_kept_event_time(tables) -> None:
    first = rows(tables["ad_analysis_logs"], "datetime")[0]
    assert first == {
        "ad_id": "A",
        "ad_name": "야놀자",
        "ad_explain": "x",
        "genre": "game",
        "viewing_time": 100,
        "click_count": 3,
        "start_time": dt.date(2024, 3, 31),
        "end_time": dt.date(2024, 4, 15),
        "account": "u1",
        "gender": "male",
        "age": 27,
        "click": False,
        "view": True,
        "total_time": 0,
        "datetime": dt.datetime(2024, 4, 16, 0, 0, 5),
        "event": "view_start",
        "viewing_time_delta": 0,
        "click_count_delta": 0,
    }


def test_daily_totals_count_only_the_day(tables) -> None:
    # Max-then-sum over running totals would give ad A 127 + 9 s and 4 + 1 clicks.
    assert rows(tables["ad_view_totals"], "ad_id") == [
        {"ad_id": "A", "ad_name": "야놀자", "view_sum_total": 36, "view_sum_total_minutes": 0.6},
        {"ad_id": "B", "ad_name": "유튜브", "view_sum_total": 20, "view_sum_total_minutes": 0.33},
    ]
    assert rows(tables["ad_click_totals"], "ad_id") == [
        {"ad_id": "A", "ad_name": "야놀자", "total_click_count": 2},
        {"ad_id": "B", "ad_name": "유튜브", "total_click_count": 1},
    ]
    assert rows(tables["ad_gender_view_totals"], "ad_id", "gender") == [
        {"ad_id": "A", "ad_name": "야놀자", "gender": "female", "gender_view_total": 9},
        {"ad_id": "A", "ad_name": "야놀자", "gender": "male", "gender_view_total": 27},
        {"ad_id": "B", "ad_name": "유튜브", "gender": "female", "gender_view_total": 20},
        {"ad_id": "B", "ad_name": "유튜브", "gender": "male", "gender_view_total": 0},
    ]


def test_output_schema(engine, tmp_path: Path, tables) -> None:
    engine.write_parquet(tables["ad_analysis_logs"], str(tmp_path / "a"))
    schema = pq.read_schema(next((tmp_path / "a").glob("*.parquet")))
    assert tuple(schema.names) == ANALYSIS_COLUMNS
    kinds = {name: str(schema.field(name).type) for name in schema.names}
    assert kinds["click"] == kinds["view"] == "bool"
    assert kinds["start_time"] == "date32[day]"
    assert kinds["datetime"] == "timestamp[us, tz=UTC]"
    assert {kinds[c] for c in ("viewing_time", "age", "total_time", "click_count_delta")} == {
        "int32"
    }
