"""A small DuckDB warehouse with hand-made rows for the report tests.

Present with rows for the day: the LoL, hotel, Lost Ark room, ad view and web tables.
Present but empty for the day: `hotel_analysis_log` (its rows belong to the day before).
Absent: `ad_click_totals`, `lostark_analysis_log` and the other per-event tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest

DAY = date(2024, 4, 16)
OTHER_DAY = DAY - timedelta(days=1)
CHAMPIONS = ("azir", "orianna", "ryze", "viktor")
"""Champions with events on DAY; `ghost` plays only on OTHER_DAY."""
KEYS = ("q", "w", "e", None)


def _lol_rows(rng: np.random.Generator) -> list[tuple]:
    start = datetime(2024, 4, 16, 9, 0, 0)
    rows = []
    event_id = 0
    for index, champion in enumerate(CHAMPIONS):
        spread = 3000 if champion == "viktor" else 400
        for step in range(60):
            event_id += 1
            x, y = (int(v) for v in rng.integers(-spread, spread + 1, size=2))
            moment = start + timedelta(seconds=60 * step + index)
            deaths = 0 if champion == "viktor" else step // 25
            rows.append(
                (
                    "room-1",
                    event_id,
                    f"acct_{index}",
                    champion,
                    moment,
                    x,
                    y,
                    x + y,
                    KEYS[step % 4],
                    deaths,
                    DAY,
                )
            )
    rows.append(
        ("room-0", 0, "acct_9", "ghost", start - timedelta(days=1), 1, 1, 2, "q", 9, OTHER_DAY)
    )
    return rows


def build_warehouse(path: Path) -> None:
    rng = np.random.default_rng(7)
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE lol_analysis_log (roomID VARCHAR, id BIGINT, account VARCHAR, "
        "champion VARCHAR, datetime TIMESTAMP, x INTEGER, y INTEGER, xy INTEGER, "
        "inputkey VARCHAR, deathCount INTEGER, dt DATE)"
    )
    con.executemany(
        "INSERT INTO lol_analysis_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", _lol_rows(rng)
    )
    con.execute(
        "CREATE TABLE lol_training_log (champion VARCHAR, speed DOUBLE, label INTEGER, dt DATE)"
    )
    training = [
        (
            c,
            None if i == 0 else float(rng.gamma(2.0, 40.0 if c != "viktor" else 400.0)),
            int(c == "viktor"),
            DAY,
        )
        for c in CHAMPIONS
        for i in range(80)
    ]
    con.executemany("INSERT INTO lol_training_log VALUES (?, ?, ?, ?)", training)
    con.execute(
        "CREATE TABLE hotel_gender_daily (gender VARCHAR, users BIGINT, events BIGINT, "
        "bookings BIGINT, refunds BIGINT, booking_users BIGINT, "
        "bookings_per_1000_events DOUBLE, dt DATE)"
    )
    con.executemany(
        "INSERT INTO hotel_gender_daily VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [("female", 50, 6000, 312, 40, 48, 52.0, DAY), ("male", 50, 6100, 37, 5, 20, 6.07, DAY)],
    )
    con.execute(
        "CREATE TABLE hotel_analysis_log (id VARCHAR, account VARCHAR, datetime TIMESTAMP, dt DATE)"
    )
    con.execute(
        "INSERT INTO hotel_analysis_log VALUES "
        "('h1', 'acct_1', TIMESTAMP '2024-04-15 10:00:00', DATE '2024-04-15')"
    )
    con.execute(
        "CREATE TABLE lostark_room_results (sessionID VARCHAR, Boss_name VARCHAR, "
        "Boss_item_level INTEGER, players INTEGER, deaths INTEGER, clears INTEGER, "
        "room_success BOOLEAN, reported_result VARCHAR, dt DATE)"
    )
    con.executemany(
        "INSERT INTO lostark_room_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            ("s1", "Valtan", 1800, 8, 3, 5, True, "cleared", DAY),
            ("s2", "Valtan", 1800, 8, 8, 0, False, "wiped", DAY),
            ("s3", "Kamen", 2700, 8, 2, 6, True, "cleared", DAY),
        ],
    )
    con.execute(
        "CREATE TABLE ad_view_totals (ad_id VARCHAR, ad_name VARCHAR, view_sum_total BIGINT, "
        "view_sum_total_minutes DOUBLE, dt DATE)"
    )
    con.executemany(
        "INSERT INTO ad_view_totals VALUES (?, ?, ?, ?, ?)",
        [
            ("c41d7e93-08b2-4a6f-9e1c-5f27a3d8b610", "로스트아크", 5400, 90.0, DAY),
            ("a0b1c2d3-0000-4000-8000-000000000001", "야놀자", 3000, 50.0, DAY),
        ],
    )
    con.execute(
        "CREATE TABLE weblog_url_daily (url VARCHAR, requests BIGINT, errors BIGINT, "
        "error_rate DOUBLE, p50_ms DOUBLE, p95_ms DOUBLE, dt DATE)"
    )
    con.executemany(
        "INSERT INTO weblog_url_daily VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            ("/", 800, 24, 0.03, 550.0, 955.0, DAY),
            ("/ads/page", 100, 4, 0.04, 540.0, 948.0, DAY),
            ("/doc/page", 100, 2, 0.02, 560.0, 951.0, DAY),
        ],
    )
    con.close()


QueryFn = Callable[[str], pa.Table]


@contextmanager
def duckdb_query(path: Path, log: list[str] | None = None) -> Iterator[QueryFn]:
    con = duckdb.connect(str(path), read_only=True)

    def query(sql: str) -> pa.Table:
        if log is not None:
            log.append(sql)
        return con.sql(sql).to_arrow_table()

    try:
        yield query
    finally:
        con.close()


@pytest.fixture(scope="module")
def warehouse_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb"
    build_warehouse(path)
    return path


@pytest.fixture(scope="module")
def sql_log() -> list[str]:
    return []


@pytest.fixture(scope="module")
def query(warehouse_path: Path, sql_log: list[str]) -> Iterator[QueryFn]:
    with duckdb_query(warehouse_path, sql_log) as run:
        yield run


@pytest.fixture
def open_query() -> Callable[[Path], AbstractContextManager[QueryFn]]:
    """Opens a `query` function over another DuckDB file, for tests that build their own."""
    return duckdb_query


@pytest.fixture(scope="session")
def day() -> date:
    return DAY


@pytest.fixture(scope="session")
def day_champions() -> tuple[str, ...]:
    return CHAMPIONS
