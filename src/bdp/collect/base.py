"""What every collector shares: the records it hands on, the way it runs, its refusals.

A collector (HTTP, forward, tail) turns what a client sent into `Collected` records for
one dataset and awaits `Ingest.send`, which returns once the bus holds them durably;
only then does the collector acknowledge them to the client. `bdp serve` starts every
enabled collector, reports readiness, and stops them on SIGTERM: stop accepting, let
what is in flight finish, return.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

from bdp.config import Settings
from bdp.datasets import Dataset, get_dataset
from bdp.errors import BdpError

__all__ = ["Backpressure", "Collected", "Collector", "IngestUnavailable", "find_dataset"]


def find_dataset(settings: Settings, name: str) -> Dataset:
    """The dataset a client named (built-in or declared in the config); UnknownNameError
    with the closest name otherwise."""
    return get_dataset(name, settings)


@dataclass
class Collected:
    """Records of one dataset, ready for its topic."""

    dataset: Dataset
    values: list[bytes]
    """One JSON object per record, exactly the bytes that will land in the lake."""
    partition_keys: list[bytes | None] | None = None
    """The value of the dataset's partition key per record (its partition), if any."""
    ids: list[bytes | None] | None = None
    """An idempotency id per record, if any: a record sent again with the id of one
    already landed (a client's retry) lands once (`stream.dedupe_window_hours`)."""
    timestamps_ms: list[int] | None = None
    """Arrival time per record; the wall clock at `send` by default."""
    source: str = field(default="", compare=False)
    """Who sent them, for logs only (`http`, `forward 127.0.0.1:50412`)."""

    def __len__(self) -> int:
        return len(self.values)


class Backpressure(BdpError):
    """The bus is not keeping up: more records are pending than
    `collect.max_pending_records`. Clients should retry after `retry_after_seconds`."""

    def __init__(self, message: str, retry_after_seconds: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class IngestUnavailable(BdpError):
    """The bus cannot take records now (disk full, broker away). Nothing of the refused
    request is acknowledged; clients should retry after `retry_after_seconds`."""

    def __init__(self, message: str, retry_after_seconds: float = 5.0) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class Collector(abc.ABC):
    """A source of records that runs inside `bdp serve` on its asyncio loop."""

    name: str
    """`http`, `forward`, `tail`: used in logs and in `/readyz`."""

    @abc.abstractmethod
    async def start(self) -> None:
        """Bind and begin accepting; return once it is accepting (a port in use is a
        `BdpError` naming it)."""

    @abc.abstractmethod
    async def stop(self, drain_timeout_seconds: float) -> None:
        """Stop accepting, let in-flight work finish (at most the timeout), release."""

    @property
    def ready(self) -> bool:
        """Accepting and able to hand records on."""
        return True

    @property
    def address(self) -> str:
        """Where it listens (`127.0.0.1:9880`), or what it watches."""
        return ""
