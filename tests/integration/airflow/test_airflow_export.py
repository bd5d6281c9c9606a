"""`bdp airflow export` on a real Apache Airflow 3 (`stack/airflow`).

Airflow runs from the stack's venv with a home of the test's own (its SQLite database
migrated there), so tests neither see nor leave DAGs in the stack's DAGs folder. Its
tasks call a `bdp` that runs this checkout's code with the test's Python.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

import bdp
from bdp.config import load_settings
from bdp.etl.transforms import get_transform
from bdp.orchestrate import build_dags
from bdp.orchestrate.dag import data_day

pytestmark = [pytest.mark.service("airflow"), pytest.mark.slow]

DESCRIBE = Path(__file__).with_name("describe_dags.py")
START = "2024-04-09"
DAY = "2024-04-16"
SEOUL = "Asia/Seoul"
CLICKS_SCHEMA = {
    "type": "object",
    "properties": {
        "event_time": {"type": "string", "format": "date-time"},
        "user": {"type": "string"},
    },
    "required": ["event_time", "user"],
}


class Airflow:
    """Airflow's CLI (and Python) from the stack's venv, on a home of its own."""

    def __init__(self, stack_env: dict[str, str], home: Path) -> None:
        self.executable = stack_env["BDP_AIRFLOW"]
        self.dags = home / "dags"
        # Airflow's Python must not see bdp's import path or settings.
        clean = os.environ.items()
        self.env = {k: v for k, v in clean if not k.startswith(("AIRFLOW", "BDP_", "PYTHON"))}
        self.env.update(
            AIRFLOW_HOME=str(home),
            AIRFLOW__CORE__DAGS_FOLDER=str(self.dags),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
        )
        self.dags.mkdir(parents=True)

    def run(self, *args: str, timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.executable, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def json(self, *args: str) -> object:
        """A command's `-o json` output: its last line (Airflow logs to stdout before it)."""
        result = self.run(*args, "-o", "json")
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return orjson.loads(result.stdout.strip().splitlines()[-1])

    def python(self, *args: str) -> subprocess.CompletedProcess[str]:
        python = str(Path(self.executable).with_name("python"))
        return subprocess.run(
            [python, *args], env=self.env, capture_output=True, text=True, timeout=300
        )


@pytest.fixture
def airflow(airflow_env: dict[str, str], tmp_path: Path) -> Airflow:
    airflow = Airflow(airflow_env, tmp_path / "airflow")
    migrated = airflow.run("db", "migrate", timeout_s=300)
    assert migrated.returncode == 0, migrated.stdout[-3000:] + migrated.stderr[-3000:]
    return airflow


@pytest.fixture
def bdp_executable(tmp_path: Path) -> Path:
    """A `bdp` for Airflow's tasks: this Python, this checkout's package."""
    source = Path(bdp.__file__).resolve().parents[1]
    script = tmp_path / "bin" / "bdp"
    script.parent.mkdir()
    script.write_text(
        f'#!/bin/sh\nPYTHONPATH={source}${{PYTHONPATH:+:$PYTHONPATH}} exec "{sys.executable}"'
        ' -m bdp "$@"\n'
    )
    script.chmod(0o755)
    return script


def run_bdp(*args: str | Path, cwd: Path) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BDP_")}
    result = subprocess.run(
        [sys.executable, "-m", "bdp", *map(str, args), "--json"],
        cwd=cwd,
        env=env,
        capture_output=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    return orjson.loads(result.stdout)


def test_every_dag_imports_into_airflow_as_bdp_defines_it(
    tmp_path: Path, airflow: Airflow, bdp_executable: Path
) -> None:
    (tmp_path / "clicks.json").write_bytes(orjson.dumps(CLICKS_SCHEMA))
    config = tmp_path / "bdp.toml"
    config.write_text(
        f'[platform]\ntimezone = "{SEOUL}"\n'
        '[datasets.clicks]\nschema = "clicks.json"\nevent_time = "event_time"\n'
        '[scheduler.dags.raw_compaction]\nschedule = "0 */6 * * *"\n'
        "[scheduler.dags.lake_retention]\nenabled = false\n"
        "[scheduler.dags.weblogs]\ndepends_on_past = true\n"
    )
    home = tmp_path / "home"
    exported = run_bdp(
        *("--config", config, "--home", home, "airflow", "export", "--out", airflow.dags),
        *("--bdp", bdp_executable, "--start-date", START),
        cwd=tmp_path,
    )
    dags = build_dags(load_settings(config, home))
    assert "clicks" in dags and set(exported["files"]) == set(dags)

    errors = airflow.run("dags", "list-import-errors", "--local", "-o", "json")
    assert errors.returncode == 0, errors.stdout[-3000:]
    assert orjson.loads(errors.stdout.strip().splitlines()[-1]) == []
    listed = airflow.json("dags", "list", "--local")
    assert isinstance(listed, list)
    assert {d["dag_id"] for d in listed} == set(dags)

    described = airflow.python(str(DESCRIBE), str(airflow.dags), "6")
    assert described.returncode == 0, described.stderr[-3000:]
    seen = orjson.loads(described.stdout.strip().splitlines()[-1])
    assert seen["import_errors"] == {}
    tz = ZoneInfo(SEOUL)
    for dag_id, dag in dags.items():
        airflow_dag = seen["dags"][dag_id]
        assert airflow_dag["timezone"] == SEOUL
        assert (airflow_dag["catchup"], airflow_dag["max_active_runs"]) == (
            dag.catchup,
            dag.max_active_runs,
        )
        assert airflow_dag["tags"] == sorted(dag.tags)
        assert list(airflow_dag["tasks"]) == [t.task_id for t in dag.tasks]
        for task in dag.tasks:
            seen_task = airflow_dag["tasks"][task.task_id]
            assert seen_task["operator"] == ("BashSensor" if task.sensor else "BashOperator")
            assert seen_task["upstream"] == sorted(task.upstream)
            assert seen_task["retries"] == task.retries
            assert seen_task["retry_delay"] == task.retry_delay_seconds
            assert seen_task["max_retry_delay"] == task.retry_max_delay_seconds
            assert seen_task["retry_exponential_backoff"] == 2.0
            assert seen_task["depends_on_past"] == task.depends_on_past
            if task.sensor:
                assert (seen_task["mode"], seen_task["timeout"]) == (
                    "reschedule",
                    task.timeout_seconds,
                )
            else:
                assert seen_task["execution_timeout"] == task.timeout_seconds
        runs = airflow_dag["scheduled"]
        if dag.schedule is None or not dag.enabled:
            assert airflow_dag["timetable"] == "NullTimetable" and runs == []
            continue
        # Airflow fires when bdp's scheduler does, and gives the tasks the same day D.
        begin = dt.datetime.fromisoformat(START).replace(tzinfo=tz) - dt.timedelta(days=1)
        fires = dag.fire_times(begin)
        bdp_fires = [next(fires) for _ in range(20)]
        assert len(runs) == 6
        for run in runs:
            fired = dt.datetime.fromisoformat(run["run_after"])
            assert fired in bdp_fires
            assert run["day"] == data_day(fired, tz).isoformat()
        assert runs[0]["day"] == START
        if dag.dataset is not None:  # daily: one run per day, from the start day on
            start = dt.date.fromisoformat(START)
            assert [r["day"] for r in runs] == [str(start + dt.timedelta(n)) for n in range(6)]


def test_a_day_run_by_airflow_loads_what_the_built_in_scheduler_loads(
    tmp_path: Path, airflow: Airflow, bdp_executable: Path
) -> None:
    config = tmp_path / "bdp.toml"
    config.write_text(f'[platform]\ntimezone = "{SEOUL}"\n')
    built_in, on_airflow = tmp_path / "home-a", tmp_path / "home-b"

    def bdp_at(home: Path, *args: str | Path) -> Any:
        return run_bdp("--config", config, "--home", home, *args, cwd=tmp_path)

    generated = bdp_at(built_in, "simulate", "weblogs", "--date", DAY, "--users", "25")
    landed = bdp_at(built_in, "stream", "run", "--until-idle")
    assert landed["weblogs"]["landed"] == generated["generated"] > 0
    # The same raw data in both homes, before either runs the day.
    shutil.copytree(built_in, on_airflow)

    bdp_at(built_in, "dag", "run", "weblogs", "--date", DAY)

    bdp_at(
        on_airflow,
        *("airflow", "export", "--out", airflow.dags, "--bdp", bdp_executable),
        *("--start-date", DAY),
    )
    # The logical date of the run that processes DAY: DAY at the DAG's 09:40, in Seoul.
    began = time.monotonic()
    tested = airflow.run("dags", "test", "weblogs", f"{DAY}T09:40:00+09:00")
    seconds = time.monotonic() - began
    assert tested.returncode == 0, tested.stdout[-5000:] + tested.stderr[-3000:]
    print(f"airflow dags test weblogs (one day, {generated['generated']} events): {seconds:.1f} s")

    tables = list(get_transform("weblogs").TABLES)
    assert tables
    for table in tables:
        sql = (
            f"SELECT count(*) AS row_count, sum(hash(t)) AS checksum FROM {table} AS t "
            f"WHERE dt = DATE '{DAY}'"
        )
        [want] = bdp_at(built_in, "query", sql)
        [got] = bdp_at(on_airflow, "query", sql)
        assert want["row_count"] > 0, table
        assert got == want, table
