"""What DuckDB lets a locked, read-only connection do with files, when it is to read a
catalog over the curated Parquet instead of tables in its own file.

Decision 0020 keeps the embedded warehouse a copy of the curated days because of these
behaviours of DuckDB 2.0: a view over `read_parquet` needs file access, and the only
way to grant it (`allowed_paths` / `allowed_directories`, set on a running database)
grants writing as well as reading. If one of these tests starts failing after a DuckDB
upgrade, the decision's premise has changed: read it again.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

LOCKED = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
}
REFUSED = "disabled by configuration"


@pytest.fixture
def curated(tmp_path: Path) -> Path:
    path = tmp_path / "lake" / "curated" / "t" / "dt=2024-04-16" / "part-00000.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(pa.table({"id": list(range(10))}), path)
    return path


@pytest.fixture
def catalog(tmp_path: Path, curated: Path) -> Path:
    """A database whose table `t` is a view over the curated file."""
    path = tmp_path / "catalog.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{curated}')")
    return path


def locked(
    db: Path, *, paths: Sequence[Path] = (), dirs: Sequence[Path] = ()
) -> duckdb.DuckDBPyConnection:
    """Read-only, external access off, configuration locked, with these paths allowed."""
    conn = duckdb.connect(str(db), read_only=True, config=LOCKED)
    if paths:
        conn.execute("SET allowed_paths = [" + ", ".join(f"'{p}'" for p in paths) + "]")
    if dirs:
        conn.execute("SET allowed_directories = [" + ", ".join(f"'{d}/'" for d in dirs) + "]")
    conn.execute("SET enable_external_access = false")
    conn.execute("SET lock_configuration = true")
    return conn


def rows(path: Path) -> int:
    return pq.read_metadata(path).num_rows


def test_a_view_over_parquet_needs_file_access(catalog: Path) -> None:
    with (
        locked(catalog) as conn,
        pytest.raises(duckdb.PermissionException, match=REFUSED),
    ):
        conn.sql("SELECT count(*) FROM t").fetchall()


@pytest.mark.parametrize("setting", ["allowed_paths", "allowed_directories"])
@pytest.mark.parametrize("external_access", ["absent", "off before", "off after"])
def test_allowed_paths_cannot_be_given_when_connecting(
    catalog: Path, curated: Path, setting: str, external_access: str
) -> None:
    allowed = [str(curated)] if setting == "allowed_paths" else [f"{curated.parent}/"]
    off = {"enable_external_access": False}
    config = {
        "absent": {setting: allowed},
        "off before": {**off, setting: allowed},
        "off after": {setting: allowed, **off},
    }[external_access]
    # DuckDB names one of two reasons, depending on the order it applies the settings in.
    with pytest.raises(duckdb.InvalidInputException, match=f"Cannot change(/set)? {setting}"):
        duckdb.connect(str(catalog), read_only=True, config={**LOCKED, **config})


def test_an_allowed_file_can_be_read_and_overwritten(
    catalog: Path, curated: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "lake" / "raw" / "secret.csv"
    secret.parent.mkdir(parents=True)
    secret.write_text("token\nhunter2\n")
    # A warehouse-owned link to the lake's file, as a catalog would keep it: one file.
    owned = tmp_path / "owned.parquet"
    os.link(curated, owned)
    with duckdb.connect(str(catalog)) as conn:
        conn.execute(f"CREATE OR REPLACE VIEW t AS SELECT * FROM read_parquet('{owned}')")
    with locked(catalog, paths=[owned]) as conn:
        assert conn.sql("SELECT count(*) FROM t").fetchall() == [(10,)]
        with pytest.raises(duckdb.PermissionException, match=REFUSED):
            conn.sql(f"SELECT * FROM read_csv('{secret}')").fetchall()
        # Allowed means writable: a query replaces the file in place, and the lake's
        # file with it.
        conn.sql(f"COPY (SELECT 42 AS id) TO '{owned}' (USE_TMP_FILE false)")
    assert rows(curated) == 1


def test_an_allowed_directory_can_be_written_into(catalog: Path, curated: Path) -> None:
    directory = curated.parents[2]
    with locked(catalog, dirs=[directory]) as conn:
        assert conn.sql("SELECT count(*) FROM t").fetchall() == [(10,)]
        conn.sql(f"COPY (SELECT 1 AS id) TO '{curated.parent / 'forged.parquet'}'")
        conn.sql(f"COPY (SELECT 42 AS id) TO '{curated}'")
    assert (curated.parent / "forged.parquet").exists()
    assert rows(curated) == 1


def test_an_arrow_dataset_reads_with_no_file_access(catalog: Path, curated: Path) -> None:
    schema = pq.read_schema(curated).append(pa.field("dt", pa.date32()))
    days = [dt.date(2024, 4, 16), dt.date(2024, 4, 17)]
    dataset = pads.FileSystemDataset.from_paths(
        [str(curated)] * 2,
        schema=schema,
        format=pads.ParquetFileFormat(),
        filesystem=pafs.LocalFileSystem(),
        partitions=[pads.field("dt") == pa.scalar(day, pa.date32()) for day in days],
    )
    with locked(catalog) as conn:
        conn.register("days", dataset)
        found = conn.sql("SELECT dt, count(*) FROM days GROUP BY dt ORDER BY dt").fetchall()
        assert found == [(days[0], 10), (days[1], 10)]
        with pytest.raises(duckdb.PermissionException, match=REFUSED):
            conn.sql(f"COPY (SELECT 42 AS id) TO '{curated}' (USE_TMP_FILE false)")
    assert rows(curated) == 10
