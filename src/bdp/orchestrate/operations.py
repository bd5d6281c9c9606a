"""The steps a task can run, by name, and what each is given: a `TaskContext`.

An operation does one step for one day and returns a small JSON-ready summary (rows
loaded, checks passed), which the scheduler keeps in the task's history. It fails by
raising (a `BdpError` says what went wrong in its message); a sensor that finds its
condition not yet met raises `NotReady`, and is asked again later. Operations are
idempotent: a retried or re-run step replaces what an earlier try wrote.

Modules are imported when an operation first runs, so listing DAGs stays light.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bdp.config import Settings
from bdp.errors import BdpError
from bdp.orchestrate.dag import Dag, DagError, Task

__all__ = ["OPERATIONS", "NotReady", "Operation", "TaskContext", "run_operation"]


class NotReady(BdpError):
    """A sensor's condition does not hold yet; the message says what it waits for."""


@dataclass(frozen=True)
class TaskContext:
    settings: Settings
    dag: Dag
    task: Task
    dt: date
    """The data day the run processes."""
    now: datetime
    """The scheduler's clock (aware), which a sensor compares the day with."""
    try_number: int = 1

    @property
    def dataset(self) -> str:
        if self.dag.dataset is None:
            raise DagError(f"{self.dag.dag_id}.{self.task.task_id} needs a dataset's DAG")
        return self.dag.dataset


Operation = Callable[[TaskContext], dict[str, Any]]

OPERATIONS: dict[str, str] = {
    "wait_complete": "bdp.orchestrate.completeness:wait_complete",
    "etl": "bdp.orchestrate.steps:etl",
    "load": "bdp.orchestrate.steps:load",
    "quality": "bdp.orchestrate.quality:quality",
    "report": "bdp.orchestrate.steps:report",
    "compact_raw": "bdp.orchestrate.maintenance:compact_raw",
    "lake_retention": "bdp.orchestrate.maintenance:lake_retention",
    "bus_retention": "bdp.orchestrate.maintenance:bus_retention",
}
"""Operation name → `module:function`."""


def resolve(name: str) -> Operation:
    if name not in OPERATIONS:
        raise DagError(f"unknown operation {name!r}")
    module, function = OPERATIONS[name].split(":")
    found: Operation = getattr(importlib.import_module(module), function)
    return found


def run_operation(ctx: TaskContext) -> dict[str, Any]:
    """Run the task's operation once; what it returns, or its exception."""
    return resolve(ctx.task.operation)(ctx)
