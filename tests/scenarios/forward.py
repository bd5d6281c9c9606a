"""A forward collector on a real embedded bus, run on a loop of its own thread, and a tiny
blocking forward client: what the forward collector's tests and the real clients' tests
share."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack
import orjson

from bdp.bus import Bus, open_bus
from bdp.collect.forward import ForwardCollector
from bdp.collect.ingest import Ingest, record_id
from bdp.config import Settings, load_settings


def forward_settings(home: Path, **forward: Any) -> Settings:
    """Settings of a data home, port 0, with `[collect.forward]` keys overridden."""
    settings = load_settings(home=home, environ={})
    section = settings.collect.forward.model_copy(update={"port": 0, **forward})
    collect = settings.collect.model_copy(update={"forward": section})
    return settings.model_copy(update={"collect": collect})


@dataclass
class RunningCollector:
    collector: ForwardCollector
    bus: Bus
    ingest: Ingest
    loop: asyncio.AbstractEventLoop

    @property
    def port(self) -> int:
        return self.collector.port

    def call(self, coroutine: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)


@contextmanager
def running_collector(settings: Settings) -> Iterator[RunningCollector]:
    """Starts the collector on a loop thread; stops it, the ingest and the bus after."""
    bus = open_bus(settings)
    ingest = Ingest(settings, bus)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="forward-test-loop", daemon=True)
    thread.start()
    running = RunningCollector(ForwardCollector(settings, ingest), bus, ingest, loop)
    try:
        running.call(running.collector.start())
        yield running
    finally:
        try:
            running.call(running.collector.stop(5.0))
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()
            ingest.close()
            bus.close()


@dataclass
class Landed:
    record: dict[str, Any]
    key: bytes | None
    id: bytes | None


def read_topic(bus: Bus, topic: str, expected: int, timeout_s: float = 20) -> list[Landed]:
    """Every record of the topic once `expected` have arrived (fails on the deadline),
    after a further short poll that shows nothing more landed."""
    bus.create_topic(topic)
    consumer = bus.consumer(f"check-{time.monotonic_ns()}", topic, with_keys=True)
    landed: list[Landed] = []

    def take(timeout_ms: int) -> None:
        for batch in consumer.poll(10_000, timeout_ms=timeout_ms):
            for value, key in zip(batch.values, batch.keys, strict=True):
                rid = record_id(key)
                landed.append(Landed(orjson.loads(value), None if rid else key, rid))

    deadline = time.monotonic() + timeout_s
    try:
        while len(landed) < expected and time.monotonic() < deadline:
            take(200)
        take(100)
    finally:
        consumer.close()
    assert len(landed) == expected, f"{len(landed)} records on {topic}, expected {expected}"
    return landed


class ForwardClient:
    """A blocking forward-protocol client that sends raw bytes and reads answers."""

    def __init__(self, port: int, timeout_s: float = 10) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
        self.unpacker = msgpack.Unpacker(raw=False)

    def send(self, value: Any) -> None:
        self.sock.sendall(msgpack.packb(value))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def receive(self) -> Any:
        """The next answer; raises EOFError when the server closed the connection."""
        while True:
            for value in self.unpacker:
                return value
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("the server closed the connection")
            self.unpacker.feed(data)

    def closed_by_server(self) -> bool:
        """Whether the server closed the connection (waits up to the socket's timeout)."""
        try:
            return self.sock.recv(65536) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> ForwardClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
