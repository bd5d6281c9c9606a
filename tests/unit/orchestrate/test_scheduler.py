"""The built-in scheduler: order, retries, timeouts, sensors, limits, the lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bdp.config import AlertSettings
from bdp.orchestrate.scheduler import Scheduler, SchedulerBusyError, SchedulerLock
from bdp.orchestrate.state import StateStore
from tests.scenarios.orchestration import (
    FastForwardClock,
    chain_dag,
    read_journal,
    scheduler_settings,
)
from tests.scenarios.receiver import Receiver

DAY = date(2026, 3, 1)
START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _run(home: Path, dags: dict, run_days: list[date], **scheduler: object) -> StateStore:
    settings = scheduler_settings(home, **scheduler)
    store = StateStore(settings.paths.state)
    for dag in dags.values():
        for day in run_days:
            store.create_run(dag, day, "manual", START)
    clock = FastForwardClock(START)
    Scheduler(settings, dags, clock=clock, schedule=False, poll_seconds=None).run(until_idle=True)
    return store


def test_tasks_run_in_order_once_each(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    dag = chain_dag(journal)
    store = _run(tmp_path / "home", {dag.dag_id: dag}, [DAY])
    (run,) = store.runs()
    assert run.state == "success"
    assert [t.state for t in run.tasks] == ["success"] * 3
    starts = [e["task"] for e in read_journal(journal) if e["event"] == "start"]
    assert starts == [t.task_id for t in dag.tasks]


def test_a_task_failing_twice_succeeds_on_its_third_try(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    dag = chain_dag(journal, operations=("ok", "fail_twice", "ok"), retry_delay_seconds=30)
    store = _run(tmp_path / "home", {dag.dag_id: dag}, [DAY])
    (run,) = store.runs()
    assert run.state == "success"
    flaky = run.tasks[1]
    assert flaky.tries == 3
    assert [t.state for t in flaky.history] == ["failed", "failed", "success"]
    assert "failing on purpose, try 1" in (flaky.history[0].error or "")
    # Exponential backoff: 30 s, then 60 s, on the scheduler's clock.
    first, second, third = (t.started_at for t in flaky.history)
    assert (second - first).total_seconds() >= 30
    assert (third - second).total_seconds() >= 60


def test_a_final_failure_fails_the_run_and_skips_what_is_below(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    dag = chain_dag(journal, operations=("ok", "always_fail", "ok"), retries=1)
    store = _run(tmp_path / "home", {dag.dag_id: dag}, [DAY])
    (run,) = store.runs()
    assert run.state == "failed"
    assert [t.state for t in run.tasks] == ["success", "failed", "upstream_failed"]
    assert run.tasks[1].tries == 2
    assert "broken on purpose" in (run.error or "")


def test_a_try_past_its_timeout_is_stopped_and_retried(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    dag = chain_dag(journal, operations=("slow",), retries=1, timeout_seconds=0.5, seconds="30")
    settings = scheduler_settings(tmp_path / "home")
    store = StateStore(settings.paths.state)
    store.create_run(dag, DAY, "manual", START)
    # A real clock: the timeout is measured on the time the task really runs.
    Scheduler(settings, {dag.dag_id: dag}, schedule=False, poll_seconds=0.1).run(until_idle=True)
    (run,) = store.runs()
    assert run.state == "failed"
    assert [t.state for t in run.tasks[0].history] == ["timed_out", "timed_out"]
    assert "timed out after 0.5 s" in (run.tasks[0].error or "")
    assert not [e for e in read_journal(journal) if e["event"] == "end"]


def test_a_sensor_waits_without_using_retries(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    ready = "2026-03-02T12:20:00+00:00"
    dag = chain_dag(journal, operations=("ready_at", "ok"), retries=0, ready_at=ready)
    store = _run(tmp_path / "home", {dag.dag_id: dag}, [DAY])
    (run,) = store.runs()
    assert run.state == "success"
    pokes = [e for e in read_journal(journal) if e["event"] == "poke"]
    assert len(pokes) >= 19  # every 60 s for twenty minutes of the scheduler's clock
    assert run.tasks[0].tries == 1


def test_days_run_in_order_and_never_more_tasks_than_the_limit(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    dag = chain_dag(journal, operations=("slow", "ok"), seconds="0.2", max_active_runs=3)
    days = [date(2026, 3, d) for d in (4, 2, 3, 1)]
    store = _run(tmp_path / "home", {dag.dag_id: dag}, days, max_active_tasks=2)
    assert {r.state for r in store.runs()} == {"success"}
    events = read_journal(journal)
    first_starts = [e["dt"] for e in events if e["event"] == "start" and e["task"] == "t0_slow"]
    assert first_starts == sorted(first_starts)
    running, most = 0, 0
    for event in sorted(events, key=lambda e: e["t"]):
        running += {"start": 1, "end": -1}.get(event["event"], 0)
        most = max(most, running)
    assert most <= 2


def test_depends_on_past_waits_for_the_day_before(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    dag = chain_dag(journal, operations=("always_fail",), retries=0, depends_on_past=True)
    store = _run(tmp_path / "home", {dag.dag_id: dag}, [date(2026, 3, 1)])
    # The next day cannot run its task while the day before failed.
    settings = scheduler_settings(tmp_path / "home")
    store.create_run(dag, date(2026, 3, 2), "manual", START)
    scheduler = Scheduler(
        settings, {dag.dag_id: dag}, clock=FastForwardClock(START), schedule=False
    )
    scheduler.lock.acquire()
    try:
        for _ in range(3):
            scheduler.tick()
    finally:
        scheduler.lock.release()
    later = store.runs(dt=date(2026, 3, 2))[0]
    assert later.tasks[0].state == "none"
    assert len([e for e in read_journal(journal) if e["event"] == "start"]) == 1


def test_a_second_scheduler_on_the_same_home_refuses(tmp_path: Path) -> None:
    settings = scheduler_settings(tmp_path / "home")
    first = SchedulerLock(settings.paths.home)
    first.acquire()
    try:
        with pytest.raises(SchedulerBusyError, match="another scheduler"):
            Scheduler(settings, {}).run(until_idle=True)
        assert SchedulerLock(settings.paths.home).holder() is not None
    finally:
        first.release()
    assert SchedulerLock(settings.paths.home).holder() is None


def test_a_final_failure_and_the_recovery_after_it_are_alerted(
    tmp_path: Path, receiver: Receiver
) -> None:
    journal, flag = tmp_path / "journal", tmp_path / "broken"
    flag.touch()
    dag = chain_dag(journal, operations=("ok", "fail_if_file"), retries=1, flag=str(flag))
    alerts = AlertSettings(webhook_url=receiver.url, timeout_seconds=5)
    store = _run(tmp_path / "home", {dag.dag_id: dag}, [DAY], alerts=alerts)
    (run,) = store.runs()
    assert run.state == "failed"
    # Only the final failure is alerted, not the failed try before its retry.
    (failure,) = [json.loads(body) for _, body in receiver.requests]
    assert failure["kind"] == "failure"
    assert failure["dag_id"] == "chain" and failure["task_id"] == "t1_fail_if_file"
    assert failure["dt"] == "2026-03-01"
    assert failure["try_number"] == 2
    assert "broken while the flag file exists" in failure["error"]

    flag.unlink()
    store.clear(run.run_id, ["t1_fail_if_file"])
    settings = scheduler_settings(tmp_path / "home", alerts=alerts)
    Scheduler(settings, {dag.dag_id: dag}, clock=FastForwardClock(START), schedule=False).run(
        until_idle=True
    )
    assert store.runs()[0].state == "success"
    kinds = [json.loads(body)["kind"] for _, body in receiver.requests]
    assert kinds == ["failure", "recovery"]


def _wait_for(condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {seconds} s")
        time.sleep(0.05)  # polling a condition another process makes true


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_a_scheduler_killed_mid_task_resumes_and_runs_nothing_twice_at_once(
    tmp_path: Path,
) -> None:
    home, journal = tmp_path / "home", tmp_path / "journal"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    argv = [sys.executable, "-m", "tests.scenarios.orchestration", str(home), str(journal)]
    scheduler = subprocess.Popen([*argv, DAY.isoformat(), "60"], env=env)
    try:
        _wait_for(
            lambda: any(e["task"] == "t1_slow" for e in read_journal(journal)),
            "start of the slow task",
        )
        scheduler.kill()  # SIGKILL: no clean-up of any kind
        scheduler.wait()
    finally:
        scheduler.kill()
    (slow,) = [e for e in read_journal(journal) if e["task"] == "t1_slow"]
    # The try died with the scheduler: nothing runs on unwatched.
    _wait_for(lambda: _gone(slow["pid"]), "end of the orphaned try", seconds=10)
    store = StateStore(scheduler_settings(home).paths.state)
    assert store.runs()[0].tasks[1].state == "running"  # as the killed scheduler left it

    restarted = subprocess.run([*argv, DAY.isoformat(), "0.1"], env=env, timeout=120)
    assert restarted.returncode == 0
    (run,) = store.runs()
    assert run.state == "success"
    flaky = run.tasks[1]
    assert [t.state for t in flaky.history] == ["interrupted", "success"]
    assert "interrupted" in (flaky.history[0].error or "")
    starts = [e["task"] for e in read_journal(journal) if e["event"] == "start"]
    assert starts == ["t0_ok", "t1_slow", "t1_slow", "t2_ok"]


def test_an_error_that_says_a_retry_cannot_help_fails_at_once(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    dag = chain_dag(journal, operations=("fail_for_good",), retries=3)
    store = _run(tmp_path / "home", {dag.dag_id: dag}, [DAY])
    (run,) = store.runs()
    assert run.state == "failed"
    assert run.tasks[0].tries == 1
    assert "the same data would fail the same way" in (run.error or "")
