"""Daily ETL throughput: one raw day of game events → curated tables → warehouse.

Builds a raw day of N game events (default 10,000,000) as zstd JSON-lines files in a
temporary lake — from the simulator (`bdp.simulate`) when it is installed, otherwise
from a fast synthetic generator of valid corrected-format events — then runs
`run_etl` for that day in a child process per engine and prints wall time, raw
events/s and the child's peak RSS against the targets (1,000,000 events/s, 2 GB).

    python bench/etl.py                       # 10M events, DuckDB engine
    python bench/etl.py --events 1000000 --engines duckdb,spark

Engines are measured side by side in one run; one that is not available (Spark without
pyspark) is reported as such instead of failing the whole benchmark. Spark runs on
`etl.spark_master` (local[2] by default); `--threads` and `--memory-limit-mb` apply to
DuckDB only (`--threads 1,2` measures how it scales with cores). "wall s" is the child
process from start to exit, engine start-up (Spark's JVM) included; peak MB and CPU s
include the JVM.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_EVENTS_PER_SECOND = 1_000_000
TARGET_PEAK_MB = 2048
DAY = dt.date(2024, 4, 16)
SIMULATED_USERS = 4_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument(
        "--dataset", default="gamelogs", help="synthetic events exist for gamelogs only"
    )
    parser.add_argument("--files", type=int, default=20, help="raw files the day is split into")
    parser.add_argument("--engines", default="duckdb", help="comma-separated, e.g. duckdb,spark")
    parser.add_argument(
        "--source",
        default="auto",
        choices=["auto", "simulate", "synthetic"],
        help="raw events: the simulator, a synthetic generator, or the simulator when present",
    )
    parser.add_argument(
        "--threads",
        default="0",
        help="DuckDB threads, comma-separated to compare (e.g. 1,2); 0 = all cores",
    )
    parser.add_argument("--memory-limit-mb", type=int, default=2048)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(json.loads(args.child))
        return

    with tempfile.TemporaryDirectory(prefix="bdp-bench-etl-") as home:
        raw_dir = Path(home) / "lake" / "raw" / args.dataset / f"dt={DAY.isoformat()}"
        began = time.perf_counter()
        source = args.source
        if source == "auto":
            source = "simulate" if importlib.util.find_spec("bdp.simulate") else "synthetic"
        if source == "simulate":
            events, raw_bytes = _simulated_day(raw_dir, args.dataset, args.events, args.files)
        elif args.dataset == "gamelogs":
            events, raw_bytes = _synthetic_day(raw_dir, args.events, args.files)
        else:
            parser.error("synthetic events exist for gamelogs only; use --source simulate")
        print(
            f"raw day: {events:,} {args.dataset} events ({source}), {args.files} files, "
            f"{raw_bytes / 1e6:,.0f} MB zstd, built in {time.perf_counter() - began:.1f} s"
        )
        rows = []
        threads = [int(t) for t in args.threads.split(",")]
        for engine in args.engines.split(","):
            # Thread counts apply to DuckDB; Spark's parallelism comes from its master URL.
            for count in threads if engine == "duckdb" else [0]:
                job = {
                    "dataset": args.dataset,
                    "home": str(Path(home) / f"home-{engine}-{count}"),
                    "lake": str(Path(home) / "lake"),
                    "engine": engine,
                    "threads": count,
                    "memory_limit_mb": args.memory_limit_mb,
                }
                label = f"{engine}/{count}t" if len(threads) > 1 and engine == "duckdb" else engine
                rows.append((label, _measure(job)))
        _report(rows)


def _measure(job: dict[str, object]) -> dict[str, object]:
    """Run the ETL in a fresh process so its peak RSS is the ETL's alone."""
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(job)],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - began
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["failed"])[-1]
        return {"error": reason}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_wall_seconds"] = wall
    return result


def _child(job: dict[str, object]) -> None:
    from bdp.config import load_settings
    from bdp.etl import run_etl
    from bdp.lake.local import LocalLake

    settings = load_settings(
        home=Path(str(job["home"])),
        environ={
            "BDP_ETL__ENGINE": str(job["engine"]),
            "BDP_ETL__THREADS": str(job["threads"]),
            "BDP_ETL__MEMORY_LIMIT_MB": str(job["memory_limit_mb"]),
        },
    )
    result = run_etl(settings, str(job["dataset"]), DAY, lake=LocalLake(str(job["lake"])))
    # An engine may run in helper processes (Spark's JVM); count those too, as an
    # upper bound on the peak of everything the ETL ran. Spark's JVM outlives the
    # session (it exits with this process), so its peak is read while it still runs.
    own = resource.getrusage(resource.RUSAGE_SELF)
    helpers = resource.getrusage(resource.RUSAGE_CHILDREN)
    live_peak_kb, live_cpu_s = _live_helpers()
    print(
        json.dumps(
            {
                "raw_rows": result.raw_rows,
                "tables": result.tables,
                "seconds": result.seconds,
                "stages": result.stage_seconds,
                "peak_rss_mb": (own.ru_maxrss + helpers.ru_maxrss + live_peak_kb) / 1024,
                # CPU seconds of the whole child (startup included): steadier than wall
                # time when other processes share the machine.
                "cpu_seconds": live_cpu_s
                + sum(usage.ru_utime + usage.ru_stime for usage in (own, helpers)),
            }
        )
    )


def _live_helpers() -> tuple[int, float]:
    """Peak RSS (kB, summed) and CPU seconds of this process's running descendants."""
    import os

    tick = os.sysconf("SC_CLK_TCK")
    peak_kb, cpu_s, pending = 0, 0.0, [os.getpid()]
    while pending:
        pid = pending.pop()
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            for child in children:
                pending.append(child)
                try:
                    status = Path(f"/proc/{child}/status").read_text()
                    stat = Path(f"/proc/{child}/stat").read_text().rsplit(") ", 1)[1].split()
                except OSError:
                    continue
                for line in status.splitlines():
                    if line.startswith("VmHWM:"):
                        peak_kb += int(line.split()[1])
                cpu_s += (int(stat[11]) + int(stat[12])) / tick
    return peak_kb, cpu_s


def _report(rows: list[tuple[str, dict[str, object]]]) -> None:
    print(
        f"{'engine':<10} {'ETL s':>8} {'events/s':>12} {'vs target':>9} {'peak MB':>8} "
        f"{'CPU s':>6} {'wall s':>7}  tables"
    )
    for engine, result in rows:
        if "error" in result:
            print(f"{engine:<10} not available: {result['error']}")
            continue
        seconds = float(result["seconds"])  # type: ignore[arg-type]
        rate = int(result["raw_rows"]) / seconds  # type: ignore[call-overload]
        peak = float(result["peak_rss_mb"])  # type: ignore[arg-type]
        cpu = float(result["cpu_seconds"])  # type: ignore[arg-type]
        # The child process from start to exit: engine start-up (Spark's JVM) included.
        wall = float(result["process_wall_seconds"])  # type: ignore[arg-type]
        tables = ", ".join(f"{k}={v:,}" for k, v in result["tables"].items())  # type: ignore[attr-defined]
        print(
            f"{engine:<10} {seconds:>8.2f} {rate:>12,.0f} "
            f"{rate / TARGET_EVENTS_PER_SECOND:>8.2f}x {peak:>8,.0f} {cpu:>6.1f} "
            f"{wall:>7.2f}  {tables}"
        )
    for engine, result in rows:
        if "stages" in result:
            stages = "  ".join(f"{k} {v:.2f}s" for k, v in result["stages"].items())  # type: ignore[attr-defined]
            print(f"{engine:<10} stages: {stages}")
    print(f"targets: >= {TARGET_EVENTS_PER_SECOND:,} raw events/s, peak <= {TARGET_PEAK_MB:,} MB")


def _synthetic_day(raw_dir: Path, events: int, files: int) -> tuple[int, int]:
    """Valid corrected-format game events spread over the day, written by DuckDB.

    100 players in 10 rooms; about 15% waits, 2.5% purchases, 1% deaths; coordinates
    within ±400 except for the Viktor players' wide swings, and no key 8% of the time.
    """
    import duckdb

    raw_dir.mkdir(parents=True, exist_ok=True)
    step_ms = 86_400_000 / events
    per_file = -(-events // files)
    conn = duckdb.connect()
    conn.execute("SET TimeZone = 'UTC'")
    for index, first in enumerate(range(0, events, per_file)):
        last = min(first + per_file, events) - 1
        name = f"part-{index % 4:05d}-{first:020d}-{last:020d}.jsonl.zst"
        conn.execute(
            f"""
            COPY (
              WITH e AS (
                SELECT i, i % 100 AS player, CAST(hash(i) >> 1 AS BIGINT) AS h,
                       TIMESTAMPTZ '{DAY.isoformat()} 00:00:00+00'
                         + to_milliseconds(CAST(floor(i * {step_ms}) AS BIGINT)) AS moment
                FROM range({first}, {last + 1}) t(i)
              )
              SELECT
                'room-' || (player // 10) AS roomID,
                i + 1 AS id,
                '{DAY.isoformat()}T00:00:00.000Z' AS createRoomDate,
                '192.168.0.' || player AS ip,
                'testAccount_' || player AS account,
                ['azir', 'viktor', 'orianna', 'vex', 'ryze', 'ari', 'syndra', 'taliyah',
                 'xerath', 'malzahar'][player % 10 + 1] AS champion,
                CASE WHEN h % 1000 < 150 THEN '/wait'
                     WHEN h % 1000 < 175 THEN '/buyItem' ELSE '/move' END AS method,
                strftime(moment, '%Y-%m-%dT%H:%M:%S.%gZ') AS datetime,
                CAST((h >> 8) % (CASE WHEN player % 10 = 1 THEN 6001 ELSE 801 END)
                     - CASE WHEN player % 10 = 1 THEN 3000 ELSE 400 END AS INTEGER) AS x,
                CAST((h >> 20) % 801 - 400 AS INTEGER) AS y,
                ['q', 'w', 'e', 'r', 'space', 'b', 'd', 'f', NULL, 'alt', 'tab', 'esc']
                  [(h >> 32) % 12 + 1] AS inputkey,
                CASE WHEN (h >> 40) % 100 = 0 THEN 1 ELSE 0 END AS status,
                CAST((h >> 44) % 4 AS INTEGER) AS deathCount,
                CAST(epoch_ms(moment) // 60000 % 60 AS VARCHAR) || ':'
                  || CAST(epoch_ms(moment) // 1000 % 60 AS VARCHAR) AS ingametime
              FROM e
            ) TO '{raw_dir / name}' (FORMAT json, COMPRESSION zstd)
            """
        )
    conn.close()
    return events, sum(path.stat().st_size for path in raw_dir.iterdir())


def _simulated_day(raw_dir: Path, dataset: str, events: int, files: int) -> tuple[int, int]:
    """Events from the simulator (corrected wire format), every session within the day."""
    import zstandard

    from bdp.simulate import SimulationParams, simulate

    raw_dir.mkdir(parents=True, exist_ok=True)
    start_ms = int(dt.datetime.combine(DAY, dt.time(1), tzinfo=dt.UTC).timestamp() * 1000)
    per_file = -(-events // files)
    compressor = zstandard.ZstdCompressor(level=1)
    produced, seed, index, buffer = 0, 0, 0, []

    def flush() -> None:
        nonlocal index, buffer
        first = produced - len(buffer)
        name = f"part-{index % 4:05d}-{first:020d}-{produced - 1:020d}.jsonl.zst"
        (raw_dir / name).write_bytes(compressor.compress(b"\n".join(buffer) + b"\n"))
        index, buffer = index + 1, []

    while produced < events:
        # A few thousand users per session (an hour at most, so the day holds it).
        params = SimulationParams(start_ms=start_ms, seed=seed, users=SIMULATED_USERS)
        for block in simulate(dataset, params, block_size=50_000):
            take = block.values[: events - produced]
            buffer.extend(take)
            produced += len(take)
            if len(buffer) >= per_file or produced == events:
                flush()
            if produced == events:
                break
        seed += 1
    return produced, sum(path.stat().st_size for path in raw_dir.iterdir())


if __name__ == "__main__":
    main()
