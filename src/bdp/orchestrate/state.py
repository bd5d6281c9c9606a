"""Run and task history of the scheduler, in the state database (SQLite).

A DAG run is one day D of one DAG (`dag_runs`); each of its tasks has one row in
`task_instances` holding where it stands, and every try it made — a success, a failure,
a timeout, an interruption — is kept in `task_tries`. The scheduler is the only writer
of task states; the CLI adds runs (`bdp dag run`, `backfill`) and clears tasks, which
the running scheduler then picks up. Every change is one transaction, so a scheduler
killed at any moment leaves a state it can resume from.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bdp.errors import BdpError
from bdp.orchestrate.dag import Dag

__all__ = [
    "ACTIVE_RUN_STATES",
    "DagRun",
    "StateError",
    "StateStore",
    "TaskInstance",
    "TaskTry",
]

ACTIVE_RUN_STATES = ("queued", "running")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dag_runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    dag_id TEXT NOT NULL,
    dt TEXT NOT NULL,
    trigger TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    error TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS dag_runs_scheduled
    ON dag_runs (dag_id, dt) WHERE trigger = 'scheduled';
CREATE INDEX IF NOT EXISTS dag_runs_day ON dag_runs (dag_id, dt, run_id);
CREATE INDEX IF NOT EXISTS dag_runs_state ON dag_runs (state);
CREATE TABLE IF NOT EXISTS task_instances (
    run_id INTEGER NOT NULL REFERENCES dag_runs (run_id),
    task_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    state TEXT NOT NULL,
    tries INTEGER NOT NULL DEFAULT 0,
    next_try_at TEXT,
    first_started_at TEXT,
    started_at TEXT,
    finished_at TEXT,
    error TEXT,
    result TEXT,
    pid INTEGER,
    pid_started TEXT,
    PRIMARY KEY (run_id, task_id)
);
CREATE TABLE IF NOT EXISTS task_tries (
    attempt INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL,
    task_id TEXT NOT NULL,
    try_number INTEGER NOT NULL,
    state TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    error TEXT,
    log TEXT
);
CREATE INDEX IF NOT EXISTS task_tries_task ON task_tries (run_id, task_id, attempt);
CREATE TABLE IF NOT EXISTS dag_schedule (
    dag_id TEXT PRIMARY KEY,
    last_fire TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS scheduler_marks (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


class StateError(BdpError):
    """The state database cannot be used; names the file and SQLite's reason."""


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@dataclass(frozen=True)
class TaskTry:
    try_number: int
    state: str
    """`running`, `success`, `failed`, `timed_out`, `interrupted` or `not_ready`."""
    started_at: datetime
    finished_at: datetime | None
    error: str | None
    log: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "try": self.try_number,
            "state": self.state,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "error": self.error,
            "log": self.log,
        }


@dataclass(frozen=True)
class TaskInstance:
    run_id: int
    task_id: str
    state: str
    """`none` (not started), `running`, `up_for_retry`, `up_for_reschedule` (a sensor
    waiting), `success`, `failed` or `upstream_failed`."""
    tries: int
    next_try_at: datetime | None
    first_started_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    result: dict[str, Any] | None
    pid: int | None
    pid_started: str | None
    history: list[TaskTry] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "state": self.state,
            "tries": self.tries,
            "next_try_at": _iso(self.next_try_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "error": self.error,
            "result": self.result,
            "history": [t.as_dict() for t in self.history],
        }


@dataclass(frozen=True)
class DagRun:
    run_id: int
    dag_id: str
    dt: date
    trigger: str
    """`scheduled`, `manual`, `backfill` or `late_data`."""
    state: str
    """`queued`, `running`, `success` or `failed`."""
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    tasks: list[TaskInstance] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "dag_id": self.dag_id,
            "dt": self.dt.isoformat(),
            "trigger": self.trigger,
            "state": self.state,
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "error": self.error,
            "tasks": [t.as_dict() for t in self.tasks],
        }


class StateStore:
    """The scheduler's tables in the SQLite state file at `path`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as conn:
            conn.executescript(_SCHEMA)

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """One transaction: committed on success, rolled back on error. Connections are
        short-lived because the scheduler, the CLI and the ETL share the file."""
        try:
            conn = sqlite3.connect(self.path, timeout=30)
            try:
                with conn:
                    yield conn
            finally:
                conn.close()
        except sqlite3.OperationalError as exc:
            raise StateError(f"state database {self.path}: {exc}") from exc

    # -- runs --------------------------------------------------------------------------

    def create_run(
        self,
        dag: Dag,
        dt: date,
        trigger: str,
        now: datetime,
        conn: sqlite3.Connection | None = None,
    ) -> int | None:
        """Queue a run of `dag` for day `dt` with a task row per task; the run's id, or
        None when a scheduled run of that day exists already (so firing is idempotent)."""
        if conn is None:
            with self.connect() as own:
                return self.create_run(dag, dt, trigger, now, own)
        cursor = conn.execute(
            "INSERT OR IGNORE INTO dag_runs (dag_id, dt, trigger, state, created_at) "
            "VALUES (?, ?, ?, 'queued', ?)",
            (dag.dag_id, dt.isoformat(), trigger, _iso(now)),
        )
        if cursor.rowcount == 0:
            return None
        run_id = int(cursor.lastrowid or 0)
        conn.executemany(
            "INSERT INTO task_instances (run_id, task_id, position, state) "
            "VALUES (?, ?, ?, 'none')",
            [(run_id, task.task_id, i) for i, task in enumerate(dag.tasks)],
        )
        return run_id

    def active_run(self, dag_id: str, dt: date) -> int | None:
        with self.connect() as conn:
            row = conn.execute(
                "SELECT run_id FROM dag_runs WHERE dag_id = ? AND dt = ? AND state IN "
                "('queued', 'running') ORDER BY run_id LIMIT 1",
                (dag_id, dt.isoformat()),
            ).fetchone()
        return int(row[0]) if row else None

    def runs(
        self,
        dag_id: str | None = None,
        dt: date | None = None,
        states: Iterable[str] | None = None,
        run_ids: Iterable[int] | None = None,
        limit: int | None = None,
        with_tasks: bool = True,
        oldest_first: bool = False,
    ) -> list[DagRun]:
        where, params = [], []
        if dag_id is not None:
            where.append("dag_id = ?")
            params.append(dag_id)
        if dt is not None:
            where.append("dt = ?")
            params.append(dt.isoformat())
        if states is not None:
            states = list(states)
            where.append(f"state IN ({', '.join('?' * len(states))})")
            params.extend(states)
        if run_ids is not None:
            ids = [str(i) for i in run_ids]
            where.append(f"run_id IN ({', '.join('?' * len(ids))})")
            params.extend(ids)
        sql = (
            "SELECT run_id, dag_id, dt, trigger, state, created_at, started_at, finished_at, "
            "error FROM dag_runs"
        )
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY dt, run_id" if oldest_first else " ORDER BY run_id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self.connect() as conn:
            rows = conn.execute(sql, params).fetchall()
            runs = [
                DagRun(
                    run_id=r[0],
                    dag_id=r[1],
                    dt=date.fromisoformat(r[2]),
                    trigger=r[3],
                    state=r[4],
                    created_at=datetime.fromisoformat(r[5]),
                    started_at=_time(r[6]),
                    finished_at=_time(r[7]),
                    error=r[8],
                    tasks=self._tasks(conn, r[0]) if with_tasks else [],
                )
                for r in rows
            ]
        return runs

    def latest_runs(self) -> list[DagRun]:
        """Each DAG's most recent run (without its tasks), by DAG id."""
        with self.connect() as conn:
            ids = [r[0] for r in conn.execute("SELECT max(run_id) FROM dag_runs GROUP BY dag_id")]
        if not ids:
            return []
        return sorted(self.runs(run_ids=ids, with_tasks=False), key=lambda r: r.dag_id)

    def run(self, run_id: int) -> DagRun:
        found = self.runs(run_ids=[run_id])
        if not found:
            raise StateError(f"no DAG run {run_id}")
        return found[0]

    def _tasks(self, conn: sqlite3.Connection, run_id: int) -> list[TaskInstance]:
        tries: dict[str, list[TaskTry]] = {}
        for t in conn.execute(
            "SELECT task_id, try_number, state, started_at, finished_at, error, log "
            "FROM task_tries WHERE run_id = ? ORDER BY attempt",
            (run_id,),
        ):
            tries.setdefault(t[0], []).append(
                TaskTry(t[1], t[2], datetime.fromisoformat(t[3]), _time(t[4]), t[5], t[6])
            )
        return [
            TaskInstance(
                run_id=run_id,
                task_id=r[0],
                state=r[1],
                tries=r[2],
                next_try_at=_time(r[3]),
                first_started_at=_time(r[4]),
                started_at=_time(r[5]),
                finished_at=_time(r[6]),
                error=r[7],
                result=json.loads(r[8]) if r[8] else None,
                pid=r[9],
                pid_started=r[10],
                history=tries.get(r[0], []),
            )
            for r in conn.execute(
                "SELECT task_id, state, tries, next_try_at, first_started_at, started_at, "
                "finished_at, error, result, pid, pid_started FROM task_instances "
                "WHERE run_id = ? ORDER BY position",
                (run_id,),
            )
        ]

    def set_run_state(
        self, run_id: int, state: str, now: datetime, error: str | None = None
    ) -> None:
        with self.connect() as conn:
            if state == "running":
                conn.execute(
                    "UPDATE dag_runs SET state = 'running', "
                    "started_at = coalesce(started_at, ?), finished_at = NULL, error = NULL "
                    "WHERE run_id = ?",
                    (_iso(now), run_id),
                )
            else:
                conn.execute(
                    "UPDATE dag_runs SET state = ?, finished_at = ?, error = ? WHERE run_id = ?",
                    (state, _iso(now) if state in ("success", "failed") else None, error, run_id),
                )

    # -- tasks -------------------------------------------------------------------------

    def start_try(
        self, run_id: int, task_id: str, now: datetime, pid: int, pid_started: str, log: str
    ) -> tuple[int, int]:
        """Record an attempt begun by process `pid`: its attempt id, and the number of the
        try it is (tries that failed so far, plus one)."""
        with self.connect() as conn:
            conn.execute(
                "UPDATE task_instances SET state = 'running', started_at = ?, "
                "first_started_at = coalesce(first_started_at, ?), finished_at = NULL, "
                "next_try_at = NULL, pid = ?, pid_started = ? WHERE run_id = ? AND task_id = ?",
                (_iso(now), _iso(now), pid, pid_started, run_id, task_id),
            )
            (tries,) = conn.execute(
                "SELECT tries FROM task_instances WHERE run_id = ? AND task_id = ?",
                (run_id, task_id),
            ).fetchone()
            cursor = conn.execute(
                "INSERT INTO task_tries (run_id, task_id, try_number, state, started_at, log) "
                "VALUES (?, ?, ?, 'running', ?, ?)",
                (run_id, task_id, tries + 1, _iso(now), log),
            )
        return int(cursor.lastrowid or 0), int(tries) + 1

    def finish_try(
        self,
        attempt: int,
        run_id: int,
        task_id: str,
        try_state: str,
        task_state: str,
        now: datetime,
        error: str | None = None,
        result: dict[str, Any] | None = None,
        next_try_at: datetime | None = None,
        count_try: bool = True,
        keep_attempt: bool = True,
    ) -> None:
        """Close `attempt` as `try_state` and move the task to `task_state`. Only a try
        that counts (a success, a failure, a timeout) uses up a try; a sensor's "not
        yet" (`keep_attempt=False`: its pokes are not history) and an interruption do
        not."""
        with self.connect() as conn:
            if keep_attempt:
                conn.execute(
                    "UPDATE task_tries SET state = ?, finished_at = ?, error = ? WHERE attempt = ?",
                    (try_state, _iso(now), error, attempt),
                )
            else:
                conn.execute("DELETE FROM task_tries WHERE attempt = ?", (attempt,))
            conn.execute(
                "UPDATE task_instances SET state = ?, finished_at = ?, error = ?, "
                "result = coalesce(?, result), next_try_at = ?, pid = NULL, pid_started = NULL, "
                "tries = tries + ? WHERE run_id = ? AND task_id = ?",
                (
                    task_state,
                    _iso(now),
                    error,
                    json.dumps(result, default=str) if result is not None else None,
                    _iso(next_try_at),
                    1 if count_try else 0,
                    run_id,
                    task_id,
                ),
            )

    def open_attempt(self, run_id: int, task_id: str) -> int | None:
        """The attempt of the task still marked running (its process gone with a
        scheduler that was killed), if any."""
        with self.connect() as conn:
            row = conn.execute(
                "SELECT attempt FROM task_tries WHERE run_id = ? AND task_id = ? "
                "AND state = 'running' ORDER BY attempt DESC LIMIT 1",
                (run_id, task_id),
            ).fetchone()
        return int(row[0]) if row else None

    def set_task_states(self, run_id: int, task_ids: Iterable[str], state: str) -> None:
        with self.connect() as conn:
            conn.executemany(
                "UPDATE task_instances SET state = ?, next_try_at = NULL "
                "WHERE run_id = ? AND task_id = ?",
                [(state, run_id, task_id) for task_id in task_ids],
            )

    def clear(self, run_id: int, task_ids: Iterable[str]) -> None:
        """Make the tasks run again (a fresh set of retries) and the run active."""
        with self.connect() as conn:
            conn.executemany(
                "UPDATE task_instances SET state = 'none', tries = 0, next_try_at = NULL, "
                "first_started_at = NULL, error = NULL WHERE run_id = ? AND task_id = ? "
                "AND state != 'running'",
                [(run_id, task_id) for task_id in task_ids],
            )
            conn.execute(
                "UPDATE dag_runs SET state = 'queued', finished_at = NULL, error = NULL "
                "WHERE run_id = ?",
                (run_id,),
            )

    def previous_task_state(self, dag_id: str, dt: date, task_id: str) -> str | None:
        """The state of `task_id` in the latest run of the day before `dt`, if any."""
        with self.connect() as conn:
            row = conn.execute(
                "SELECT t.state FROM task_instances t JOIN dag_runs r USING (run_id) "
                "WHERE r.dag_id = ? AND r.dt < ? AND t.task_id = ? "
                "ORDER BY r.dt DESC, r.run_id DESC LIMIT 1",
                (dag_id, dt.isoformat(), task_id),
            ).fetchone()
        return str(row[0]) if row else None

    # -- schedule marks ----------------------------------------------------------------

    def last_fire(self, dag_id: str) -> datetime | None:
        with self.connect() as conn:
            row = conn.execute(
                "SELECT last_fire FROM dag_schedule WHERE dag_id = ?", (dag_id,)
            ).fetchone()
        return datetime.fromisoformat(row[0]) if row else None

    def fire(self, dag: Dag, fires: list[tuple[datetime, date]], now: datetime) -> list[int]:
        """Queue a scheduled run per (fire time, day) and move the DAG's mark past the
        last, in one transaction: a crash either does both or neither."""
        created = []
        with self.connect() as conn:
            for _, day in fires:
                run_id = self.create_run(dag, day, "scheduled", now, conn)
                if run_id is not None:
                    created.append(run_id)
            if fires:
                conn.execute(
                    "INSERT INTO dag_schedule (dag_id, last_fire) VALUES (?, ?) "
                    "ON CONFLICT (dag_id) DO UPDATE SET last_fire = excluded.last_fire",
                    (dag.dag_id, _iso(fires[-1][0])),
                )
        return created

    def set_last_fire(self, dag_id: str, moment: datetime) -> None:
        with self.connect() as conn:
            conn.execute(
                "INSERT INTO dag_schedule (dag_id, last_fire) VALUES (?, ?) "
                "ON CONFLICT (dag_id) DO UPDATE SET last_fire = excluded.last_fire",
                (dag_id, _iso(moment)),
            )

    def mark(self, name: str) -> str | None:
        with self.connect() as conn:
            row = conn.execute(
                "SELECT value FROM scheduler_marks WHERE name = ?", (name,)
            ).fetchone()
        return str(row[0]) if row else None

    def set_mark(self, name: str, value: str) -> None:
        with self.connect() as conn:
            conn.execute(
                "INSERT INTO scheduler_marks (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (name, value),
            )

    def take_mark(self, name: str) -> str | None:
        """Remove the mark `name`; the value it had, if it was set."""
        with self.connect() as conn:
            row = conn.execute(
                "SELECT value FROM scheduler_marks WHERE name = ?", (name,)
            ).fetchone()
            conn.execute("DELETE FROM scheduler_marks WHERE name = ?", (name,))
        return str(row[0]) if row else None
