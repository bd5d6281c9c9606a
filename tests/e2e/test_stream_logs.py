"""Log lines and lake trouble as a user of `bdp stream run` and `bdp etl run` sees them.

Logs go to stderr, never into `--json` on stdout; quiet by default, on for a job that
runs until stopped, and `--log-level` / `[platform] log_level` choose otherwise. A lake
that stays away stops the job with one error line after a few logged retries.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

from tests.e2e.conftest import as_json
from tests.scenarios.webhdfs import WebHdfs

DAY = "2024-04-16"


def simulate(bdp, *, home: Path | None = None) -> int:
    done = bdp("simulate", "weblogs", "--date", DAY, "--users", "20", "--json", home=home)
    return as_json(done)["generated"]


def log_lines(stderr: str, logger: str) -> list[str]:
    return [line for line in stderr.splitlines() if f" {logger} " in line]


def test_quiet_by_default_and_logs_on_stderr_when_asked(bdp, tmp_path: Path) -> None:
    generated = simulate(bdp)
    quiet = bdp("stream", "run", "--until-idle", "--json")
    assert as_json(quiet)["weblogs"]["landed"] == generated
    assert quiet.stderr == ""

    simulate(bdp, home=tmp_path / "loud")
    loud = bdp(
        "--log-level", "info", "stream", "run", "--until-idle", "--json", home=tmp_path / "loud"
    )
    assert as_json(loud)["weblogs"]["landed"] == generated  # stdout is the JSON alone
    batches = [line for line in log_lines(loud.stderr, "bdp.stream") if " INFO " in line]
    assert any(" batch job=stream dataset=weblogs " in line for line in batches)
    assert (
        sum(int(line.split(" landed=")[1].split()[0]) for line in batches if " batch " in line)
        == generated
    )

    # The setting does what the option does; here for the ETL.
    etl = bdp(
        "etl",
        "run",
        "weblogs",
        "--date",
        DAY,
        "--json",
        env_extra={"BDP_PLATFORM__LOG_LEVEL": "info"},
    )
    assert as_json(etl)["weblogs"][DAY]["raw_rows"] == generated
    runs = [line for line in log_lines(etl.stderr, "bdp.etl") if " run dataset=weblogs " in line]
    assert len(runs) == 1 and "status=ok" in runs[0]


def test_a_job_that_runs_until_stopped_logs_its_work(bdp, tmp_path: Path) -> None:
    simulate(bdp)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BDP_")}
    job = subprocess.Popen(
        [sys.executable, "-m", "bdp", "--home", str(tmp_path / "home"), "stream", "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in job.stderr], daemon=True).start()
    try:
        seen = []
        while not any(" bdp.stream batch " in line for line in seen):
            seen.append(lines.get(timeout=60))  # fails the test if the job never logs
        assert any(" INFO bdp.stream started engine=embedded " in line for line in seen)
    finally:
        job.send_signal(signal.SIGTERM)
        assert job.wait(timeout=60) == 0


def test_a_lake_that_stays_away_stops_the_job_with_one_error_line(bdp) -> None:
    simulate(bdp)
    with WebHdfs() as namenode:
        # The NameNode answers at start-up, then only with "service unavailable".
        namenode.replies = {op: (503, b"unavailable") for op in ("GETFILESTATUS", "CREATE", "OPEN")}
        failed = bdp(
            "stream",
            "run",
            "--until-idle",
            "--dataset",
            "weblogs",
            "--json",
            check=False,
            env_extra={
                "BDP_LAKE__URL": f"webhdfs://127.0.0.1:{namenode.port}/bdp",
                "BDP_STREAM__RETRY_ATTEMPTS": "3",
                "BDP_STREAM__RETRY_MAX_DELAY_SECONDS": "0.01",
            },
        )
    assert failed.returncode == 1 and failed.stdout == ""
    assert "Traceback" not in failed.stderr
    retries = log_lines(failed.stderr, "bdp.stream")
    assert len(retries) == 2 and all(" WARNING bdp.stream retry " in line for line in retries)
    # The error comes last, naming what failed, how often and why (as one message; how
    # it is laid out on the terminal is the CLI's business).
    error = " ".join(failed.stderr[failed.stderr.index("error:") :].split())
    assert error.startswith("error: look up _checkpoints/stream/weblogs/partition-")
    assert ": gave up after 3 attempts: WebHDFS GETFILESTATUS " in error
    assert error.endswith("HTTP 503 : unavailable")
