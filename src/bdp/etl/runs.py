"""A record of every ETL run, and which days need one.

Runs live in a small SQLite table beside the scheduler's state. Each run stores a
fingerprint of the raw partition it read, so a day whose raw partition changed after
its last successful run — late data — shows up in `stale_days` and is run again.

The fingerprint is of the batches the day holds: the sorted names and sizes of its batch
files as they were landed. A merged file (`bdp.lake.compaction`) stands for the batch
files its manifest lists, so merging a day's files leaves its fingerprint as it was,
while a batch landed later still changes it. Files a merged file beside them holds are
left out (`LandedFiles.current`), as every reader leaves them out. Each run also stores
the rows each of the transform's drop rules left out of its records table, which the
quality checks reconcile the landed rows with.

A day the lake's retention deletes (`bdp.lake.retention`) is never stale: a record landing
late in such a day must not replace the warehouse's whole day with itself.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bdp.config import Settings
from bdp.errors import BdpError
from bdp.lake import FileInfo, Lake
from bdp.lake.manifests import LandedFiles
from bdp.lake.rawfiles import RAW_SUFFIXES

__all__ = [
    "EtlRun",
    "RunLog",
    "RunLogError",
    "day_fingerprint",
    "last_runs",
    "raw_files",
    "raw_fingerprint",
    "record_run",
    "stale_days",
]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS etl_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset TEXT NOT NULL,
    dt TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    error TEXT,
    raw_rows INTEGER,
    table_rows TEXT NOT NULL,
    raw_fingerprint TEXT NOT NULL,
    dropped_rows TEXT
);
CREATE INDEX IF NOT EXISTS etl_runs_day ON etl_runs (dataset, dt, id);
"""

_COLUMNS = (
    "dataset, dt, started_at, finished_at, status, error, raw_rows, table_rows, "
    "raw_fingerprint, dropped_rows"
)


@dataclass(frozen=True)
class EtlRun:
    dataset: str
    dt: date
    started_at: datetime
    finished_at: datetime
    status: str
    """`ok` or `failed`."""
    error: str | None
    raw_rows: int | None
    table_rows: dict[str, int]
    raw_fingerprint: str
    dropped_rows: dict[str, int] | None = None
    """Raw rows each drop rule left out of the records table; None for a run recorded
    before they were."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: dates and times as ISO-8601 text."""
        return {
            "dataset": self.dataset,
            "dt": self.dt.isoformat(),
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "status": self.status,
            "error": self.error,
            "raw_rows": self.raw_rows,
            "table_rows": dict(self.table_rows),
            "raw_fingerprint": self.raw_fingerprint,
            "dropped_rows": None if self.dropped_rows is None else dict(self.dropped_rows),
        }


def record_run(settings: Settings, run: EtlRun) -> None:
    RunLog(settings.paths.state).record_run(run)


def last_runs(settings: Settings, limit: int = 20, dataset: str | None = None) -> list[EtlRun]:
    """The most recent runs first."""
    return RunLog(settings.paths.state).last_runs(limit, dataset)


def stale_days(settings: Settings, lake: Lake, dataset: str) -> list[date]:
    """Days of `dataset` whose raw partition changed since their last successful run,
    except days its lake retention deletes."""
    from bdp.lake.retention import oldest_kept_day

    yesterday = datetime.now(settings.tz).date() - timedelta(days=1)
    since = oldest_kept_day(settings, dataset, yesterday)
    return RunLog(settings.paths.state).stale_days(lake, dataset, since)


def raw_files(
    lake: Lake, dataset: str, dt: date, landed: LandedFiles | None = None
) -> list[FileInfo]:
    """The raw record files of one day to read, sorted by path: without those a merged
    file beside them holds (`landed` reads the merged files' manifests)."""
    prefix = f"raw/{dataset}/dt={dt.isoformat()}"
    files = [info for info in lake.list_files(prefix) if info.path.endswith(RAW_SUFFIXES)]
    return (landed or LandedFiles(lake, dataset)).current(files)


def raw_fingerprint(files: list[FileInfo], landed: LandedFiles) -> str:
    """The batches `files` (as `raw_files` gives them) hold, as a hash of their batch
    files' names and sizes as landed (a merged file's from its manifest)."""
    listing = sorted(f"{name}\t{size}" for info in files for name, size in landed.landed_as(info))
    return hashlib.sha256("\n".join(listing).encode()).hexdigest()


def day_fingerprint(lake: Lake, dataset: str, dt: date) -> str:
    """The fingerprint of day `dt`'s raw partition as it stands."""
    landed = LandedFiles(lake, dataset)
    return raw_fingerprint(raw_files(lake, dataset, dt, landed), landed)


class RunLogError(BdpError):
    """The run log's SQLite file cannot be used; names the file and SQLite's reason."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(f"run log {path}: {reason}")


class RunLog:
    """ETL runs in the SQLite state file at `path`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.executescript(_SCHEMA)
            _add_dropped_rows(conn)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # Short-lived connections: the scheduler and the CLI share this file.
        try:
            conn = sqlite3.connect(self.path, timeout=30)
            try:
                with conn:  # commits, or rolls back on error
                    yield conn
            finally:
                conn.close()
        except sqlite3.OperationalError as exc:  # a full disk, a read-only file, ...
            raise RunLogError(self.path, str(exc)) from exc

    def record_run(self, run: EtlRun) -> None:
        with self._connect() as conn:
            conn.execute(
                f"INSERT INTO etl_runs ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run.dataset,
                    run.dt.isoformat(),
                    run.started_at.astimezone(UTC).isoformat(),
                    run.finished_at.astimezone(UTC).isoformat(),
                    run.status,
                    run.error,
                    run.raw_rows,
                    json.dumps(run.table_rows, sort_keys=True),
                    run.raw_fingerprint,
                    None if run.dropped_rows is None else json.dumps(run.dropped_rows),
                ),
            )

    def last_runs(self, limit: int = 20, dataset: str | None = None) -> list[EtlRun]:
        """The most recent runs first."""
        where, params = ("WHERE dataset = ?", [dataset]) if dataset else ("", [])
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM etl_runs {where} ORDER BY id DESC LIMIT ?",
                [*params, limit],
            ).fetchall()
        return [_run(row) for row in rows]

    def last_ok_run(self, dataset: str, dt: date) -> EtlRun | None:
        """The latest successful run of `dataset` for day `dt`, if one was recorded."""
        with self._connect() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM etl_runs WHERE dataset = ? AND dt = ? "
                "AND status = 'ok' ORDER BY id DESC LIMIT 1",
                (dataset, dt.isoformat()),
            ).fetchone()
        return None if row is None else _run(row)

    def stale_days(self, lake: Lake, dataset: str, since: date | None = None) -> list[date]:
        """Days with a raw partition that never ran successfully or changed since; none
        before `since`."""
        by_day: dict[str, list[FileInfo]] = {day: [] for day in lake.partitions("raw", dataset)}
        for info in lake.list_files(f"raw/{dataset}"):
            day = _partition_day(info.path)
            if day in by_day and info.path.endswith(RAW_SUFFIXES):
                by_day[day].append(info)
        with self._connect() as conn:
            done = dict(
                conn.execute(
                    "SELECT dt, raw_fingerprint FROM etl_runs WHERE id IN ("
                    "SELECT max(id) FROM etl_runs WHERE dataset = ? AND status = 'ok' "
                    "GROUP BY dt)",
                    (dataset,),
                ).fetchall()
            )
        landed = LandedFiles(lake, dataset)
        stale = [
            dt
            for name, files in by_day.items()
            if (dt := _as_date(name)) is not None
            and (since is None or dt >= since)
            and done.get(name) != raw_fingerprint(landed.current(files), landed)
        ]
        return sorted(stale)


def _run(row: tuple[Any, ...]) -> EtlRun:
    return EtlRun(
        dataset=row[0],
        dt=date.fromisoformat(row[1]),
        started_at=datetime.fromisoformat(row[2]),
        finished_at=datetime.fromisoformat(row[3]),
        status=row[4],
        error=row[5],
        raw_rows=row[6],
        table_rows=json.loads(row[7]),
        raw_fingerprint=row[8],
        dropped_rows=None if row[9] is None else json.loads(row[9]),
    )


def _add_dropped_rows(conn: sqlite3.Connection) -> None:
    """A run log written before drops were recorded gains their column."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(etl_runs)")}
    if "dropped_rows" in columns:
        return
    try:
        conn.execute("ALTER TABLE etl_runs ADD COLUMN dropped_rows TEXT")
    except sqlite3.OperationalError as exc:
        if "duplicate column" not in str(exc):  # another process added it meanwhile
            raise


def _partition_day(path: str) -> str | None:
    for part in path.split("/"):
        if part.startswith("dt="):
            return part.removeprefix("dt=")
    return None


def _as_date(day: str) -> date | None:
    try:
        return date.fromisoformat(day)
    except ValueError:
        return None  # not a day partition; nothing the ETL could run
