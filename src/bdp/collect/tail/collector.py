"""The file tail collector: every `[[collect.tail]]` source as one asyncio task.

`bdp serve` builds it when `collect.tail` lists sources, awaits `start()` — which has
taken in the files present by the time it returns, so `start_at = "end"` means "after
what was there at start" — and on SIGTERM awaits `stop()`: each source finishes the
batch it is sending, saves its positions and ends; one still busy when the drain
timeout passes is cancelled, and its unsaved lines are sent again (same ids) next time.
"""

from __future__ import annotations

import asyncio
import logging

from bdp.collect.base import Collector
from bdp.collect.ingest import Ingest
from bdp.collect.tail.source import TailSource, TailStats
from bdp.config import Settings
from bdp.logs import fields

__all__ = ["TailCollector"]

LOG = logging.getLogger("bdp.collect.tail")


class TailCollector(Collector):
    """Follows log files and puts their lines on their datasets' topics."""

    name = "tail"

    def __init__(self, settings: Settings, ingest: Ingest) -> None:
        self.settings = settings
        self.ingest = ingest
        # Unknown datasets fail here, before anything starts.
        self.sources = [TailSource(settings, source, ingest) for source in settings.collect.tail]
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping: asyncio.Event | None = None

    async def start(self) -> None:
        self._stopping = asyncio.Event()
        for source in self.sources:
            await asyncio.to_thread(source.open)
        self._tasks = [
            asyncio.create_task(source.run(self._stopping), name=f"tail {source.dataset.name}")
            for source in self.sources
        ]
        LOG.info("tail started %s", fields(sources=len(self.sources), paths=self.address))

    async def stop(self, drain_timeout_seconds: float) -> None:
        if self._stopping is None:
            return
        self._stopping.set()
        if self._tasks:
            _, late = await asyncio.wait(self._tasks, timeout=drain_timeout_seconds)
            for task in late:
                task.cancel()
            if late:
                LOG.warning("tail cut short %s", fields(sources=len(late)))
                await asyncio.gather(*late, return_exceptions=True)
        for source in self.sources:
            source.close()
        self._tasks = []

    @property
    def ready(self) -> bool:
        stopping = self._stopping is None or self._stopping.is_set()
        return not stopping and all(not task.done() for task in self._tasks)

    @property
    def address(self) -> str:
        return ", ".join(path for source in self.sources for path in source.source.paths)

    @property
    def stats(self) -> TailStats:
        """Counts summed over every source."""
        total = TailStats()
        for source in self.sources:
            total.lines += source.stats.lines
            total.oversize_lines += source.stats.oversize_lines
            total.truncations += source.stats.truncations
            total.polls += source.stats.polls
        return total
