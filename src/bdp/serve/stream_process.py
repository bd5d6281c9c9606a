"""The stream job as a child of `bdp serve`: started, watched, restarted, stopped.

The child is spawned (a fresh interpreter) and dies with its parent, so a `bdp serve`
killed with SIGKILL leaves no orphan landing beside the next one; what it had read but
not landed is read again by the next one (offsets are committed only after landing).
A child that fails — damage on the bus, a lake that stays away — is restarted after a
growing pause, because a long-running server must not stop collecting for it.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event as ProcessEvent

from bdp.config import Settings
from bdp.logs import configure_logging, configured_level, fields

__all__ = ["StreamProcess"]

LOG = logging.getLogger("bdp.serve")
_RESTART_DELAYS_S = (1.0, 2.0, 5.0, 10.0, 30.0)


class StreamProcess:
    def __init__(self, settings: Settings, datasets: list[str]) -> None:
        self.settings = settings
        self.datasets = datasets
        self._context = multiprocessing.get_context("spawn")
        self._halt: ProcessEvent = self._context.Event()
        self._process: BaseProcess | None = None
        self._restarts = 0
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None
        self.last_failure: str | None = None

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def start(self) -> None:
        self._spawn()
        self._watcher = threading.Thread(target=self._watch, name="bdp-stream-watch", daemon=True)
        self._watcher.start()

    def stop(self, timeout_s: float) -> bool:
        """Ask the job to land what it read and what is left on the bus (within
        `serve.drain_timeout_seconds`) and commit, then wait; True if it did."""
        self._stopping.set()
        self._halt.set()
        process = self._process
        if process is None:
            return True
        process.join(timeout_s)
        if process.is_alive():
            LOG.warning("stream job did not stop within %.0f s; killing it", timeout_s)
            process.kill()
            process.join()
            return False
        if self._watcher is not None:
            self._watcher.join()
        return process.exitcode == 0

    def _spawn(self) -> None:
        process = self._context.Process(
            target=_run_stream,
            args=(self.settings, self.datasets, self._halt, os.getpid(), configured_level()),
            name="bdp-serve-stream",
        )
        process.start()
        self._process = process

    def _watch(self) -> None:
        while not self._stopping.is_set():
            process = self._process
            assert process is not None
            process.join(0.5)
            if process.is_alive() or self._stopping.is_set():
                continue
            self.last_failure = f"stream job exited with {process.exitcode}"
            delay = _RESTART_DELAYS_S[min(self._restarts, len(_RESTART_DELAYS_S) - 1)]
            LOG.error(
                "stream %s", fields(status="failed", exitcode=process.exitcode, restart_in=delay)
            )
            if self._stopping.wait(delay):
                return
            self._restarts += 1
            self._spawn()


def _run_stream(
    settings: Settings,
    datasets: list[str],
    halt: ProcessEvent,
    parent: int,
    log_level: int | None,
) -> None:
    from bdp.stream.embedded.workers import die_with_parent

    die_with_parent(parent)
    # Ctrl+C reaches the whole process group; the parent turns it into `halt`.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    configure_logging(log_level if log_level is not None else logging.INFO)
    from bdp.stream import open_stream_job

    stop = threading.Event()

    def relay() -> None:
        halt.wait()
        stop.set()

    threading.Thread(target=relay, daemon=True).start()
    began = time.perf_counter()
    try:
        open_stream_job(settings, datasets).run(stop=stop)
        # The collectors stopped before this job was told to: land what they acknowledged
        # since its last poll too, so a stopped server leaves nothing behind on the bus —
        # within the drain time; anything later waits, safe on the bus, for the next run.
        drained = threading.Event()
        timer = threading.Timer(settings.serve.drain_timeout_seconds, drained.set)
        timer.start()
        try:
            open_stream_job(settings, datasets).run(until_idle=True, stop=drained)
        finally:
            timer.cancel()
    except Exception as exc:  # the parent logs the exit and restarts the job
        LOG.error("stream %s", fields(status="failed", error=f"{type(exc).__name__}: {exc}"))
        sys.exit(1)
    LOG.info("stream %s", fields(status="stopped", seconds=time.perf_counter() - began))
