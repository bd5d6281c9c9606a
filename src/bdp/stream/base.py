"""The stream job interface: land bus records in the lake until stopped or drained.

Every engine lands through the same `Lander` (validation, files, checkpoint), so a batch
lands as the same files whichever engine read it; engines differ in how they read the
bus and in where work runs. Their `StreamCapabilities` say so, and the code around them
branches on those, never on which engine it holds.
"""

from __future__ import annotations

import abc
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from bdp.bus import BUSES
from bdp.config import Settings
from bdp.datasets import Dataset, get_dataset
from bdp.datasets.evolution import check_schema_change
from bdp.errors import BdpError, ConfigError
from bdp.lake import Lake
from bdp.logs import fields

__all__ = [
    "GROUP",
    "LOG",
    "BatchCallback",
    "DatasetStats",
    "StreamCapabilities",
    "StreamError",
    "StreamJob",
]

LOG = logging.getLogger("bdp.stream")
"""The stream jobs' logger: one line per batch and per stop, at INFO."""

GROUP = "bdp-stream"
"""The consumer group every engine commits its progress to, so lag reads the same."""


class StreamError(BdpError):
    """The stream job cannot go on (a query failed, a range cannot be re-read)."""


@dataclass(frozen=True)
class StreamCapabilities:
    distributed: bool
    """Work runs on a cluster engine, in other processes and perhaps machines."""
    parallel_workers: bool
    """Honours `stream.workers`: several local processes share the partitions."""
    kafka_client: bool
    """Reads the broker with a Kafka client of its own (Spark's Kafka source), so the bus
    must speak Kafka's protocol; otherwise it reads through bdp's bus interface, so any
    backend does."""
    checkpoints: str
    """The job name its `Lander` keeps per-partition checkpoints under, in the lake's
    `_checkpoints/<job>/`: where the next offset and the watermark of each partition
    are read back (`bdp.orchestrate.completeness`)."""


@dataclass
class DatasetStats:
    read: int = 0
    landed: int = 0
    quarantined: int = 0
    files: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    dates: Counter[str] = field(default_factory=Counter)

    def add(self, other: DatasetStats) -> None:
        self.read += other.read
        self.landed += other.landed
        self.quarantined += other.quarantined
        self.files += other.files
        self.reasons.update(other.reasons)
        self.dates.update(other.dates)


BatchCallback = Callable[[str, DatasetStats], None]
"""Called after each landed batch with the dataset name and what the batch did."""


class StreamJob(abc.ABC):
    """Lands every dataset topic it is given; `stats` holds the totals so far."""

    name: str
    capabilities: StreamCapabilities

    def __init__(self, settings: Settings, lake: Lake, datasets: Iterable[str]) -> None:
        if (
            self.capabilities.kafka_client
            and not BUSES.capabilities(settings.bus.backend).kafka_protocol
        ):
            raise ConfigError(
                f"stream engine {self.name!r} reads the bus with a Kafka client of its own,"
                f" and the {settings.bus.backend!r} bus does not speak Kafka's protocol"
                " (use bus.backend = 'kafka')"
            )
        if settings.stream.workers > 1 and not self.capabilities.parallel_workers:
            LOG.warning(
                "stream.workers=%d is not used by stream engine %r, which spreads work itself",
                settings.stream.workers,
                self.name,
            )
        self.settings = settings
        self.lake = lake
        self.datasets: list[Dataset] = [get_dataset(name, settings) for name in datasets]
        for dataset in self.datasets:
            if dataset.declared:
                check_schema_change(settings, dataset)
        self.stats: dict[str, DatasetStats] = {d.name: DatasetStats() for d in self.datasets}

    def log_totals(self, began: float) -> None:
        """One line per dataset with what this run did, when it stops (`began`: its
        `time.perf_counter()` at the start)."""
        seconds = time.perf_counter() - began
        for name, stats in self.stats.items():
            LOG.info(
                "stopped %s",
                fields(
                    engine=self.name,
                    dataset=name,
                    read=stats.read,
                    landed=stats.landed,
                    quarantined=stats.quarantined,
                    files=stats.files,
                    seconds=seconds,
                ),
            )

    @abc.abstractmethod
    def run(
        self,
        until_idle: bool = False,
        stop: threading.Event | None = None,
        on_batch: BatchCallback | None = None,
    ) -> dict[str, DatasetStats]:
        """Land records until `stop` is set, or until every topic is drained with
        `until_idle`; returns `stats`. A batch in hand is finished before stopping."""
