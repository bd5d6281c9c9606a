"""bdp's own DAGs under the built-in scheduler, on a real landed day of every dataset.

The scheduler's clock is a `FastForwardClock`: it jumps over the hours in which nothing
is due, so a scheduler "left running" from the evening of day D to the next noon crosses
midnight, and every dataset's fire time, in a few seconds of real time. The day is the
spring-forward day of Europe/Berlin (23 hours long), in that zone.
"""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from bdp.config import Settings
from bdp.datasets import DATASETS
from bdp.orchestrate import build_dags
from bdp.orchestrate.scheduler import Scheduler
from bdp.orchestrate.state import StateStore
from tests.scenarios.etl_day import home_settings, landed_day
from tests.scenarios.orchestration import FastForwardClock

ZONE = "Europe/Berlin"
TZ = ZoneInfo(ZONE)
DAY = date(2026, 3, 29)
EVENING = datetime(2026, 3, 29, 22, 30, tzinfo=TZ)
NOON = datetime(2026, 3, 30, 12, 0, tzinfo=TZ)


def _left_running(settings: Settings, since: datetime, until: datetime) -> None:
    """A scheduler that has been running since `since` runs on until `until`."""
    store = StateStore(settings.paths.state)
    for dag_id in build_dags(settings):
        if store.last_fire(dag_id) is None:
            store.set_last_fire(dag_id, since)
    clock = FastForwardClock(since)
    Scheduler(settings, clock=clock, poll_seconds=None).run(until=until)


@pytest.fixture(scope="module")
def overnight(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data home with day D landed, after a night and a morning of the scheduler."""
    home = tmp_path_factory.mktemp("overnight") / "home"
    settings = home_settings(home, timezone=ZONE)
    landed_day(settings, DAY)
    _left_running(settings, EVENING, NOON)
    return home


def _table_days(settings: Settings, table: str) -> list[str]:
    con = duckdb.connect(str(settings.paths.warehouse), read_only=True)
    try:
        rows = con.execute(f'SELECT DISTINCT CAST(dt AS VARCHAR) FROM "{table}"').fetchall()
    finally:
        con.close()
    return sorted(r[0] for r in rows)


def test_every_dataset_s_yesterday_runs_once_at_its_fire_time_without_a_person(
    overnight: Path,
) -> None:
    settings = home_settings(overnight, timezone=ZONE)
    store = StateStore(settings.paths.state)
    dags = build_dags(settings)
    for name in DATASETS:
        runs = store.runs(dag_id=name)
        assert [(r.dt, r.trigger, r.state) for r in runs] == [(DAY, "scheduled", "success")]
        (run,) = runs
        assert [t.task_id for t in run.tasks] == [t.task_id for t in dags[name].tasks]
        assert {t.state for t in run.tasks} == {"success"}
        # Fired at the DAG's cron time on D + 1 in the platform zone (after the clocks
        # went forward: 09:xx CEST is 07:xx UTC), not before.
        fire = next(iter(dags[name].fire_times(EVENING)))
        assert fire.astimezone(TZ).date() == DAY + timedelta(days=1)
        assert fire.utcoffset() == timedelta(hours=2)
        assert run.started_at is not None and run.started_at >= fire
        etl = next(t for t in run.tasks if t.task_id == "etl")
        assert etl.result is not None and etl.result["raw_rows"] > 0
    for table in ("lol_analysis_log", "hotel_gender_daily", "weblog_url_daily"):
        assert _table_days(settings, table) == [DAY.isoformat()]


def test_maintenance_dags_ran_in_the_night(overnight: Path) -> None:
    store = StateStore(home_settings(overnight, timezone=ZONE).paths.state)
    for dag_id in ("raw_compaction", "lake_retention", "bus_retention"):
        runs = store.runs(dag_id=dag_id)
        assert [(r.dt, r.state) for r in runs] == [(DAY, "success")], dag_id


def test_late_data_re_runs_the_day_with_everything_below_the_etl(
    overnight: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    shutil.copytree(overnight, home)
    settings = home_settings(home, timezone=ZONE)
    store = StateStore(settings.paths.state)
    (before,) = store.runs(dag_id="weblogs")
    rows_before = next(t for t in before.tasks if t.task_id == "etl").result
    assert rows_before is not None

    landed_day(settings, DAY, seed=99, datasets=["weblogs"])  # late events of day D
    _left_running(settings, NOON, NOON + timedelta(minutes=30))

    runs = store.runs(dag_id="weblogs")
    assert [(r.trigger, r.state) for r in runs] == [
        ("late_data", "success"),
        ("scheduled", "success"),
    ]
    again = runs[0]
    assert [t.state for t in again.tasks] == ["success"] * len(again.tasks)
    rows_after = next(t for t in again.tasks if t.task_id == "etl").result
    assert rows_after is not None and rows_after["raw_rows"] > rows_before["raw_rows"]
    # The other datasets' days did not change: nothing re-ran for them.
    for name in DATASETS:
        if name != "weblogs":
            assert len(store.runs(dag_id=name)) == 1
