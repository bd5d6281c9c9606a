"""Engine parity: every dataset's transforms give the same tables on DuckDB and on Spark.

For each dataset a realistic raw day is drawn with the simulator (corrected wire
format for all, legacy wire format for all too, in a non-UTC platform zone so the
zone-less legacy times are converted), written as zstd JSON lines into two lakes, and
`run_etl` loads it once with the DuckDB engine and once with the Spark engine into
separate warehouses. Every table must then have the same columns with the same types,
in the warehouse and in the curated Parquet files, and the same rows: rows are
compared after sorting, floats within a relative tolerance of `REL_TOL`.

One SparkSession (`local[2]`) serves the whole module.
"""

from __future__ import annotations

import datetime as dt
import gzip
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from bdp.config import Settings, load_settings
from bdp.datasets import DATASETS, get_dataset
from bdp.etl import run_etl
from bdp.etl.engine import EngineError
from bdp.etl.engine.duckdb import DuckDBEngine
from bdp.etl.engine.spark import SparkEngine  # pyspark is part of the dev environment
from bdp.etl.transforms import get_transform
from bdp.lake.compaction import CompactionPolicy, compact_dataset
from bdp.lake.local import LocalLake
from bdp.lake.manifests import BatchFiles
from bdp.simulate import SimulationParams, simulate
from bdp.stream.validate import validate_batch
from bdp.warehouse import open_warehouse
from tests.scenarios import hostile
from tests.scenarios.hostile import hostile_records

pytestmark = pytest.mark.slow

DAY = dt.date(2024, 4, 16)
REL_TOL = 1e-9
"""Relative tolerance for floating-point values (sums of products may round apart)."""
LEGACY_ZONE = "Asia/Seoul"
"""Platform zone for the legacy runs: zone-less legacy times are local time there."""

USERS = {"gamelogs": 20, "hotellogs": 20, "lostarklogs": 20, "adlogs": 60, "weblogs": 200}
"""Simulated users per dataset: a few thousand events each."""

CASES = [(name, legacy) for legacy in (False, True) for name in DATASETS]


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkEngine]:
    engine = SparkEngine(master="local[2]", conf={"spark.driver.memory": "1g"})
    try:
        yield engine
    finally:
        engine.close()


def _raw_day(lake: LocalLake, dataset: str, legacy: bool) -> int:
    """Write one simulated day as a few zstd JSON-lines files; returns the events."""
    start = int(dt.datetime.combine(DAY, dt.time(1), tzinfo=dt.UTC).timestamp() * 1000)
    params = SimulationParams(
        start_ms=start, seed=7, users=USERS[dataset], legacy_wire_format=legacy
    )
    compressor = zstandard.ZstdCompressor(level=1)
    events = 0
    for index, block in enumerate(simulate(dataset, params, block_size=1_000)):
        path = f"raw/{dataset}/dt={DAY.isoformat()}/part-{index:05d}.jsonl.zst"
        lake.publish(path, compressor.compress(b"\n".join(block.values) + b"\n"))
        events += len(block.values)
    return events


def _settings(home: Path, engine: str, legacy: bool) -> Settings:
    environ = {"BDP_ETL__ENGINE": engine, "BDP_ETL__THREADS": "2"}
    if legacy:
        environ["BDP_PLATFORM__TIMEZONE"] = LEGACY_ZONE
    return load_settings(home=home, environ=environ, cwd=home)


def _warehouse_tables(settings: Settings, tables: tuple[str, ...]) -> dict[str, pa.Table]:
    with open_warehouse(settings) as warehouse:
        return {t: warehouse.query(f'SELECT * FROM "{t}"') for t in tables}


def _curated_schema(root: Path, table: str) -> dict[str, str]:
    """Column → Parquet (Arrow) type of the curated day, over all its part files."""
    folder = root / "curated" / table / f"dt={DAY.isoformat()}"
    files = sorted(folder.glob("*.parquet"))
    assert files, f"no curated Parquet for {table}"
    types: dict[str, str] = {}
    for path in files:
        schema = pq.read_schema(path)
        for field in schema:
            text = str(field.type)
            types.setdefault(field.name, text)
            assert types[field.name] == text, f"{table}.{field.name}: {text} in {path.name}"
    return types


def _normal(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _sorted_rows(table: pa.Table) -> list[tuple[Any, ...]]:
    names = table.column_names
    found = [tuple(_normal(row[name]) for name in names) for row in table.to_pylist()]
    return sorted(found, key=lambda row: tuple((v is None, repr(v)) for v in row))


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, float) and isinstance(right, float):
        if math.isnan(left) or math.isnan(right):
            return math.isnan(left) and math.isnan(right)
        return math.isclose(left, right, rel_tol=REL_TOL, abs_tol=0.0)
    return left == right


def _float_key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    # Floats round apart only in the last bits: sort on a coarse form so the same rows
    # line up, then compare them with the tolerance.
    return tuple((v is None, repr(round(v, 6)) if isinstance(v, float) else repr(v)) for v in row)


@pytest.mark.parametrize(
    ("dataset", "legacy"),
    CASES,
    ids=[f"{name}-{'legacy' if old else 'corrected'}" for name, old in CASES],
)
def test_both_engines_build_the_same_tables(
    spark: SparkEngine, tmp_path: Path, dataset: str, legacy: bool
) -> None:
    def write(lake: LocalLake) -> int:
        events = _raw_day(lake, dataset, legacy)
        assert events > 100
        return events

    _assert_same_tables(spark, tmp_path, dataset, legacy, write)


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_both_engines_load_every_record_the_stream_job_lands(
    spark: SparkEngine, tmp_path: Path, dataset: str
) -> None:
    # Integers at the ends of their range, every spelling accepted, deep and odd extras.
    records = hostile_records(dataset)
    assert hostile.DAY == DAY
    checked = validate_batch(get_dataset(dataset), records, 1 << 20, ZoneInfo("UTC"))
    assert not checked.rejected

    def write(lake: LocalLake) -> int:
        body = zstandard.ZstdCompressor().compress(b"\n".join(records) + b"\n")
        lake.publish(f"raw/{dataset}/dt={DAY.isoformat()}/part-00000.jsonl.zst", body)
        return len(records)

    _assert_same_tables(spark, tmp_path, dataset, False, write)


def _assert_same_tables(
    spark: SparkEngine,
    tmp_path: Path,
    dataset: str,
    legacy: bool,
    write: Callable[[LocalLake], int],
) -> None:
    """`write` the same raw day into a lake per engine, run the ETL on each, and compare
    every table: same columns and types, same rows."""
    tables = get_transform(dataset).TABLES
    results, warehouses, schemas = {}, {}, {}
    for engine in ("duckdb", "spark"):
        home = tmp_path / engine
        settings = _settings(home, engine, legacy)
        lake = LocalLake(settings.paths.lake)
        events = write(lake)
        assert events > 10
        result = run_etl(
            settings, dataset, DAY, lake=lake, engine=spark if engine == "spark" else None
        )
        results[engine] = result
        warehouses[engine] = _warehouse_tables(settings, tables)
        schemas[engine] = {t: _curated_schema(Path(settings.paths.lake), t) for t in tables}

    assert results["duckdb"].raw_rows == results["spark"].raw_rows == events
    assert results["duckdb"].tables == results["spark"].tables
    for table in tables:
        duck, spark_table = warehouses["duckdb"][table], warehouses["spark"][table]
        assert duck.num_rows > 0, f"{table} is empty: the case tests nothing"
        assert schemas["duckdb"][table] == schemas["spark"][table], f"{table}: Parquet types"
        assert [(f.name, str(f.type)) for f in duck.schema] == [
            (f.name, str(f.type)) for f in spark_table.schema
        ], f"{table}: warehouse column names or types differ"
        left = sorted(_sorted_rows(duck), key=_float_key)
        right = sorted(_sorted_rows(spark_table), key=_float_key)
        assert len(left) == len(right)
        names = duck.column_names
        for a, b in zip(left, right, strict=True):
            differing = [
                (name, x, y) for name, x, y in zip(names, a, b, strict=True) if not _same(x, y)
            ]
            assert not differing, f"{table}: {differing} in {dict(zip(names, a, strict=True))}"


@pytest.mark.parametrize("compression", ["zstd", "gzip"])
def test_both_engines_read_a_day_whose_files_were_merged(
    spark: SparkEngine, tmp_path: Path, compression: str
) -> None:
    # One zstd frame (or gzip member) streamed out of many landed files' records.
    def write(lake: LocalLake) -> int:
        start = int(dt.datetime.combine(DAY, dt.time(1), tzinfo=dt.UTC).timestamp() * 1000)
        params = SimulationParams(start_ms=start, seed=7, users=USERS["weblogs"])
        first = 0
        for block in simulate("weblogs", params, block_size=300):
            count = len(block.values)
            files = BatchFiles("weblogs", 0, first, first + count - 1, count, "zstd")
            files.add(f"raw/weblogs/dt={DAY.isoformat()}", list(block.values))
            files.publish(lake)
            first += count
        policy = CompactionPolicy(target_bytes=1 << 30, min_file_bytes=1 << 30, min_files=2)
        merged = compact_dataset(
            lake, "weblogs", DAY + dt.timedelta(days=1), policy, lambda *_: True, compression
        )
        assert merged.merged_files == 1 and merged.source_files > 3
        return first

    _assert_same_tables(spark, tmp_path, "weblogs", False, write)


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_a_day_without_raw_files_gives_the_same_empty_tables(
    spark: SparkEngine, tmp_path: Path, dataset: str
) -> None:
    tables = get_transform(dataset).TABLES
    schemas, warehouses = {}, {}
    for engine in ("duckdb", "spark"):
        settings = _settings(tmp_path / engine, engine, legacy=False)
        lake = LocalLake(settings.paths.lake)
        result = run_etl(
            settings, dataset, DAY, lake=lake, engine=spark if engine == "spark" else None
        )
        assert result.raw_rows == 0 and set(result.tables.values()) == {0}
        schemas[engine] = {t: _curated_schema(Path(settings.paths.lake), t) for t in tables}
        warehouses[engine] = _warehouse_tables(settings, tables)
    assert schemas["duckdb"] == schemas["spark"]
    for table in tables:
        duck, spark_table = warehouses["duckdb"][table], warehouses["spark"][table]
        assert duck.num_rows == spark_table.num_rows == 0
        assert duck.schema.equals(spark_table.schema), table


def test_raw_reading_agrees_on_typed_values_and_fails_on_a_malformed_line(
    spark: SparkEngine, tmp_path: Path
) -> None:
    # Integers and booleans read as the same text. Other number spellings do not: DuckDB
    # renders `1.50` as "1.5" and `1e3` as "1000.0", Spark keeps the token; no raw field
    # is a float, and `declared()` reads a whole number in either text the same.
    good = tmp_path / "good.jsonl.gz"
    good.write_bytes(
        gzip.compress(b'{"ip":true,"responseTime":-15,"responseCode":200,"url":{"a":1}}\n')
    )
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"ip":"1"}\nnot json\n')
    web = get_dataset("weblogs")
    with DuckDBEngine(threads=1, memory_limit_mb=256, scratch_root=tmp_path) as duck:
        for engine in (duck, spark):
            [row] = engine.read_raw(web, [str(good)]).collect()
            assert (row["ip"], row["responseTime"], row["responseCode"]) == ("true", "-15", "200")
            assert row["method"] is None
            with pytest.raises(EngineError):
                engine.materialize(engine.read_raw(web, [str(bad)]))
