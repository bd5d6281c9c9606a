"""DAGs as data: schedules across daylight saving, data days, graphs, configuration."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import islice
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bdp.config import load_settings
from bdp.orchestrate import build_dags, get_dag
from bdp.orchestrate.dag import Dag, DagError, Task, check_graph, data_day
from bdp.orchestrate.scheduler import Scheduler
from bdp.orchestrate.state import StateStore
from tests.scenarios.orchestration import FastForwardClock, chain_dag, scheduler_settings

BERLIN = ZoneInfo("Europe/Berlin")


def _dag(schedule: str, timezone: str = "Europe/Berlin") -> Dag:
    return Dag("d", (Task("t", "etl"),), schedule=schedule, timezone=timezone)


def test_a_daily_fire_time_stays_at_local_time_across_both_changes() -> None:
    dag = _dag("0 9 * * *")
    spring = list(islice(dag.fire_times(datetime(2026, 3, 27, 12, tzinfo=UTC)), 2))
    assert [f.astimezone(UTC).hour for f in spring] == [8, 7]  # CET, then CEST
    autumn = list(islice(dag.fire_times(datetime(2026, 10, 23, 12, tzinfo=UTC)), 2))
    assert [f.astimezone(UTC).hour for f in autumn] == [7, 8]
    assert [data_day(f, BERLIN) for f in spring] == [date(2026, 3, 27), date(2026, 3, 28)]


def test_a_time_the_spring_gap_skips_fires_once_and_a_repeated_one_once() -> None:
    skipped = _dag("30 2 * * *")  # 02:30 does not exist on 2026-03-29
    fires = list(islice(skipped.fire_times(datetime(2026, 3, 28, 12, tzinfo=UTC)), 2))
    assert [data_day(f, BERLIN) for f in fires] == [date(2026, 3, 28), date(2026, 3, 29)]
    repeated = _dag("30 2 * * *")  # 02:30 happens twice on 2026-10-25
    fires = list(islice(repeated.fire_times(datetime(2026, 10, 24, 12, tzinfo=UTC)), 2))
    assert fires[1] - fires[0] >= timedelta(hours=23)
    assert [data_day(f, BERLIN) for f in fires] == [date(2026, 10, 24), date(2026, 10, 25)]


def test_a_cycle_an_unknown_task_and_a_bad_cron_are_refused() -> None:
    cycle = Dag(
        "d", (Task("a", "etl", upstream=("b",)), Task("b", "etl", upstream=("a",))), None, "UTC"
    )
    with pytest.raises(DagError, match="a cycle"):
        check_graph(cycle)
    with pytest.raises(DagError, match="does not exist"):
        check_graph(Dag("d", (Task("a", "etl", upstream=("x",)),), None, "UTC"))
    with pytest.raises(DagError, match="invalid cron expression"):
        check_graph(_dag("61 9 * * *"))


def test_the_daily_dags_are_the_reference_chain_fixed(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, environ={})
    dags = build_dags(settings)
    weblogs = dags["weblogs"]
    assert [t.task_id for t in weblogs.tasks] == [
        "wait_complete",
        "etl",
        "load",
        "quality",
        "report",
    ]
    assert [t.upstream for t in weblogs.tasks[1:]] == [
        ("wait_complete",),
        ("etl",),
        ("load",),
        ("quality",),
    ]
    assert weblogs.task("etl").retries == 3  # as the reference intended (O3)
    assert weblogs.task("wait_complete").sensor
    assert {"raw_compaction", "lake_retention", "bus_retention"} <= set(dags)
    for dag in dags.values():
        check_graph(dag)


def test_a_dag_s_settings_change_its_schedule_and_policy(tmp_path: Path) -> None:
    environ = {
        "BDP_SCHEDULER__DAGS__WEBLOGS__SCHEDULE": "none",
        "BDP_SCHEDULER__DAGS__ADLOGS__RETRIES": "5",
        "BDP_SCHEDULER__DAGS__ADLOGS__DEPENDS_ON_PAST": "true",
    }
    settings = load_settings(home=tmp_path, environ=environ)
    assert get_dag(settings, "weblogs").schedule is None
    adlogs = get_dag(settings, "adlogs")
    assert adlogs.task("etl").retries == 5 and adlogs.task("etl").depends_on_past


def test_an_unknown_dag_names_the_closest(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="weblogs"):
        get_dag(load_settings(home=tmp_path, environ={}), "weblog")


def _fired(tmp_path: Path, catchup: bool) -> list[date]:
    """Days queued by a scheduler started on 2026-03-05 12:00 whose DAG last fired on the
    morning of 2026-03-01 (it was stopped for four days)."""
    dag = chain_dag(tmp_path / "journal", schedule="0 9 * * *", catchup=catchup)
    settings = scheduler_settings(tmp_path / "home")
    store = StateStore(settings.paths.state)
    store.set_last_fire(dag.dag_id, datetime(2026, 3, 1, 9, 0, 30, tzinfo=UTC))
    now = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
    scheduler = Scheduler(settings, {dag.dag_id: dag}, clock=FastForwardClock(now))
    scheduler.run(until=now)
    return [r.dt for r in store.runs(dag_id=dag.dag_id, oldest_first=True)]


def test_catch_up_runs_every_missed_day_in_order(tmp_path: Path) -> None:
    assert _fired(tmp_path, catchup=True) == [date(2026, 3, d) for d in (1, 2, 3, 4)]


def test_without_catch_up_only_the_latest_day_runs(tmp_path: Path) -> None:
    assert _fired(tmp_path, catchup=False) == [date(2026, 3, 4)]
