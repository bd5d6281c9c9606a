"""Engine parity for datasets declared by a JSON Schema: the generic transform and a
user's custom transform give the same curated table on DuckDB and on Spark.

JSON text columns (arrays, free-form objects) are compared parsed: each engine spells
the same JSON its own way (`1e3` or `1000.0`, spaces or none).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import zstandard

from bdp.config import Settings, load_settings
from bdp.datasets import get_dataset
from bdp.etl import run_etl
from bdp.etl.engine.spark import SparkEngine  # pyspark is part of the dev environment
from bdp.lake.local import LocalLake
from bdp.warehouse import open_warehouse
from tests.scenarios.orders import CUSTOM_TRANSFORM, DAY, encoded, good_orders, write_dataset

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkEngine]:
    engine = SparkEngine(master="local[2]", conf={"spark.driver.memory": "1g"})
    try:
        yield engine
    finally:
        engine.close()


def _settings(folder: Path, engine: str, zone: str, custom: bool) -> Settings:
    extra = 'transform = "shop_transforms:by_customer"\n' if custom else ""
    write_dataset(folder, extra)
    (folder / "shop_transforms.py").write_text(CUSTOM_TRANSFORM)
    environ = {"BDP_ETL__ENGINE": engine, "BDP_ETL__THREADS": "2", "BDP_PLATFORM__TIMEZONE": zone}
    return load_settings(home=folder / "home", environ=environ, cwd=folder)


def _rows(table: pa.Table, json_columns: set[str]) -> list[tuple[Any, ...]]:
    def normal(name: str, value: Any) -> Any:
        if name in json_columns and value is not None:
            return json.dumps(json.loads(value), sort_keys=True)
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            return value.astimezone(dt.UTC).replace(tzinfo=None)
        if isinstance(value, float):
            return round(value, 9)
        return value

    rows = [tuple(normal(n, row[n]) for n in table.column_names) for row in table.to_pylist()]
    return sorted(rows, key=repr)


@pytest.mark.parametrize(("custom", "zone"), [(False, "UTC"), (False, "Asia/Seoul"), (True, "UTC")])
def test_both_engines_build_the_same_declared_table(
    spark: SparkEngine, tmp_path: Path, custom: bool, zone: str
) -> None:
    records = encoded(good_orders(60))
    tables: dict[str, pa.Table] = {}
    for engine in ("duckdb", "spark"):
        settings = _settings(tmp_path / engine, engine, zone, custom)
        lake = LocalLake(settings.paths.lake)
        body = zstandard.ZstdCompressor().compress(b"\n".join(records) + b"\n")
        lake.publish(f"raw/orders/dt={DAY}/part-00000.jsonl.zst", body)
        day = dt.date.fromisoformat(DAY)
        result = run_etl(
            settings, "orders", day, lake=lake, engine=spark if engine == "spark" else None
        )
        assert result.raw_rows == len(records)
        with open_warehouse(settings) as warehouse:
            tables[engine] = warehouse.query('SELECT * FROM "orders"')
        json_columns = {
            leaf.column
            for leaf in get_dataset("orders", settings).leaves
            if leaf.sql_type == "json"
        }
    duck, other = tables["duckdb"], tables["spark"]
    assert duck.num_rows == other.num_rows == (7 if custom else len(records))
    assert [(f.name, str(f.type)) for f in duck.schema] == [
        (f.name, str(f.type)) for f in other.schema
    ]
    assert _rows(duck, json_columns) == _rows(other, json_columns)
    if not custom:
        types = {f.name: str(f.type) for f in duck.schema}
        assert types["placed_at"].startswith("timestamp") and types["qty"] == "int32"
        assert types["points"] == "int64" and types["total"] == "double"
        assert types["shipped_on"] == "date32[day]" and types["items"] == "string"
        totals = duck.column("total").to_pylist()
        assert 1000.0 in totals and not any(math.isnan(t) for t in totals)
