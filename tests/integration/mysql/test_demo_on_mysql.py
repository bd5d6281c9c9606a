"""`bdp demo` with its warehouse on the real MariaDB, as a user runs it after
`eval "$(stack/mariadb env)"`: the day's tables are readable with the plain `mysql`
client, and hold what the embedded DuckDB warehouse holds when it loads the same
curated day (row counts and per-column sums, floats within `REL_TOL`)."""

from __future__ import annotations

import datetime as dt
import math
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pyarrow as pa
import pymysql
import pytest

from bdp.config import load_settings
from bdp.etl import load_day
from bdp.etl.transforms import get_transform
from bdp.warehouse import Warehouse, open_warehouse

pytestmark = [pytest.mark.service("mariadb"), pytest.mark.slow]

STACK = Path(__file__).resolve().parents[3] / "stack"
DAY = "2024-04-16"
REL_TOL = 1e-9
"""Floats summed in another order (and by another server) may round apart this much."""


@pytest.fixture
def database(mariadb_env: dict[str, str]) -> Iterator[str]:
    """A database of this test's own (`bdp_…`, which the stack's user may create)."""
    name = f"bdp_demo_{uuid.uuid4().hex[:8]}"
    conn = pymysql.connect(
        host=mariadb_env["BDP_WAREHOUSE__MYSQL__HOST"],
        port=int(mariadb_env["BDP_WAREHOUSE__MYSQL__PORT"]),
        user=mariadb_env["BDP_WAREHOUSE__MYSQL__USER"],
        password=mariadb_env["BDP_WAREHOUSE__MYSQL__PASSWORD"],
        autocommit=True,
    )
    with conn, conn.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}`")
        try:
            yield name
        finally:
            cursor.execute(f"DROP DATABASE `{name}`")


def test_demo_on_mysql_matches_duckdb(
    mariadb_env: dict[str, str], database: str, tmp_path: Path
) -> None:
    env = {**mariadb_env, "BDP_WAREHOUSE__MYSQL__DATABASE": database}
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BDP_")}
    demo = subprocess.run(
        [sys.executable, "-m", "bdp", "--home", str(tmp_path), "demo", "--date", DAY, "--json"],
        env={**clean, **env},
        capture_output=True,
        timeout=600,
        check=False,
    )
    assert demo.returncode == 0, demo.stderr.decode()[-3000:]
    summary = orjson.loads(demo.stdout)
    home = Path(summary["home"])
    on_mysql = load_settings(home=home, environ=env)
    on_duckdb = load_settings(home=home, environ={})
    tables = {
        dataset: list(get_transform(dataset, on_duckdb).TABLES) for dataset in summary["datasets"]
    }
    day = dt.date.fromisoformat(DAY)
    with open_warehouse(on_duckdb) as duckdb:
        for dataset in tables:
            load_day(on_duckdb, dataset, day, warehouse=duckdb)
        with open_warehouse(on_mysql) as mysql:
            for table in [t for listed in tables.values() for t in listed]:
                expected = checksums(duckdb, table, like=duckdb)
                found = checksums(mysql, table, like=duckdb)
                assert found.keys() == expected.keys(), table
                for name, value in expected.items():
                    assert close(found[name], value), (table, name, found[name], value)
    # The plain client sees the same rows.
    weblogs = checksums_of_client(database, "weblog_access_log")
    assert weblogs == str(summary["datasets"]["weblogs"]["tables"]["weblog_access_log"])


def checksums(warehouse: Warehouse, table: str, like: Warehouse) -> dict[str, object]:
    """The day's row count, and per column its non-null count and sum (true values for
    booleans), by one SQL text built from the columns' types in `like`."""
    columns = like.query(f'SELECT * FROM "{table}" LIMIT 0').schema
    parts = ['COUNT(*) AS "rows"']
    for field in columns:
        if field.name == "dt":
            continue
        name = f'"{field.name}"'
        parts.append(f'COUNT({name}) AS "{field.name}:count"')
        if pa.types.is_boolean(field.type):
            parts.append(f'SUM(CASE WHEN {name} THEN 1 ELSE 0 END) AS "{field.name}:true"')
        elif pa.types.is_integer(field.type) or pa.types.is_floating(field.type):
            parts.append(f'SUM({name}) AS "{field.name}:sum"')
    sql = f"SELECT {', '.join(parts)} FROM \"{table}\" WHERE dt = DATE '{DAY}'"
    [row] = warehouse.query(sql).to_pylist()
    return row


def close(found: object, expected: object) -> bool:
    if found is None or expected is None:
        return found is expected
    a, b = float(found), float(expected)  # type: ignore[arg-type]
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=1e-9)


def checksums_of_client(database: str, table: str) -> str:
    found = subprocess.run(
        [
            STACK / "mariadb",
            "client",
            "-N",
            "-e",
            f"SELECT COUNT(*) FROM `{database}`.`{table}` WHERE dt = '{DAY}'",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return found.stdout.strip()
