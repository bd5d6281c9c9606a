"""Run one dataset's ETL for one day: raw day D → curated Parquet → warehouse partition D.

Only `raw/<dataset>/dt=D` is read (E6); each table is written to a staging directory,
swapped into `curated/<table>/dt=D/` in one step and then loaded into the warehouse
by replacing partition D, so re-running a day — after a failure, or because late data
arrived — replaces it everywhere and never duplicates it (E8). The day is an explicit
argument, never the wall clock (E9). A day without raw files yields empty partitions.

A damaged raw file fails the run, naming the file, before anything is replaced. Each
file's size is compared with what landing recorded before the engine reads anything;
then the rows the engine parsed must add up to the records landed. When they do not,
or the engine cannot read the files, each file is decompressed and counted to name
the one at fault. Checking sizes and one total keeps the day's files read once.

An engine that only opens local paths (DuckDB) on a lake without them (HDFS) works on a
local scratch copy: the day's raw files are downloaded, the engine writes each table's
Parquet locally, the files are uploaded into a lake staging directory that is swapped
into `curated/<table>/dt=D/` as usual, and the warehouse loads the local copies. The
scratch directory is removed afterwards, whatever happened. A warehouse that registers
files in place (`registers_files_in_place`) is given the lake's URIs instead.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from bdp.config import Settings
from bdp.datasets import get_dataset
from bdp.datasets.evolution import check_schema_change
from bdp.errors import BdpError
from bdp.etl.engine import DataFrame, Engine, EngineError, open_engine
from bdp.etl.runs import EtlRun, RunLog, raw_files, raw_fingerprint
from bdp.etl.transforms import TransformOptions, get_transform
from bdp.etl.transforms.base import dropped_rows
from bdp.lake import FileInfo, Lake, open_lake, partition_dir
from bdp.lake.manifests import LandedFiles, refuse_damaged
from bdp.lake.retrying import retrying
from bdp.logs import fields
from bdp.retry import Retry
from bdp.warehouse import Warehouse, open_warehouse

__all__ = ["EtlError", "EtlResult", "load_day", "run_etl", "transform_options"]

LOG = logging.getLogger("bdp.etl")


class EtlError(BdpError):
    """The ETL produced something inconsistent (a missing table, a count mismatch)."""


@dataclass(frozen=True)
class EtlResult:
    dataset: str
    dt: date
    raw_files: int
    raw_rows: int
    tables: dict[str, int]
    """Rows loaded per table, equal to the rows in its curated partition."""
    seconds: float
    raw_fingerprint: str
    stage_seconds: dict[str, float] = field(default_factory=dict)
    """Wall time per stage: `write:<table>` and `load:<table>`, and `read` (parse and
    keep the typed day) for a dataset without an events table. With one, parsing is
    part of writing that table."""
    dropped: dict[str, int] = field(default_factory=dict)
    """Raw rows the records table leaves out, by the transform's rule (`DROPS`) that
    drops them: `raw_rows` = its rows + these."""


def transform_options(settings: Settings) -> TransformOptions:
    return TransformOptions(timezone=settings.platform.timezone)


def run_etl(
    settings: Settings,
    dataset: str,
    dt: date,
    *,
    lake: Lake | None = None,
    engine: Engine | None = None,
    warehouse: Warehouse | None = None,
    options: TransformOptions | None = None,
    retry: Retry | None = None,
    load: bool = True,
) -> EtlResult:
    """Build and load every table of `dataset` for day `dt`; record the run either way.

    Components not given are opened from `settings` and closed afterwards. Lake reads,
    listings and uploads that fail transiently are retried (`retry`, by default a few
    times over a minute at most); swapping a partition in is not. With `load=False` the
    curated partitions are written but the warehouse is left to `load_day` (a DAG's
    next task), and `tables` counts the curated rows.
    """
    source, transform = get_dataset(dataset, settings), get_transform(dataset, settings)
    if source.declared:
        check_schema_change(settings, source)
    options = options or transform_options(settings)
    log = RunLog(settings.paths.state)
    started, clock = datetime.now(UTC), time.perf_counter()
    fingerprint, raw_rows = "", 0
    tables: dict[str, int] = {}
    stages: dict[str, float] = {}
    dropped: dict[str, int] = {}
    with ExitStack() as owned:
        try:
            lake = retrying(lake or open_lake(settings), retry or Retry(log=LOG))
            engine = engine or owned.enter_context(open_engine(settings))
            if not load:
                warehouse = None
            elif warehouse is None:
                warehouse = owned.enter_context(open_warehouse(settings))
            scratch: Path | None = None
            if engine.capabilities.local_paths_only and not lake.capabilities.local_paths:
                scratch = Path(tempfile.mkdtemp(prefix=f"bdp-etl-{dataset}-"))
                owned.callback(shutil.rmtree, scratch, ignore_errors=True)
            landed_files = LandedFiles(lake, dataset)
            files = raw_files(lake, dataset, dt, landed_files)
            fingerprint = raw_fingerprint(files, landed_files)
            landed = _landed_records(lake, landed_files, files)
            began = time.perf_counter()
            raw = engine.read_raw(source, [_local_uri(lake, info.path, scratch) for info in files])
            # Parse and cast the day once; every table is derived from the typed rows.
            typed = transform.typed(raw, engine, options)
            with _blaming_raw_files(lake, dataset, files):
                if transform.EVENTS_TABLE is not None:
                    # The typed rows are a table of their own: encode them once, as that
                    # table, and read the other tables' input back from its Parquet files.
                    curated = _write(
                        transform.EVENTS_TABLE, typed, dt, lake, engine, stages, scratch, landed
                    )
                    events = engine.read_parquet(curated.location(lake))
                    raw_rows = int(events.count())
                    tables[curated.table] = (
                        _load(curated, dt, lake, warehouse, stages)
                        if warehouse is not None
                        else raw_rows
                    )
                else:
                    events = engine.materialize(typed)
                    owned.callback(engine.release, events)
                    raw_rows = _checked_rows(int(events.count()), landed)
                    stages["read"] = time.perf_counter() - began
                    LOG.info(
                        "stage %s",
                        fields(
                            stage="read",
                            dataset=dataset,
                            dt=dt,
                            rows=raw_rows,
                            seconds=stages["read"],
                        ),
                    )
            # Counted beside the tables, for the quality check to reconcile them.
            dropped = dropped_rows(events, engine.functions, transform.DROPS)
            frames = transform.build(events, engine, options)
            if set(frames) != set(transform.TABLES):
                raise EtlError(f"{dataset}: built {sorted(frames)}, expected {transform.TABLES}")
            for table in transform.TABLES:
                if table == transform.EVENTS_TABLE:
                    _check_is_events(table, frames[table], events)
                    continue
                curated = _write(table, frames[table], dt, lake, engine, stages, scratch)
                tables[table] = (
                    _load(curated, dt, lake, warehouse, stages)
                    if warehouse is not None
                    else int(engine.read_parquet(curated.location(lake)).count())
                )
        except Exception as exc:
            LOG.info(
                "run %s",
                fields(
                    dataset=dataset, dt=dt, status="failed", error=f"{type(exc).__name__}: {exc}"
                ),
            )
            log.record_run(
                EtlRun(
                    dataset,
                    dt,
                    started,
                    datetime.now(UTC),
                    "failed",
                    f"{type(exc).__name__}: {exc}",
                    raw_rows,
                    tables,
                    fingerprint,
                    dropped,
                )
            )
            raise
    log.record_run(
        EtlRun(
            dataset,
            dt,
            started,
            datetime.now(UTC),
            "ok",
            None,
            raw_rows,
            tables,
            fingerprint,
            dropped,
        )
    )
    LOG.info(
        "run %s",
        fields(
            dataset=dataset,
            dt=dt,
            status="ok",
            raw_files=len(files),
            raw_rows=raw_rows,
            tables=len(tables),
            rows=sum(tables.values()),
            dropped=sum(dropped.values()),
            seconds=time.perf_counter() - clock,
        ),
    )
    return EtlResult(
        dataset=dataset,
        dt=dt,
        raw_files=len(files),
        raw_rows=raw_rows,
        tables=tables,
        seconds=time.perf_counter() - clock,
        raw_fingerprint=fingerprint,
        stage_seconds=stages,
        dropped=dropped,
    )


def load_day(
    settings: Settings, dataset: str, dt: date, *, warehouse: Warehouse | None = None
) -> dict[str, int]:
    """Replace day `dt` of every table of `dataset` in the warehouse with its curated
    partition in the lake (as `run_etl(load=False)` left it); rows loaded per table.

    A table whose curated partition is missing fails the load, naming it: the ETL of the
    day has not run (or its output was deleted)."""
    transform = get_transform(dataset, settings)
    lake = retrying(open_lake(settings), Retry(log=LOG))
    stages: dict[str, float] = {}
    loaded: dict[str, int] = {}
    with ExitStack() as owned:
        warehouse = warehouse or owned.enter_context(open_warehouse(settings))
        for table in transform.TABLES:
            directory = partition_dir("curated", table, dt.isoformat())
            if not lake.exists(directory):
                raise EtlError(f"{table} dt={dt}: no curated partition; run the ETL of the day")
            loaded[table] = _load(_Curated(table, directory, None), dt, lake, warehouse, stages)
    return loaded


@dataclass(frozen=True)
class _Curated:
    """A table's day, written and swapped into `curated/<table>/dt=D/`."""

    table: str
    directory: str
    """The partition's directory in the lake."""
    local: Path | None
    """The local copy the engine wrote it to, when it could not write to the lake."""

    def location(self, lake: Lake) -> str:
        """Where the engine reads the partition's Parquet files back."""
        return str(self.local) if self.local is not None else lake.uri(self.directory)


class _RowsDiffer(Exception):
    """The engine parsed another number of raw rows than the files hold."""

    def __init__(self, parsed: int, landed: int) -> None:
        self.parsed, self.landed = parsed, landed
        super().__init__(f"the engine read {parsed:,} raw rows, but {landed:,} were landed")


def _landed_records(lake: Lake, landed: LandedFiles, files: list[FileInfo]) -> int:
    """The records the day's files hold, as landing recorded them; a file whose size
    differs from its record fails the run here, before the engine reads anything."""
    checks = [landed.check(info) for info in files]
    refuse_damaged(lake, checks)
    return sum(check.records for check in checks)


def _checked_rows(parsed: int, landed: int) -> int:
    if parsed != landed:
        raise _RowsDiffer(parsed, landed)
    return parsed


@contextmanager
def _blaming_raw_files(lake: Lake, dataset: str, files: list[FileInfo]) -> Iterator[None]:
    """When the engine cannot read the day, or reads another number of rows than was
    landed, decompress and count each file to name the damaged one."""
    try:
        yield
    except (EngineError, _RowsDiffer) as exc:
        landed = LandedFiles(lake, dataset)
        refuse_damaged(lake, [landed.check(info, verify=True) for info in files])
        if isinstance(exc, _RowsDiffer):
            raise EtlError(f"{dataset}: {exc}") from None
        raise


def _check_is_events(table: str, frame: DataFrame, events: DataFrame) -> None:
    """The table published from the typed rows must be what `build` says it is."""
    if list(frame.columns) != list(events.columns):
        raise EtlError(
            f"{table} is declared the typed events, but build() gives it columns "
            f"{list(frame.columns)} instead of {list(events.columns)}"
        )


def _write(
    table: str,
    df: DataFrame,
    dt: date,
    lake: Lake,
    engine: Engine,
    stages: dict[str, float],
    scratch: Path | None = None,
    rows: int | None = None,
) -> _Curated:
    """Write one table's day to a staging directory and swap it into the lake.

    With a `scratch` directory the engine writes there and the files are uploaded into
    the lake's staging directory. With `rows`, the table written must hold that many,
    or the curated partition is left as it was.
    """
    curated = partition_dir("curated", table, dt.isoformat())
    staged = lake.staging_dir(f"etl-{table}-{dt.isoformat()}")
    local = scratch / "curated" / table / f"dt={dt.isoformat()}" if scratch else None
    began = time.perf_counter()
    try:
        written = lake.uri(staged) if local is None else str(local)
        engine.write_parquet(df, written)
        if rows is not None:
            _checked_rows(int(engine.read_parquet(written).count()), rows)
        if local is not None:
            _upload(lake, local, staged)
        lake.replace_dir(staged, curated)
    except BaseException:
        lake.delete(staged)
        raise
    stages[f"write:{table}"] = time.perf_counter() - began
    LOG.info(
        "stage %s", fields(stage="write", table=table, dt=dt, seconds=stages[f"write:{table}"])
    )
    return _Curated(table, curated, local)


def _load(
    curated: _Curated, dt: date, lake: Lake, warehouse: Warehouse, stages: dict[str, float]
) -> int:
    """Replace the table's partition in the warehouse with the curated day; returns the
    rows loaded, checked against the rows in the curated files. The warehouse loads the
    local copies when there are some, unless it registers the lake's files in place."""
    table, began = curated.table, time.perf_counter()
    in_place = warehouse.capabilities.registers_files_in_place
    with tempfile.TemporaryDirectory(prefix=f"bdp-load-{table}-") as download:
        if curated.local is not None and not in_place:
            uris = [str(path) for path in _local_files(curated.local) if path.suffix == ".parquet"]
        else:
            parquet = [
                f.path for f in lake.list_files(curated.directory) if f.path.endswith(".parquet")
            ]
            if lake.capabilities.local_paths or in_place:
                uris = [lake.uri(path) for path in parquet]
            else:
                # An engine that writes to the lake itself (Spark on HDFS): the warehouse
                # loads local copies of what it wrote.
                uris = [_local_uri(lake, path, Path(download)) for path in parquet]
        loaded = warehouse.replace_partition(table, dt, uris)
        stages[f"load:{table}"] = time.perf_counter() - began
        # Files registered where they lie in a remote lake are the table's rows: there
        # is no copy to reconcile (and no footer to read without downloading them).
        remote = in_place and not lake.capabilities.local_paths
        written = loaded if remote else _parquet_rows(uris)
    if written != loaded:
        raise EtlError(f"{table} dt={dt}: {written} rows curated but {loaded} loaded")
    LOG.info(
        "stage %s",
        fields(stage="load", table=table, dt=dt, rows=loaded, seconds=stages[f"load:{table}"]),
    )
    return loaded


def _local_uri(lake: Lake, path: str, scratch: Path | None) -> str:
    """Where the engine opens a lake file: in place, or a copy downloaded into `scratch`."""
    if scratch is None:
        return lake.uri(path)
    local = scratch / "raw" / path
    local.parent.mkdir(parents=True, exist_ok=True)
    local.write_bytes(lake.read(path))
    return str(local)


def _local_files(directory: Path) -> list[Path]:
    """The files an engine wrote, without hidden ones (checksums, markers in progress)."""
    return sorted(
        path
        for path in directory.rglob("*")
        if path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(directory).parts)
    )


def _upload(lake: Lake, local: Path, staged: str) -> None:
    for path in _local_files(local):
        lake.publish(f"{staged}/{path.relative_to(local).as_posix()}", path.read_bytes())


def _parquet_rows(paths: list[str]) -> int:
    import pyarrow.parquet as pq

    # Footers only: a cheap reconciliation of the lake against the warehouse.
    return sum(pq.read_metadata(path).num_rows for path in paths)
