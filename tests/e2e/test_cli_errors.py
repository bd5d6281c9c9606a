"""Hostile input to the CLI: each case is one line on stderr and a non-zero exit code.

Nothing here may print a traceback. As root, a folder's permission bits do not stop
writes, so the unwritable home is one in sysfs, where nobody may create anything.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import IO

import pytest

DAY = "2024-04-16"
ENV = {k: v for k, v in os.environ.items() if not k.startswith("BDP_")}
Completed = subprocess.CompletedProcess[str]


def run_bdp(cwd: Path, *args: str, stdout: int | IO[str] = subprocess.PIPE) -> Completed:
    """`python -m bdp ARGS` in `cwd`, without any BDP_ setting of the caller."""
    return subprocess.run(
        [sys.executable, "-m", "bdp", *args],
        cwd=cwd,
        env=ENV,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=300,
    )


def assert_one_line_error(result: Completed, *fragments: str) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def _config_dir(tmp: Path) -> list[str]:
    (tmp / "conf.d").mkdir()
    return ["--config", "conf.d", "status"]


def _config_not_utf8(tmp: Path) -> list[str]:
    (tmp / "latin1.toml").write_bytes('[platform]\ntimezone = "Europe/Zürich"\n'.encode("latin-1"))
    return ["--config", "latin1.toml", "status"]


def _config_not_toml(tmp: Path) -> list[str]:
    (tmp / "bdp.toml").write_text("[bus\npartitions = 3\n")
    return ["status"]


def _home_a_file(tmp: Path) -> list[str]:
    (tmp / "plain-file").write_text("not a folder")
    return ["--home", "plain-file", "status"]


def _sysfs() -> Path:
    if not Path("/sys/kernel").is_dir():
        pytest.skip("needs Linux's sysfs for a folder even root cannot write")
    return Path("/sys/kernel")


def _home_read_only(tmp: Path) -> list[str]:
    return ["--home", str(_sysfs()), "simulate", "weblogs"]


def _home_in_read_only(tmp: Path) -> list[str]:
    return ["--home", str(_sysfs() / f"bdp-{uuid.uuid4().hex}"), "simulate", "weblogs"]


CASES = {
    "config is a directory": (_config_dir, ["conf.d", "is a directory"]),
    "config is not UTF-8": (_config_not_utf8, ["latin1.toml", "not UTF-8"]),
    "config is not TOML": (_config_not_toml, ["bdp.toml", "not valid TOML"]),
    "home is a file": (_home_a_file, ["plain-file", "not a directory"]),
    "home is /dev/null": (lambda tmp: ["--home", os.devnull, "status"], ["/dev/null"]),
    # Root may not create anything there either: EPERM as root, EACCES otherwise.
    "home is a read-only folder": (_home_read_only, ["/sys/kernel/bus: "]),
    "home in a read-only folder": (_home_in_read_only, ["/sys/kernel/bdp-"]),
    "home is empty": (lambda tmp: ["--home", "", "status"], ["data home is empty"]),
    "too many users": (
        lambda tmp: ["--home", "h", "simulate", "weblogs", "--users", "9" * 20],
        ["users"],
    ),
    "endless minutes": (
        lambda tmp: ["--home", "h", "simulate", "weblogs", "--minutes", "inf"],
        ["minutes", "finite"],
    ),
    "negative seed": (
        lambda tmp: ["--home", "h", "simulate", "weblogs", "--seed", "-1"],
        ["--seed"],
    ),
    "a date the lake cannot partition": (
        lambda tmp: ["--home", "h", "simulate", "weblogs", "--date", "0001-01-01"],
        ["--date", "0001-01-01", "1677-09-22"],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_input_is_one_line_and_a_non_zero_exit(tmp_path: Path, case: str) -> None:
    prepare, fragments = CASES[case]
    assert_one_line_error(run_bdp(tmp_path, *prepare(tmp_path)), *fragments)
    # Refused up front: nothing reached a bus.
    assert not (tmp_path / "h" / "bus").exists()


def test_an_output_on_a_full_disk_is_one_line(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    assert run_bdp(tmp_path, "--home", "h", "simulate", "weblogs", "--date", DAY).returncode == 0
    with open("/dev/full", "w") as full:
        result = run_bdp(tmp_path, "--home", "h", "status", "--json", stdout=full)
    assert_one_line_error(result, "standard output", os.strerror(errno.ENOSPC))


def test_sigterm_during_a_query_is_one_line_and_exit_143(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run_bdp(tmp_path, "--home", str(home), "query", "SELECT 1").returncode == 0
    warehouse = str(home / "warehouse.duckdb")
    cross_join = "SELECT sum(a.range * b.range) FROM range(300000) a, range(300000) b"
    query = subprocess.Popen(
        [sys.executable, "-m", "bdp", "--home", str(home), "query", cross_join],
        cwd=tmp_path,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The query runs once its process has the warehouse open.
        while not _has_open(query.pid, warehouse):
            try:
                query.wait(timeout=0.01)
            except subprocess.TimeoutExpired:
                continue
            pytest.fail(f"the query ended before it was stopped: {query.communicate()}")
        query.send_signal(signal.SIGTERM)
        out, err = query.communicate(timeout=120)
    finally:
        query.kill()
    result = subprocess.CompletedProcess(query.args, query.returncode, out, err)
    assert result.returncode == 128 + signal.SIGTERM
    assert assert_one_line_error(result) == "error: stopped by SIGTERM"


def _has_open(pid: int, path: str) -> bool:
    try:
        descriptors = os.listdir(f"/proc/{pid}/fd")
    except FileNotFoundError:
        return False
    for fd in descriptors:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == path:
                return True
        except FileNotFoundError:
            continue
    return False
