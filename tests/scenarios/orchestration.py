"""Operations, DAGs and a clock for the scheduler's tests.

The operations record what they do in a journal file (`dag.params["journal"]`), one
JSON line per start and end with the process id and the real time, so a test can tell
what ran, in which order, how often, and whether two tries overlapped.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from datetime import date, datetime, timedelta
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from bdp.config import Settings
from bdp.errors import BdpError
from bdp.orchestrate.dag import Dag, Task
from bdp.orchestrate.operations import NotReady, TaskContext

HERE = "tests.scenarios.orchestration"


def _journal(ctx: TaskContext, event: str, **extra: Any) -> None:
    line = {
        "event": event,
        "dag": ctx.dag.dag_id,
        "task": ctx.task.task_id,
        "dt": ctx.dt.isoformat(),
        "try": ctx.try_number,
        "pid": os.getpid(),
        "t": time.time(),
        **extra,
    }
    with open(ctx.dag.params["journal"], "a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")


def ok(ctx: TaskContext) -> dict[str, Any]:
    _journal(ctx, "start")
    _journal(ctx, "end")
    return {"day": ctx.dt.isoformat()}


def fail_twice(ctx: TaskContext) -> dict[str, Any]:
    _journal(ctx, "start")
    if ctx.try_number <= 2:
        _journal(ctx, "fail")
        raise BdpError(f"failing on purpose, try {ctx.try_number}")
    _journal(ctx, "end")
    return {"tries": ctx.try_number}


def always_fail(ctx: TaskContext) -> dict[str, Any]:
    _journal(ctx, "start")
    raise BdpError("broken on purpose")


class _SameAgain(BdpError):
    retryable = False


def fail_for_good(ctx: TaskContext) -> dict[str, Any]:
    """Fails with an error that says trying again cannot help."""
    _journal(ctx, "start")
    raise _SameAgain("the same data would fail the same way")


def fail_if_file(ctx: TaskContext) -> dict[str, Any]:
    """Broken while the file `params["flag"]` exists."""
    _journal(ctx, "start")
    if Path(ctx.dag.params["flag"]).exists():
        raise BdpError("broken while the flag file exists")
    _journal(ctx, "end")
    return {}


def slow(ctx: TaskContext) -> dict[str, Any]:
    """Works for `params["seconds"]`: long enough to be killed, or timed out, mid-task."""
    _journal(ctx, "start")
    time.sleep(float(ctx.dag.params.get("seconds", "30")))
    _journal(ctx, "end")
    return {}


def ready_at(ctx: TaskContext) -> dict[str, Any]:
    """A sensor: ready once the scheduler's clock reaches `params["ready_at"]`."""
    ready = datetime.fromisoformat(ctx.dag.params["ready_at"])
    if ctx.now < ready:
        _journal(ctx, "poke")
        raise NotReady(f"waiting for {ready.isoformat()}")
    _journal(ctx, "ready")
    return {}


def op(name: str) -> str:
    return f"{HERE}:{name}"


def chain_dag(
    journal: Path,
    dag_id: str = "chain",
    operations: tuple[str, ...] = ("ok", "ok", "ok"),
    schedule: str | None = None,
    timezone: str = "UTC",
    retries: int = 3,
    retry_delay_seconds: float = 0.0,
    timeout_seconds: float | None = None,
    depends_on_past: bool = False,
    max_active_runs: int = 2,
    catchup: bool = True,
    **params: str,
) -> Dag:
    tasks: list[Task] = []
    for i, name in enumerate(operations):
        tasks.append(
            Task(
                task_id=f"t{i}_{name}",
                operation=op(name),
                upstream=(tasks[-1].task_id,) if tasks else (),
                retries=retries,
                retry_delay_seconds=retry_delay_seconds,
                timeout_seconds=timeout_seconds,
                depends_on_past=depends_on_past,
                sensor=name == "ready_at",
                poke_interval_seconds=60.0,
            )
        )
    return Dag(
        dag_id=dag_id,
        tasks=tuple(tasks),
        schedule=schedule,
        timezone=timezone,
        catchup=catchup,
        max_active_runs=max_active_runs,
        params={"journal": str(journal), **params},
    )


def read_journal(journal: Path) -> list[dict[str, Any]]:
    if not journal.exists():
        return []
    return [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]


class FastForwardClock:
    """A clock that jumps ahead instead of sleeping when nothing is running, so a
    scheduler crosses midnight, or waits out a retry delay, at once. While tries run it
    waits for them in real time (they run in real processes)."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)

    def wait(self, handles: list[Any], seconds: float) -> None:
        running = handles[:-1]  # the last one is the scheduler's own wake-up pipe
        if running:
            wait(handles, timeout=min(seconds, 5.0))
        else:
            ready = wait(handles, timeout=0)
            if not ready:
                self.advance(max(seconds, 0.001))


def scheduler_settings(home: Path, **scheduler: Any) -> Settings:
    from bdp.config import load_settings

    settings = load_settings(home=home, environ={})
    if scheduler:
        settings = settings.model_copy(
            update={"scheduler": settings.scheduler.model_copy(update=scheduler)}
        )
    return settings


def main() -> None:
    """`python -m tests.scenarios.orchestration HOME JOURNAL DAY SECONDS`: a scheduler
    running one slow DAG run, in a process a test can kill."""
    from bdp.orchestrate.scheduler import Scheduler
    from bdp.orchestrate.state import StateStore

    home, journal, day, seconds = sys.argv[1:5]
    settings = scheduler_settings(Path(home))
    dag = chain_dag(Path(journal), operations=("ok", "slow", "ok"), seconds=seconds)
    store = StateStore(settings.paths.state)
    if not store.runs(dag_id=dag.dag_id):
        store.create_run(dag, date.fromisoformat(day), "manual", datetime.now().astimezone())
    Scheduler(settings, {dag.dag_id: dag}, schedule=False).run(until_idle=True)


if __name__ == "__main__":
    main()
