"""Processes a test started and the ones they started in turn (Spark's JVM)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path


def descendants(pid: int) -> list[int]:
    """The process ids below `pid` (Spark's JVM is a child of the `bdp` process)."""
    found: list[int] = []
    pending = [pid]
    while pending:
        current = pending.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                found.append(child)
                pending.append(child)
    return found


def wait_gone(pids: list[int], timeout_s: float = 30) -> None:
    """Wait until these processes have exited; SIGKILL whatever is left after the timeout."""
    deadline = time.monotonic() + timeout_s
    for pid in pids:
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            try:
                # A zombie has exited already: reaped by init, or gone with its parent.
                if Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z"):
                    break
            except (OSError, IndexError):
                break
            time.sleep(0.1)
        else:
            if Path(f"/proc/{pid}").exists():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
