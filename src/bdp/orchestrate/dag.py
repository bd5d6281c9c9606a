"""DAGs as data: a DAG is a schedule and tasks; a task is an operation and its policy.

Nothing here runs anything. The built-in scheduler and the Airflow export read the same
`Dag`, so the two cannot drift apart. A run of a DAG is identified by its data day D: a
daily schedule firing on day X (in the DAG's timezone) runs D = X - 1, as Airflow's data
intervals do ([D 09:00, D+1 09:00) runs at D+1 09:00 with logical date D).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bdp.errors import BdpError

__all__ = [
    "DAG_ID",
    "CronTimes",
    "Dag",
    "DagError",
    "Task",
    "check_graph",
    "check_schedule",
    "data_day",
]

DAG_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}$")
"""DAG and task ids: identifiers, safe as file names, SQL values and Airflow ids."""


class DagError(BdpError):
    """A DAG that cannot run: an unknown task, a cycle, a bad schedule."""


@dataclass(frozen=True)
class Task:
    task_id: str
    operation: str
    """Name of the step in `bdp.orchestrate.operations.OPERATIONS`."""
    upstream: tuple[str, ...] = ()
    retries: int = 3
    retry_delay_seconds: float = 60.0
    """Wait before the first retry; each retry after waits twice as long as the last."""
    retry_max_delay_seconds: float = 3600.0
    timeout_seconds: float | None = None
    """A try running longer is stopped and counts as failed."""
    depends_on_past: bool = False
    """Day D's try waits until the same task of day D - 1 succeeded (if it ran at all)."""
    sensor: bool = False
    """A wait: its operation says "not yet" (`NotReady`) and is asked again every
    `poke_interval_seconds`, without using a retry, until `timeout_seconds` pass."""
    poke_interval_seconds: float = 60.0

    def retry_delay(self, try_number: int) -> float:
        """Seconds to wait after failed try `try_number` (1-based): exponential, bounded."""
        delay = self.retry_delay_seconds * (2 ** max(0, try_number - 1))
        return float(min(delay, self.retry_max_delay_seconds))


@dataclass(frozen=True)
class Dag:
    dag_id: str
    tasks: tuple[Task, ...]
    """In an order where every task follows its upstream tasks."""
    schedule: str | None
    """A 5-field cron expression read in `timezone`; None: only runs asked for."""
    timezone: str
    catchup: bool = True
    max_active_runs: int = 2
    description: str = ""
    tags: tuple[str, ...] = ()
    dataset: str | None = None
    """The dataset a daily DAG processes; None for maintenance DAGs."""
    enabled: bool = True
    params: dict[str, str] = field(default_factory=dict)
    """Given to every operation of the DAG (a maintenance DAG's target, for instance)."""

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def task(self, task_id: str) -> Task:
        for task in self.tasks:
            if task.task_id == task_id:
                return task
        known = ", ".join(t.task_id for t in self.tasks)
        raise DagError(f"DAG {self.dag_id} has no task {task_id!r} (it has {known})")

    def downstream(self, task_id: str) -> list[str]:
        """Every task that depends on `task_id`, directly or not, in DAG order."""
        reached = {task_id}
        for task in self.tasks:
            if reached.intersection(task.upstream):
                reached.add(task.task_id)
        return [t.task_id for t in self.tasks if t.task_id in reached and t.task_id != task_id]

    def fire_times(self, after: datetime) -> CronTimes:
        """The schedule's fire times strictly after `after`, in order."""
        if self.schedule is None:
            raise DagError(f"DAG {self.dag_id} has no schedule")
        return CronTimes(self.schedule, after.astimezone(self.tz))


def data_day(fire_time: datetime, tz: ZoneInfo) -> date:
    """The day a run fired at `fire_time` processes: the day before, in `tz`."""
    return fire_time.astimezone(tz).date() - timedelta(days=1)


class CronTimes:
    """Iterates a cron expression's fire times (DST-correct, via cronsim): a time that a
    spring-forward skips fires at the first minute after the gap; a time a fall-back
    repeats fires once."""

    def __init__(self, expression: str, after: datetime) -> None:
        from cronsim import CronSim, CronSimError

        try:
            self._times = CronSim(expression, after.replace(second=0, microsecond=0))
        except CronSimError as exc:
            raise DagError(f"invalid cron expression {expression!r}: {exc}") from None
        self._after = after

    def __iter__(self) -> CronTimes:
        return self

    def __next__(self) -> datetime:
        while True:
            found: datetime = next(self._times)
            if found > self._after:
                return found


def check_schedule(expression: str) -> str:
    """`expression` if it is a valid cron expression, else `DagError` naming it."""
    CronTimes(expression, datetime(2000, 1, 1, tzinfo=ZoneInfo("UTC")))
    return expression


def check_graph(dag: Dag) -> None:
    """Ids are identifiers, unique; upstream tasks exist and come first (so no cycle)."""
    if not DAG_ID.match(dag.dag_id):
        raise DagError(f"invalid DAG id {dag.dag_id!r}: use letters, digits and _")
    seen: set[str] = set()
    for task in dag.tasks:
        if not DAG_ID.match(task.task_id):
            raise DagError(f"{dag.dag_id}: invalid task id {task.task_id!r}")
        if task.task_id in seen:
            raise DagError(f"{dag.dag_id}: task {task.task_id!r} is defined twice")
        for up in task.upstream:
            if up not in seen:
                known = {t.task_id for t in dag.tasks}
                what = "comes after it (a cycle?)" if up in known else "does not exist"
                raise DagError(f"{dag.dag_id}: {task.task_id} depends on {up!r}, which {what}")
        seen.add(task.task_id)
    if dag.schedule is not None:
        check_schedule(dag.schedule)
