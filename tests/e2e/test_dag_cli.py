"""`bdp dag …` as a user runs it, with no scheduler running: list, run, backfill, runs,
clear, and the one-line errors."""

from __future__ import annotations

from pathlib import Path

import duckdb

from tests.e2e.conftest import as_json

DAYS = ["2024-04-15", "2024-04-16"]


def _rows_per_day(home: Path) -> dict[str, int]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "SELECT CAST(dt AS VARCHAR), count(*) FROM weblog_access_log GROUP BY 1"
        ).fetchall()
    finally:
        con.close()
    return dict(rows)


def _one_line_error(result, *words: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_backfill_run_again_clear_and_the_history(bdp, tmp_path: Path) -> None:
    home = tmp_path / "home"
    for day in DAYS:
        bdp("simulate", "weblogs", "--date", day, "--users", "5")
    bdp("stream", "run", "--until-idle")

    listed = {d["dag_id"]: d for d in as_json(bdp("dag", "list", "--json"))}
    assert listed["weblogs"]["schedule"] == "40 9 * * *"
    assert listed["weblogs"]["tasks"] == ["wait_complete", "etl", "load", "quality", "report"]

    backfill = as_json(
        bdp("dag", "backfill", "weblogs", "--from", DAYS[0], "--to", DAYS[1], "--json")
    )
    assert [(r["dt"], r["trigger"], r["state"]) for r in backfill] == [
        (DAYS[0], "backfill", "success"),
        (DAYS[1], "backfill", "success"),
    ]
    loaded = _rows_per_day(home)
    assert set(loaded) == set(DAYS) and all(loaded.values())

    # Idempotent: day D again replaces day D with the same rows.
    (again,) = as_json(bdp("dag", "run", "weblogs", "--date", DAYS[0], "--json"))
    assert again["state"] == "success" and again["trigger"] == "manual"
    assert _rows_per_day(home) == loaded

    quality = next(t for t in again["tasks"] if t["task_id"] == "quality")
    assert quality["result"]["failed"] == 0
    assert {c["check"] for c in quality["result"]["checks"]} >= {"reconcile_curated"}

    # Clear from `load` down: the ETL is not run again, the tasks below it are.
    cleared = bdp("dag", "clear", "weblogs", "--date", DAYS[0], "--task", "load")
    assert "cleared load, quality, report" in cleared.stdout
    (latest,) = as_json(bdp("dag", "runs", "weblogs", "--date", DAYS[0], "--limit", "1", "--json"))
    tries = {t["task_id"]: len(t["history"]) for t in latest["tasks"]}
    assert tries == {"wait_complete": 1, "etl": 1, "load": 2, "quality": 2, "report": 2}
    assert latest["state"] == "success"

    status = as_json(bdp("status", "--json"))
    assert status["scheduler"] == {"running": False, "pid": None}
    assert [(r["dag_id"], r["state"]) for r in status["dag_runs"]] == [("weblogs", "success")]

    history = as_json(bdp("dag", "runs", "--json"))
    assert len(history) == 3
    table = bdp("dag", "runs", "weblogs").stdout
    assert "backfill" in table and "manual" in table


def test_mistakes_get_one_line(bdp) -> None:
    _one_line_error(bdp("dag", "run", "weblog", "--date", DAYS[0], check=False), "weblogs")
    _one_line_error(
        bdp("dag", "backfill", "weblogs", "--from", DAYS[1], "--to", DAYS[0], check=False),
        "before",
    )
    _one_line_error(bdp("dag", "run", "weblogs", "--date", "2024-13-01", check=False))
    _one_line_error(
        bdp("dag", "clear", "weblogs", "--date", DAYS[0], check=False), "no run", "bdp dag run"
    )
    _one_line_error(
        bdp("dag", "task", "weblogs", "nosuch", "--date", DAYS[0], check=False), "no task"
    )
