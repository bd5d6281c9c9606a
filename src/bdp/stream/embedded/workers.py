"""Several landing processes side by side, each owning a share of the partitions.

Decoding and validating records is CPU-bound Python, so one process tops out at one
core; the partition is already the unit of ordering and of checkpointing, so worker
k of n simply lands the partitions p with p % n == k. Workers are spawned (a fresh
interpreter: safe with drivers that run threads) and die with their parent, so a
killed job leaves no orphan still writing.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Iterable
from multiprocessing.synchronize import Event as ProcessEvent

from bdp.config import Settings
from bdp.logs import configure_logging, configured_level
from bdp.stream.base import GROUP, DatasetStats, StreamError

__all__ = ["die_with_parent", "run_in_workers"]

_PR_SET_PDEATHSIG = 1


def run_in_workers(
    settings: Settings,
    datasets: Iterable[str],
    workers: int,
    until_idle: bool = False,
    stop: threading.Event | None = None,
    group: str = GROUP,
) -> dict[str, DatasetStats]:
    names = list(datasets)
    context = multiprocessing.get_context("spawn")
    halt = context.Event()
    results = context.SimpleQueue()
    processes = [
        context.Process(
            target=_worker,
            args=(
                settings,
                names,
                group,
                index,
                workers,
                until_idle,
                halt,
                results,
                os.getpid(),
                configured_level(),
            ),
            name=f"bdp-stream-{index}",
        )
        for index in range(workers)
    ]
    for process in processes:
        process.start()
    try:
        while any(process.is_alive() for process in processes):
            if stop is not None and stop.is_set():
                halt.set()
            if any(process.exitcode for process in processes):
                halt.set()  # one worker failed: stop the others rather than land a part
            for process in processes:
                process.join(timeout=0.1)
    finally:
        halt.set()
        for process in processes:
            process.join()
    totals = {name: DatasetStats() for name in names}
    failures = []
    while not results.empty():
        index, outcome = results.get()
        if isinstance(outcome, str):
            failures.append(f"worker {index}: {outcome}")
            continue
        for name, stats in outcome.items():
            totals[name].add(stats)
    failures += [
        f"worker {i} exited with {p.exitcode}" for i, p in enumerate(processes) if p.exitcode
    ]
    if failures:
        raise StreamError("stream workers failed: " + "; ".join(failures))
    return totals


def _worker(
    settings: Settings,
    names: list[str],
    group: str,
    index: int,
    workers: int,
    until_idle: bool,
    halt: ProcessEvent,
    results: multiprocessing.SimpleQueue[tuple[int, dict[str, DatasetStats] | str]],
    parent: int,
    log_level: int | None,
) -> None:
    die_with_parent(parent)
    # Ctrl+C reaches the whole process group; the parent turns it into `halt`.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if log_level is not None:  # a spawned interpreter starts without the parent's logging
        configure_logging(log_level)
    from bdp.lake import open_lake
    from bdp.stream.embedded.loop import EmbeddedStreamJob

    try:
        job = EmbeddedStreamJob(
            settings,
            open_lake(settings),
            names,
            group=group,
            partitions=lambda count: [p for p in range(count) if p % workers == index],
            workers=1,
        )
        results.put((index, job.run(until_idle=until_idle, stop=_ThreadEvent(halt))))
    except Exception as exc:  # reported by the parent, which raises
        results.put((index, f"{type(exc).__name__}: {exc}"))
        sys.exit(1)


class _ThreadEvent(threading.Event):
    """A process-shared event seen through the `threading.Event` interface the job uses."""

    def __init__(self, shared: ProcessEvent) -> None:
        super().__init__()
        self._shared = shared

    def is_set(self) -> bool:
        return self._shared.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._shared.wait(timeout)


def die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    # The parent may have died while this process was starting, before the request
    # above could take effect: then nobody would stop it.
    if os.getppid() != parent:
        os._exit(1)
