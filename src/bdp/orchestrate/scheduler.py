"""The built-in scheduler: fires cron schedules, runs tasks in order, retries, resumes.

One loop, one thread. Each turn (`tick`) it collects the tries that ended, stops those
past their timeout, queues the runs whose schedule fired (every missed day with
catch-up), queues a re-run of a day that late data changed, and starts the tasks whose
upstream tasks succeeded — earliest day first, up to `max_active_tasks` at once and
`max_active_runs` days per DAG. Between turns it sleeps until the next thing is due or
a try ends, whichever is first, so a task starts soon after its upstream task's end
(figures in bench/RESULTS.md).

Only one scheduler may run on a data home: it holds an exclusive lock on
`<home>/scheduler.lock` (released by the kernel however the process ends), and a second
one refuses to start. Everything it decides is written to the state database before it
acts, so a scheduler killed mid-task resumes on restart: the interrupted try is run
again (without using up a retry), and nothing runs twice at once, because a try's
process dies with the scheduler that started it.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import multiprocessing
import os
import signal
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from multiprocessing.connection import wait as wait_for_handles
from pathlib import Path
from typing import Any, Literal, Protocol

from bdp.config import Settings
from bdp.errors import BdpError
from bdp.logs import fields
from bdp.orchestrate.dag import Dag, data_day
from bdp.orchestrate.dags import build_dags
from bdp.orchestrate.state import ACTIVE_RUN_STATES, DagRun, StateStore, TaskInstance
from bdp.orchestrate.worker import (
    TrySpec,
    describe_failure,
    outcome_of,
    process_start_time,
    run_try,
)

__all__ = ["Clock", "Scheduler", "SchedulerBusyError", "SchedulerLock", "SystemClock"]

LOG = logging.getLogger("bdp.orchestrate")

_FINAL = ("success", "failed", "upstream_failed")
_RETRY_TICK_SECONDS = 5.0


class Clock(Protocol):
    """Time as the scheduler sees it; tests substitute one they control."""

    def now(self) -> datetime: ...

    def wait(self, handles: list[Any], seconds: float) -> None:
        """Return after `seconds`, or sooner when one of `handles` is ready."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def wait(self, handles: list[Any], seconds: float) -> None:
        wait_for_handles(handles, timeout=max(0.0, seconds))


class SchedulerBusyError(BdpError):
    """Another scheduler runs on the same data home."""


class SchedulerLock:
    """The exclusive right to schedule on one data home, held while the file is open."""

    def __init__(self, home: Path) -> None:
        self.path = home / "scheduler.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise SchedulerBusyError(
                f"another scheduler (pid {holder}) is running on the data home "
                f"{self.path.parent}; stop it first, or let it do the work"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def holder(self) -> int | None:
        """The pid of the scheduler holding the lock, or None when nobody holds it."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                text = os.pread(fd, 64, 0).decode(errors="replace").strip()
                return int(text) if text.isdigit() else -1
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@dataclass
class _Running:
    run_id: int
    dag: Dag
    task_id: str
    dt: date
    attempt: int
    try_number: int
    process: multiprocessing.process.BaseProcess
    started: datetime
    result_path: Path
    log_path: Path

    def about(self, **extra: object) -> str:
        """The try's log fields: which DAG, task and day, and `extra`."""
        return fields(dag=self.dag.dag_id, task=self.task_id, dt=self.dt, **extra)


@dataclass
class _Counts:
    started: int = 0
    finished: int = 0
    runs_done: list[int] = field(default_factory=list)


def _fork_server() -> Any:
    ctx = multiprocessing.get_context("forkserver")
    # Loaded once in the fork server, so each try starts without importing them.
    # (The worker's own imports, bdp.stream.embedded.workers among them, cost a try
    # 60-80 ms each when they are not here.)
    ctx.set_forkserver_preload(
        ["bdp.orchestrate.worker", "bdp.stream.embedded.workers", "bdp.etl", "bdp.warehouse"]
    )
    return ctx


class Scheduler:
    """Runs `dags` (all of bdp's by default) on the state in `settings`' data home.

    `schedule=False` fires no cron schedule and checks no late data: it only runs the
    runs already queued (`only_runs` narrows them), as `bdp dag run` and `backfill`
    do when no scheduler is running.
    """

    def __init__(
        self,
        settings: Settings,
        dags: dict[str, Dag] | None = None,
        *,
        clock: Clock | None = None,
        schedule: bool = True,
        only_runs: Iterable[int] | None = None,
        poll_seconds: float | None = 1.0,
    ) -> None:
        self.settings = settings
        self.dags = dags if dags is not None else build_dags(settings)
        self.clock = clock or SystemClock()
        self.schedule = schedule
        self.only_runs = set(only_runs) if only_runs is not None else None
        self.poll_seconds = poll_seconds
        self.store = StateStore(settings.paths.state)
        self.lock = SchedulerLock(settings.paths.home)
        self.counts = _Counts()
        self._running: dict[tuple[int, str], _Running] = {}
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        # Open as long as the scheduler exists, so a late `request_stop` never writes
        # to a descriptor reused by something else.
        weakref.finalize(self, _close_all, self._wake_r, self._wake_w)
        self._mp = _fork_server()
        self._dir = settings.paths.home / "scheduler"
        self._alerts: list[threading.Thread] = []
        self._locked = False
        self._thread: threading.Thread | None = None
        self._started_as = process_start_time(os.getpid())

    # -- the loop ----------------------------------------------------------------------

    def run(self, until_idle: bool = False, until: datetime | None = None) -> None:
        """Schedule until `request_stop`; or, with `until_idle`, until no run is left; or
        once its clock passed `until` with no try running."""
        if not self._locked:
            self.lock.acquire()
            self._locked = True
        try:
            self._recover()
            LOG.info(
                "scheduler %s", fields(status="started", dags=len(self.dags), home=self._dir.parent)
            )
            while not self._stop.is_set():
                try:
                    delay = self.tick()
                except Exception as exc:
                    # The state database busy or the lake away: nothing is lost (every
                    # decision is in the state database), so try again shortly.
                    LOG.error("scheduler %s", fields(status="error", error=describe_failure(exc)))
                    delay = _RETRY_TICK_SECONDS
                else:
                    if until_idle and self.idle():
                        break
                    if until is not None and not self._running and self.clock.now() >= until:
                        break
                if self.poll_seconds is not None:
                    delay = min(delay, self.poll_seconds)
                handles = [r.process.sentinel for r in self._running.values()]
                self.clock.wait([*handles, self._wake_r], delay)
                with contextlib.suppress(BlockingIOError):
                    os.read(self._wake_r, 1024)
        finally:
            self._shutdown()
            self.lock.release()
            self._locked = False
            LOG.info("scheduler %s", fields(status="stopped"))

    def start(self) -> None:
        """Take the data home's lock here (a second scheduler fails now, with the
        reason), then schedule in a thread of its own until `stop`."""
        self.lock.acquire()
        self._locked = True
        self._thread = threading.Thread(target=self.run, name="bdp-scheduler", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        """End what `start` began: running tries are stopped, to run again next time."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join()

    def request_stop(self) -> None:
        """Stop after the current turn (safe from a signal handler or another thread)."""
        self._stop.set()
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"x")

    def idle(self) -> bool:
        """Nothing running and no run left to do (among `only_runs`, if given)."""
        return not self._running and not self._active_runs()

    def tick(self) -> float:
        """One turn; the seconds until something is due."""
        now = self.clock.now()
        self._reap(now)
        self._stop_overdue(now)
        if self.schedule:
            self._fire(now)
            self._check_late_data(now)
        self._advance(now)
        return self._next_due(now)

    # -- recovery and shutdown ---------------------------------------------------------

    def _recover(self) -> None:
        """Tries a killed scheduler left marked running: their processes died with it
        (make sure), and they run again without using up a retry."""
        now = self.clock.now()
        for run in self._active_runs():
            for ti in run.tasks:
                if ti.state != "running":
                    continue
                _kill_leftover(ti.pid, ti.pid_started)
                attempt = self.store.open_attempt(run.run_id, ti.task_id)
                reason = "interrupted: the scheduler stopped during this try"
                if attempt is not None:
                    self.store.finish_try(
                        attempt,
                        run.run_id,
                        ti.task_id,
                        "interrupted",
                        "up_for_retry",
                        now,
                        error=reason,
                        next_try_at=now,
                        count_try=False,
                    )
                else:
                    self.store.set_task_states(run.run_id, [ti.task_id], "up_for_retry")
                LOG.warning(
                    "task %s",
                    fields(
                        dag=run.dag_id,
                        task=ti.task_id,
                        dt=run.dt,
                        status="interrupted",
                        retry="now",
                    ),
                )

    def _shutdown(self) -> None:
        """Stop the tries still running; they run again on the next start."""
        now = self.clock.now()
        for running in list(self._running.values()):
            _kill_group(running.process)
            running.process.join(5)
            self.store.finish_try(
                running.attempt,
                running.run_id,
                running.task_id,
                "interrupted",
                "up_for_retry",
                now,
                error="interrupted: the scheduler was stopped during this try",
                next_try_at=now,
                count_try=False,
            )
            running.result_path.unlink(missing_ok=True)
            LOG.info(
                "task %s",
                running.about(status="interrupted", retry="at the next start"),
            )
        self._running.clear()
        for thread in self._alerts:
            thread.join(self.settings.scheduler.alerts.timeout_seconds * 3)

    # -- firing schedules --------------------------------------------------------------

    def _fire(self, now: datetime) -> None:
        for dag in self.dags.values():
            if not dag.enabled or dag.schedule is None:
                continue
            last = self.store.last_fire(dag.dag_id)
            if last is None:
                # First sight of the DAG: its latest fire time before now is due, so a
                # scheduler started at 10:00 still processes yesterday.
                last = _fire_before(dag, now)
                self.store.set_last_fire(dag.dag_id, last)
            due = []
            for fire in dag.fire_times(last):
                if fire > now:
                    break
                due.append((fire, data_day(fire, dag.tz)))
            if not due:
                continue
            if not dag.catchup:
                due = due[-1:]
            created = self.store.fire(dag, due, now)
            for run_id, (_, day) in zip(created, due, strict=False):
                LOG.info("run %s", fields(dag=dag.dag_id, dt=day, run=run_id, trigger="scheduled"))

    def _check_late_data(self, now: datetime) -> None:
        """Queue a run of every day whose raw partition changed since its last run
        succeeded (`bdp status` shows them as stale)."""
        every = self.settings.scheduler.late_data_check_seconds
        mark = self.store.mark("late_data_checked_at")
        if mark is not None and now < datetime.fromisoformat(mark) + timedelta(seconds=every):
            return
        self.store.set_mark("late_data_checked_at", now.isoformat())
        from bdp.etl.runs import stale_days
        from bdp.lake import open_lake

        daily = [d for d in self.dags.values() if d.dataset is not None and d.enabled]
        if not daily:
            return
        try:
            lake = open_lake(self.settings)
            for dag in daily:
                assert dag.dataset is not None
                for day in stale_days(self.settings, lake, dag.dataset):
                    latest = self.store.runs(dag_id=dag.dag_id, dt=day, limit=1, with_tasks=False)
                    if not latest or latest[0].state != "success":
                        continue  # never run (catch-up's or backfill's), or already going
                    run_id = self.store.create_run(dag, day, "late_data", now)
                    LOG.info(
                        "run %s", fields(dag=dag.dag_id, dt=day, run=run_id, trigger="late_data")
                    )
        except Exception as exc:  # the lake away: try again at the next check
            LOG.warning("late data check failed: %s", exc)

    # -- running tasks -----------------------------------------------------------------

    def _active_runs(self) -> list[DagRun]:
        runs = self.store.runs(states=ACTIVE_RUN_STATES, oldest_first=True)
        if self.only_runs is not None:
            runs = [r for r in runs if r.run_id in self.only_runs]
        return runs

    def _advance(self, now: datetime) -> None:
        limit = self.settings.scheduler.max_active_tasks
        runs = self._active_runs()
        running_days: dict[str, int] = {}
        for run in runs:
            if run.state == "running":
                running_days[run.dag_id] = running_days.get(run.dag_id, 0) + 1
        for run in runs:
            dag = self.dags.get(run.dag_id)
            if dag is None:
                self.store.set_run_state(run.run_id, "failed", now, "no such DAG any more")
                continue
            if run.state == "queued":
                if running_days.get(dag.dag_id, 0) >= dag.max_active_runs:
                    continue
                self.store.set_run_state(run.run_id, "running", now)
                running_days[dag.dag_id] = running_days.get(dag.dag_id, 0) + 1
            states = {ti.task_id: ti.state for ti in run.tasks}
            for ti in run.tasks:
                if ti.state in (*_FINAL, "running"):
                    continue
                task = dag.task(ti.task_id)
                upstream = [states.get(up, "none") for up in task.upstream]
                if any(s in ("failed", "upstream_failed") for s in upstream):
                    self.store.set_task_states(run.run_id, [ti.task_id], "upstream_failed")
                    states[ti.task_id] = "upstream_failed"
                    continue
                if any(s != "success" for s in upstream):
                    continue
                if ti.next_try_at is not None and ti.next_try_at > now:
                    continue
                if task.depends_on_past and self.store.previous_task_state(
                    dag.dag_id, run.dt, task.task_id
                ) not in (None, "success"):
                    continue
                if len(self._running) >= limit:
                    break
                self._start(run, dag, ti, now)
                states[ti.task_id] = "running"
            self._finish_run(run.run_id, dag, now)

    def _start(self, run: DagRun, dag: Dag, ti: TaskInstance, now: datetime) -> None:
        stamp = f"{int(time.time() * 1000)}"
        logs = self._dir / "logs" / dag.dag_id / run.dt.isoformat()
        log_path = logs / f"{ti.task_id}.try{ti.tries + 1}.{stamp}.log"
        result_path = self._dir / "outcomes" / f"{run.run_id}.{ti.task_id}.{stamp}.json"
        result_path.parent.mkdir(parents=True, exist_ok=True)
        spec = TrySpec(
            self.settings,
            dag,
            ti.task_id,
            run.dt,
            now,
            ti.tries + 1,
            result_path,
            log_path,
            (os.getpid(), self._started_as),
        )
        process = self._mp.Process(
            target=run_try, args=(spec,), name=f"bdp {dag.dag_id}.{ti.task_id} {run.dt}"
        )
        process.start()
        assert process.pid is not None
        attempt, number = self.store.start_try(
            run.run_id, ti.task_id, now, process.pid, process_start_time(process.pid), str(log_path)
        )
        self._running[(run.run_id, ti.task_id)] = _Running(
            run.run_id,
            dag,
            ti.task_id,
            run.dt,
            attempt,
            number,
            process,
            now,
            result_path,
            log_path,
        )
        self.counts.started += 1
        LOG.info(
            "task %s",
            fields(dag=dag.dag_id, task=ti.task_id, dt=run.dt, status="started", try_number=number),
        )

    def _reap(self, now: datetime) -> None:
        for key, running in list(self._running.items()):
            if running.process.exitcode is None:
                continue
            running.process.join()
            del self._running[key]
            outcome = outcome_of(running.result_path, running.process.exitcode)
            self._settle(running, outcome, now)

    def _stop_overdue(self, now: datetime) -> None:
        for key, running in list(self._running.items()):
            task = running.dag.task(running.task_id)
            limit = task.timeout_seconds
            if limit is None or now < running.started + timedelta(seconds=limit):
                continue
            _kill_group(running.process)
            running.process.join(5)
            del self._running[key]
            running.result_path.unlink(missing_ok=True)
            error = f"timed out after {limit:g} s"
            self._settle(running, {"status": "timed_out", "error": error}, now)

    def _settle(self, running: _Running, outcome: dict[str, Any], now: datetime) -> None:
        """Record how a try ended and what follows: success, a retry, a reschedule of a
        sensor, or the task's final failure (with an alert)."""
        task = running.dag.task(running.task_id)
        status, error = outcome["status"], outcome.get("error")
        result = outcome.get("result")
        self.counts.finished += 1
        run_id, task_id = running.run_id, running.task_id
        common = {"dag": running.dag.dag_id, "task": task_id, "dt": running.dt}
        if status == "success":
            self.store.finish_try(
                running.attempt, run_id, task_id, "success", "success", now, result=result
            )
            LOG.info("task %s", fields(**common, status="success", try_number=running.try_number))
            # A success after a final failure (of any day) is a recovery.
            if self.store.take_mark(_failed_mark(running)) is not None:
                self._alert("recovery", running, None, now)
        elif status == "not_ready":
            ti = self._instance(run_id, task_id)
            waited_since = ti.first_started_at if ti and ti.first_started_at else running.started
            timeout = task.timeout_seconds
            if timeout is not None and now >= waited_since + timedelta(seconds=timeout):
                error = f"waited {timeout:g} s, and still: {error}"
                self._fail(running, error, result, now, "failed")
            else:
                self.store.finish_try(
                    running.attempt,
                    run_id,
                    task_id,
                    "not_ready",
                    "up_for_reschedule",
                    now,
                    error=error,
                    next_try_at=now + timedelta(seconds=task.poke_interval_seconds),
                    count_try=False,
                    keep_attempt=False,
                )
                LOG.info("task %s", fields(**common, status="waiting", reason=error))
        else:
            try_state = "timed_out" if status == "timed_out" else "failed"
            if running.try_number <= task.retries and outcome.get("retry", True):
                delay = task.retry_delay(running.try_number)
                self.store.finish_try(
                    running.attempt,
                    run_id,
                    task_id,
                    try_state,
                    "up_for_retry",
                    now,
                    error=error,
                    result=result,
                    next_try_at=now + timedelta(seconds=delay),
                )
                LOG.warning(
                    "task %s",
                    fields(
                        **common,
                        status=try_state,
                        try_number=running.try_number,
                        retry_in_s=delay,
                        error=error,
                    ),
                )
            else:
                self._fail(running, error, result, now, try_state)
        self._finish_run(run_id, running.dag, now)

    def _fail(
        self,
        running: _Running,
        error: str | None,
        result: Any,
        now: datetime,
        try_state: str,
    ) -> None:
        self.store.finish_try(
            running.attempt,
            running.run_id,
            running.task_id,
            try_state,
            "failed",
            now,
            error=error,
            result=result,
        )
        LOG.error(
            "task %s",
            running.about(status="failed", tries=running.try_number, error=error),
        )
        self.store.set_mark(_failed_mark(running), now.isoformat())
        self._alert("failure", running, error, now)

    def _instance(self, run_id: int, task_id: str) -> TaskInstance | None:
        for ti in self.store.run(run_id).tasks:
            if ti.task_id == task_id:
                return ti
        return None

    def _finish_run(self, run_id: int, dag: Dag, now: datetime) -> None:
        """Close the run once every task is settled (tasks below a failure are marked
        `upstream_failed` by `_advance`, which calls this after)."""
        run = self.store.run(run_id)
        if run.state not in ACTIVE_RUN_STATES or any(ti.state not in _FINAL for ti in run.tasks):
            return
        failed = [ti for ti in run.tasks if ti.state == "failed"]
        if failed:
            error = f"{failed[0].task_id}: {failed[0].error}"
            self.store.set_run_state(run_id, "failed", now, error)
        else:
            self.store.set_run_state(run_id, "success", now)
        self.counts.runs_done.append(run_id)
        LOG.info(
            "run %s",
            fields(dag=run.dag_id, dt=run.dt, run=run_id, status="failed" if failed else "success"),
        )

    def _next_due(self, now: datetime) -> float:
        due: list[datetime] = []
        for run in self._active_runs():
            for ti in run.tasks:
                if ti.state in ("up_for_retry", "up_for_reschedule") and ti.next_try_at:
                    due.append(ti.next_try_at)
        for running in self._running.values():
            task = running.dag.task(running.task_id)
            if task.timeout_seconds is not None:
                due.append(running.started + timedelta(seconds=task.timeout_seconds))
        if self.schedule:
            for dag in self.dags.values():
                if dag.enabled and dag.schedule is not None:
                    last = self.store.last_fire(dag.dag_id) or now
                    due.append(next(iter(dag.fire_times(max(last, now)))))
            mark = self.store.mark("late_data_checked_at")
            if mark is not None:
                every = timedelta(seconds=self.settings.scheduler.late_data_check_seconds)
                due.append(datetime.fromisoformat(mark) + every)
        if not due:
            return 3600.0
        return max(0.0, (min(due) - now).total_seconds())

    # -- alerts ------------------------------------------------------------------------

    def _alert(
        self,
        kind: Literal["failure", "recovery"],
        running: _Running,
        error: str | None,
        now: datetime,
    ) -> None:
        alerts = self.settings.scheduler.alerts
        if not alerts.webhook_url and not alerts.command:
            return
        from bdp.orchestrate.alerts import Alert, send_alert

        alert = Alert(
            kind=kind,
            dag_id=running.dag.dag_id,
            task_id=running.task_id,
            dt=running.dt,
            try_number=running.try_number,
            error=error,
            at=now,
        )
        # Delivery may take its timeout: never in the way of the next task.
        thread = threading.Thread(
            target=send_alert, args=(self.settings, alert), name="bdp-alert", daemon=True
        )
        thread.start()
        self._alerts = [t for t in self._alerts if t.is_alive()] + [thread]


def _fire_before(dag: Dag, now: datetime) -> datetime:
    """A moment just before the latest fire time at or before `now` (or `now` if the
    schedule did not fire in the last two days)."""
    latest = None
    for fire in dag.fire_times(now - timedelta(days=2)):
        if fire > now:
            break
        latest = fire
    return (latest - timedelta(seconds=1)) if latest is not None else now


def _failed_mark(running: _Running) -> str:
    return f"failed:{running.dag.dag_id}.{running.task_id}"


def _close_all(*fds: int) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def _kill_leftover(pid: int | None, started: str | None) -> None:
    if pid is None or not started or process_start_time(pid) != started:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _kill_group(process: multiprocessing.process.BaseProcess) -> None:
    """Stop a try and whatever it started (it leads a session of its own)."""
    if process.pid is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(process.pid, signal.SIGKILL)


@contextlib.contextmanager
def running_scheduler(scheduler: Scheduler) -> Iterator[Scheduler]:
    """`scheduler` running in a thread of its own until the block ends."""
    scheduler.start()
    try:
        yield scheduler
    finally:
        scheduler.stop()
