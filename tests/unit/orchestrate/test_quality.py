"""The daily DAG's quality task: results kept in `quality_checks`, a failed check fails
the task (after its results are written), and each run replaces its own results only."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bdp.config import Settings
from bdp.errors import BdpError
from bdp.orchestrate import get_dag
from bdp.orchestrate.operations import TaskContext, run_operation
from bdp.orchestrate.quality import QualityCheckFailed
from bdp.warehouse import open_warehouse
from tests.scenarios.etl_day import DAY, change_warehouse, copied_day, simulated_day

NOW = datetime(2024, 4, 17, 9, 0, tzinfo=UTC)
COLUMNS = [
    "dataset",
    "check",
    "table_name",
    "passed",
    "observed",
    "expected",
    "detail",
    "checked_at",
    "dt",
]


@pytest.fixture(scope="module")
def built_day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("quality-task") / "home"
    simulated_day(home)
    return home


@pytest.fixture
def day(built_day: Path, tmp_path: Path) -> Settings:
    return copied_day(built_day, tmp_path / "home")


def context(settings: Settings, dataset: str, dt: date = DAY, now: datetime = NOW) -> TaskContext:
    dag = get_dag(settings, dataset)
    return TaskContext(settings, dag, dag.task("quality"), dt, now)


def kept(settings: Settings, dataset: str, dt: date = DAY) -> list[dict]:
    with open_warehouse(settings) as warehouse:
        rows = warehouse.query(
            f"SELECT * FROM quality_checks WHERE dataset = '{dataset}' AND dt = DATE '{dt}' "
            'ORDER BY "check", table_name'
        )
    return rows.to_pylist()


def as_rows(checks: list[dict], dataset: str, now: datetime = NOW, dt: date = DAY) -> list[dict]:
    rows = [
        {
            "dataset": dataset,
            "check": c["check"],
            "table_name": c["table"],
            "passed": c["passed"],
            "observed": c["observed"],
            "expected": c["expected"],
            "detail": c["detail"],
            "checked_at": now,
            "dt": dt,
        }
        for c in checks
    ]
    return sorted(rows, key=lambda r: (r["check"], r["table_name"]))


def test_a_passing_day_returns_its_results_and_keeps_them(day: Settings) -> None:
    summary = run_operation(context(day, "hotellogs"))
    assert json.loads(json.dumps(summary)) == summary
    assert summary["failed"] == 0 and all(c["passed"] for c in summary["checks"])
    assert {c["check"] for c in summary["checks"]} >= {"reconcile_warehouse", "unique_key"}
    with open_warehouse(day) as warehouse:
        names = warehouse.query("SELECT * FROM quality_checks LIMIT 0").column_names
    assert names == COLUMNS
    assert kept(day, "hotellogs") == as_rows(summary["checks"], "hotellogs")


def test_a_failed_check_fails_the_task_after_its_results_are_written(day: Settings) -> None:
    change_warehouse(
        day,
        "UPDATE hotel_analysis_log SET gender = NULL WHERE id IN "
        "(SELECT id FROM hotel_analysis_log ORDER BY id LIMIT 2)",
    )
    with pytest.raises(QualityCheckFailed) as raised:
        run_operation(context(day, "hotellogs"))
    error = raised.value
    assert isinstance(error, BdpError)
    message = str(error)
    assert "\n" not in message
    assert message == (
        f"hotellogs dt={DAY}: 1 quality check failed: "
        "required_not_null on hotel_analysis_log: observed 2, expected 0 (nulls in gender 2)"
    )
    assert error.results["failed"] == 1
    [broken] = [c for c in error.results["checks"] if not c["passed"]]
    assert broken["detail"] == "nulls in gender 2"
    assert json.loads(json.dumps(error.results)) == error.results
    assert kept(day, "hotellogs") == as_rows(error.results["checks"], "hotellogs")


def test_the_message_names_every_failed_check(day: Settings) -> None:
    change_warehouse(day, "DELETE FROM lol_training_log")
    change_warehouse(day, "INSERT INTO lol_analysis_log SELECT * FROM lol_analysis_log LIMIT 1")
    with pytest.raises(QualityCheckFailed) as raised:
        run_operation(context(day, "gamelogs"))
    message = str(raised.value)
    assert "3 quality checks failed" in message
    for named in (
        "reconcile_warehouse on lol_analysis_log: observed",
        "warehouse_vs_curated on lol_training_log: observed 0, expected",
        "unique_key on lol_analysis_log: observed 1, expected 0",
    ):
        assert named in message


def test_a_rerun_replaces_the_days_results(day: Settings) -> None:
    first = run_operation(context(day, "weblogs"))
    later = NOW + timedelta(hours=2)
    second = run_operation(context(day, "weblogs", now=later))
    rows = kept(day, "weblogs")
    assert len(rows) == len(second["checks"]) == len(first["checks"])
    assert {row["checked_at"] for row in rows} == {later}


def test_results_of_other_datasets_and_days_are_left_alone(day: Settings) -> None:
    run_operation(context(day, "hotellogs"))
    next_day = DAY + timedelta(days=1)
    with pytest.raises(QualityCheckFailed):  # nothing was loaded for it
        run_operation(context(day, "gamelogs", dt=next_day))
    hotel, game_next = kept(day, "hotellogs"), kept(day, "gamelogs", next_day)
    assert hotel and game_next
    run_operation(context(day, "gamelogs"))
    change_warehouse(day, "DELETE FROM lol_analysis_log")
    with pytest.raises(QualityCheckFailed):
        run_operation(context(day, "gamelogs", now=NOW + timedelta(hours=1)))
    assert any(not row["passed"] for row in kept(day, "gamelogs"))
    assert kept(day, "hotellogs") == hotel
    assert kept(day, "gamelogs", next_day) == game_next
