"""`main`: failures reach the user as one line on stderr and a non-zero exit code.

Full disks are injected at the file-write seam (the OS calls bdp's stores write with),
in a CLI run in this process: a test cannot mount a small file system.
"""

from __future__ import annotations

import errno
import io
import os
import sqlite3
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bdp.bus.local import LocalBus
from bdp.cli.app import describe_os_error, main
from bdp.clock import day_start_ms
from bdp.config import load_settings
from bdp.lake import open_lake
from bdp.simulate import RaidOptions, SimulationParams, simulate_table
from bdp.status import dataset_rows

DAY = "2024-04-16"
FULL = os.strerror(errno.ENOSPC)


def bdp(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, list[str]]:
    """Run the CLI in this process: its exit code, stdout and stderr lines."""
    saved = sys.argv
    sys.argv = ["bdp", *args]
    try:
        with pytest.raises(SystemExit) as exit:
            main()
    finally:
        sys.argv = saved
    out, err = capsys.readouterr()
    return int(exit.value.code or 0), out, err.splitlines()


def disk_full(monkeypatch: pytest.MonkeyPatch, under: Path, writes_left: int = 0) -> None:
    """Writes to files under `under` fail with ENOSPC once `writes_left` have passed."""
    left = [writes_left]

    def failing(real: Callable[..., Any]) -> Callable[..., Any]:
        def call(fd: int, *args: Any) -> Any:
            if os.readlink(f"/proc/self/fd/{fd}").startswith(str(under)):
                if left[0] <= 0:
                    raise OSError(errno.ENOSPC, FULL)
                left[0] -= 1
            return real(fd, *args)

        return call

    for name in ("write", "pwrite", "pwritev", "fsync", "fdatasync"):
        monkeypatch.setattr(os, name, failing(getattr(os, name)))


def on_bus(home: Path, topic: str) -> list[bytes]:
    bus = LocalBus(home / "bus")
    ends = bus.end_offsets(topic)
    found: list[bytes] = []
    with bus.consumer("test-reader", topic) as reader:
        while any(reader.position(p) < end for p, end in ends.items()):
            for batch in reader.poll(100_000, timeout_ms=100):
                found += batch.values
    return found


def test_a_full_disk_during_simulate_is_one_line_and_a_rerun_completes_the_session(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    args = ("--home", str(home), "simulate", "gamelogs", "--date", DAY, "--users", "200")
    with monkeypatch.context() as patch:
        disk_full(patch, home / "bus" / "gamelogs", writes_left=3)
        code, _, err = bdp(capsys, *args)
    assert code == 1
    assert err == [f"error: {FULL} (writing under the data home {home})"]
    start_ms = day_start_ms(
        __import__("datetime").date.fromisoformat(DAY),
        load_settings(home=home).tz,
        __import__("datetime").time(12),
    )
    params = SimulationParams(start_ms=start_ms, users=200, raid=RaidOptions(tz="UTC"))
    session = [
        v for block in simulate_table("gamelogs", params).blocks(10**6) for v in block.values
    ]
    partial = on_bus(home, "gamelogs")
    assert 0 < len(partial) < len(session)

    code, out, err = bdp(capsys, *args, "--json")
    assert (code, err) == (0, [])
    assert f'"sent": {len(session) - len(partial)}' in out
    assert Counter(on_bus(home, "gamelogs")) == Counter(session)


def test_a_full_disk_during_stream_run_is_one_line_and_loses_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    assert bdp(capsys, "--home", str(home), "simulate", "weblogs", "--date", DAY)[0] == 0
    sent = len(on_bus(home, "weblogs"))
    with monkeypatch.context() as patch:
        disk_full(patch, home / "lake")
        code, _, err = bdp(capsys, "--home", str(home), "stream", "run", "--until-idle")
    assert code == 1
    assert err == [f"error: {FULL} (writing under the data home {home})"]
    # The disk has room again: the job lands every record, once.
    assert bdp(capsys, "--home", str(home), "stream", "run", "--until-idle")[0] == 0
    lake = open_lake(load_settings(home=home))
    assert dataset_rows(lake, "weblogs").zones["raw"] == {DAY: sent}


def test_a_full_disk_during_status_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_room(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(sqlite3, "connect", no_room)
    home = tmp_path / "home"
    code, _, err = bdp(capsys, "--home", str(home), "status")
    assert code == 1
    assert err == [f"error: run log {home / 'state.sqlite'}: database or disk is full"]


def test_an_output_that_cannot_be_written_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    class FullOutput(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError(errno.ENOSPC, FULL)

    capsys.readouterr()
    with capsys.disabled():
        monkeypatch.setattr(sys, "stdout", FullOutput())
        monkeypatch.setattr(sys, "stderr", errors := io.StringIO())
        with pytest.raises(SystemExit) as exit:
            monkeypatch.setattr(sys, "argv", ["bdp", "--home", str(tmp_path), "status", "--json"])
            main()
    assert exit.value.code == 1
    assert errors.getvalue().splitlines() == [f"error: standard output: {FULL}"]


@pytest.mark.parametrize(
    ("error", "home", "line"),
    [
        (
            PermissionError(errno.EACCES, "Permission denied", "/d/x"),
            None,
            "/d/x: Permission denied",
        ),
        (OSError(errno.EXDEV, "Invalid cross-device link", "/a", None, "/b"), None, "/a -> /b: "),
        (OSError(errno.ENOSPC, FULL), Path("/h"), f"{FULL} (writing under the data home /h)"),
        (OSError("Error writing bytes to file"), None, "Error writing bytes to file"),
    ],
)
def test_an_os_error_is_described_by_its_path_and_cause(
    error: OSError, home: Path | None, line: str
) -> None:
    assert describe_os_error(error, home).startswith(line)


def test_simulate_says_that_it_sends_a_session_once(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = bdp(capsys, "simulate", "--help")
    assert code == 0
    text = " ".join(out.split())
    assert "A session is sent once" in text and "without duplicates" in text


def test_an_unforeseen_failure_is_one_line_naming_its_traceback_file(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import bdp.status as status_module

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(status_module, "topic_status", broken)
    monkeypatch.setattr(sys, "argv", ["bdp", "--home", str(tmp_path / "home"), "status"])
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 70
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert "internal error (ZeroDivisionError: a bug)" in lines[0]
    (report,) = tmp_path.glob("bdp-crash-*.txt")
    assert "Traceback" in report.read_text() and report.name in lines[0]
