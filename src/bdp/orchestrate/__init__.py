"""Orchestration: the daily work as DAGs, and the built-in scheduler that runs them.

DAGs are data (`dag.Dag`, built by `dags.build_dags` from the settings and datasets):
one daily DAG per dataset and a few maintenance DAGs. Each task names an operation
(`operations.OPERATIONS`) that does one step for one day. The built-in scheduler
(`scheduler.Scheduler`) runs them on their cron schedules with retries, timeouts and
catch-up, keeping run and task history in the state database (`state.StateStore`); the
same DAGs export to Airflow (`airflow_export`).
"""

from bdp.orchestrate.dag import Dag, Task
from bdp.orchestrate.dags import build_dags, get_dag

__all__ = ["Dag", "Task", "build_dags", "get_dag"]
