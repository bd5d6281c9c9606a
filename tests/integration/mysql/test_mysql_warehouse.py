"""The mysql warehouse against the real MariaDB `stack/mariadb` runs: what the contract
suite cannot say for every backend — a killed load, the server's own read-only rules,
a server that does not answer, the type mapping, and the plain `mysql` client."""

from __future__ import annotations

import datetime as dt
import decimal
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bdp.config import Settings, load_settings
from bdp.warehouse import QueryError, WarehouseError, open_warehouse
from bdp.warehouse.mysql import STAGE_PREFIX, MysqlWarehouse

pytestmark = pytest.mark.service("mariadb")

STACK = Path(__file__).resolve().parents[3] / "stack"
DAY = dt.date(2024, 4, 16)


@pytest.fixture
def settings(mariadb_env: dict[str, str], tmp_path: Path) -> Settings:
    return load_settings(home=tmp_path / "home", environ=mariadb_env)


@pytest.fixture
def warehouse(settings: Settings) -> Iterator[MysqlWarehouse]:
    with open_warehouse(settings) as opened:
        assert isinstance(opened, MysqlWarehouse)
        yield opened


@pytest.fixture
def table() -> str:
    return f"it_{uuid.uuid4().hex[:12]}"


def write(folder: Path, data: pa.Table) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"part-{uuid.uuid4().hex[:6]}.parquet"
    pq.write_table(data, path)
    return [str(path)]


def numbered(folder: Path, rows: int, offset: int = 0) -> list[str]:
    ids = pa.array(range(offset, offset + rows), pa.int64())
    return write(folder, pa.table({"id": ids, "name": pa.compute.cast(ids, pa.string())}))


def day_sum(warehouse: MysqlWarehouse, table: str) -> tuple[int, int]:
    [row] = warehouse.query(f'SELECT COUNT(*) AS n, SUM(id) AS s FROM "{table}"').to_pylist()
    return int(row["n"]), int(row["s"] or 0)


def test_sigkill_during_a_load_leaves_the_old_day(
    warehouse: MysqlWarehouse, mariadb_env: dict[str, str], table: str, tmp_path: Path
) -> None:
    warehouse.replace_partition(table, DAY, numbered(tmp_path / "old", 1000))
    before = day_sum(warehouse, table)
    big = numbered(tmp_path / "new", 1_500_000, offset=10_000_000)
    script = (
        "import datetime, os, sys\n"
        "from bdp.config import load_settings\n"
        "from bdp.warehouse import open_warehouse\n"
        "w = open_warehouse(load_settings(environ=dict(os.environ)))\n"
        f"w.replace_partition({table!r}, datetime.date(2024, 4, 16), {big!r})\n"
    )
    loader = subprocess.Popen(
        [sys.executable, "-c", script], env={**os.environ, **mariadb_env}, start_new_session=True
    )
    stage = STAGE_PREFIX + __import__("hashlib").sha1(table.encode()).hexdigest()[:16]
    try:
        # Kill it once the staging table holds part of the new day: mid-load.
        deadline = time.monotonic() + 120
        while staged_rows(stage) == 0:
            assert loader.poll() is None, "the load ended before it could be killed"
            assert time.monotonic() < deadline, "the load never started"
            time.sleep(0.05)
        os.killpg(loader.pid, signal.SIGKILL)
    finally:
        loader.wait(timeout=60)
    assert day_sum(warehouse, table) == before
    assert table in warehouse.tables() and stage not in warehouse.tables()
    # The next load drops the killed one's stage and goes through.
    assert warehouse.replace_partition(table, DAY, numbered(tmp_path / "again", 5)) == 5
    assert staged_rows(stage) is None


def staged_rows(stage: str) -> int | None:
    """Rows committed into a staging table so far, by the plain `mysql` client; None when
    there is no such table."""
    found = subprocess.run(
        [STACK / "mariadb", "client", "-N", "-e", f"SELECT COUNT(*) FROM `{stage}`"],
        capture_output=True,
        text=True,
        check=False,
    )
    if found.returncode != 0:
        assert "doesn't exist" in found.stderr, found.stderr
        return None
    return int(found.stdout.strip())


def test_the_plain_mysql_client_reads_the_loaded_day(
    warehouse: MysqlWarehouse, table: str, tmp_path: Path
) -> None:
    warehouse.replace_partition(table, DAY, numbered(tmp_path, 10))
    found = subprocess.run(
        [
            STACK / "mariadb",
            "client",
            "-N",
            "-e",
            f"SELECT dt, COUNT(*), SUM(id) FROM `{table}` GROUP BY dt",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert found.stdout.split() == ["2024-04-16", "10", "45"]


@pytest.mark.parametrize(
    "sql",
    [
        "DROP TABLE {t}",
        "INSERT INTO {t} (id) VALUES (1)",
        "DELETE FROM {t}",
        "WITH x AS (SELECT 1) DELETE FROM {t}",
        "UPDATE {t} SET id = 0",
        "CREATE TABLE evil (a INT)",
        "TRUNCATE {t}",
        "SET GLOBAL local_infile = 0",
        "CALL mysql.nothing()",
        "SELECT * FROM {t} INTO OUTFILE '/tmp/bdp-leak'",
        "SELECT * FROM mysql.user",
        "/* a comment */ DROP TABLE {t}",
        "(SELECT 1); DROP TABLE {t}",
    ],
)
def test_queries_cannot_write_or_reach_outside(
    warehouse: MysqlWarehouse, table: str, tmp_path: Path, sql: str
) -> None:
    warehouse.replace_partition(table, DAY, numbered(tmp_path, 3))
    with pytest.raises(QueryError):
        warehouse.query(sql.format(t=f'"{table}"'))
    assert day_sum(warehouse, table) == (3, 3)
    assert "evil" not in warehouse.tables()


def test_a_query_is_answered_by_the_read_only_user(warehouse: MysqlWarehouse) -> None:
    [row] = warehouse.query("SELECT CURRENT_USER() AS who").to_pylist()
    assert row["who"].startswith(warehouse.settings.query_user + "@")


def test_every_mapped_type_round_trips_by_both_load_methods(
    mariadb_env: dict[str, str], tmp_path: Path
) -> None:
    hostile = ["plain", "tab\there", "new\nline", "back\\slash", "\\N", "'; DROP TABLE x; --"]
    hostile += ["emoji 😀", 'quote"s', "", None, "trailing ", "TRAILING"]
    rows = len(hostile)
    moment = dt.datetime(2024, 4, 16, 1, 2, 3, 456789, tzinfo=dt.UTC)
    data = pa.table(
        {
            "s": pa.array(hostile, pa.string()),
            "long_text": pa.array(["x" * 300] * rows, pa.string()),
            "i8": pa.array([-128] * rows, pa.int8()),
            "u64": pa.array([2**64 - 1] * rows, pa.uint64()),
            "f32": pa.array([1.5] * rows, pa.float32()),
            "f64": pa.array([0.1] * (rows - 1) + [None], pa.float64()),
            "dec": pa.array([decimal.Decimal("12345.678")] * rows, pa.decimal128(12, 3)),
            "flag": pa.array([True, False] * (rows // 2), pa.bool_()),
            "at": pa.array([moment] * rows, pa.timestamp("us", tz="UTC")),
            "at_ns": pa.array([moment] * rows, pa.timestamp("ns", tz="Asia/Seoul")),
            "day": pa.array([dt.date(1999, 12, 31)] * rows, pa.date32()),
            "raw": pa.array([b"\x00\x01\tbin"] * rows, pa.binary()),
            "nested": pa.array([{"a": [1, 2], "b": "x"}] * rows),
        }
    )
    files = write(tmp_path / "typed", data)
    loaded = {}
    for method in ("load_data", "insert"):
        env = {**mariadb_env, "BDP_WAREHOUSE__MYSQL__LOAD_METHOD": method}
        with open_warehouse(load_settings(environ=env)) as warehouse:
            table = f"it_{method}_{uuid.uuid4().hex[:8]}"
            assert warehouse.replace_partition(table, DAY, files) == rows
            loaded[method] = warehouse.query(f'SELECT * FROM "{table}"').to_pylist()
    assert loaded["load_data"] == loaded["insert"]
    by_text = {row["s"]: row for row in loaded["load_data"]}
    assert sorted(by_text, key=str) == sorted(hostile, key=str)
    first = by_text["plain"]
    assert first["long_text"] == "x" * 300
    assert (first["i8"], first["u64"], first["f32"], first["f64"]) == (-128, 2**64 - 1, 1.5, 0.1)
    assert first["dec"] == decimal.Decimal("12345.678")
    assert first["at"] == moment and first["at_ns"] == moment
    assert first["day"] == dt.date(1999, 12, 31) and first["raw"] == b"\x00\x01\tbin"
    import orjson

    assert orjson.loads(first["nested"]) == {"a": [1, 2], "b": "x"}
    assert first["dt"] == DAY


def test_longer_strings_widen_the_column_and_other_changes_name_the_column(
    warehouse: MysqlWarehouse, table: str, tmp_path: Path
) -> None:
    short = pa.table({"id": pa.array([1], pa.int32()), "s": ["short"]})
    warehouse.replace_partition(table, DAY, write(tmp_path / "a", short))
    longer = pa.table({"id": pa.array([2], pa.int64()), "s": ["y" * 70_000]})
    warehouse.replace_partition(table, DAY + dt.timedelta(days=1), write(tmp_path / "b", longer))
    rows = warehouse.query(f'SELECT id, LENGTH(s) AS n FROM "{table}" ORDER BY id').to_pylist()
    assert rows == [{"id": 1, "n": 5}, {"id": 2, "n": 70_000}]
    changed = pa.table({"id": pa.array(["three"]), "s": ["z"]})
    with pytest.raises(WarehouseError, match=f"table {table}, column id"):
        warehouse.replace_partition(table, DAY, write(tmp_path / "c", changed))
    assert warehouse.row_count(table, DAY) == 1


def test_nan_is_refused_with_the_column_named(
    warehouse: MysqlWarehouse, table: str, tmp_path: Path
) -> None:
    warehouse.replace_partition(table, DAY, numbered(tmp_path / "ok", 2))
    bad = pa.table({"id": pa.array([5], pa.int64()), "ratio": [float("nan")]})
    with pytest.raises(WarehouseError, match="'ratio' holds NaN"):
        warehouse.replace_partition(table, DAY, write(tmp_path / "bad", bad))
    assert day_sum(warehouse, table) == (2, 1)


def test_loads_of_slices_of_one_table_take_turns(
    warehouse: MysqlWarehouse, table: str, tmp_path: Path
) -> None:
    def files(shard: str, round_: int) -> list[str]:
        data = pa.table({"shard": [shard] * 3, "round": [round_] * 3})
        return write(tmp_path / f"{shard}-{round_}", data)

    errors: list[BaseException] = []

    def loads(shard: str) -> None:
        try:
            for round_ in range(6):
                warehouse.replace_partition(
                    table, DAY, files(shard, round_), where={"shard": shard}
                )
        except BaseException as exc:  # reported to the test thread
            errors.append(exc)

    # The table exists before the race: creating it is not what is under test.
    warehouse.replace_partition(table, DAY, files("a", 0), where={"shard": "a"})
    threads = [threading.Thread(target=loads, args=(shard,)) for shard in "abc"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors
    rows = warehouse.query(
        f'SELECT shard, COUNT(*) AS n, MIN("round") AS r FROM "{table}" GROUP BY shard'
    ).to_pylist()
    assert sorted((r["shard"], r["n"], r["r"]) for r in rows) == [
        ("a", 3, 5),
        ("b", 3, 5),
        ("c", 3, 5),
    ]


def test_a_refused_connection_is_a_clear_error_at_once(
    settings: Settings, closed_address: str
) -> None:
    port = int(closed_address.rsplit(":", 1)[1])
    mysql = settings.warehouse.mysql.model_copy(update={"port": port})
    began = time.monotonic()
    with pytest.raises(WarehouseError, match="does not answer"):
        MysqlWarehouse(mysql).tables()
    assert time.monotonic() - began < 5


def test_a_server_that_never_answers_times_out_in_bounded_time(settings: Settings) -> None:
    with socket.socket() as silent:
        # Accepts connections (the backlog does) but never speaks.
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        mysql = settings.warehouse.mysql.model_copy(
            update={"port": silent.getsockname()[1], "connect_timeout_s": 1.0}
        )
        began = time.monotonic()
        with pytest.raises(WarehouseError, match="does not answer"):
            MysqlWarehouse(mysql).replace_partition("t", DAY, [])
        assert time.monotonic() - began < 10


def test_a_wrong_password_is_refused_without_showing_it(settings: Settings) -> None:
    from pydantic import SecretStr

    secret = "not-the-password-" + uuid.uuid4().hex
    mysql = settings.warehouse.mysql.model_copy(update={"password": SecretStr(secret)})
    with pytest.raises(WarehouseError) as raised:
        MysqlWarehouse(mysql).replace_partition("t", DAY, [])
    assert "Access denied" in str(raised.value) and secret not in str(raised.value)


def test_the_password_can_come_from_a_file(mariadb_env: dict[str, str], tmp_path: Path) -> None:
    secret_file = tmp_path / "password"
    secret_file.write_text(mariadb_env.pop("BDP_WAREHOUSE__MYSQL__PASSWORD") + "\n")
    env = {**mariadb_env, "BDP_WAREHOUSE__MYSQL__PASSWORD_FILE": str(secret_file)}
    with open_warehouse(load_settings(environ=env)) as warehouse:
        assert warehouse.replace_partition("t_" + uuid.uuid4().hex[:8], DAY, []) == 0
