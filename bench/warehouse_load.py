"""Warehouse loads and queries: MariaDB (the mysql backend) against embedded DuckDB.

Builds one raw game day (the simulator when installed, else `bench/etl.py`'s synthetic
events), runs the ETL for it without loading a warehouse, and then loads the same
curated files (`lol_analysis_log`, `lol_training_log`) side by side:

- duckdb:            `DuckDBWarehouse.replace_partition` into a new database file;
- mysql load_data:   `MysqlWarehouse.replace_partition`, the day's first load (LOAD DATA
                     LOCAL INFILE into a staging table, then EXCHANGE PARTITION);
- mysql replace:     the same day loaded again over itself (the swap drops the old day);
- mysql insert:      `load_method = "insert"` (batched multi-row INSERTs) on the first
                     `--insert-rows` rows only: it is far slower, and its rate is what counts;
- indexed dt:        the alternative to LIST partitions: the same table without
                     partitioning, an index on `dt`, and the day replaced with
                     DELETE + INSERT … SELECT in one transaction (server-side copy of the
                     staged rows, no client transfer: it favours the alternative).

Then the report's queries on the game tables and the demo's example query, on DuckDB and
on MariaDB, median of `--repeat` runs each, a new connection per query as `bdp query`
runs them.

    eval "$(stack/mariadb env)"
    python bench/warehouse_load.py                       # 2,000,000 events
    python bench/warehouse_load.py --events 10000000     # the figures in RESULTS.md

MariaDB must be running (`stack/mariadb start`); the bench uses a database of its own
(`bdp_bench_…`), dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from etl import DAY
from warehouse_catalog import _curated_day, _report_sql

DEMO_QUERY = (
    "SELECT champion, count(*) AS events, max(deathCount) AS max_deaths "
    "FROM lol_analysis_log GROUP BY champion ORDER BY events DESC"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--files", type=int, default=20, help="raw files the day is split into")
    parser.add_argument("--source", default="auto", choices=["auto", "simulate", "synthetic"])
    parser.add_argument("--insert-rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per query; medians")
    args = parser.parse_args()

    from bdp.config import load_settings

    settings = load_settings(environ=dict(os.environ))
    if settings.warehouse.backend != "mysql":
        parser.error('point bdp at MariaDB first: eval "$(stack/mariadb env)"')
    database = f"bdp_bench_{uuid.uuid4().hex[:8]}"
    admin = _connect(settings.warehouse.mysql, None)
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{database}`")
    mysql_settings = settings.warehouse.mysql.model_copy(update={"database": database})
    try:
        with tempfile.TemporaryDirectory(prefix="bdp-bench-warehouse-") as scratch:
            home = Path(scratch)
            curated = _curated_day(home, args)
            files = {t: [str(p) for p in paths] for t, paths in curated.items()}
            rows = {t: sum(pq.read_metadata(p).num_rows for p in f) for t, f in files.items()}
            _loads(home, files, rows, mysql_settings, args.insert_rows)
            _queries(home, mysql_settings, args.repeat)
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE `{database}`")
        admin.close()


def _connect(mysql: Any, database: str | None) -> Any:
    import pymysql

    return pymysql.connect(
        host=mysql.host,
        port=mysql.port,
        user=mysql.user,
        password=mysql.secret(),
        database=database,
        autocommit=True,
        read_timeout=3600,
    )


def _timed(action: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds (this process's) of `action`."""
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    began = time.perf_counter()
    action()
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_SELF)
    return wall, (after.ru_utime + after.ru_stime) - (cpu.ru_utime + cpu.ru_stime)


def _loads(
    home: Path, files: dict[str, list[str]], rows: dict[str, int], mysql: Any, insert_rows: int
) -> None:
    from bdp.warehouse.duckdb import DuckDBWarehouse
    from bdp.warehouse.mysql import MysqlWarehouse

    duck = DuckDBWarehouse(home / "bench.duckdb")
    loaded = MysqlWarehouse(mysql)
    inserting = MysqlWarehouse(mysql.model_copy(update={"load_method": "insert"}))
    sample = home / "sample"
    sample.mkdir()
    header = ("load", "table", "rows", "wall s", "rows/s", "client CPU s")
    print("{:<28} {:<18} {:>11} {:>8} {:>10} {:>12}".format(*header))
    for table, paths in files.items():
        n = rows[table]
        head = pq.ParquetFile(paths[0]).read_row_groups([0]).slice(0, insert_rows)
        sample_file = sample / f"{table}.parquet"
        pq.write_table(head, sample_file)
        results = [
            ("duckdb", n, _timed(partial(duck.replace_partition, table, DAY, paths))),
            (
                "mysql load_data (first)",
                n,
                _timed(partial(loaded.replace_partition, table, DAY, paths)),
            ),
            (
                "mysql load_data (replace)",
                n,
                _timed(partial(loaded.replace_partition, table, DAY, paths)),
            ),
            (
                "mysql insert (sample)",
                head.num_rows,
                _timed(
                    partial(inserting.replace_partition, f"{table}_insert", DAY, [str(sample_file)])
                ),
            ),
            ("indexed dt: DELETE+INSERT", n, _indexed_alternative(mysql, table)),
        ]
        for label, count, (wall, cpu) in results:
            rate = count / wall
            print(f"{label:<28} {table:<18} {count:>11,} {wall:>8.2f} {rate:>10,.0f} {cpu:>12.2f}")
    with _connect(mysql, mysql.database) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, ROUND((data_length + index_length) / 1e6) FROM "
            "information_schema.tables WHERE table_schema = DATABASE() ORDER BY 1"
        )
        sizes = ", ".join(f"{name} {mb:,.0f} MB" for name, mb in cursor.fetchall())
    duck_mb = (home / "bench.duckdb").stat().st_size / 1e6
    print(f"sizes on the server: {sizes}; DuckDB file {duck_mb:,.0f} MB")


def _indexed_alternative(mysql: Any, table: str) -> tuple[float, float]:
    """Replace the day in a non-partitioned copy of `table` with an index on `dt`: the
    whole day deleted and inserted again in one transaction."""
    alt = f"{table}_indexed"
    with _connect(mysql, mysql.database) as conn, conn.cursor() as cursor:
        cursor.execute(f"CREATE TABLE `{alt}` LIKE `{table}`")
        cursor.execute(f"ALTER TABLE `{alt}` REMOVE PARTITIONING")
        cursor.execute(f"ALTER TABLE `{alt}` ADD INDEX (`dt`)")
        cursor.execute(f"INSERT INTO `{alt}` SELECT * FROM `{table}`")

        def replace() -> None:
            cursor.execute("START TRANSACTION")
            cursor.execute(f"DELETE FROM `{alt}` WHERE dt = %s", [DAY])
            cursor.execute(f"INSERT INTO `{alt}` SELECT * FROM `{table}` WHERE dt = %s", [DAY])
            cursor.execute("COMMIT")

        return _timed(replace)


def _queries(home: Path, mysql: Any, repeat: int) -> None:
    from bdp.warehouse.duckdb import DuckDBWarehouse
    from bdp.warehouse.mysql import MysqlWarehouse

    ways = {"duckdb": DuckDBWarehouse(home / "bench.duckdb"), "mariadb": MysqlWarehouse(mysql)}
    queries = [*_report_sql(), ("demo: champions", DEMO_QUERY)]
    title = f"query (median of {repeat})"
    print(f"\n{title:<44} {'duckdb ms':>10} {'mariadb ms':>11} {'ratio':>7}")
    totals = dict.fromkeys(ways, 0.0)
    for label, sql in queries:
        medians = {}
        for way, warehouse in ways.items():
            times = []
            for _ in range(repeat):
                began = time.perf_counter()
                warehouse.query(sql)
                times.append(time.perf_counter() - began)
            medians[way] = statistics.median(times) * 1000
            totals[way] += medians[way]
        _query_line(label, medians["duckdb"], medians["mariadb"])
    _query_line("all together", totals["duckdb"], totals["mariadb"])


def _query_line(label: str, duckdb_ms: float, mariadb_ms: float) -> None:
    ratio = mariadb_ms / duckdb_ms
    print(f"{label[:44]:<44} {duckdb_ms:>10,.0f} {mariadb_ms:>11,.0f} {ratio:>6.1f}x")


if __name__ == "__main__":
    main()
