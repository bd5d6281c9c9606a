"""A query reads the warehouse's tables and nothing else: it cannot write a file,
attach a database, read files outside the warehouse, load code or lift those limits."""

from __future__ import annotations

import datetime as dt
import statistics
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from bdp.config import load_settings
from bdp.warehouse import QueryError, open_warehouse
from bdp.warehouse.duckdb import DuckDBWarehouse

DAY = dt.date(2024, 4, 16)
REFUSED = "disabled by configuration"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def warehouse(home: Path, tmp_path: Path) -> DuckDBWarehouse:
    opened = open_warehouse(load_settings(home=home, environ={}))
    assert isinstance(opened, DuckDBWarehouse)
    source = tmp_path / "curated" / "t.parquet"
    source.parent.mkdir(parents=True)
    pq.write_table(pa.table({"id": [1, 2, 3], "name": ["a", "[b]", "c"]}), source)
    opened.replace_partition("t", DAY, [str(source)])
    return opened


def test_copy_to_a_file_is_refused_inside_and_outside_the_home(
    warehouse: DuckDBWarehouse, home: Path, tmp_path: Path
) -> None:
    forged = home / "lake" / "raw" / "gamelogs" / "dt=2024-04-16" / "part-0-0-9.jsonl.zst"
    outside = tmp_path / "elsewhere" / "rows.csv"
    for target in (forged, outside):
        target.parent.mkdir(parents=True, exist_ok=True)
        with pytest.raises(QueryError, match=REFUSED):
            warehouse.query(f"COPY (SELECT * FROM t) TO '{target}'")
        assert not target.exists()
    state = home / "state.sqlite"
    state.write_bytes(b"kept")
    with pytest.raises(QueryError, match=REFUSED):
        warehouse.query(f"COPY t TO '{state}' (FORMAT csv)")
    assert state.read_bytes() == b"kept"
    with pytest.raises(QueryError, match=REFUSED):
        warehouse.query(f"EXPORT DATABASE '{tmp_path / 'export'}'")
    assert not (tmp_path / "export").exists()


def test_attaching_an_existing_database_is_refused(
    warehouse: DuckDBWarehouse, tmp_path: Path
) -> None:
    other = tmp_path / "other.duckdb"
    with duckdb.connect(str(other)) as conn:
        conn.execute("CREATE TABLE victim AS SELECT 1 AS id")
    with pytest.raises(QueryError, match=REFUSED):
        warehouse.query(f"ATTACH '{other}' AS other (READ_WRITE)")
    with pytest.raises(QueryError):
        warehouse.query("INSERT INTO other.victim VALUES (2)")
    with duckdb.connect(str(other), read_only=True) as conn:
        assert conn.execute("SELECT id FROM victim").fetchall() == [(1,)]


def test_extensions_are_neither_installed_nor_loaded(
    warehouse: DuckDBWarehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DuckDB keeps extensions in ~/.duckdb, which it creates before downloading one: the
    # refusal comes from the configuration, before any download is tried.
    user = tmp_path / "user"
    user.mkdir()
    monkeypatch.setenv("HOME", str(user))
    library = tmp_path / "evil.duckdb_extension"
    library.write_bytes(b"not an extension")
    for sql in ("INSTALL httpfs", "FORCE INSTALL spatial", "LOAD httpfs", f"LOAD '{library}'"):
        with pytest.raises(QueryError, match="disabled"):
            warehouse.query(sql)
    assert list(user.iterdir()) == []
    # Nor does a query that needs one (here to read over HTTP) fetch it by itself.
    with pytest.raises(QueryError, match=REFUSED):
        warehouse.query("SELECT * FROM 'https://example.invalid/rows.csv'")


@pytest.mark.parametrize(
    "sql",
    [
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "RESET lock_configuration",
        "SET autoinstall_known_extensions = true",
        "SET temp_directory = '/'",
        "SET threads = 1",
    ],
)
def test_the_configuration_is_locked(warehouse: DuckDBWarehouse, sql: str) -> None:
    with pytest.raises(QueryError, match="configuration has been locked"):
        warehouse.query(sql)


def test_files_outside_the_warehouse_cannot_be_read(
    warehouse: DuckDBWarehouse, tmp_path: Path
) -> None:
    # The warehouse's tables live in its file; a query has no business with other files,
    # the lake's included (it is read through `bdp status` and the tables loaded from it).
    secret = tmp_path / "secret.csv"
    secret.write_text("token\nhunter2\n")
    curated = tmp_path / "curated" / "t.parquet"
    for sql in (
        f"SELECT * FROM read_csv('{secret}')",
        f"SELECT * FROM '{secret}'",
        f"SELECT * FROM read_text('{secret}')",
        f"SELECT * FROM read_parquet('{curated}')",
        f"SELECT * FROM glob('{tmp_path}/*')",
    ):
        with pytest.raises(QueryError, match="read only the warehouse's tables"):
            warehouse.query(sql)


@pytest.mark.parametrize(
    ("sql", "count"),
    [("SELECT 1; SELECT 2", 2), ("SELECT 1; DELETE FROM t; SELECT 3;", 3)],
)
def test_several_statements_are_refused_naming_their_count(
    warehouse: DuckDBWarehouse, sql: str, count: int
) -> None:
    with pytest.raises(QueryError, match=f"holds {count} SQL statements; run one at a time"):
        warehouse.query(sql)
    assert warehouse.row_count("t") == 3


def test_one_statement_with_a_trailing_semicolon_runs_and_none_is_refused(
    warehouse: DuckDBWarehouse,
) -> None:
    assert warehouse.query("SELECT count(*) AS n FROM t;").to_pylist() == [{"n": 3}]
    with pytest.raises(QueryError, match="no SQL statement"):
        warehouse.query("  -- nothing\n")


def test_reading_the_warehouse_is_as_fast_as_without_the_limits(tmp_path: Path) -> None:
    source = tmp_path / "big.parquet"
    ids = pa.array(range(2_000_000), pa.int64())
    pq.write_table(pa.table({"id": ids, "g": pc.bit_wise_and(ids, 63)}), source)
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb")
    warehouse.replace_partition("t", DAY, [str(source)])
    sql = "SELECT g, count(*) AS n, sum(id) AS total FROM t GROUP BY g ORDER BY g"

    def unrestricted() -> pa.Table:
        # What query() did before: a plain read-only connection per query.
        with duckdb.connect(warehouse.path, read_only=True) as conn:
            conn.execute("SET TimeZone = 'UTC'")
            return conn.sql(sql).to_arrow_table()

    timings: dict[str, list[float]] = {"limited": [], "plain": []}
    for _ in range(7):  # interleaved, so both see the same machine load
        for name, run in (("limited", lambda: warehouse.query(sql)), ("plain", unrestricted)):
            began = time.perf_counter()
            result = run()
            timings[name].append(time.perf_counter() - began)
            assert result.num_rows == 64
    assert warehouse.query(sql).equals(unrestricted())
    limited, plain = (statistics.median(timings[name]) for name in ("limited", "plain"))
    assert limited < plain * 1.5, timings
