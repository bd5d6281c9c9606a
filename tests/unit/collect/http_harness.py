"""A collector served on an ephemeral loopback port from a thread of its own, a bus in a
temporary home behind it, and a plain HTTP client, so tests call it as any client would."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from bdp.bus import Bus, Producer, open_bus
from bdp.collect import Ingest
from bdp.collect.http import HttpCollector
from bdp.config import Settings, load_settings

T = TypeVar("T")

WEB = (
    '{"ip":"10.0.0.1","datetime":"2024-05-01T10:00:%02d.000Z","method":"GET","url":"/",'
    '"responseCode":200,"responseTime":%d,"sessionID":"s%d"}'
)


def web(i: int) -> bytes:
    """A valid weblogs record; its session (partition key) is `s<i % 3>`."""
    return (WEB % (i % 60, i, i % 3)).encode()


def write_settings(home: Path, toml: str = "", **environ: str) -> Settings:
    config = home / "bdp.toml"
    config.write_text("[collect.http]\nport = 0\n" + toml, encoding="utf-8")
    return load_settings(config=config, home=home / "data", environ=environ)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


class Served:
    """A running collector and a client of it."""

    def __init__(self, collector: HttpCollector, loop: asyncio.AbstractEventLoop) -> None:
        self.collector, self.loop = collector, loop

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.collector.port}"

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def run_soon(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def request(
        self,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        method: str | None = None,
    ) -> Answer:
        sent = urllib.request.Request(
            self.url + path, data=body, headers=headers or {}, method=method
        )
        try:
            with urllib.request.urlopen(sent, timeout=30) as response:
                return Answer(response.status, dict(response.headers), _json(response.read()))
        except urllib.error.HTTPError as error:
            return Answer(error.code, dict(error.headers), _json(error.read()))

    def post(self, dataset: str, body: bytes, **headers: str) -> Answer:
        headers = {key.replace("_", "-"): value for key, value in headers.items()}
        headers.setdefault("Content-Type", "application/json")
        return self.request(f"/v1/events/{dataset}", body, headers)


def _json(data: bytes) -> Any:
    return json.loads(data) if data else None


@contextmanager
def serving(
    settings: Settings, ingest: Ingest, health: Callable[[], Any] | None = None
) -> Iterator[Served]:
    """The collector running on a loop in a thread; stopped on leaving."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="test-http-loop", daemon=True)
    thread.start()
    collector = HttpCollector(settings, ingest, health=health)
    served = Served(collector, loop)
    try:
        served.run(collector.start())
        yield served
    finally:
        try:
            served.run(collector.stop(5.0))
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()


def read_topic(bus: Bus, topic: str) -> list[tuple[int, bytes | None, bytes]]:
    """(partition, key, value) of every record of the topic, at once (no waiting)."""
    if topic not in bus.topics():
        return []
    found = []
    with bus.consumer("test-reader", topic, with_keys=True) as consumer:
        while batches := consumer.poll(100_000, timeout_ms=0):
            for batch in batches:
                for key, value in zip(batch.keys, batch.values, strict=True):
                    found.append((batch.partition, key, value))
    return found


class WrappedBus:
    """A bus whose producers are wrapped, to fail or hold their flushes."""

    def __init__(self, inner: Bus, wrap: Callable[[Producer], Producer]) -> None:
        self.inner, self.wrap = inner, wrap

    def producer(self) -> Producer:
        return self.wrap(self.inner.producer())

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@dataclass
class Stack:
    settings: Settings
    bus: Bus
    ingest: Ingest
    served: Served


@contextmanager
def stack(
    settings: Settings,
    wrap: Callable[[Producer], Producer] | None = None,
    health: Callable[[], Any] | None = None,
) -> Iterator[Stack]:
    bus = open_bus(settings)
    ingest_bus: Any = bus if wrap is None else WrappedBus(bus, wrap)
    ingest = Ingest(settings, ingest_bus)
    try:
        with serving(settings, ingest, health) as served:
            yield Stack(settings, bus, ingest, served)
    finally:
        ingest.close()
        bus.close()
