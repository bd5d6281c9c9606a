"""The DAGs bdp runs: one daily DAG per dataset, and the maintenance DAGs.

A daily DAG, whose id is its dataset's name, processes day D (yesterday, in the
platform timezone): wait until D is complete → ETL (raw → curated) → load into the
warehouse → quality checks → report. The built-in datasets run staggered from 09:00 as
the reference platform intended (SCENARIOS §10), with three retries and an explicit
timezone (its defects O1–O5 fixed); declared datasets run at 09:50. Later steps (a mart,
search retention) are tasks added here, not changes to the scheduler.

`[scheduler.dags.<id>]` changes one DAG's schedule, retries, timeout, catch-up or
`depends_on_past`, or disables it; an unknown id there is an error naming the closest.
"""

from __future__ import annotations

import difflib

from bdp.config import DagSettings, Settings
from bdp.datasets import load_datasets
from bdp.orchestrate.dag import Dag, DagError, Task, check_graph

__all__ = ["DAILY_TASKS", "MAINTENANCE_DAGS", "build_dags", "get_dag"]

DAILY_TASKS = ("wait_complete", "etl", "load", "quality", "report")
"""The daily DAG's chain; each task's operation has the same name."""

_DAILY_SCHEDULES = {
    "gamelogs": "0 9 * * *",
    "hotellogs": "10 9 * * *",
    "lostarklogs": "20 9 * * *",
    "adlogs": "30 9 * * *",
    "weblogs": "40 9 * * *",
}
_DECLARED_SCHEDULE = "50 9 * * *"

MAINTENANCE_DAGS = {
    # dag id: (operation, schedule, what it does)
    "raw_compaction": (
        "compact_raw",
        "0 2 * * *",
        "Merge the small raw files of finished days, keeping their offsets recoverable.",
    ),
    "lake_retention": (
        "lake_retention",
        "0 3 * * *",
        "Delete lake partitions older than their dataset's retention.",
    ),
    "bus_retention": (
        "bus_retention",
        "30 3 * * *",
        "Delete bus segments older than the bus's retention that were landed.",
    ),
}


def build_dags(settings: Settings) -> dict[str, Dag]:
    """Every DAG, by id: the daily ones in dataset order, then maintenance."""
    scheduler = settings.scheduler
    dags: dict[str, Dag] = {}
    for name, dataset in load_datasets(settings).items():
        schedule = _DAILY_SCHEDULES.get(name, _DECLARED_SCHEDULE)
        dags[name] = _configured(
            settings,
            Dag(
                dag_id=name,
                tasks=_daily_tasks(settings),
                schedule=schedule,
                timezone=settings.platform.timezone,
                catchup=scheduler.catchup,
                max_active_runs=scheduler.max_active_runs_per_dag,
                description=f"Day D of {name}: wait until complete, ETL, load, check, report.",
                tags=("bdp", "daily"),
                dataset=dataset.name,
            ),
        )
    for dag_id, (operation, schedule, description) in MAINTENANCE_DAGS.items():
        dags[dag_id] = _configured(
            settings,
            Dag(
                dag_id=dag_id,
                tasks=(_task(settings, operation, operation),),
                schedule=schedule,
                timezone=settings.platform.timezone,
                # Maintenance looks at the lake as it is: the latest run covers missed ones.
                catchup=False,
                max_active_runs=1,
                description=description,
                tags=("bdp", "maintenance"),
            ),
        )
    unknown = sorted(set(scheduler.dags) - set(dags))
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(dags), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise DagError(f"[scheduler.dags] names no DAG {unknown[0]!r}{hint}")
    for dag in dags.values():
        check_graph(dag)
    return dags


def get_dag(settings: Settings, dag_id: str) -> Dag:
    dags = build_dags(settings)
    if dag_id not in dags:
        close = difflib.get_close_matches(dag_id, list(dags), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise DagError(f"no DAG {dag_id!r}{hint}; `bdp dag list` shows them")
    return dags[dag_id]


def _daily_tasks(settings: Settings) -> tuple[Task, ...]:
    scheduler = settings.scheduler
    wait = _task(settings, "wait_complete", "wait_complete")
    wait = Task(
        task_id=wait.task_id,
        operation=wait.operation,
        # A sensor does not fail and retry: it waits, up to its own timeout.
        retries=0,
        timeout_seconds=scheduler.wait_timeout_seconds,
        sensor=True,
        poke_interval_seconds=scheduler.poke_interval_seconds,
    )
    chain = [wait]
    for task_id in DAILY_TASKS[1:]:
        chain.append(_task(settings, task_id, task_id, upstream=(chain[-1].task_id,)))
    return tuple(chain)


def _task(settings: Settings, task_id: str, operation: str, upstream: tuple[str, ...] = ()) -> Task:
    scheduler = settings.scheduler
    return Task(
        task_id=task_id,
        operation=operation,
        upstream=upstream,
        retries=scheduler.retries,
        retry_delay_seconds=scheduler.retry_delay_seconds,
        retry_max_delay_seconds=scheduler.retry_max_delay_seconds,
        timeout_seconds=scheduler.task_timeout_seconds,
    )


def _configured(settings: Settings, dag: Dag) -> Dag:
    """`dag` with its `[scheduler.dags.<id>]` changes applied."""
    from dataclasses import replace

    own: DagSettings | None = settings.scheduler.dags.get(dag.dag_id)
    if own is None:
        return dag
    tasks = []
    for task in dag.tasks:
        changes: dict[str, object] = {}
        if own.retries is not None and not task.sensor:
            changes["retries"] = own.retries
        if own.timeout_seconds is not None and not task.sensor:
            changes["timeout_seconds"] = own.timeout_seconds
        if own.depends_on_past is not None:
            changes["depends_on_past"] = own.depends_on_past
        tasks.append(replace(task, **changes))  # type: ignore[arg-type]
    schedule = dag.schedule
    if own.schedule is not None:
        schedule = None if own.schedule.strip().lower() == "none" else own.schedule
    return replace(
        dag,
        tasks=tuple(tasks),
        schedule=schedule,
        catchup=dag.catchup if own.catchup is None else own.catchup,
        enabled=own.enabled,
    )
