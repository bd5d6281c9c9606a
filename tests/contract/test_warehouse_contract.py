"""The warehouse contract: what every backend must do, run against each of them.

Adding a backend is one entry in `WAREHOUSE_BACKENDS` plus one function in `SETTINGS`
that makes its settings. Table names are unique per test so a shared server needs no
cleanup between tests. The server backends run against the real servers `stack/`
starts; when one is not running the test fails, saying how to start it.
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bdp.config import Settings, load_settings
from bdp.errors import BdpError, NotFoundError
from bdp.warehouse import QueryError, Warehouse, WarehouseError, open_warehouse

STACK = Path(__file__).resolve().parents[2] / "stack"
WAREHOUSE_BACKENDS = [
    "duckdb",
    pytest.param("mysql", marks=pytest.mark.service("mariadb")),
    pytest.param("hive", marks=pytest.mark.service("mariadb")),
]
DAY = dt.date(2024, 4, 16)
NEXT = dt.date(2024, 4, 17)

pytestmark = pytest.mark.parametrize("warehouse", WAREHOUSE_BACKENDS, indirect=True)


def stack_env(service: str) -> dict[str, str]:
    """What `stack/<service> env` exports, once the server answers (else the test fails)."""
    launcher = str(STACK / service)
    if subprocess.run([launcher, "status"], capture_output=True).returncode != 0:
        pytest.fail(f"{service} is not running; start it with stack/{service} start", False)
    lines = subprocess.run([launcher, "env"], capture_output=True, text=True, check=True)
    found = {}
    for line in lines.stdout.splitlines():
        _, setting = shlex.split(line)
        name, _, value = setting.partition("=")
        found[name] = value
    return found


def duckdb_settings(home: Path) -> Settings:
    return load_settings(home=home, environ={})


def mysql_settings(home: Path) -> Settings:
    return load_settings(home=home, environ=stack_env("mariadb"))


_HIVE_HOME: list[Path] = []


def hive_settings(home: Path) -> Settings:
    """One data home for every hive test of the process: they share one SparkSession
    (the JVM starts once), whose warehouse directory is fixed when it starts."""
    if not _HIVE_HOME:
        _HIVE_HOME.append(Path(tempfile.mkdtemp(prefix="bdp-hive-contract-")))
    environ = {
        **stack_env("mariadb"),
        "BDP_WAREHOUSE__BACKEND": "hive",
        "BDP_ETL__ENGINE": "spark",
        # The metastore's JDBC driver is fetched from Maven Central once per checkout.
        "BDP_STREAM__SPARK_IVY_DIR": str(STACK / ".run" / "spark" / "ivy"),
    }
    return load_settings(home=_HIVE_HOME[0], environ=environ)


SETTINGS: dict[str, Callable[[Path], Settings]] = {
    "duckdb": duckdb_settings,
    "mysql": mysql_settings,
    "hive": hive_settings,
}


@pytest.fixture
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Warehouse]:
    with open_warehouse(SETTINGS[request.param](tmp_path / "home")) as opened:
        yield opened


@pytest.fixture
def table() -> str:
    return f"contract_{uuid.uuid4().hex[:12]}"


def parquet(directory: Path, day: dt.date, ids: list[int]) -> list[str]:
    """One curated partition file, laid out as the ETL lays it out (`dt=D/`)."""
    folder = directory / f"dt={day.isoformat()}-{uuid.uuid4().hex[:6]}" / f"dt={day.isoformat()}"
    folder.mkdir(parents=True)
    moment = dt.datetime(2024, 4, 16, 1, 2, 3, 456000, tzinfo=dt.UTC)
    data = pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "name": pa.array([f"n{i}" for i in ids], pa.string()),
            "x": pa.array([i * 10 for i in ids], pa.int32()),
            "ratio": pa.array([i / 4 for i in ids], pa.float64()),
            "flag": pa.array([i % 2 == 0 for i in ids], pa.bool_()),
            "at": pa.array([moment] * len(ids), pa.timestamp("us", tz="UTC")),
            "day": pa.array([dt.date(2024, 3, 31)] * len(ids), pa.date32()),
        }
    )
    path = folder / "part-00000.parquet"
    pq.write_table(data, path)
    return [str(path)]


def ids(warehouse: Warehouse, table: str, day: dt.date | None = None) -> list[int]:
    where = f" WHERE dt = DATE '{day.isoformat()}'" if day else ""
    found = warehouse.query(f"SELECT id FROM {table}{where}").column("id").to_pylist()
    return sorted(found)


def test_first_load_creates_the_table_with_a_day_column(warehouse, table, tmp_path) -> None:
    assert warehouse.replace_partition(table, DAY, parquet(tmp_path, DAY, [1, 2, 3])) == 3
    assert table in warehouse.tables()
    result = warehouse.query(f"SELECT * FROM {table} ORDER BY id")
    assert result.column_names == ["id", "name", "x", "ratio", "flag", "at", "day", "dt"]
    first = result.to_pylist()[0]
    assert (first["id"], first["name"], first["x"], first["ratio"], first["flag"]) == (
        1,
        "n1",
        10,
        0.25,
        False,
    )
    at = first["at"]
    at = at.astimezone(dt.UTC).replace(tzinfo=None) if at.tzinfo else at
    assert at == dt.datetime(2024, 4, 16, 1, 2, 3, 456000)
    assert (first["day"], first["dt"]) == (dt.date(2024, 3, 31), DAY)


def test_replacing_a_day_again_leaves_the_same_rows(warehouse, table, tmp_path) -> None:
    files = parquet(tmp_path, DAY, [1, 2, 3])
    warehouse.replace_partition(table, DAY, files)
    assert warehouse.replace_partition(table, DAY, files) == 3
    assert ids(warehouse, table) == [1, 2, 3]
    assert warehouse.row_count(table) == warehouse.row_count(table, DAY) == 3


def test_replacing_a_day_touches_no_other_day(warehouse, table, tmp_path) -> None:
    warehouse.replace_partition(table, DAY, parquet(tmp_path, DAY, [1, 2, 3]))
    warehouse.replace_partition(table, NEXT, parquet(tmp_path, NEXT, [10, 11]))
    assert warehouse.replace_partition(table, DAY, parquet(tmp_path, DAY, [4])) == 1
    assert ids(warehouse, table, DAY) == [4]
    assert ids(warehouse, table, NEXT) == [10, 11]
    assert warehouse.row_count(table) == 3


def test_several_files_make_one_day(warehouse, table, tmp_path) -> None:
    first = parquet(tmp_path, DAY, [1, 2])
    folder = Path(first[0]).parent
    pq.write_table(pq.read_table(parquet(tmp_path, DAY, [3])[0]), folder / "part-00001.parquet")
    files = [*first, str(folder / "part-00001.parquet")]
    assert warehouse.replace_partition(table, DAY, files) == 3
    assert ids(warehouse, table, DAY) == [1, 2, 3]


def test_no_files_empties_the_day(warehouse, table, tmp_path) -> None:
    assert warehouse.replace_partition(table, DAY, []) == 0
    assert table not in warehouse.tables()  # nothing to take a schema from
    warehouse.replace_partition(table, DAY, parquet(tmp_path, DAY, [1]))
    warehouse.replace_partition(table, NEXT, parquet(tmp_path, NEXT, [2]))
    assert warehouse.replace_partition(table, DAY, []) == 0
    assert warehouse.row_count(table, DAY) == 0
    assert ids(warehouse, table) == [2]


def test_a_failed_load_keeps_the_old_rows(warehouse, table, tmp_path) -> None:
    warehouse.replace_partition(table, DAY, parquet(tmp_path, DAY, [1, 2]))
    with pytest.raises(WarehouseError):
        warehouse.replace_partition(table, DAY, [str(tmp_path / "missing.parquet")])
    assert ids(warehouse, table, DAY) == [1, 2]
    assert warehouse.replace_partition(table, NEXT, parquet(tmp_path, NEXT, [5])) == 1


def test_bad_sql_is_a_bdp_error_with_the_backend_message(warehouse) -> None:
    with pytest.raises(QueryError) as raised:
        warehouse.query("SELEC 1")
    assert isinstance(raised.value, BdpError)
    assert str(raised.value) and raised.value.sql == "SELEC 1"


def test_row_count_of_an_unknown_table_is_not_found(warehouse, table) -> None:
    with pytest.raises(NotFoundError):
        warehouse.row_count(table)


def test_table_names_must_be_identifiers(warehouse, tmp_path) -> None:
    with pytest.raises(WarehouseError):
        warehouse.replace_partition("t; DROP TABLE x", DAY, parquet(tmp_path, DAY, [1]))


def test_empty_file_creates_an_empty_table(warehouse, table, tmp_path) -> None:
    assert warehouse.replace_partition(table, DAY, parquet(tmp_path, DAY, [])) == 0
    assert table in warehouse.tables()
    assert warehouse.row_count(table) == 0


def test_a_query_is_one_statement(warehouse, table, tmp_path) -> None:
    # Running them all and answering with the last would hide what the others did.
    warehouse.replace_partition(table, DAY, parquet(tmp_path, DAY, [1, 2]))
    with pytest.raises(QueryError, match="2"):
        warehouse.query(f"SELECT id FROM {table}; SELECT 1")
    assert warehouse.query(f"SELECT count(*) AS n FROM {table};").to_pylist() == [{"n": 2}]


def shards(directory: Path, day: dt.date, rows: dict[str, list[int]]) -> list[str]:
    """One file of rows `(shard, id)` per shard, as a table several writers share."""
    folder = directory / f"shards-{uuid.uuid4().hex[:6]}" / f"dt={day.isoformat()}"
    folder.mkdir(parents=True)
    data = pa.table(
        {
            "shard": pa.array([s for s, found in rows.items() for _ in found], pa.string()),
            "id": pa.array([i for found in rows.values() for i in found], pa.int64()),
        }
    )
    path = folder / "part-00000.parquet"
    pq.write_table(data, path)
    return [str(path)]


def by_shard(warehouse: Warehouse, table: str, day: dt.date) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    rows = warehouse.query(f"SELECT shard, id FROM {table} WHERE dt = DATE '{day}'").to_pylist()
    for row in rows:
        found.setdefault(row["shard"], []).append(row["id"])
    return {shard: sorted(ids) for shard, ids in sorted(found.items())}


def test_a_slice_of_a_day_is_replaced_alone(warehouse, table, tmp_path) -> None:
    warehouse.replace_partition(table, DAY, shards(tmp_path, DAY, {"a": [1, 2], "b": [3]}))
    warehouse.replace_partition(table, NEXT, shards(tmp_path, NEXT, {"a": [7]}))
    files = shards(tmp_path, DAY, {"a": [4]})
    assert warehouse.replace_partition(table, DAY, files, where={"shard": "a"}) == 1
    assert by_shard(warehouse, table, DAY) == {"a": [4], "b": [3]}
    assert by_shard(warehouse, table, NEXT) == {"a": [7]}
    # Again: the same contents, not the slice twice.
    assert warehouse.replace_partition(table, DAY, files, where={"shard": "a"}) == 1
    assert by_shard(warehouse, table, DAY) == {"a": [4], "b": [3]}


def test_a_slice_creates_its_table_and_empties_with_no_files(warehouse, table, tmp_path) -> None:
    assert warehouse.replace_partition(table, DAY, [], where={"shard": "a"}) == 0
    assert table not in warehouse.tables()
    for shard, ids in (("a", [1]), ("b", [2, 3])):
        files = shards(tmp_path, DAY, {shard: ids})
        assert warehouse.replace_partition(table, DAY, files, where={"shard": shard}) == len(ids)
    assert by_shard(warehouse, table, DAY) == {"a": [1], "b": [2, 3]}
    assert warehouse.replace_partition(table, DAY, [], where={"shard": "b"}) == 0
    assert by_shard(warehouse, table, DAY) == {"a": [1]}


def test_a_slice_matches_every_column_it_names(warehouse, table, tmp_path) -> None:
    folder = tmp_path / "pairs" / f"dt={DAY.isoformat()}"
    folder.mkdir(parents=True)
    pairs = [("a", "x", 1), ("a", "y", 2), ("b", "x", 3)]
    path = folder / "part-00000.parquet"
    pq.write_table(
        pa.table(
            {
                "shard": [p[0] for p in pairs],
                "kind": [p[1] for p in pairs],
                "id": [p[2] for p in pairs],
            }
        ),
        path,
    )
    warehouse.replace_partition(table, DAY, [str(path)])
    one = folder.parent / "one.parquet"
    pq.write_table(pa.table({"shard": ["a"], "kind": ["x"], "id": [9]}), one)
    assert (
        warehouse.replace_partition(table, DAY, [str(one)], where={"shard": "a", "kind": "x"}) == 1
    )
    rows = warehouse.query(f"SELECT id FROM {table} ORDER BY id").column("id").to_pylist()
    assert rows == [2, 3, 9]


def test_files_with_rows_outside_the_slice_change_nothing(warehouse, table, tmp_path) -> None:
    warehouse.replace_partition(table, DAY, shards(tmp_path, DAY, {"a": [1], "b": [2]}))
    mixed = shards(tmp_path, DAY, {"a": [5], "b": [6]})
    with pytest.raises(WarehouseError, match="not in the slice"):
        warehouse.replace_partition(table, DAY, mixed, where={"shard": "a"})
    assert by_shard(warehouse, table, DAY) == {"a": [1], "b": [2]}


def test_a_slice_value_is_a_value_and_its_column_an_identifier(warehouse, table, tmp_path) -> None:
    warehouse.replace_partition(table, DAY, shards(tmp_path, DAY, {"a": [1], "b": [2]}))
    # A value that would be SQL if it were pasted in matches no row, and removes none.
    assert warehouse.replace_partition(table, DAY, [], where={"shard": "a' OR '1'='1"}) == 0
    assert by_shard(warehouse, table, DAY) == {"a": [1], "b": [2]}
    with pytest.raises(WarehouseError, match="invalid column name"):
        warehouse.replace_partition(table, DAY, [], where={"shard = shard --": "a"})
    with pytest.raises(WarehouseError):
        warehouse.replace_partition(table, DAY, [], where={"no_such_column": "a"})
    assert by_shard(warehouse, table, DAY) == {"a": [1], "b": [2]}


# --- Every backend: atomic days, schema changes, hostile data -------------------------


def _rows_file(directory: Path, day: dt.date, data: pa.Table) -> list[str]:
    folder = directory / f"rows-{uuid.uuid4().hex[:6]}" / f"dt={day.isoformat()}"
    folder.mkdir(parents=True)
    path = folder / "part-00000.parquet"
    pq.write_table(data, path)
    return [str(path)]


def test_a_query_during_a_replace_sees_the_old_day_or_the_new(warehouse, table, tmp_path) -> None:
    old, new = list(range(1, 201)), list(range(1000, 1050))
    contents = {(len(old), sum(old)), (len(new), sum(new))}
    files = [parquet(tmp_path, DAY, old), parquet(tmp_path, DAY, new)]
    warehouse.replace_partition(table, DAY, files[0])
    seen: list[tuple[int, int]] = []
    failures: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        try:
            while not done.is_set():
                [row] = warehouse.query(
                    f"SELECT count(*) AS n, sum(id) AS s FROM {table} WHERE dt = DATE '{DAY}'"
                ).to_pylist()
                seen.append((int(row["n"]), int(row["s"])))
        except BaseException as exc:
            failures.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for turn in range(6):
            warehouse.replace_partition(table, DAY, files[(turn + 1) % 2])
    finally:
        done.set()
        reader.join(timeout=300)
    assert not failures, failures
    assert seen and set(seen) <= contents, set(seen) - contents
    assert ids(warehouse, table, DAY) == old


def test_a_new_column_is_added_and_older_days_read_null(warehouse, table, tmp_path) -> None:
    warehouse.replace_partition(table, DAY, parquet(tmp_path, DAY, [1, 2]))
    wider = pa.table({"id": pa.array([3], pa.int64()), "extra": pa.array(["e3"], pa.string())})
    assert warehouse.replace_partition(table, NEXT, _rows_file(tmp_path, NEXT, wider)) == 1
    rows = warehouse.query(f"SELECT id, extra FROM {table} ORDER BY id").to_pylist()
    assert rows == [
        {"id": 1, "extra": None},
        {"id": 2, "extra": None},
        {"id": 3, "extra": "e3"},
    ]


def test_a_changed_column_type_is_refused_naming_table_and_column(
    warehouse, table, tmp_path
) -> None:
    warehouse.replace_partition(table, DAY, parquet(tmp_path, DAY, [1, 2]))
    # Text that would cast to the old type: the type is refused, not the values.
    changed = pa.table({"id": pa.array([3], pa.int64()), "x": pa.array(["30"], pa.string())})
    with pytest.raises(WarehouseError, match=f"(?s){table}.*x|x.*{table}"):
        warehouse.replace_partition(table, NEXT, _rows_file(tmp_path, NEXT, changed))
    assert ids(warehouse, table) == [1, 2]


HOSTILE_TEXT = [
    "it's",
    'say "hi"',
    "back\\slash \\' \\\\",
    "tab\there",
    "new\nline\r\n",
    "\\N",
    "NULL",
    "",
    "emoji 🎉 and ünïcödé",
    "'); DROP TABLE x; --",
    "`; DROP TABLE x; --",
    "%s %% ${x} ?",
]


def test_hostile_values_round_trip_exactly(warehouse, table, tmp_path) -> None:
    data = pa.table(
        {
            "id": pa.array(range(len(HOSTILE_TEXT)), pa.int64()),
            "text": pa.array(HOSTILE_TEXT, pa.string()),
        }
    )
    assert warehouse.replace_partition(table, DAY, _rows_file(tmp_path, DAY, data)) == len(
        HOSTILE_TEXT
    )
    rows = warehouse.query(f"SELECT id, text FROM {table} ORDER BY id").to_pylist()
    assert [row["text"] for row in rows] == HOSTILE_TEXT


HOSTILE_COLUMNS = ["a space", "quo'te", "back`tick", 'dq"uote', "naïve", "semi;colon"]


def test_hostile_column_names_are_quoted_never_sql(warehouse, table, tmp_path) -> None:
    sentinel = f"{table}_sentinel"
    warehouse.replace_partition(sentinel, DAY, parquet(tmp_path, DAY, [1]))
    data = pa.table(
        {"id": pa.array([1], pa.int64()), **{name: pa.array([name]) for name in HOSTILE_COLUMNS}}
    )
    try:
        warehouse.replace_partition(table, DAY, _rows_file(tmp_path, DAY, data))
    except WarehouseError:
        pass  # a clear refusal is fine
    else:
        [row] = warehouse.query(f"SELECT * FROM {table}").to_pylist()
        found = {name.lower(): value for name, value in row.items()}
        for name in HOSTILE_COLUMNS:
            assert found[name.lower()] == name
    assert ids(warehouse, sentinel) == [1]
    assert sentinel in warehouse.tables()


# --- Every backend: a store that cannot be reached -------------------------------------

UNREACHABLE_SECONDS = {"duckdb": 30, "mysql": 30, "hive": 120}
"""Bounds on failing (a fresh process: imports, and the JVM for hive, included)."""


def unreachable_environ(backend: str, settings: Settings, tmp_path: Path) -> dict[str, str]:
    """Settings of `backend` pointing where nothing answers: a port nobody listens on, or
    (the embedded warehouse) a file path below a regular file."""
    if backend == "duckdb":
        (tmp_path / "not-a-folder").write_text("")
        return {"BDP_WAREHOUSE__URL": str(tmp_path / "not-a-folder" / "warehouse.duckdb")}
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environ = {**stack_env("mariadb"), "BDP_WAREHOUSE__BACKEND": backend}
    if backend == "mysql":
        return {**environ, "BDP_WAREHOUSE__MYSQL__PORT": str(port)}
    return {
        **environ,
        "BDP_ETL__ENGINE": "spark",
        "BDP_STREAM__SPARK_IVY_DIR": str(STACK / ".run" / "spark" / "ivy"),
        "BDP_WAREHOUSE__HIVE__METASTORE_URL": f"jdbc:mariadb://127.0.0.1:{port}/metastore",
        "BDP_WAREHOUSE__HIVE__METASTORE_TIMEOUT_S": "3",
    }


def test_an_unreachable_store_is_a_clear_error_in_bounded_time(
    warehouse: Warehouse, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    backend = request.node.callspec.params["warehouse"]
    environ = unreachable_environ(backend, load_settings(environ={}), tmp_path)
    script = (
        "import sys\n"
        "from bdp.config import load_settings\n"
        "from bdp.warehouse import WarehouseError, open_warehouse\n"
        "try:\n"
        "    with open_warehouse(load_settings(home=sys.argv[1])) as w:\n"
        "        w.tables()\n"
        "except WarehouseError as exc:\n"
        "    print('refused:', exc)\n"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BDP_")}
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "home")],
        env={**clean, **environ},
        capture_output=True,
        text=True,
        timeout=UNREACHABLE_SECONDS[backend] * 3,
        check=False,
    )
    took = time.monotonic() - began
    said = done.stdout.strip().splitlines()
    assert said and said[-1].startswith("refused:"), done.stderr[-2000:]
    assert took < UNREACHABLE_SECONDS[backend], f"{backend} took {took:.1f} s to fail"
