"""Hotel log transform: every derived column against hand-worked raw events."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bdp.etl.transforms.hotellogs import ANALYSIS_COLUMNS, GENDER_DAILY_COLUMNS

from .conftest import build, rows


def event(id_: str, account: str, gender: str, method: str, status: int | str) -> str:
    value = f'"{status}"' if isinstance(status, str) else str(status)
    return (
        f'{{"id":"{id_}","ip":"192.168.0.1","datetime":"2024-04-16T01:12:09.554Z",'
        f'"account":"{account}","method":"{method}","status":{value},"gender":"{gender}",'
        f'"age":"30-39"}}'
    )


EVENTS = [
    event("h1", "f1", "female", r"\/buy\/places\/42", "1"),  # legacy wire form
    event("h2", "f1", "female", r"\/fefund", "0"),  # legacy refund spelling
    event("h3", "f1", "female", "/refund", 0),
    event("h4", "f2", "female", "/places/7", 0),
    event("h9", "f2", "female", "/sub-home/", 0),
    event("h5", "m1", "male", "/sub-home/hotel", 0),
    event("h6", "m1", "male", "/flights", 0),
    event("h7", "m1", "male", "/", 0),
    event("h8", "m2", "male", "/buy/places/0", 1),
]


@pytest.fixture
def tables(engine, tmp_path: Path):
    return build(engine, tmp_path, "hotellogs", EVENTS)


def derived(tables) -> dict[str, tuple]:
    return {
        r["id"]: (r["method"], r["buyNum"], r["click_place"], r["click_subhome"], r["is_refund"])
        for r in rows(tables["hotel_analysis_log"], "id")
    }


def test_method_parts_and_refund_flag(tables) -> None:
    assert derived(tables) == {
        "h1": ("/buy/places/42", 42, None, None, 0),
        "h2": ("/refund", None, None, None, 1),
        "h3": ("/refund", None, None, None, 1),
        "h4": ("/places/7", None, 7, None, 0),
        "h9": ("/sub-home/", None, None, None, 0),
        "h5": ("/sub-home/hotel", None, None, "hotel", 0),
        "h6": ("/flights", None, None, None, 0),
        "h7": ("/", None, None, None, 0),
        "h8": ("/buy/places/0", 0, None, None, 0),
    }


def test_typed_columns_and_gender_kept(tables) -> None:
    first = rows(tables["hotel_analysis_log"], "id")[0]
    assert first == {
        "id": "h1",
        "ip": "192.168.0.1",
        "datetime": dt.datetime(2024, 4, 16, 1, 12, 9, 554000),
        "account": "f1",
        "gender": "female",
        "age": "30-39",
        "method": "/buy/places/42",
        "status": 1,
        "buyNum": 42,
        "click_place": None,
        "click_subhome": None,
        "is_refund": 0,
    }


def test_gender_daily_shows_booking_rates(tables) -> None:
    assert rows(tables["hotel_gender_daily"], "gender") == [
        {
            "gender": "female",
            "users": 2,
            "events": 5,
            "bookings": 1,
            "refunds": 2,
            "booking_users": 1,
            "bookings_per_1000_events": 200.0,
        },
        {
            "gender": "male",
            "users": 2,
            "events": 4,
            "bookings": 1,
            "refunds": 0,
            "booking_users": 1,
            "bookings_per_1000_events": 250.0,
        },
    ]


def test_output_schemas(engine, tmp_path: Path, tables) -> None:
    engine.write_parquet(tables["hotel_analysis_log"], str(tmp_path / "a"))
    engine.write_parquet(tables["hotel_gender_daily"], str(tmp_path / "g"))
    analysis = pq.read_schema(next((tmp_path / "a").glob("*.parquet")))
    daily = pq.read_schema(next((tmp_path / "g").glob("*.parquet")))
    assert tuple(analysis.names) == ANALYSIS_COLUMNS
    assert tuple(daily.names) == GENDER_DAILY_COLUMNS
    assert str(analysis.field("datetime").type) == "timestamp[us, tz=UTC]"
    ints = {str(analysis.field(c).type) for c in ("status", "buyNum", "click_place", "is_refund")}
    assert ints == {"int32"}
    assert {str(daily.field(c).type) for c in GENDER_DAILY_COLUMNS[1:6]} == {"int64"}
    assert str(daily.field("bookings_per_1000_events").type) == "double"
