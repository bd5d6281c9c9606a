"""The server: collectors on one asyncio loop, one `Ingest`, the stream job beside them.

Start-up opens the bus, starts the stream job and every enabled collector, then logs
one line with where each listens. A collector that cannot start (a port in use) stops
the server with that reason: a server half up is worse than one that says why it is
down. The built-in scheduler (`[serve] scheduler`) runs in a thread beside them; it starts first,
so a server on a data home where another scheduler runs refuses to start. The stop, on
SIGTERM or SIGINT, is ordered so nothing acknowledged is lost and nothing read is left
uncommitted: the scheduler stops its running tries (they run again on the next start),
collectors stop accepting and finish what is in flight, `Ingest` writes what it holds,
then the stream job lands and commits.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import signal
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bdp.bus import Bus, open_bus
from bdp.collect import Collector, Ingest
from bdp.config import Settings
from bdp.logs import fields
from bdp.serve.stream_process import StreamProcess

if TYPE_CHECKING:
    from bdp.orchestrate.scheduler import Scheduler

__all__ = ["Server", "ServerHealth"]

LOG = logging.getLogger("bdp.serve")

_COLLECTORS = {
    "http": "bdp.collect.http:HttpCollector",
    "forward": "bdp.collect.forward:ForwardCollector",
    "tail": "bdp.collect.tail:TailCollector",
}


@dataclass(frozen=True)
class ServerHealth:
    """What `/readyz` reports. Ready means accepting: every collector is, and the bus
    writer runs. A stream job that is down (it is restarted) is among the reasons but
    does not make the server unready: what the collectors accept is safe on the bus."""

    ready: bool
    checks: dict[str, bool] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)


class Server:
    def __init__(self, settings: Settings, datasets: list[str]) -> None:
        self.settings = settings
        self.datasets = datasets
        self.collectors: list[Collector] = []
        self.ingest: Ingest | None = None
        self.stream: StreamProcess | None = None
        self.scheduler: Scheduler | None = None
        self._stop: asyncio.Event | None = None

    # -- health ------------------------------------------------------------------------

    def health(self) -> ServerHealth:
        checks: dict[str, bool] = {}
        reasons: list[str] = []
        checks["ingest"] = self.ingest is not None and self.ingest.healthy
        if not checks["ingest"]:
            reasons.append("the bus writer is not running")
        for collector in self.collectors:
            checks[collector.name] = collector.ready
            if not collector.ready:
                reasons.append(f"the {collector.name} collector is not accepting")
        ready = all(checks.values())
        if self.stream is not None:
            checks["stream"] = self.stream.alive
            if not self.stream.alive:
                reasons.append(self.stream.last_failure or "the stream job is not running")
        if self.scheduler is not None:
            checks["scheduler"] = self.scheduler.alive
            if not self.scheduler.alive:
                reasons.append("the scheduler is not running")
        return ServerHealth(ready, checks, reasons)

    # -- running -----------------------------------------------------------------------

    async def run(self) -> None:
        """Serve until SIGTERM or SIGINT (or `request_stop`), then stop gracefully."""
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.request_stop)
        began = time.perf_counter()
        bus = await asyncio.to_thread(open_bus, self.settings)
        try:
            await self._start(bus)
            await self._stop.wait()
            LOG.info("serve %s", fields(status="stopping"))
        finally:
            await self._shutdown(bus)
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)
        LOG.info("serve %s", fields(status="stopped", seconds=time.perf_counter() - began))

    def request_stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    async def _start(self, bus: Bus) -> None:
        if self.settings.serve.scheduler:
            from bdp.orchestrate.scheduler import Scheduler

            # First: a second scheduler on this data home stops the server with the
            # reason before anything listens.
            self.scheduler = Scheduler(self.settings)
            await asyncio.to_thread(self.scheduler.start)
        self.ingest = Ingest(self.settings, bus)
        if self.settings.serve.stream:
            for name in self.datasets:  # so collectors and the job agree on partitions
                await asyncio.to_thread(bus.create_topic, name)
            self.stream = StreamProcess(self.settings, self.datasets)
            self.stream.start()
        for name in self._enabled():
            self.collectors.append(_build(name, self.settings, self.ingest, self.health))
        for collector in self.collectors:
            await collector.start()
        LOG.info(
            "serve %s",
            fields(
                status="ready",
                **{c.name: c.address for c in self.collectors},
                stream="on" if self.stream is not None else "off",
                scheduler="on" if self.scheduler is not None else "off",
                datasets=len(self.datasets),
            ),
        )

    def _enabled(self) -> list[str]:
        collect = self.settings.collect
        names = []
        if collect.http.enabled:
            names.append("http")
        if collect.forward.enabled:
            names.append("forward")
        if collect.tail:
            names.append("tail")
        return names

    async def _shutdown(self, bus: Bus) -> None:
        drain = self.settings.serve.drain_timeout_seconds
        if self.scheduler is not None:
            await asyncio.to_thread(self.scheduler.stop)
        for collector in self.collectors:
            try:
                await collector.stop(drain)
            except Exception as exc:  # the others must still stop
                LOG.error("stopping the %s collector failed: %s", collector.name, exc)
        if self.ingest is not None:
            await asyncio.to_thread(self.ingest.close)
        if self.stream is not None:
            await asyncio.to_thread(self.stream.stop, drain + 60)
        await asyncio.to_thread(bus.close)


def _build(name: str, settings: Settings, ingest: Ingest, health: object) -> Collector:
    module_name, class_name = _COLLECTORS[name].split(":")
    kind = getattr(importlib.import_module(module_name), class_name)
    if name == "http":
        collector: Collector = kind(settings, ingest, health=health)
    else:
        collector = kind(settings, ingest)
    return collector
