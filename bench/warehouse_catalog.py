"""Embedded warehouse: copying a day into DuckDB storage vs a catalog over the curated Parquet.

Builds one raw game day (the simulator when installed, else `bench/etl.py`'s synthetic
events), runs the ETL for it without loading the warehouse, and then, on the same
curated files, measures side by side:

1. the load: `DuckDBWarehouse.replace_partition` of both game tables into a new
   database file ("copy") against registering the day in a catalog ("catalog": the
   day's files hard-linked into a directory the warehouse owns, so that a re-run of the
   ETL, which swaps `curated/<table>/dt=D/`, cannot change or remove them under a
   query, and their paths written into a table of the database file, in one
   transaction), wall and CPU seconds of this process;
2. the report's queries on the game tables (the SQL the game charts, the activity chart
   and the key figures run, captured from `bdp.report`), four ways:
   - copy:  the read-only connection `DuckDBWarehouse.query` opens, as bdp reads today;
   - view:  a DuckDB view over `read_parquet` of the catalogued files, read through a
            read-only connection whose only reachable files are those (`allowed_paths`,
            then `enable_external_access = false` and the configuration locked);
   - arrow: the catalogued files opened as a pyarrow dataset (one fragment per day, the
            day its partition value) and registered on a read-only connection with no
            file access at all;
   - dict:  the same, with pyarrow reading string columns as dictionaries (as the files
            store them);
   "open" times a new connection per query, as `bdp query` and the report do; "warm"
   times the query again on the same connection;
3. the database file's size.

Every query's results are compared across the four ways. Times are medians of
`--repeat` rounds, the ways taking turns within a round; the OS page cache holds the
files throughout (nothing here measures a cold disk).

    python bench/warehouse_catalog.py                     # 2,000,000 events
    python bench/warehouse_catalog.py --events 10000000   # the decision's figures
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.util
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from etl import DAY, _simulated_day, _synthetic_day

TABLES = ("lol_analysis_log", "lol_training_log")
FILES_TABLE = "catalog_files"
READ_ONLY = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
}
WAYS = ("copy", "view", "arrow", "dict")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--files", type=int, default=20, help="raw files the day is split into")
    parser.add_argument("--source", default="auto", choices=["auto", "simulate", "synthetic"])
    parser.add_argument("--repeat", type=int, default=5, help="rounds; medians are reported")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bdp-bench-catalog-") as scratch:
        home = Path(scratch)
        curated = _curated_day(home, args)
        sizes = {t: sum(p.stat().st_size for p in files) for t, files in curated.items()}
        print(
            "curated: "
            + ", ".join(
                f"{t} {len(f)} file(s) {sizes[t] / 1e6:,.0f} MB" for t, f in curated.items()
            )
        )
        loads = _measure_loads(home, curated, args.repeat)
        _report_loads(loads)
        copy_db, catalog_db = home / "copy.duckdb", home / "catalog.duckdb"
        _copy_load(copy_db, curated)
        _catalog_load(catalog_db, home / "catalog-files", curated, view=True)
        print(
            f"database file: copy {copy_db.stat().st_size / 1e6:,.1f} MB, "
            f"catalog {catalog_db.stat().st_size / 1e6:,.1f} MB "
            f"(the curated Parquet, {sum(sizes.values()) / 1e6:,.0f} MB, is in the lake either way)"
        )
        runners = {
            "copy": _copy_runner(copy_db),
            "view": _view_runner(catalog_db),
            "arrow": _arrow_runner(catalog_db, dictionaries=False),
            "dict": _arrow_runner(catalog_db, dictionaries=True),
        }
        _report_queries(_measure_queries(runners, _report_sql(), args.repeat))


def _curated_day(home: Path, args: argparse.Namespace) -> dict[str, list[Path]]:
    """A raw day of game events, through the ETL into curated Parquet (no warehouse load)."""
    from bdp.config import load_settings
    from bdp.etl import run_etl
    from bdp.lake.local import LocalLake

    raw_dir = home / "lake" / "raw" / "gamelogs" / f"dt={DAY.isoformat()}"
    began = time.perf_counter()
    source = args.source
    if source == "auto":
        source = "simulate" if importlib.util.find_spec("bdp.simulate") else "synthetic"
    if source == "simulate":
        events, raw_bytes = _simulated_day(raw_dir, "gamelogs", args.events, args.files)
    else:
        events, raw_bytes = _synthetic_day(raw_dir, args.events, args.files)
    built = time.perf_counter() - began
    settings = load_settings(home=home / "home", environ={})
    began = time.perf_counter()
    result = run_etl(settings, "gamelogs", DAY, lake=LocalLake(str(home / "lake")), load=False)
    print(
        f"raw day: {events:,} gamelogs events ({source}), {raw_bytes / 1e6:,.0f} MB zstd, "
        f"built in {built:.1f} s; ETL without load {time.perf_counter() - began:.1f} s: "
        + ", ".join(f"{t}={n:,}" for t, n in result.tables.items())
    )
    return {
        table: sorted(
            (home / "lake" / "curated" / table / f"dt={DAY.isoformat()}").glob("*.parquet")
        )
        for table in TABLES
    }


# --- loads ---------------------------------------------------------------------------


def _copy_load(db: Path, curated: dict[str, list[Path]]) -> None:
    from bdp.warehouse.duckdb import DuckDBWarehouse

    warehouse = DuckDBWarehouse(db)
    for table, files in curated.items():
        warehouse.replace_partition(table, DAY, [str(p) for p in files])


def _catalog_load(db: Path, owned: Path, curated: dict[str, list[Path]], *, view: bool) -> None:
    """Register the day: hard-link its files where the warehouse owns them, then, in one
    transaction, make them the day's files (and, for `view`, redefine the table's view)."""
    conn = duckdb.connect(str(db), config={"preserve_insertion_order": False})
    try:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {FILES_TABLE} "
            "(table_name VARCHAR, dt DATE, path VARCHAR, PRIMARY KEY (table_name, dt, path))"
        )
        for table, files in curated.items():
            version = owned / table / f"dt={DAY.isoformat()}" / uuid.uuid4().hex
            version.mkdir(parents=True)
            linked = []
            for path in files:
                os.link(path, version / path.name)
                linked.append(str(version / path.name))
            conn.execute("BEGIN TRANSACTION")
            conn.execute(f"DELETE FROM {FILES_TABLE} WHERE table_name = ? AND dt = ?", [table, DAY])
            conn.executemany(
                f"INSERT INTO {FILES_TABLE} VALUES (?, ?, ?)", [[table, DAY, p] for p in linked]
            )
            if view:
                conn.execute(_view_sql(conn, table))
            conn.execute("COMMIT")
    finally:
        conn.close()


def _view_sql(conn: duckdb.DuckDBPyConnection, table: str) -> str:
    """The table as a view: one `read_parquet` per day, the day a constant column."""
    days: dict[dt.date, list[str]] = {}
    rows = conn.execute(
        f"SELECT dt, path FROM {FILES_TABLE} WHERE table_name = ? ORDER BY dt, path", [table]
    ).fetchall()
    for day, path in rows:
        days.setdefault(day, []).append(path)
    parts = [
        "SELECT *, DATE '{}' AS dt FROM read_parquet([{}], hive_partitioning = false)".format(
            day.isoformat(), ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
        )
        for day, paths in days.items()
    ]
    return f'CREATE OR REPLACE VIEW "{table}" AS ' + " UNION ALL BY NAME ".join(parts)


def _measure_loads(
    home: Path, curated: dict[str, list[Path]], repeat: int
) -> dict[str, list[tuple[float, float]]]:
    """Wall and CPU seconds of each way of loading the day into a new database file."""
    loads: dict[str, list[tuple[float, float]]] = {"copy": [], "catalog": []}
    for round_ in range(repeat):
        order = ["copy", "catalog"] if round_ % 2 == 0 else ["catalog", "copy"]
        for way in order:
            target = home / f"load-{way}-{round_}"
            target.mkdir()
            wall, cpu = time.perf_counter(), time.process_time()
            if way == "copy":
                _copy_load(target / "w.duckdb", curated)
            else:
                _catalog_load(target / "w.duckdb", target / "files", curated, view=True)
            loads[way].append((time.perf_counter() - wall, time.process_time() - cpu))
            shutil.rmtree(target)
    return loads


def _report_loads(loads: dict[str, list[tuple[float, float]]]) -> None:
    copy_wall = statistics.median(w for w, _ in loads["copy"])
    print(f"\nload of both game tables, median of {len(loads['copy'])}")
    print(f"{'way':<8} {'wall s':>9} {'CPU s':>8} {'wall vs copy':>13}")
    for way, runs in loads.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"{way:<8} {wall:>9.3f} {cpu:>8.3f} {wall / copy_wall:>12.4f}x")


# --- queries -------------------------------------------------------------------------


class _Captured(Exception):
    pass


def _report_sql() -> list[tuple[str, str]]:
    """The SQL the report runs on the game tables for the day, captured from its code."""
    from bdp.report.catalog import SECTIONS
    from bdp.report.charts import activity
    from bdp.report.context import ChartContext, TableCount, sql_date

    found: list[tuple[str, str]] = [
        (f"count {t}", f"SELECT COUNT(*) AS n FROM {t} WHERE dt = {sql_date(DAY)}") for t in TABLES
    ]
    game = next(section for section in SECTIONS if section.key == "gamelogs")
    for figure in game.figures:
        found.append(
            (
                f"figure {figure.label}",
                f"SELECT {figure.expression} AS v FROM {figure.table} WHERE dt = {sql_date(DAY)}",
            )
        )
    counts = {t: TableCount(t, 1) for t in TABLES}
    for spec in (*activity.CHARTS, *game.charts):
        captured: list[str] = []

        def record(sql: str, captured: list[str] = captured) -> pa.Table:
            captured.append(sql)
            raise _Captured

        with contextlib.suppress(_Captured):
            spec.render(ChartContext(record, DAY, counts))
        found.extend((f"chart {spec.name}", sql) for sql in captured)
    return found


Runner = Callable[[], Any]
"""Opens a connection as a way does; returns (connection, run(sql) -> pa.Table, close)."""


def _copy_runner(db: Path) -> Runner:
    from bdp.warehouse.duckdb import DuckDBWarehouse

    warehouse = DuckDBWarehouse(db)

    def open_() -> tuple[Callable[[str], pa.Table], Callable[[], None]]:
        # The warehouse's own read-only connection, kept open for the warm runs.
        context = warehouse._reading()
        conn = context.__enter__()
        return (lambda sql: conn.sql(sql).to_arrow_table()), (
            lambda: context.__exit__(None, None, None)
        )

    return open_


def _files(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, dt.date, str]]:
    return conn.execute(f"SELECT table_name, dt, path FROM {FILES_TABLE} ORDER BY ALL").fetchall()


def _view_runner(db: Path) -> Runner:
    def open_() -> tuple[Callable[[str], pa.Table], Callable[[], None]]:
        conn = duckdb.connect(str(db), read_only=True, config=READ_ONLY)
        paths = [path for _, _, path in _files(conn)]
        conn.execute("SET allowed_paths = [" + ", ".join(f"'{p}'" for p in paths) + "]")
        conn.execute("SET enable_external_access = false")
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute("SET lock_configuration = true")
        return (lambda sql: conn.sql(sql).to_arrow_table()), conn.close

    return open_


def _arrow_runner(db: Path, *, dictionaries: bool) -> Runner:
    def open_() -> tuple[Callable[[str], pa.Table], Callable[[], None]]:
        conn = duckdb.connect(
            str(db), read_only=True, config={**READ_ONLY, "enable_external_access": False}
        )
        days: dict[str, list[tuple[dt.date, str]]] = {}
        for table, day, path in _files(conn):
            days.setdefault(table, []).append((day, path))
        for table, files in days.items():
            schema = pq.read_schema(files[-1][1])
            strings = [f.name for f in schema if dictionaries and pa.types.is_string(f.type)]
            options = pads.ParquetReadOptions(dictionary_columns=strings)
            dataset = pads.FileSystemDataset.from_paths(
                [path for _, path in files],
                schema=schema.append(pa.field("dt", pa.date32())),
                format=pads.ParquetFileFormat(read_options=options),
                filesystem=pafs.LocalFileSystem(),
                partitions=[pads.field("dt") == pa.scalar(day, pa.date32()) for day, _ in files],
            )
            conn.register(table, dataset)
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute("SET lock_configuration = true")
        return (lambda sql: conn.sql(sql).to_arrow_table()), conn.close

    return open_


def _measure_queries(
    runners: dict[str, Runner], queries: list[tuple[str, str]], repeat: int
) -> dict[str, dict[str, dict[str, list[float]]]]:
    """Per query, per way: seconds with a new connection ("open") and again on it ("warm")."""
    times: dict[str, dict[str, dict[str, list[float]]]] = {
        label: {way: {"open": [], "warm": []} for way in runners} for label, _ in queries
    }
    for round_ in range(repeat):
        ways = list(runners)
        ways = ways[round_ % len(ways) :] + ways[: round_ % len(ways)]
        for label, sql in queries:
            answers = {}
            for way in ways:
                began = time.perf_counter()
                run, close = runners[way]()
                answers[way] = run(sql)
                times[label][way]["open"].append(time.perf_counter() - began)
                began = time.perf_counter()
                run(sql)
                times[label][way]["warm"].append(time.perf_counter() - began)
                close()
            if round_ == 0:
                _same_answers(label, answers)
    return times


def _same_answers(label: str, answers: dict[str, pa.Table]) -> None:
    def canonical(table: pa.Table) -> pa.Table:
        # Rows in one order (ties broken by every column), types as the copy gives them.
        return table.sort_by([(name, "ascending") for name in table.column_names])

    first, *others = answers
    expected = canonical(answers[first])
    for way in others:
        found = canonical(answers[way].cast(answers[first].schema))
        if not found.equals(expected):
            raise SystemExit(f"{label}: {way} answers differently from {first}")


def _report_queries(times: dict[str, dict[str, dict[str, list[float]]]]) -> None:
    rounds = len(next(iter(next(iter(times.values())).values()))["open"])
    print(f"\nreport queries on the game tables, ms, median of {rounds}; ratio = way / copy")
    header = f"{'query':<36}"
    for kind in ("open", "warm"):
        header += f" {'copy ' + kind:>10}" + "".join(f" {w:>7} {'x':>5}" for w in WAYS[1:])
    print(header)
    totals = {(way, kind): 0.0 for way in WAYS for kind in ("open", "warm")}
    for label, by_way in times.items():
        line = f"{label[:36]:<36}"
        for kind in ("open", "warm"):
            copy = statistics.median(by_way["copy"][kind])
            line += f" {copy * 1e3:>10.1f}"
            totals["copy", kind] += copy
            for way in WAYS[1:]:
                value = statistics.median(by_way[way][kind])
                totals[way, kind] += value
                line += f" {value * 1e3:>7.1f} {value / copy:>4.2f}x"
        print(line)
    line = f"{'all of them':<36}"
    for kind in ("open", "warm"):
        line += f" {totals['copy', kind] * 1e3:>10.1f}"
        for way in WAYS[1:]:
            ratio = totals[way, kind] / totals["copy", kind]
            line += f" {totals[way, kind] * 1e3:>7.1f} {ratio:>4.2f}x"
    print(line)


if __name__ == "__main__":
    main()
