"""The hive warehouse against the real MariaDB metastore (`stack/mariadb start`).

A simulated day runs through bdp's ETL on Spark into the Hive catalog; a fresh process,
with a SparkSession of its own built from the same metastore settings, must then find
the tables, the day's partition and its rows, and the same day loaded into DuckDB must
give the same row counts and column sums. Queries are read-only, and a metastore that
does not answer fails within seconds, without showing its password.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import zstandard

from bdp.config import Settings, load_settings
from bdp.etl import run_etl
from bdp.etl.transforms import get_transform
from bdp.lake.local import LocalLake
from bdp.quality.checks import run_checks
from bdp.quality.results import QUALITY_TABLE, write_results
from bdp.simulate import SimulationParams, simulate
from bdp.warehouse import QueryError, Warehouse, open_warehouse
from tests.integration.conftest import STACK, Service

pytestmark = [pytest.mark.service("mariadb"), pytest.mark.slow]

DAY = dt.date(2024, 4, 16)
DATASETS = {"gamelogs": 20, "hotellogs": 20}
"""Simulated users per dataset: a few thousand events each."""
REL_TOL = 1e-9
SRC = Path(__file__).resolve().parents[3] / "src"


def _environ(**extra: str) -> dict[str, str]:
    service = Service("mariadb")
    service.require("127.0.0.1:3306")
    return {
        **service.env(),
        "BDP_WAREHOUSE__BACKEND": "hive",
        "BDP_ETL__ENGINE": "spark",
        "BDP_ETL__THREADS": "2",
        "BDP_STREAM__SPARK_IVY_DIR": str(STACK / ".run" / "spark" / "ivy"),
        **extra,
    }


def _raw_day(lake: LocalLake, dataset: str) -> int:
    start = int(dt.datetime.combine(DAY, dt.time(1), tzinfo=dt.UTC).timestamp() * 1000)
    params = SimulationParams(start_ms=start, seed=11, users=DATASETS[dataset])
    compressor = zstandard.ZstdCompressor(level=1)
    events = 0
    for index, block in enumerate(simulate(dataset, params, block_size=1_000)):
        path = f"raw/{dataset}/dt={DAY.isoformat()}/part-{index:05d}.jsonl.zst"
        lake.publish(path, compressor.compress(b"\n".join(block.values) + b"\n"))
        events += len(block.values)
    return events


def _checksums(warehouse: Warehouse, table: str) -> dict[str, Any]:
    """Rows, and per column the sum (numbers) or the count of values (the rest)."""
    found = warehouse.query(f"SELECT * FROM {table} WHERE dt = DATE '{DAY}'")
    sums: dict[str, Any] = {"rows": found.num_rows}
    for name in found.column_names:
        column = found.column(name)
        if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
            sums[name.lower()] = pc.sum(column).as_py()
        else:
            sums[name.lower()] = len(column) - column.null_count
    return sums


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, float) and isinstance(right, float):
        return math.isclose(left, right, rel_tol=REL_TOL, abs_tol=1e-9)
    return bool(left == right)


@pytest.fixture(scope="module")
def hive_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hive-home")


@pytest.fixture(scope="module")
def hive_settings(hive_home: Path) -> Settings:
    return load_settings(home=hive_home, environ=_environ(), cwd=hive_home)


@pytest.fixture(scope="module")
def warehouse(hive_settings: Settings) -> Iterator[Warehouse]:
    with open_warehouse(hive_settings) as opened:
        yield opened


def _fresh_process(settings: Settings, environ: dict[str, str], script: str) -> Any:
    """Run `script` in a new Python process (its own JVM); it prints one JSON line."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), str(settings.paths.home)],
        env={**os.environ, **environ, "PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), done


def test_an_etl_day_on_spark_is_read_by_a_fresh_session_and_matches_duckdb(
    hive_settings: Settings, warehouse: Warehouse, tmp_path: Path
) -> None:
    tables: dict[str, int] = {}
    seconds: dict[str, float] = {}
    for dataset in DATASETS:
        _raw_day(LocalLake(hive_settings.paths.lake), dataset)
        result = run_etl(hive_settings, dataset, DAY, warehouse=warehouse)
        tables.update(result.tables)
        seconds.update({k: v for k, v in result.stage_seconds.items() if k.startswith("load:")})
    print("load seconds per table:", seconds)
    assert tables and all(rows > 0 for rows in tables.values()), tables
    for table, rows in tables.items():
        curated = Path(hive_settings.paths.lake) / "curated" / table / f"dt={DAY.isoformat()}"
        files = sorted(curated.glob("*.parquet"))
        assert sum(pq.read_metadata(f).num_rows for f in files) == rows

    script = """
        import json, sys
        from pyspark.sql import SparkSession
        from bdp.config import load_settings
        from bdp.warehouse.hive import session_conf
        settings = load_settings(home=sys.argv[1])
        builder = SparkSession.builder.master("local[1]").appName("reader")
        for key, value in session_conf(settings).items():
            builder = builder.config(key, value)
        spark = builder.config("spark.ui.enabled", "false").getOrCreate()
        found = {"tables": [t.name for t in spark.catalog.listTables("etl")]}
        for table in TABLES:
            found[table] = {
                "partitions": [r[0] for r in spark.sql(f"SHOW PARTITIONS etl.{table}").collect()],
                "rows": spark.sql(
                    f"select count(*) from etl.{table} where dt = DATE '2024-04-16'"
                ).collect()[0][0],
            }
        print(json.dumps(found))
    """.replace("TABLES", repr(sorted(tables)))
    found, _ = _fresh_process(hive_settings, _environ(), script)
    assert set(tables) <= set(found["tables"])
    for table, rows in tables.items():
        assert f"dt={DAY.isoformat()}" in found[table]["partitions"]
        assert found[table]["rows"] == rows, table

    # The quality checks read the day and write their results a slice per dataset.
    for dataset in DATASETS:
        checks = run_checks(
            hive_settings, dataset, DAY, LocalLake(hive_settings.paths.lake), warehouse
        )
        assert write_results(warehouse, dataset, DAY, checks, dt.datetime.now(dt.UTC)) == len(
            checks
        )
    written = warehouse.query(
        f"SELECT dataset, count(*) AS n FROM {QUALITY_TABLE} WHERE dt = DATE '{DAY}' "
        "GROUP BY dataset"
    ).to_pylist()
    assert {row["dataset"] for row in written} == set(DATASETS)

    # The same raw day on DuckDB: the same rows and sums.
    duck_home = tmp_path / "duck"
    duck = load_settings(home=duck_home, environ={}, cwd=duck_home)
    for dataset in DATASETS:
        _raw_day(LocalLake(duck.paths.lake), dataset)
        run_etl(duck, dataset, DAY)
    with open_warehouse(duck) as duckdb:
        for dataset in DATASETS:
            for table in get_transform(dataset).TABLES:
                left, right = _checksums(duckdb, table), _checksums(warehouse, table)
                assert left.keys() == right.keys(), table
                differing = {k: (left[k], right[k]) for k in left if not _same(left[k], right[k])}
                assert not differing, f"{table}: {differing}"


def test_a_day_is_registered_in_place_not_copied(
    hive_settings: Settings, warehouse: Warehouse, tmp_path: Path
) -> None:
    folder = tmp_path / "curated" / f"dt={DAY.isoformat()}"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"id": [1, 2, 3]}), folder / "part-00000.parquet")
    table = f"inplace_{os.getpid()}_{time.monotonic_ns() % 10**6}"
    began = time.perf_counter()
    assert warehouse.replace_partition(table, DAY, [str(folder / "part-00000.parquet")]) == 3
    print(f"first registration of a day: {time.perf_counter() - began:.2f} s")
    began = time.perf_counter()
    assert warehouse.replace_partition(table, DAY, [str(folder / "part-00000.parquet")]) == 3
    print(f"replacing the day: {time.perf_counter() - began:.2f} s")
    hive_dir = Path(hive_settings.paths.home) / "hive-warehouse"
    assert not any(p.suffix == ".parquet" for p in hive_dir.rglob("*") if table in str(p))
    other = tmp_path / "elsewhere"
    other.mkdir()
    pq.write_table(pa.table({"id": [9]}), other / "b.parquet")
    with pytest.raises(Exception, match="folder"):
        warehouse.replace_partition(
            table, DAY, [str(folder / "part-00000.parquet"), str(other / "b.parquet")]
        )
    pq.write_table(pa.table({"id": [4]}), folder / "part-00001.parquet")
    with pytest.raises(Exception, match="not loaded"):
        warehouse.replace_partition(table, DAY, [str(folder / "part-00000.parquet")])
    # The day is the folder: what lies in it is read (the lake swaps a day's folder whole).
    assert warehouse.row_count(table, DAY) == 4
    (folder / "part-00001.parquet").unlink()
    assert warehouse.replace_partition(table, DAY, [str(folder / "part-00000.parquet")]) == 3
    assert warehouse.row_count(table, DAY) == 3


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TABLE t_refused (id INT)",
        "DROP TABLE IF EXISTS t_refused",
        "INSERT INTO t_refused VALUES (1)",
        "WITH x AS (SELECT 1 AS id) INSERT INTO t_refused SELECT * FROM x",
        "SET spark.sql.runSQLOnFiles = true",
        "ADD JAR /tmp/nothing.jar",
        "CACHE TABLE x AS SELECT 1",
        "USE default",
        "SELECT * FROM parquet.`/etc/passwd`",
        "SELECT reflect('java.lang.System', 'getProperty', 'user.home')",
        "SELECT java_method('java.lang.Thread', 'sleep', 1L)",
        "SELECT `reflect`('java.lang.System', 'getProperty', 'user.home')",
        "SELECT system.builtin.reflect('java.lang.System', 'getProperty', 'user.home')",
        "SELECT * FROM read_files('/etc/passwd')",
        "SELECT * FROM json.`/etc/passwd`",
        "ANALYZE TABLE t_refused COMPUTE STATISTICS",
    ],
)
def test_queries_only_read(warehouse: Warehouse, sql: str) -> None:
    with pytest.raises(QueryError):
        warehouse.query(sql)
    assert "t_refused" not in warehouse.tables()


def test_double_quoted_identifiers_and_unqualified_names(warehouse: Warehouse) -> None:
    found = warehouse.query('SELECT 1 AS "the one", \'text\' AS "s"').to_pylist()
    assert found == [{"the one": 1, "s": "text"}]
    current = warehouse.query("SELECT current_database() AS db").to_pylist()
    assert current == [{"db": "etl"}]


def test_an_unreachable_metastore_fails_soon_and_keeps_its_password(tmp_path: Path) -> None:
    secret = "pw-not-for-logs-4821"
    environ = _environ(
        BDP_WAREHOUSE__HIVE__METASTORE_URL="jdbc:mariadb://127.0.0.1:1/metastore",
        BDP_WAREHOUSE__HIVE__METASTORE_PASSWORD=secret,
        BDP_WAREHOUSE__HIVE__METASTORE_TIMEOUT_S="3",
    )
    script = """
        import json, sys, time
        from bdp.config import load_settings
        from bdp.warehouse import WarehouseError, open_warehouse
        from bdp.warehouse.hive import HiveWarehouse
        warehouse = open_warehouse(load_settings(home=sys.argv[1]))
        began = time.monotonic()
        try:
            warehouse.tables()
            found = {"error": None}
        except WarehouseError as exc:
            found = {"error": str(exc)}
        found["seconds"] = time.monotonic() - began
        print(json.dumps(found))
    """
    settings = load_settings(home=tmp_path / "home", environ=environ)
    found, done = _fresh_process(settings, environ, script)
    print(f"unreachable metastore: failed after {found['seconds']:.1f} s (JVM start included)")
    assert found["error"] and "Connection refused" in found["error"], found
    assert found["seconds"] < 60
    assert secret not in done.stdout + done.stderr
