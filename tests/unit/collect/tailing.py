"""Helpers of the tail tests: a real embedded bus in a temporary home, a tail source
over temporary files, and a reader of what reached the topic (values and ids)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bdp.bus import Bus, Consumer
from bdp.collect import Ingest, record_id
from bdp.collect.tail import TailCollector
from bdp.config import Settings

TOPIC = "weblogs"


@dataclass
class Received:
    value: bytes
    id: bytes | None

    @property
    def offset(self) -> int:
        """The line's byte offset, from its id `t:dev:ino:epoch:offset`."""
        assert self.id is not None and self.id.startswith(b"t:")
        return int(self.id.rsplit(b":", 1)[1])

    @property
    def file(self) -> bytes:
        """The id without its offset: the file's identity and epoch."""
        assert self.id is not None
        return self.id.rsplit(b":", 1)[0]


@dataclass
class TailHarness:
    """One data home with its bus; tail collectors over `logs/`, one at a time."""

    tmp_path: Path
    bus: Bus
    ingest: Ingest
    settings: Settings
    consumer: Consumer
    received: list[Received] = field(default_factory=list)

    @property
    def logs(self) -> Path:
        return self.tmp_path / "logs"

    def collector(self) -> TailCollector:
        return TailCollector(self.settings, self.ingest)

    def drain(self) -> list[Received]:
        """Read whatever the topic holds that was not read yet."""
        while batches := self.consumer.poll(10_000, timeout_ms=0):
            for batch in batches:
                for value, key in zip(batch.values, batch.keys, strict=True):
                    self.received.append(Received(value, record_id(key)))
        return self.received

    async def wait_for(self, count: int, timeout_s: float = 15.0) -> list[Received]:
        """At least `count` records received (failing after the deadline)."""
        await until(lambda: len(self.drain()) >= count, timeout_s, f"{count} records")
        return self.received

    def values(self) -> list[Any]:
        return [json.loads(r.value) for r in self.drain()]


async def until(condition: Callable[[], bool], timeout_s: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await asyncio.sleep(0.01)


def append(path: Path, text: str | bytes) -> None:
    data = text.encode() if isinstance(text, str) else text
    with open(path, "ab") as handle:
        handle.write(data)


def line(n: int, session: str = "s1") -> str:
    return json.dumps({"n": n, "sessionID": session}) + "\n"


def run(scenario: Awaitable[None]) -> None:
    asyncio.run(scenario)  # type: ignore[arg-type]
