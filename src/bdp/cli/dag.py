"""`bdp dag …` and `bdp scheduler run`: the DAGs, their runs, and the scheduler.

`dag run`, `backfill` and `clear` queue work in the state database. When a scheduler
runs on the data home it does that work (and the command waits for it, unless
`--no-wait`); when none runs, the command runs a scheduler of its own for just that
work and returns when it is done.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bdp.cli.app import state
from bdp.cli.options import JsonOption
from bdp.cli.output import console, errors, print_json, table

if TYPE_CHECKING:
    from bdp.config import Settings
    from bdp.orchestrate.state import DagRun

__all__ = ["register"]

dag_app = typer.Typer(help="The DAGs: list, run, backfill, clear, history.", no_args_is_help=True)
scheduler_app = typer.Typer(help="The built-in scheduler.", no_args_is_help=True)

NOT_READY_EXIT = 75
"""`dag task --poke` of a sensor whose condition does not hold yet (EX_TEMPFAIL)."""


def _day(text: str) -> dt.date:
    from bdp.clock import parse_day

    try:
        return parse_day(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


DayOption = Annotated[
    dt.date, typer.Option("--date", parser=_day, metavar="YYYY-MM-DD", help="The data day D.")
]
WaitOption = Annotated[
    bool,
    typer.Option(
        "--wait/--no-wait",
        help="Wait until the work is done (with no scheduler running, it is done here).",
    ),
]


@dag_app.command("list")
def list_dags(ctx: typer.Context, json: JsonOption = False) -> None:
    """Every DAG with its schedule, next run and last run."""
    from bdp.orchestrate import build_dags
    from bdp.orchestrate.state import StateStore

    settings = state(ctx).settings
    store = StateStore(settings.paths.state)
    now = dt.datetime.now(dt.UTC)
    rows: list[dict[str, Any]] = []
    for dag in build_dags(settings).values():
        last = store.runs(dag_id=dag.dag_id, limit=1, with_tasks=False)
        fire = next(iter(dag.fire_times(now))) if dag.schedule else None
        rows.append(
            {
                "dag_id": dag.dag_id,
                "schedule": dag.schedule,
                "timezone": dag.timezone,
                "enabled": dag.enabled,
                "catchup": dag.catchup,
                "tasks": [t.task_id for t in dag.tasks],
                "next_fire": fire.isoformat() if fire else None,
                "next_day": str(fire.date() - dt.timedelta(days=1)) if fire else None,
                "last_run": last[0].as_dict() if last else None,
            }
        )
    if json:
        print_json(rows)
        return
    console.print(
        table(
            "DAGs",
            ["dag", "schedule", "next run (local)", "tasks", "last day", "last state"],
            [
                (
                    r["dag_id"] + ("" if r["enabled"] else " (disabled)"),
                    r["schedule"] or "-",
                    r["next_fire"][:16].replace("T", " ") if r["next_fire"] else "-",
                    " → ".join(r["tasks"]),
                    r["last_run"]["dt"] if r["last_run"] else "-",
                    r["last_run"]["state"] if r["last_run"] else "-",
                )
                for r in rows
            ],
        )
    )


@dag_app.command("runs")
def runs(
    ctx: typer.Context,
    dag_id: Annotated[str | None, typer.Argument(help="Only this DAG.")] = None,
    day: Annotated[
        dt.date | None,
        typer.Option("--date", parser=_day, metavar="YYYY-MM-DD", help="Only this day."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Most recent runs shown.")] = 20,
    json: JsonOption = False,
) -> None:
    """Run history, newest first: each task's state, tries, errors and results."""
    from bdp.orchestrate import get_dag
    from bdp.orchestrate.state import StateStore

    settings = state(ctx).settings
    if dag_id is not None:
        get_dag(settings, dag_id)  # an unknown id: say so, with the closest
    found = StateStore(settings.paths.state).runs(dag_id=dag_id, dt=day, limit=limit)
    if json:
        print_json([run.as_dict() for run in found])
        return
    if not found:
        console.print("No runs yet.")
        return
    console.print(
        table(
            "DAG runs",
            ["run", "dag", "day", "trigger", "state", "tasks", "error"],
            [
                (
                    r.run_id,
                    r.dag_id,
                    str(r.dt),
                    r.trigger,
                    r.state,
                    " ".join(_task_cell(t.task_id, t.state, t.tries) for t in r.tasks),
                    r.error or "",
                )
                for r in found
            ],
        )
    )


def _task_cell(task_id: str, task_state: str, tries: int) -> str:
    marks = {"success": "ok", "failed": "FAILED", "running": "running", "none": "-"}
    text = f"{task_id}:{marks.get(task_state, task_state)}"
    return text + (f"({tries} tries)" if tries > 1 else "")


@dag_app.command("run")
def run(
    ctx: typer.Context,
    dag_id: Annotated[str, typer.Argument(help="The DAG (a dataset's name, or maintenance).")],
    day: DayOption,
    wait: WaitOption = True,
    json: JsonOption = False,
) -> None:
    """Run DAG for day D (again): idempotent, every store's day D is replaced."""
    from bdp.orchestrate import get_dag
    from bdp.orchestrate.state import StateStore

    settings = state(ctx).settings
    dag = get_dag(settings, dag_id)
    store = StateStore(settings.paths.state)
    run_id = store.create_run(dag, day, "manual", dt.datetime.now(dt.UTC))
    assert run_id is not None
    _do(settings, [run_id], wait, json)


@dag_app.command("backfill")
def backfill(
    ctx: typer.Context,
    dag_id: Annotated[str, typer.Argument(help="The DAG.")],
    first: Annotated[
        dt.date, typer.Option("--from", parser=_day, metavar="YYYY-MM-DD", help="First day.")
    ],
    last: Annotated[
        dt.date, typer.Option("--to", parser=_day, metavar="YYYY-MM-DD", help="Last day.")
    ],
    wait: WaitOption = True,
    json: JsonOption = False,
) -> None:
    """Run DAG for every day from A to B, in order, several days at once up to
    `[scheduler] max_active_runs_per_dag`."""
    from bdp.orchestrate import get_dag
    from bdp.orchestrate.state import StateStore

    settings = state(ctx).settings
    if last < first:
        raise typer.BadParameter(f"--to {last} is before --from {first}", param_hint="--to")
    if (last - first).days > 3660:
        raise typer.BadParameter("at most ten years at once", param_hint="--to")
    dag = get_dag(settings, dag_id)
    store = StateStore(settings.paths.state)
    now = dt.datetime.now(dt.UTC)
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    run_ids = []
    with store.connect() as conn:  # all days queued, or none
        for day in days:
            run_id = store.create_run(dag, day, "backfill", now, conn)
            assert run_id is not None
            run_ids.append(run_id)
    _do(settings, run_ids, wait, json)


@dag_app.command("clear")
def clear(
    ctx: typer.Context,
    dag_id: Annotated[str, typer.Argument(help="The DAG.")],
    day: DayOption,
    task_id: Annotated[
        str | None, typer.Option("--task", help="Only this task (and, by default, downstream).")
    ] = None,
    downstream: Annotated[
        bool, typer.Option("--downstream/--no-downstream", help="Clear the tasks below it too.")
    ] = True,
    wait: WaitOption = True,
    json: JsonOption = False,
) -> None:
    """Make the latest run of DAG for day D run its tasks again (fresh retries)."""
    from bdp.errors import NotFoundError
    from bdp.orchestrate import get_dag
    from bdp.orchestrate.state import StateStore

    settings = state(ctx).settings
    dag = get_dag(settings, dag_id)
    store = StateStore(settings.paths.state)
    latest = store.runs(dag_id=dag.dag_id, dt=day, limit=1)
    if not latest:
        raise NotFoundError(f"{dag.dag_id} has no run for {day}; use `bdp dag run`")
    if latest[0].state in ("queued", "running") and any(
        t.state == "running" for t in latest[0].tasks
    ):
        raise typer.BadParameter(f"run {latest[0].run_id} is running; clear it once it ends")
    if task_id is None:
        cleared = [t.task_id for t in dag.tasks]
    else:
        dag.task(task_id)
        cleared = [task_id, *(dag.downstream(task_id) if downstream else [])]
    store.clear(latest[0].run_id, cleared)
    if not json:
        console.print(f"cleared {', '.join(cleared)} of run {latest[0].run_id}", markup=False)
    _do(settings, [latest[0].run_id], wait, json)


@dag_app.command("task")
def task(
    ctx: typer.Context,
    dag_id: Annotated[str, typer.Argument(help="The DAG.")],
    task_id: Annotated[str, typer.Argument(help="The task.")],
    day: DayOption,
    poke: Annotated[
        bool,
        typer.Option(
            "--poke",
            help=f"A sensor: check once; exit 0 when ready, {NOT_READY_EXIT} when not yet.",
        ),
    ] = False,
    json: JsonOption = False,
) -> None:
    """Run one task of DAG for day D here, once, without the scheduler (what the DAGs
    exported to Airflow call). A sensor waits until ready or its timeout."""
    from bdp.orchestrate import get_dag
    from bdp.orchestrate.operations import NotReady, TaskContext, run_operation

    cli = state(ctx)
    settings = cli.settings
    dag = get_dag(settings, dag_id)
    step = dag.task(task_id)
    began = time.monotonic()
    while True:
        now = dt.datetime.now(dt.UTC)
        try:
            result = run_operation(TaskContext(settings, dag, step, day, now))
            break
        except NotReady as exc:
            waited = time.monotonic() - began
            if poke or not step.sensor:
                errors.print(f"not ready: {exc}", markup=False, highlight=False)
                raise typer.Exit(NOT_READY_EXIT) from None
            if step.timeout_seconds is not None and waited >= step.timeout_seconds:
                raise NotReady(f"waited {waited:.0f} s, and still: {exc}") from None
            time.sleep(min(step.poke_interval_seconds, 60.0))
    if json:
        print_json(result)
    else:
        console.print(f"{dag.dag_id}.{task_id} {day}: success", markup=False)


@scheduler_app.command("run")
def scheduler_run(
    ctx: typer.Context,
    until_idle: Annotated[
        bool,
        typer.Option("--until-idle", help="Stop once no run is left to do (for scripts)."),
    ] = False,
) -> None:
    """Run every DAG on its schedule until SIGTERM or Ctrl+C: catch-up of missed days,
    late data, retries. One scheduler per data home."""
    import signal

    from bdp.orchestrate.scheduler import Scheduler

    cli = state(ctx)
    cli.long_running()
    scheduler = Scheduler(cli.settings)
    previous = {
        signum: signal.signal(signum, lambda *_: scheduler.request_stop())
        for signum in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        scheduler.run(until_idle=until_idle)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _do(settings: Settings, run_ids: list[int], wait: bool, json: bool) -> None:
    """Have the runs done: by the running scheduler, or here when none runs."""
    from bdp.orchestrate.scheduler import Scheduler, SchedulerBusyError, SchedulerLock
    from bdp.orchestrate.state import StateStore

    store = StateStore(settings.paths.state)
    holder = SchedulerLock(settings.paths.home).holder()
    if holder is None:
        try:
            Scheduler(settings, schedule=False, only_runs=run_ids).run(until_idle=True)
        except SchedulerBusyError:
            holder = SchedulerLock(settings.paths.home).holder()  # one started meanwhile
    if holder is not None:
        if not wait:
            what = f"run {run_ids[0]}" if len(run_ids) == 1 else f"{len(run_ids)} runs"
            console.print(f"queued {what} for the running scheduler (pid {holder})", markup=False)
            return
        while store.runs(run_ids=run_ids, states=("queued", "running"), with_tasks=False):
            time.sleep(0.5)  # the scheduler works in another process: look again
    done = store.runs(run_ids=run_ids, oldest_first=True)
    _show(done, json)
    failed = [r for r in done if r.state == "failed"]
    if failed:
        for r in failed:
            message = f"error: {r.dag_id} {r.dt}: {r.error}"
            errors.print(message, markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1)


def _show(done: list[DagRun], json: bool) -> None:
    if json:
        print_json([r.as_dict() for r in done])
        return
    rows: list[tuple[Any, ...]] = []
    for r in done:
        for t in r.tasks:
            seconds = (
                (t.finished_at - t.started_at).total_seconds()
                if t.finished_at and t.started_at
                else None
            )
            rows.append((r.dag_id, str(r.dt), t.task_id, t.state, t.tries, seconds, t.error or ""))
    columns = ["dag", "day", "task", "state", "tries", "seconds", "error"]
    console.print(table("DAG runs", columns, rows))


def register(app: typer.Typer) -> None:
    app.add_typer(dag_app, name="dag")
    app.add_typer(scheduler_app, name="scheduler")
