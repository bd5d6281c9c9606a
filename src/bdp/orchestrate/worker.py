"""One try of one task, in a process of its own.

The scheduler starts each try as a child of a fork server (`multiprocessing`'s
"forkserver", which has bdp's heavy modules loaded already, so a try starts in
milliseconds). The child leads a session of its own, so a try that outlives its timeout
is stopped with everything it started (a Spark JVM too); it dies with the scheduler
(through the fork server), so no try runs on unwatched after a crash. Its output goes
to the try's log file, and its outcome to a small JSON file the scheduler reads when
the process has exited: `success` with the operation's summary, `not_ready` with a
sensor's reason, or `failed` with a one-line error (and whether a retry may help).
"""

from __future__ import annotations

import logging
import os
import select
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson

from bdp.config import Settings
from bdp.errors import ConfigError
from bdp.localfs import atomic_write
from bdp.orchestrate.dag import Dag
from bdp.orchestrate.operations import NotReady, TaskContext, run_operation

__all__ = ["TrySpec", "describe_failure", "outcome_of", "run_try"]

LOG = logging.getLogger("bdp.orchestrate")


@dataclass(frozen=True)
class TrySpec:
    settings: Settings
    dag: Dag
    task_id: str
    dt: date
    now: datetime
    try_number: int
    result_path: Path
    log_path: Path
    scheduler: tuple[int, str]
    """The scheduler's pid and start time: the try ends when that process does."""


def describe_failure(exc: BaseException) -> str:
    """One line: bdp's own errors say what went wrong; anything else is named by type."""
    from bdp.errors import BdpError

    text = str(exc) if isinstance(exc, BdpError) else f"{type(exc).__name__}: {exc}"
    return (
        " | ".join(line.strip() for line in text.splitlines() if line.strip()) or type(exc).__name__
    )


def execute(spec: TrySpec) -> dict[str, Any]:
    """Run the try here, in this process; its outcome as the scheduler reads it."""
    task = spec.dag.task(spec.task_id)
    ctx = TaskContext(spec.settings, spec.dag, task, spec.dt, spec.now, spec.try_number)
    try:
        return {"status": "success", "result": run_operation(ctx)}
    except NotReady as exc:
        return {"status": "not_ready", "error": describe_failure(exc)}
    except Exception as exc:
        traceback.print_exc()
        outcome: dict[str, Any] = {"status": "failed", "error": describe_failure(exc)}
        outcome["result"] = getattr(exc, "results", None)
        # Errors that say so (a failed quality check, an invalid configuration) would
        # fail the same way again: no retry.
        outcome["retry"] = getattr(exc, "retryable", not isinstance(exc, ConfigError))
        return outcome


def run_try(spec: TrySpec) -> None:
    """The child's entry point."""
    from bdp.logs import configure_logging
    from bdp.stream.embedded.workers import die_with_parent

    die_with_parent(os.getppid())
    os.setsid()
    _die_with_scheduler(*spec.scheduler)
    spec.log_path.parent.mkdir(parents=True, exist_ok=True)
    log = os.open(spec.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    configure_logging(spec.settings.platform.log_level or "INFO")
    LOG.info(
        "try %s.%s dt=%s try=%d pid=%d",
        spec.dag.dag_id,
        spec.task_id,
        spec.dt,
        spec.try_number,
        os.getpid(),
    )
    outcome = execute(spec)
    LOG.info(
        "outcome %s", outcome["status"] + (f": {outcome['error']}" if "error" in outcome else "")
    )
    atomic_write(spec.result_path, orjson.dumps(outcome, default=str))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def process_start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot, which tells it apart from a
    later process given the same pid ("" when there is no such process)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _die_with_scheduler(pid: int, started: str) -> None:
    """Kill this try, and everything it started, when the scheduler process ends, however
    it ends (SIGKILL included): a try must never run on unwatched, or a restarted
    scheduler would run it a second time beside it. (The fork server's own death is no
    signal: the try inherits the pipe whose closing would tell the fork server.)"""
    try:
        handle: int | None = os.pidfd_open(pid)
    except (AttributeError, OSError):
        handle = None  # no pidfd here: look every half second
    if process_start_time(pid) != started:
        os.killpg(0, signal.SIGKILL)  # gone already (the pid may be someone else's now)

    def watch() -> None:
        if handle is not None:
            select.select([handle], [], [])
        else:
            while process_start_time(pid) == started:
                time.sleep(0.5)
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=watch, name="bdp-watch-scheduler", daemon=True).start()


def outcome_of(result_path: Path, exitcode: int | None) -> dict[str, Any]:
    """What a finished try reported, or why it reported nothing (it was killed)."""
    try:
        found: dict[str, Any] = orjson.loads(result_path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        if exitcode is not None and exitcode < 0:
            why = f"the task's process was killed by {signal.Signals(-exitcode).name}"
        else:
            why = f"the task's process exited with code {exitcode} without an outcome"
        return {"status": "failed", "error": why}
    finally:
        result_path.unlink(missing_ok=True)
    return found
