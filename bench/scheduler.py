"""Built-in scheduler vs Apache Airflow 3 (`airflow dags test`), side by side in one run.

Measures, on the same machine and in the same run:

1. Hand-off latency between dependent tasks: the time from the end of an upstream
   task's work to the start of its downstream task.
   - A chain of `--chain-tasks` no-op tasks (`--chain-runs` times), each recording
     `time.time()` when its function starts and ends: a bdp `Dag` of operations of this
     module run by `Scheduler`, and an Airflow DAG of `PythonOperator`s run by
     `airflow dags test`. Latency = next task's start − previous task's end.
   - The real daily DAG of weblogs (wait_complete → etl → load → quality → report). On
     bdp, each try's own log gives the moment its process began the operation and the
     moment it was done. On Airflow (the DAG that `bdp airflow export` writes), each
     task runs `bdp dag task`; a wrapper around that command records when it started
     and exited, and Airflow's database has each task instance's start and end.
2. One day of weblogs end to end: `bdp dag run weblogs --date D` against
   `airflow dags test weblogs <D at the DAG's fire time>`, wall seconds of each command.
3. A backfill of `--days` days (default 30) of weblogs: `bdp dag backfill` (as
   configured, and one day at a time) against `airflow dags test` once per day, one
   after the other, which is how Airflow runs a DAG without its scheduler. The rows
   each loaded into its warehouse are compared day by day.

Every side works on its own copy of one data home into which the days were simulated
and landed (`--users` weblogs clients a day), and Airflow on a home of its own (its
SQLite database migrated there). Airflow comes from `stack/airflow start`; without it
the benchmark refuses to run.

    python bench/scheduler.py                 # 30 days, 20-task chain × 3
    python bench/scheduler.py --days 3        # a quick run
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from bdp.config import Settings
    from bdp.orchestrate.dag import Dag
    from bdp.orchestrate.operations import TaskContext

ROOT = Path(__file__).resolve().parents[1]
STACK = ROOT / "stack" / "airflow"
MODULE = "bench.scheduler"
"""This module's import name: the chain's operations are `bench.scheduler:<function>`."""
TARGET_MS = 100.0
DATASET = "weblogs"
FIRST_DAY = dt.date(2024, 4, 1)
CHAIN_DAG = "bench_chain"
LOG_TIME = "%Y-%m-%d %H:%M:%S,%f"


# -- the chain's operations (run in the scheduler's worker processes) ------------------


def noop(ctx: TaskContext) -> dict[str, Any]:
    """Does nothing, and writes when it began and ended to `params["journal"]`."""
    began = time.time()
    ended = time.time()
    with open(ctx.dag.params["journal"], "a", encoding="utf-8") as out:
        out.write(f"{ctx.task.task_id} {began!r} {ended!r}\n")
    return {}


AIRFLOW_CHAIN = '''\
"""A chain of no-op tasks, each writing when its function began and ended."""

import time

import pendulum
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

JOURNAL = {journal!r}


def noop(task_id):
    began = time.time()
    ended = time.time()
    with open(JOURNAL, "a", encoding="utf-8") as out:
        out.write(f"{{task_id}} {{began!r}} {{ended!r}}\\n")


with DAG(
    dag_id={dag_id!r},
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
) as dag:
    previous = None
    for i in range({tasks}):
        task_id = f"t{{i:02d}}"
        task = PythonOperator(task_id=task_id, python_callable=noop, op_args=[task_id])
        if previous is not None:
            previous >> task
        previous = task
'''

WRAPPER = """\
#!/bin/sh
# Runs bdp, then writes when it started and exited (epoch seconds), its exit code and
# its arguments to the journal.
began=$(date +%s.%N)
{bdp} "$@"
code=$?
ended=$(date +%s.%N)
echo "$began $ended $code $*" >> {journal}
exit $code
"""


# -- statistics ------------------------------------------------------------------------


@dataclass
class Gaps:
    """Hand-off latencies, in seconds."""

    label: str
    seconds: list[float] = field(default_factory=list)

    def row(self) -> str:
        if not self.seconds:
            return f"{self.label:<50} {0:>4}  (none)"
        ms = sorted(s * 1000 for s in self.seconds)
        median = statistics.median(ms)
        p95 = ms[max(0, math.ceil(0.95 * len(ms)) - 1)]
        return (
            f"{self.label:<50} {len(ms):>4} {median:>8.1f} {p95:>8.1f} {ms[-1]:>8.1f} "
            f"{median / TARGET_MS:>9.2f}x"
        )


def gaps_between(spans: Sequence[tuple[float, float]]) -> list[float]:
    """Next start − previous end along a chain of (start, end) spans in order."""
    return [spans[i + 1][0] - spans[i][1] for i in range(len(spans) - 1)]


# -- Airflow ---------------------------------------------------------------------------


class Airflow:
    """Airflow's CLI from the stack's venv, on a home of its own with a clean environment
    (none of bdp's settings or import path)."""

    def __init__(self, executable: str, home: Path) -> None:
        self.executable = executable
        self.home = home
        self.dags = home / "dags"
        self.dags.mkdir(parents=True)
        clean = os.environ.items()
        self.env = {k: v for k, v in clean if not k.startswith(("AIRFLOW", "BDP_", "PYTHON"))}
        self.env.update(
            AIRFLOW_HOME=str(home),
            AIRFLOW__CORE__DAGS_FOLDER=str(self.dags),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
        )
        self.run("db", "migrate")

    def run(self, *args: str) -> float:
        """Run an `airflow` command to success; its wall seconds."""
        began = time.perf_counter()
        done = subprocess.run(
            [self.executable, *args],
            env=self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        seconds = time.perf_counter() - began
        if done.returncode != 0:
            tail = (done.stdout + done.stderr)[-3000:]
            raise SystemExit(f"airflow {' '.join(args)} failed ({done.returncode}):\n{tail}")
        return seconds

    def version(self) -> str:
        done = subprocess.run(
            [self.executable, "version"], env=self.env, capture_output=True, text=True, check=False
        )
        return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "?"

    def task_spans(self, dag_id: str) -> dict[str, list[tuple[str, float, float]]]:
        """Each run's task instances as (task, start, end), by logical date, from Airflow's
        own database (read-only)."""
        uri = f"file:{self.home / 'airflow.db'}?mode=ro"
        conn = sqlite3.connect(uri, uri=True)
        try:
            rows = conn.execute(
                "SELECT r.logical_date, ti.task_id, ti.start_date, ti.end_date "
                "FROM task_instance ti JOIN dag_run r "
                "ON r.dag_id = ti.dag_id AND r.run_id = ti.run_id "
                "WHERE ti.dag_id = ? AND ti.start_date IS NOT NULL ORDER BY ti.start_date",
                (dag_id,),
            ).fetchall()
        finally:
            conn.close()
        runs: dict[str, list[tuple[str, float, float]]] = {}
        for logical, task, start, end in rows:
            runs.setdefault(str(logical), []).append((task, _utc(start), _utc(end)))
        return runs


def _utc(text: str) -> float:
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def find_airflow() -> str:
    """The stack's `airflow` executable, or exit with one line saying how to get it."""
    refuse = "Apache Airflow is not installed: run `stack/airflow start` first"
    if not STACK.is_file():
        raise SystemExit(refuse)
    status = subprocess.run([str(STACK), "status"], capture_output=True, text=True, check=False)
    if status.returncode != 0:
        raise SystemExit(refuse)
    env = subprocess.run([str(STACK), "env"], capture_output=True, text=True, check=True)
    for line in env.stdout.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and words[1].startswith("BDP_AIRFLOW="):
            return words[1].split("=", 1)[1]
    raise SystemExit(refuse)


# -- bdp -------------------------------------------------------------------------------


def bdp_argv() -> list[str]:
    """The bdp command, as a user runs it: the executable beside this Python."""
    beside = Path(sys.executable).parent / "bdp"
    return [str(beside)] if beside.is_file() else [sys.executable, "-m", "bdp"]


def bdp(home: Path, *args: str, environ: dict[str, str] | None = None) -> tuple[float, Any]:
    """Run a bdp command with `--json` on `home` to success: its wall seconds and output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BDP_")}
    env.update(environ or {})
    began = time.perf_counter()
    done = subprocess.run(
        [*bdp_argv(), "--home", str(home), *args, "--json"],
        env=env,
        cwd=home.parent,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"bdp {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds, json.loads(done.stdout)


def home_settings(home: Path) -> Settings:
    from bdp.config import load_settings

    return load_settings(home=home, environ={}, cwd=home.parent)


def land_days(home: Path, days: list[dt.date], users: int, seed: int) -> int:
    """Simulate `users` weblogs clients on each day and land them in the lake; events."""
    from bdp.bus import open_bus
    from bdp.clock import day_start_ms
    from bdp.lake import open_lake
    from bdp.simulate import SimulationParams, send_events, simulate
    from bdp.stream.embedded import EmbeddedStreamJob

    settings = home_settings(home)
    sent = 0
    with open_bus(settings) as bus:
        bus.create_topic(DATASET)
        with bus.producer() as producer:
            for day in days:
                # Sessions start at noon, so every event falls on its day.
                start_ms = day_start_ms(day, settings.tz, dt.time(12))
                params = SimulationParams(start_ms=start_ms, seed=seed, users=users)
                sent += send_events(producer, DATASET, simulate(DATASET, params))
        EmbeddedStreamJob(settings, open_lake(settings), [DATASET], bus=bus).run(until_idle=True)
    return sent


def try_spans(runs: list[dict[str, Any]]) -> dict[str, list[tuple[str, float, float]]]:
    """Each run's tasks as (task, start, end) of its successful try, by day: when the
    try's process began the operation and when it was done, from the try's log."""
    spans: dict[str, list[tuple[str, float, float]]] = {}
    for run in runs:
        chain = []
        for task in run["tasks"]:
            done = [t for t in task["history"] if t["state"] == "success"]
            if not done or not done[-1]["log"]:
                raise SystemExit(f"{run['dag_id']} {run['dt']}: {task['task_id']} did not succeed")
            began, ended = log_span(Path(done[-1]["log"]))
            chain.append((task["task_id"], began, ended))
        spans[run["dt"]] = chain
    return spans


def handoff_parts(runs: list[dict[str, Any]]) -> tuple[Gaps, Gaps]:
    """bdp's hand-offs split at the scheduler's turn that started the downstream try (the
    try's `started_at` in the state database): the upstream try done → that turn began
    (its process writes its outcome and exits, the scheduler wakes up), and that turn →
    the downstream try's process began (the scheduler records both tries in the state
    database, the fork server forks, the new process starts up)."""
    notice = Gaps("  upstream done → the scheduler's turn")
    start = Gaps("  the scheduler's turn → downstream process began")
    for run in runs:
        previous: float | None = None
        for task in run["tasks"]:
            done = [t for t in task["history"] if t["state"] == "success"][-1]
            began, ended = log_span(Path(done["log"]))
            turn = dt.datetime.fromisoformat(done["started_at"]).timestamp()
            if previous is not None:
                notice.seconds.append(turn - previous)
                start.seconds.append(began - turn)
            previous = ended
    return notice, start


def log_span(path: Path) -> tuple[float, float]:
    """The times of a try log's first line (the try began, in its process) and of its
    `outcome` line (the operation returned), as epoch seconds."""
    lines = path.read_text(encoding="utf-8").splitlines()
    outcome = [line for line in lines if " bdp.orchestrate outcome " in line]
    return _log_time(lines[0]), _log_time(outcome[-1])


def _log_time(line: str) -> float:
    # Logging's asctime: local time, milliseconds.
    return dt.datetime.strptime(line[:23], LOG_TIME).timestamp()


def warehouse_rows(home: Path) -> dict[str, dict[str, tuple[int, int]]]:
    """Per table of the dataset, per day: (rows, a checksum of the rows)."""
    import duckdb

    from bdp.etl.transforms import get_transform

    settings = home_settings(home)
    found: dict[str, dict[str, tuple[int, int]]] = {}
    con = duckdb.connect(str(settings.paths.warehouse), read_only=True)
    try:
        for table in get_transform(DATASET).TABLES:
            rows = con.execute(
                f"SELECT dt, count(*), sum(hash(t)) FROM {table} AS t GROUP BY dt ORDER BY dt"
            ).fetchall()
            found[table] = {str(day): (int(n), int(h)) for day, n, h in rows}
    finally:
        con.close()
    return found


# -- the measurements ------------------------------------------------------------------


def builtin_chain(work: Path, tasks: int, runs: int) -> Gaps:
    """The chain on bdp's scheduler, `runs` times (one run after the other)."""
    from bdp.orchestrate.dag import Dag, Task
    from bdp.orchestrate.scheduler import Scheduler
    from bdp.orchestrate.state import StateStore

    home = work / "chain-bdp"
    journal = work / "chain-bdp.journal"
    steps: list[Task] = []
    for i in range(tasks):
        steps.append(
            Task(
                task_id=f"t{i:02d}",
                operation=f"{MODULE}:noop",
                upstream=(steps[-1].task_id,) if steps else (),
                retries=0,
            )
        )
    dag = Dag(
        dag_id=CHAIN_DAG,
        tasks=tuple(steps),
        schedule=None,
        timezone="UTC",
        params={"journal": str(journal)},
    )
    settings = home_settings(home)
    store = StateStore(settings.paths.state)
    gaps = Gaps(f"bdp scheduler, no-op chain ({tasks} tasks × {runs})")
    for n in range(runs):
        journal.unlink(missing_ok=True)
        day = FIRST_DAY + dt.timedelta(days=n)
        run_id = store.create_run(dag, day, "manual", dt.datetime.now(dt.UTC))
        assert run_id is not None
        Scheduler(settings, {dag.dag_id: dag}, schedule=False, only_runs=[run_id]).run(
            until_idle=True
        )
        gaps.seconds += gaps_between(read_chain(journal))
    return gaps


def airflow_chain(airflow: Airflow, work: Path, tasks: int, runs: int) -> Gaps:
    journal = work / "chain-airflow.journal"
    (airflow.dags / f"{CHAIN_DAG}.py").write_text(
        AIRFLOW_CHAIN.format(journal=str(journal), dag_id=CHAIN_DAG, tasks=tasks)
    )
    gaps = Gaps(f"airflow dags test, no-op chain ({tasks} tasks × {runs})")
    for n in range(runs):
        journal.unlink(missing_ok=True)
        day = FIRST_DAY + dt.timedelta(days=n)
        airflow.run("dags", "test", CHAIN_DAG, f"{day.isoformat()}T00:00:00+00:00")
        gaps.seconds += gaps_between(read_chain(journal))
    (airflow.dags / f"{CHAIN_DAG}.py").unlink()
    return gaps


def read_chain(journal: Path) -> list[tuple[float, float]]:
    spans = []
    for line in journal.read_text(encoding="utf-8").splitlines():
        task, began, ended = line.split()
        spans.append((task, float(began), float(ended)))
    spans.sort(key=lambda s: s[1])  # by start: the chain's order
    return [(began, ended) for _, began, ended in spans]


@dataclass
class AirflowDays:
    """`airflow dags test` of the weblogs DAG, one day after the other."""

    seconds: list[float]
    """Wall seconds of each command."""
    before_first_task: list[float]
    """From the command's start to its first task's `bdp` process starting."""
    process_spans: dict[str, list[tuple[str, float, float]]]
    """Per day, each task's `bdp dag task` process: (task, started, exited)."""
    instance_spans: dict[str, list[tuple[str, float, float]]]
    """Per logical date, each task instance as Airflow recorded it."""


def airflow_days(airflow: Airflow, home: Path, days: list[dt.date], work: Path) -> AirflowDays:
    """Export the weblogs DAG for `home` and run `airflow dags test` for each day."""
    from bdp.orchestrate.airflow_export import day_offset
    from bdp.orchestrate.dags import get_dag

    journal = work / f"{home.name}.tasks"
    wrapper = work / f"{home.name}.bdp"
    bdp_command = shlex.join(bdp_argv())
    wrapper.write_text(WRAPPER.format(bdp=bdp_command, journal=shlex.quote(str(journal))))
    wrapper.chmod(0o755)
    exported = work / f"{home.name}.export"
    bdp(
        home,
        "airflow",
        "export",
        "--out",
        str(exported),
        "--bdp",
        str(wrapper),
        "--start-date",
        days[0].isoformat(),
    )
    shutil.copy(exported / f"bdp_{DATASET}.py", airflow.dags / f"bdp_{DATASET}.py")

    dag = get_dag(home_settings(home), DATASET)
    assert day_offset(dag) == 0, "a daily cron: the logical date's local date is day D"
    seconds, before = [], []
    for day in days:
        began = time.time()
        seconds.append(airflow.run("dags", "test", DATASET, logical_date(dag, day)))
        first = min(start for _, start, _ in read_wrapper(journal).get(day.isoformat(), []))
        before.append(first - began)
    return AirflowDays(seconds, before, read_wrapper(journal), airflow.task_spans(DATASET))


def logical_date(dag: Dag, day: dt.date) -> str:
    """The logical date of the Airflow run that processes `day`: `day` at the daily
    cron's time, in the DAG's timezone (its data interval begins then)."""
    assert dag.schedule is not None
    minute, hour = (int(f) for f in dag.schedule.split()[:2])
    return dt.datetime.combine(day, dt.time(hour, minute), ZoneInfo(dag.timezone)).isoformat()


def read_wrapper(journal: Path) -> dict[str, list[tuple[str, float, float]]]:
    """Per day, the `bdp dag task` processes Airflow ran: (task, started, exited)."""
    days: dict[str, list[tuple[str, float, float]]] = {}
    if not journal.exists():
        return days
    for line in journal.read_text(encoding="utf-8").splitlines():
        began, ended, _code, *args = line.split()
        task = args[args.index("task") + 2]
        day = args[args.index("--date") + 1]
        days.setdefault(day, []).append((task, float(began), float(ended)))
    for spans in days.values():
        spans.sort(key=lambda s: s[1])
    return days


def chain_gaps(label: str, runs: Iterable[list[tuple[str, float, float]]]) -> Gaps:
    gaps = Gaps(label)
    for spans in runs:
        gaps.seconds += gaps_between([(began, ended) for _, began, ended in spans])
    return gaps


def task_seconds(runs: Iterable[list[tuple[str, float, float]]]) -> dict[str, float]:
    """Median seconds of each task over the runs."""
    by_task: dict[str, list[float]] = {}
    for spans in runs:
        for task, began, ended in spans:
            by_task.setdefault(task, []).append(ended - began)
    return {task: statistics.median(values) for task, values in by_task.items()}


# -- the run ---------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30, help="days of the backfill")
    parser.add_argument("--users", type=int, default=15, help="weblogs clients a day")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chain-tasks", type=int, default=20)
    parser.add_argument("--chain-runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args()
    if args.days < 1 or args.chain_tasks < 2 or args.chain_runs < 1:
        parser.error("--days ≥ 1, --chain-tasks ≥ 2 and --chain-runs ≥ 1")
    executable = find_airflow()
    # The scheduler's worker processes import the chain's operations by name.
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))

    work = Path(tempfile.mkdtemp(prefix="bdp-bench-scheduler-"))
    try:
        run(args, executable, work)
    finally:
        if args.keep:
            print(f"working directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, executable: str, work: Path) -> None:
    days = [FIRST_DAY + dt.timedelta(days=n) for n in range(args.days)]
    source = work / "landed"
    began = time.perf_counter()
    events = land_days(source, days, args.users, args.seed)
    print(
        f"{DATASET}: {args.days} days from {days[0]}, {args.users} clients a day, "
        f"{events:,} events landed in {time.perf_counter() - began:.1f} s"
    )
    homes = {}
    for name in ("day-bdp", "day-airflow", "fill-bdp", "fill-bdp-1", "fill-airflow"):
        homes[name] = work / name
        shutil.copytree(source, homes[name])

    airflow = Airflow(executable, work / "airflow-chain")
    print(f"Apache Airflow {airflow.version()}: `airflow dags test` (no scheduler, no executor)")
    print()

    # 1. The no-op chain.
    latency = [
        builtin_chain(work, args.chain_tasks, args.chain_runs),
        airflow_chain(airflow, work, args.chain_tasks, args.chain_runs),
    ]

    # 2. One day, end to end.
    day = days[0]
    began = time.time()
    bdp_day_s, bdp_day_runs = bdp(homes["day-bdp"], "dag", "run", DATASET, "--date", str(day))
    bdp_day = try_spans(bdp_day_runs)
    bdp_day_start = min(start for spans in bdp_day.values() for _, start, _ in spans) - began
    af_day = airflow_days(
        Airflow(executable, work / "airflow-day"), homes["day-airflow"], [day], work
    )

    # 3. The backfill.
    last = str(days[-1])
    fill_s, fill_runs = bdp(
        homes["fill-bdp"], "dag", "backfill", DATASET, "--from", str(days[0]), "--to", last
    )
    fill1_s, fill1_runs = bdp(
        homes["fill-bdp-1"],
        *("dag", "backfill", DATASET, "--from", str(days[0]), "--to", last),
        environ={"BDP_SCHEDULER__MAX_ACTIVE_RUNS_PER_DAG": "1"},
    )
    af_fill = airflow_days(
        Airflow(executable, work / "airflow-fill"), homes["fill-airflow"], days, work
    )
    parallel = home_settings(homes["fill-bdp"]).scheduler.max_active_runs_per_dag

    latency += [
        chain_gaps("bdp dag run, weblogs, one day", bdp_day.values()),
        chain_gaps("airflow dags test, weblogs, one day", af_day.process_spans.values()),
        chain_gaps(
            f"bdp dag backfill, weblogs, {parallel} days at once", try_spans(fill_runs).values()
        ),
        chain_gaps("bdp dag backfill, weblogs, 1 day at a time", try_spans(fill1_runs).values()),
        *handoff_parts(fill1_runs),
        chain_gaps(f"airflow dags test, weblogs, {args.days} days", af_fill.process_spans.values()),
        chain_gaps(
            "  as Airflow records it (task instance end→start)", af_fill.instance_spans.values()
        ),
    ]
    header = f"{'hand-off between dependent tasks, ms':<50} {'n':>4} {'median':>8} {'p95':>8}"
    print(f"{header} {'max':>8} {'vs 100 ms':>10}")
    for gaps in latency:
        print(gaps.row())
    print()

    per_task_bdp = task_seconds(try_spans(fill1_runs).values())
    per_task_af = task_seconds(af_fill.process_spans.values())
    print(f"{'seconds per task (median over days)':<36} {'bdp try':>8} {'airflow':>8} {'ratio':>6}")
    for task, seconds in per_task_bdp.items():
        other = per_task_af.get(task, math.nan)
        print(f"  {task:<34} {seconds:>8.2f} {other:>8.2f} {other / seconds:>5.1f}x")
    print()

    af_day_s = af_day.seconds[0]
    af_fill_s = sum(af_fill.seconds)
    print(f"{'wall seconds':<48} {'bdp':>8} {'airflow':>8} {'airflow/bdp':>12}")
    print(f"{'one day of ' + DATASET + ' (' + str(day) + ')':<48} ", end="")
    print(f"{bdp_day_s:>8.1f} {af_day_s:>8.1f} {af_day_s / bdp_day_s:>11.1f}x")
    label = f"backfill of {args.days} days, {parallel} days at once"
    print(f"{label:<48} {fill_s:>8.1f} {af_fill_s:>8.1f} {af_fill_s / fill_s:>11.1f}x")
    label = f"backfill of {args.days} days, 1 day at a time"
    print(f"{label:<48} {fill1_s:>8.1f} {af_fill_s:>8.1f} {af_fill_s / fill1_s:>11.1f}x")
    print(
        f"  before the first task's work began: bdp {bdp_day_start:.1f} s, "
        f"airflow {af_day.before_first_task[0]:.1f} s"
    )
    per_day = statistics.median(af_fill.seconds)
    start = statistics.median(af_fill.before_first_task)
    print(
        f"airflow dags test: {per_day:.1f} s a day (median), of which {start:.1f} s before "
        f"its first task's process starts; bdp one day at a time: {fill1_s / args.days:.1f} s"
        " a day"
    )
    print()

    wanted = warehouse_rows(homes["fill-airflow"])
    same = all(
        warehouse_rows(homes[name]) == wanted for name in ("fill-bdp", "fill-bdp-1")
    ) and warehouse_rows(homes["day-bdp"]) == warehouse_rows(homes["day-airflow"])
    counts = ", ".join(
        f"{table} {sum(n for n, _ in by_day.values()):,} rows in {len(by_day)} days"
        for table, by_day in wanted.items()
    )
    print(f"warehouse check (rows and checksum per table and day): {counts}")
    print(f"  bdp and Airflow loaded the same rows: {'yes' if same else 'NO'}")
    if not same or any(len(by_day) != args.days for by_day in wanted.values()):
        raise SystemExit("the warehouses differ, or miss days")


if __name__ == "__main__":
    main()
