"""Run by Airflow's own Python (not bdp's): how Airflow reads a folder of DAG files.

    python describe_dags.py DAGS_FOLDER RUNS

prints one JSON document: the import errors, and per DAG what Airflow made of it (its
timetable, timezone, catch-up, tasks with their upstream ids, retries and timeouts)
and its first RUNS scheduled runs as Airflow's scheduler would create them, each with the
day D its tasks would be given (the DAG's own `bdp_data_day` macro).
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta

from airflow.dag_processing.dagbag import DagBag
from airflow.serialization.encoders import coerce_to_core_timetable
from airflow.timetables.base import TimeRestriction


def seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def describe(dag, runs: int) -> dict:
    timetable = coerce_to_core_timetable(dag.timetable)
    macro = dag.user_defined_macros["bdp_data_day"]
    scheduled = []
    last = None
    restriction = TimeRestriction(earliest=dag.start_date, latest=None, catchup=True)
    while dag.schedule is not None and len(scheduled) < runs:
        info = timetable.next_dagrun_info(
            last_automated_data_interval=last, restriction=restriction
        )
        scheduled.append(
            {
                "logical_date": info.logical_date.isoformat(),
                "run_after": info.run_after.isoformat(),
                "day": macro(info.logical_date, info.run_after),
            }
        )
        last = info.data_interval
    tasks = {}
    for task in dag.tasks:
        tasks[task.task_id] = {
            "operator": type(task).__name__,
            "upstream": sorted(task.upstream_task_ids),
            "retries": task.retries,
            "retry_delay": seconds(task.retry_delay),
            "max_retry_delay": seconds(task.max_retry_delay),
            "retry_exponential_backoff": task.retry_exponential_backoff,
            "execution_timeout": seconds(task.execution_timeout),
            "depends_on_past": task.depends_on_past,
            "timeout": getattr(task, "timeout", None),
            "mode": getattr(task, "mode", None),
            "bash_command": task.bash_command,
        }
    return {
        "timetable": type(dag.timetable).__name__,
        "timezone": str(dag.timezone),
        "catchup": dag.catchup,
        "max_active_runs": dag.max_active_runs,
        "tags": sorted(dag.tags),
        "tasks": tasks,
        "scheduled": scheduled,
    }


def main() -> None:
    folder, runs = sys.argv[1], int(sys.argv[2])
    bag = DagBag(dag_folder=folder, safe_mode=True)
    print(
        json.dumps(
            {
                "import_errors": bag.import_errors,
                "dags": {dag_id: describe(dag, runs) for dag_id, dag in bag.dags.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
