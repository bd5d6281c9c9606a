"""`bdp.orchestrate.airflow_export`: the generated Airflow files, read back without Airflow.

Each file is parsed (ast) into its tasks, operators, arguments and edges, which must be
the `Dag`'s; its `bdp_data_day` (plain Python) is run to check that every run's day D is
the built-in scheduler's.
"""

from __future__ import annotations

import ast
import graphlib
import shlex
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bdp.config import load_settings
from bdp.orchestrate import build_dags
from bdp.orchestrate.airflow_export import (
    MARKER,
    AirflowExportError,
    BdpCommand,
    day_offset,
    export_dags,
    file_name,
    find_bdp_executable,
    render_dag,
)
from bdp.orchestrate.dag import Dag, Task, data_day

START = date(2024, 4, 9)
SCHEMA = {
    "type": "object",
    "properties": {"event_time": {"type": "string", "format": "date-time"}},
    "required": ["event_time"],
}


@dataclass
class ParsedDag:
    """What an exported file declares, read with `ast`."""

    kwargs: dict[str, ast.expr]
    tasks: dict[str, tuple[str, dict[str, ast.expr]]]
    """task id → (operator class, its keyword arguments)."""
    edges: set[tuple[str, str]]
    module: ast.Module

    def task_value(self, task_id: str, name: str) -> Any:
        return ast.literal_eval(self.tasks[task_id][1][name])

    def seconds(self, task_id: str, name: str) -> float:
        """A `timedelta(seconds=N)` argument's N."""
        call = self.tasks[task_id][1][name]
        assert isinstance(call, ast.Call) and ast.unparse(call.func) == "timedelta"
        value = ast.literal_eval(call.keywords[0].value)
        assert call.keywords[0].arg == "seconds" and isinstance(value, float)
        return value

    def bash_argv(self, task_id: str) -> list[str]:
        return shlex.split(self.task_value(task_id, "bash_command"))

    def data_day(self, logical_date: datetime | None, run_after: datetime) -> str:
        """Run the file's `bdp_data_day` (it needs no Airflow)."""
        wanted = [node for node in self.module.body if _needs_no_airflow(node)]
        namespace: dict[str, Any] = {}
        exec(compile(ast.Module(body=wanted, type_ignores=[]), "<day>", "exec"), namespace)
        day: str = namespace["bdp_data_day"](logical_date, run_after)
        return day


def _needs_no_airflow(node: ast.stmt) -> bool:
    """The file's constants, stdlib imports and `bdp_data_day`: all but Airflow's part."""
    if isinstance(node, ast.ImportFrom):
        return not (node.module or "").startswith("airflow")
    return isinstance(node, ast.FunctionDef | ast.Assign)


def parse(source: str) -> ParsedDag:
    module = ast.parse(source)
    with_dag = next(node for node in module.body if isinstance(node, ast.With))
    dag_call = with_dag.items[0].context_expr
    assert isinstance(dag_call, ast.Call) and ast.unparse(dag_call.func) == "DAG"
    tasks: dict[str, tuple[str, dict[str, ast.expr]]] = {}
    edges = set()
    for stmt in with_dag.body:
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call):
            target = stmt.targets[0]
            assert isinstance(target, ast.Subscript)
            key = ast.literal_eval(target.slice)
            kwargs = {k.arg: k.value for k in stmt.value.keywords if k.arg}
            assert ast.literal_eval(kwargs["task_id"]) == key
            tasks[key] = (ast.unparse(stmt.value.func), kwargs)
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.BinOp):
            assert isinstance(stmt.value.op, ast.RShift)
            left, right = stmt.value.left, stmt.value.right
            assert isinstance(left, ast.Subscript) and isinstance(right, ast.Subscript)
            edges.add((ast.literal_eval(left.slice), ast.literal_eval(right.slice)))
    kwargs = {k.arg: k.value for k in dag_call.keywords if k.arg}
    return ParsedDag(kwargs, tasks, edges, module)


def topological(nodes: set[str], edges: set[tuple[str, str]]) -> list[str]:
    """An order of `nodes`; raises `graphlib.CycleError` on a cycle."""
    graph: dict[str, set[str]] = {node: set() for node in nodes}
    for upstream, downstream in edges:
        graph[downstream].add(upstream)
    return list(graphlib.TopologicalSorter(graph).static_order())


def model_edges(dag: Dag) -> set[tuple[str, str]]:
    return {(up, task.task_id) for task in dag.tasks for up in task.upstream}


@pytest.fixture
def command(tmp_path: Path) -> BdpCommand:
    return BdpCommand("/opt/bdp env/bin/bdp", tmp_path / "home", tmp_path / "bdp.toml")


@pytest.fixture
def seoul_dags(tmp_path: Path) -> dict[str, Dag]:
    """Every DAG of a platform in Asia/Seoul with a declared dataset, one DAG on a
    six-hourly schedule and one disabled."""
    import orjson

    (tmp_path / "clicks.json").write_bytes(orjson.dumps(SCHEMA))
    (tmp_path / "bdp.toml").write_text(
        '[platform]\ntimezone = "Asia/Seoul"\n'
        '[datasets.clicks]\nschema = "clicks.json"\nevent_time = "event_time"\n'
        '[scheduler.dags.raw_compaction]\nschedule = "0 */6 * * *"\n'
        "[scheduler.dags.lake_retention]\nenabled = false\n"
        "[scheduler.dags.weblogs]\ndepends_on_past = true\nretries = 5\n"
    )
    settings = load_settings(tmp_path / "bdp.toml", tmp_path / "home")
    return build_dags(settings)


def test_every_exported_file_compiles_and_declares_the_dags_tasks_and_edges(
    seoul_dags: dict[str, Dag], command: BdpCommand
) -> None:
    assert {"gamelogs", "weblogs", "clicks", "raw_compaction"} <= set(seoul_dags)
    for dag in seoul_dags.values():
        source = render_dag(dag, command, START)
        compile(source, file_name(dag.dag_id), "exec")
        parsed = parse(source)
        assert ast.literal_eval(parsed.kwargs["dag_id"]) == dag.dag_id
        assert list(parsed.tasks) == [task.task_id for task in dag.tasks]
        assert parsed.edges == model_edges(dag)
        # Both graphs are acyclic, in the same order.
        order = topological(set(parsed.tasks), parsed.edges)
        assert order == topological({t.task_id for t in dag.tasks}, model_edges(dag))
        assert ast.literal_eval(parsed.kwargs["catchup"]) == dag.catchup
        assert ast.literal_eval(parsed.kwargs["max_active_runs"]) == dag.max_active_runs
        assert ast.literal_eval(parsed.kwargs["tags"]) == list(dag.tags)


def test_the_daily_dag_waits_with_a_sensor_then_runs_bdp_dag_task_for_each_step(
    seoul_dags: dict[str, Dag], command: BdpCommand
) -> None:
    dag = seoul_dags["gamelogs"]
    parsed = parse(render_dag(dag, command, START))
    operators = {task_id: operator for task_id, (operator, _) in parsed.tasks.items()}
    assert operators == {
        "wait_complete": "BashSensor",
        "etl": "BashOperator",
        "load": "BashOperator",
        "quality": "BashOperator",
        "report": "BashOperator",
    }
    prefix = [command.executable, "--config", str(command.config), "--home", str(command.home)]
    day = "{{ bdp_data_day(logical_date, dag_run.run_after) }}"
    for task_id in operators:
        argv = parsed.bash_argv(task_id)
        poke = ["--poke"] if task_id == "wait_complete" else []
        assert argv == [*prefix, "dag", "task", "gamelogs", task_id, "--date", day, *poke]
    sensor = dag.task("wait_complete")
    assert parsed.task_value("wait_complete", "retry_exit_code") == 75
    assert parsed.task_value("wait_complete", "mode") == "reschedule"
    assert parsed.task_value("wait_complete", "poke_interval") == sensor.poke_interval_seconds
    assert parsed.task_value("wait_complete", "timeout") == sensor.timeout_seconds
    assert "execution_timeout" not in parsed.tasks["wait_complete"][1]


def test_retries_backoff_timeouts_and_depends_on_past_are_the_tasks(
    seoul_dags: dict[str, Dag], command: BdpCommand
) -> None:
    dag = seoul_dags["weblogs"]
    assert dag.task("etl").retries == 5 and dag.task("etl").depends_on_past
    parsed = parse(render_dag(dag, command, START))
    for task in dag.tasks:
        assert parsed.task_value(task.task_id, "retries") == task.retries
        assert parsed.task_value(task.task_id, "depends_on_past") == task.depends_on_past
        assert parsed.seconds(task.task_id, "retry_delay") == task.retry_delay_seconds
        assert parsed.seconds(task.task_id, "max_retry_delay") == task.retry_max_delay_seconds
        assert parsed.task_value(task.task_id, "retry_exponential_backoff") == 2.0
        if not task.sensor:
            assert parsed.seconds(task.task_id, "execution_timeout") == task.timeout_seconds
            assert parsed.task_value(task.task_id, "skip_on_exit_code") is None


def test_a_daily_cron_has_data_intervals_and_the_logical_dates_local_date_is_day_d(
    seoul_dags: dict[str, Dag], command: BdpCommand
) -> None:
    dag = seoul_dags["gamelogs"]
    parsed = parse(render_dag(dag, command, START))
    assert ast.unparse(parsed.kwargs["schedule"]) == (
        "CronDataIntervalTimetable('0 9 * * *', timezone=TIMEZONE)"
    )
    seoul = ZoneInfo("Asia/Seoul")
    fires = dag.fire_times(datetime(2024, 3, 28, tzinfo=seoul))
    previous = next(fires)
    for _ in range(10):
        fire = next(fires)
        # A scheduled run fires at the end of its interval; its logical date is the start.
        assert parsed.data_day(previous.astimezone(UTC), fire) == str(data_day(fire, seoul))
        previous = fire
    # `airflow dags test gamelogs 2024-04-09T09:00:00+09:00` processes 2024-04-09.
    manual = datetime(2024, 4, 9, 9, tzinfo=seoul)
    assert parsed.data_day(manual, datetime.now(UTC)) == "2024-04-09"
    # A run triggered without a logical date processes the day before, in the timezone.
    triggered = datetime(2024, 4, 9, 16, tzinfo=UTC)  # 2024-04-10 01:00 in Seoul
    assert parsed.data_day(None, triggered) == "2024-04-09"


def test_another_cron_fires_by_trigger_and_its_day_is_the_one_before_the_fire_time(
    seoul_dags: dict[str, Dag], command: BdpCommand
) -> None:
    dag = seoul_dags["raw_compaction"]
    assert day_offset(dag) == 1
    parsed = parse(render_dag(dag, command, START))
    assert ast.unparse(parsed.kwargs["schedule"]) == (
        "CronTriggerTimetable('0 */6 * * *', timezone=TIMEZONE)"
    )
    seoul = ZoneInfo("Asia/Seoul")
    fires = dag.fire_times(datetime(2024, 4, 9, 1, tzinfo=seoul))
    for _ in range(8):
        fire = next(fires)
        assert parsed.data_day(fire.astimezone(UTC), fire) == str(data_day(fire, seoul))


def test_the_first_scheduled_run_processes_the_start_day(
    seoul_dags: dict[str, Dag], command: BdpCommand
) -> None:
    daily = parse(render_dag(seoul_dags["gamelogs"], command, START))
    assert ast.unparse(daily.kwargs["start_date"]) == ("pendulum.datetime(2024, 4, 9, tz=TIMEZONE)")
    # The trigger timetable's first fire at or after 04-10 00:00 is that one: D = 04-09.
    trigger = parse(render_dag(seoul_dags["raw_compaction"], command, START))
    assert ast.unparse(trigger.kwargs["start_date"]) == (
        "pendulum.datetime(2024, 4, 10, tz=TIMEZONE)"
    )


def test_a_disabled_dag_or_one_without_schedule_only_runs_when_asked(
    seoul_dags: dict[str, Dag], command: BdpCommand
) -> None:
    assert not seoul_dags["lake_retention"].enabled
    parsed = parse(render_dag(seoul_dags["lake_retention"], command, START))
    assert ast.unparse(parsed.kwargs["schedule"]) == "None"
    unscheduled = replace(seoul_dags["gamelogs"], schedule=None)
    parsed = parse(render_dag(unscheduled, command, START))
    assert ast.unparse(parsed.kwargs["schedule"]) == "None"
    logical = datetime(2024, 4, 9, 9, tzinfo=ZoneInfo("Asia/Seoul"))
    assert parsed.data_day(logical, datetime.now(UTC)) == "2024-04-09"
    assert "CronDataIntervalTimetable" not in render_dag(unscheduled, command, START)


def test_a_dag_without_tasks_gets_an_empty_operator(command: BdpCommand) -> None:
    empty = Dag(dag_id="nothing_yet", tasks=(), schedule="0 1 * * *", timezone="UTC")
    source = render_dag(empty, command, START)
    compile(source, "x", "exec")
    assert {task_id: op for task_id, (op, _) in parse(source).tasks.items()} == {
        "nothing": "EmptyOperator"
    }
    assert "DummyOperator" not in source


@pytest.mark.parametrize("dag_id", ["bad-id", "../escape", "1st", "", "a b", "x.py"])
def test_an_unsafe_dag_id_is_refused(dag_id: str, command: BdpCommand) -> None:
    with pytest.raises(AirflowExportError, match="not a safe identifier"):
        file_name(dag_id)
    dag = Dag(dag_id=dag_id, tasks=(Task("t", "etl"),), schedule=None, timezone="UTC")
    with pytest.raises(AirflowExportError):
        render_dag(dag, command, START)


def test_an_unsafe_task_id_is_refused(command: BdpCommand) -> None:
    dag = Dag(dag_id="ok", tasks=(Task("t'); import os; #", "etl"),), schedule=None, timezone="UTC")
    with pytest.raises(AirflowExportError, match="task id"):
        render_dag(dag, command, START)


def test_paths_that_look_like_templates_or_need_quoting_reach_bdp_intact(tmp_path: Path) -> None:
    home = tmp_path / "it's {{ home }}"
    command = BdpCommand("/usr/bin/bdp", home, None)
    dag = Dag(dag_id="d", tasks=(Task("etl", "etl"),), schedule=None, timezone="UTC")
    bash = parse(render_dag(dag, command, START)).task_value("etl", "bash_command")
    assert bash.startswith("{% raw %}") and "{% endraw %} --date '{{ bdp_data_day(" in bash
    literal = bash.removeprefix("{% raw %}").split("{% endraw %}")[0]
    assert shlex.split(literal) == ["/usr/bin/bdp", "--home", str(home), "dag", "task", "d", "etl"]


def test_export_writes_a_file_per_dag_replaces_on_re_export_and_removes_stale_ones(
    tmp_path: Path, seoul_dags: dict[str, Dag], command: BdpCommand
) -> None:
    out = tmp_path / "dags"
    out.mkdir()
    foreign = out / "bdp_mine.py"
    foreign.write_text("# a file of the user's own\n")
    stale = out / "bdp_gone.py"
    stale.write_text(MARKER + " from the DAG 'gone'\n")
    written, removed = export_dags(seoul_dags, out, command, START)
    assert {f.path.name for f in written} == {f"bdp_{dag_id}.py" for dag_id in seoul_dags}
    assert removed == [stale]
    assert foreign.exists()
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [foreign.name, *(f.path.name for f in written)]
    )  # nothing else: no temporary files left
    first = (out / "bdp_gamelogs.py").read_text()
    assert first.startswith(MARKER)
    export_dags(seoul_dags, out, replace(command, executable="/elsewhere/bdp"), START)
    again = (out / "bdp_gamelogs.py").read_text()
    assert again != first and "/elsewhere/bdp" in again
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [foreign.name, *(f.path.name for f in written)]
    )


def test_export_writes_nothing_when_a_dag_cannot_be_exported(
    tmp_path: Path, command: BdpCommand
) -> None:
    good = Dag(dag_id="good", tasks=(Task("etl", "etl"),), schedule=None, timezone="UTC")
    bad = Dag(dag_id="bad-one", tasks=(Task("etl", "etl"),), schedule=None, timezone="UTC")
    with pytest.raises(AirflowExportError):
        export_dags({"good": good, "bad-one": bad}, tmp_path / "out", command, START)
    assert not (tmp_path / "out").exists()


def test_find_bdp_executable_checks_a_given_path_and_makes_it_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "bdp"
    script.write_text("#!/bin/sh\n")
    with pytest.raises(AirflowExportError, match="not an executable"):
        find_bdp_executable(str(script))
    script.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    assert find_bdp_executable("bdp") == str(script)
    with pytest.raises(AirflowExportError, match="not an executable"):
        find_bdp_executable(str(tmp_path / "missing"))


def test_find_bdp_executable_defaults_to_the_one_beside_this_python_or_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").write_text("")
    monkeypatch.setattr("sys.executable", str(bin_dir / "python"))
    monkeypatch.setattr("sys.argv", ["pytest"])
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(AirflowExportError, match="--bdp PATH"):
        find_bdp_executable()
    on_path = tmp_path / "empty" / "bdp"
    on_path.parent.mkdir()
    on_path.write_text("#!/bin/sh\n")
    on_path.chmod(0o755)
    assert find_bdp_executable() == str(on_path)
    (bin_dir / "bdp").write_text("#!/bin/sh\n")
    (bin_dir / "bdp").chmod(0o755)
    assert find_bdp_executable() == str(bin_dir / "bdp")


def test_day_offset_is_zero_only_for_one_fire_a_day() -> None:
    def dag(schedule: str | None) -> Dag:
        return Dag(dag_id="d", tasks=(), schedule=schedule, timezone="UTC")

    assert day_offset(dag("0 9 * * *")) == 0
    assert day_offset(dag("59 23 * * *")) == 0
    assert day_offset(dag(None)) == 0
    for schedule in ("0 9 * * 1-5", "*/5 * * * *", "0 9,21 * * *", "0 9 1 * *"):
        assert day_offset(dag(schedule)) == 1, schedule


def test_day_d_is_stable_across_a_daylight_saving_change(command: BdpCommand) -> None:
    tz = "America/New_York"
    dag = Dag(dag_id="d", tasks=(Task("etl", "etl"),), schedule="30 2 * * *", timezone=tz)
    parsed = parse(render_dag(dag, command, START))
    zone = ZoneInfo(tz)
    # 2024-03-10 02:30 does not exist in New York; the run of that day is still D.
    fires = dag.fire_times(datetime(2024, 3, 7, tzinfo=zone))
    previous = next(fires)
    for _ in range(6):
        fire = next(fires)
        assert parsed.data_day(previous.astimezone(UTC), fire) == str(data_day(fire, zone))
        assert fire.astimezone(zone).date() - previous.astimezone(zone).date() == timedelta(1)
        previous = fire
