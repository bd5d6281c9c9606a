"""The engine seam: registry, raw reading in both wire forms, Parquet writing."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bdp.config import load_settings
from bdp.datasets import get_dataset
from bdp.errors import MissingExtraError, UnknownNameError
from bdp.etl.engine import ENGINES, open_engine
from bdp.etl.engine.base import DataFrame
from bdp.etl.engine.duckdb import DuckDBEngine, duckdb_type
from bdp.etl.schema import raw_fields

from .conftest import encode, rows

WEB = [
    '{"ip":"1","datetime":"2024-04-16T00:00:00.000Z","method":"GET","url":"/","responseCode":200,'
    '"responseTime":15,"sessionID":"s","extra":{"ignored":true}}',
    '{"ip":"2","datetime":"2024-04-16T00:00:01.000Z","method":"GET","url":"/","responseCode":"404",'
    '"responseTime":"7","sessionID":"s"}',
]


def test_raw_schema_follows_the_struct_with_legacy_aliases() -> None:
    fields = {f.name: f for f in raw_fields(get_dataset("lostarklogs"))}
    assert "inpukey" in fields and "inputkey" in fields
    assert [c.name for c in fields["User"].children] == ["class", "account", "ip"]
    assert not fields["x"].nested
    ad_user = {f.name: f for f in raw_fields(get_dataset("adlogs"))}["User"]
    assert "offset_time" in [c.name for c in ad_user.children]
    assert (
        duckdb_type(fields["Boss"])
        == 'STRUCT("name" VARCHAR, "item_level" VARCHAR, "endTime" VARCHAR)'
    )


@pytest.mark.parametrize("name", ["day.jsonl", "day.jsonl.gz", "day.jsonl.zst"])
def test_read_raw_gives_strings_from_typed_and_string_values(
    engine: DuckDBEngine, tmp_path: Path, name: str
) -> None:
    path = tmp_path / name
    path.write_bytes(encode(WEB, name))
    raw = engine.read_raw(get_dataset("weblogs"), [str(path)])
    assert raw.columns == [
        "ip",
        "datetime",
        "method",
        "url",
        "responseCode",
        "responseTime",
        "sessionID",
    ]
    found = rows(raw, "ip")
    assert [(r["responseCode"], r["responseTime"]) for r in found] == [("200", "15"), ("404", "7")]


def test_read_raw_without_files_is_empty_with_the_same_columns(engine: DuckDBEngine) -> None:
    raw = engine.read_raw(get_dataset("adlogs"), [])
    assert raw.columns == ["Ad", "User", "event", "datetime", "delta"]
    assert raw.count() == 0


def test_write_parquet_creates_the_directory(engine: DuckDBEngine, tmp_path: Path) -> None:
    source = tmp_path / "web.jsonl"
    source.write_bytes(encode(WEB, source.name))
    raw = engine.read_raw(get_dataset("weblogs"), [str(source)])
    engine.write_parquet(raw.select("ip"), str(tmp_path / "out" / "nested"))
    table = pq.read_table(next((tmp_path / "out" / "nested").glob("*.parquet")))
    assert sorted(table.column("ip").to_pylist()) == ["1", "2"]


def typed_web(engine: DuckDBEngine, source: Path) -> DataFrame:
    """Two typed web requests read from `source`, written there first."""
    source.write_bytes(encode(WEB, source.name))
    raw = engine.read_raw(get_dataset("weblogs"), [str(source)])
    F = engine.functions
    return raw.select(F.col("sessionID"), F.col("responseCode").cast("int").alias("responseCode"))


def test_read_parquet_gives_back_the_names_and_types_written(
    engine: DuckDBEngine, tmp_path: Path
) -> None:
    typed = typed_web(engine, tmp_path / "web.jsonl")
    # A curated partition's directory: its `dt=` is not read as a column.
    folder = tmp_path / "curated" / "t" / "dt=2024-04-16"
    engine.write_parquet(typed, str(folder))
    back = engine.read_parquet(str(folder))
    assert back.columns == ["sessionID", "responseCode"]
    assert sorted(r["responseCode"] for r in rows(back, "responseCode")) == [200, 404]


def test_engines_keep_their_own_sessions(tmp_path: Path) -> None:
    source = tmp_path / "web.jsonl"
    source.write_bytes(encode(WEB, source.name))
    with DuckDBEngine(threads=1, scratch_root=tmp_path) as first:
        before = first.read_raw(get_dataset("weblogs"), [str(source)])
        with DuckDBEngine(threads=1, scratch_root=tmp_path) as second:
            assert second.session is not first.session
            assert second.read_raw(get_dataset("weblogs"), []).count() == 0
        assert before.count() == 2
        assert first.read_raw(get_dataset("weblogs"), [str(source)]).count() == 2


def test_open_engine_by_name(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, environ={"BDP_ETL__ENGINE": "duckdb"})
    with open_engine(settings) as engine:
        assert engine.name == "duckdb" and engine.capabilities.local_paths_only
        assert hasattr(engine.functions, "col") and hasattr(engine.Window, "partitionBy")


def test_open_engine_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="duckdb"):
        open_engine(load_settings(home=tmp_path, environ={"BDP_ETL__ENGINE": "duckbd"}))


def test_spark_without_its_extra_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import fails as if not installed
    settings = load_settings(home=tmp_path, environ={"BDP_ETL__ENGINE": "spark"})
    with pytest.raises(MissingExtraError) as raised:
        open_engine(settings)
    assert raised.value.extra == "spark"


def test_spark_is_registered_and_builds_a_loopback_session_config() -> None:
    assert "spark" in ENGINES
    pytest.importorskip("pyspark")
    from bdp.etl.engine.spark import FIXED_CONF, LOCAL_CONF, spark_schema

    assert FIXED_CONF["spark.sql.session.timeZone"] == "UTC"
    assert LOCAL_CONF["spark.driver.bindAddress"] == "127.0.0.1"
    schema = spark_schema(raw_fields(get_dataset("lostarklogs")))
    boss = schema["Boss"].dataType
    assert [f.name for f in boss.fields] == ["name", "item_level", "endTime"]
    assert {f.dataType.simpleString() for f in boss.fields} == {"string"}


def test_materialize_keeps_names_and_typed_rows_until_released(
    engine: DuckDBEngine, tmp_path: Path
) -> None:
    source = tmp_path / "web.jsonl"
    typed = typed_web(engine, source)
    kept = engine.materialize(typed)
    assert kept.columns == ["sessionID", "responseCode"]
    source.unlink()  # the kept rows no longer need the raw file
    assert sorted(r["responseCode"] for r in rows(kept, "responseCode")) == [200, 404]
    assert kept.count() == 2
    engine.release(kept)
    engine.release(kept)  # releasing twice is harmless
