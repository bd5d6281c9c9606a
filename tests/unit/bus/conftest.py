"""Shared helpers for the embedded bus's unit tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bdp.bus import RecordBatch
from bdp.bus.local import LocalBus
from bdp.config import BusSettings, LocalBusSettings


@pytest.fixture
def make_bus(tmp_path: Path) -> Iterator[Callable[..., LocalBus]]:
    """Open a LocalBus on this test's directory; keyword arguments are `[bus]` or
    `[bus.local]` settings."""
    opened: list[LocalBus] = []

    def make(**settings: Any) -> LocalBus:
        own = {key: settings.pop(key) for key in LocalBusSettings.model_fields if key in settings}
        bus = LocalBus(tmp_path / "bus", BusSettings(**settings, local=LocalBusSettings(**own)))
        opened.append(bus)
        return bus

    yield make
    for bus in opened:
        bus.close()


@pytest.fixture
def read_all() -> Callable[..., RecordBatch]:
    return _read_all


def _read_all(bus: LocalBus, topic: str, partition: int = 0, **consumer_args: Any) -> RecordBatch:
    """Every record of one partition, merged into one batch (fresh consumer, no commit)."""
    offsets, stamps, values, keys = [], [], [], []
    with bus.consumer("reader", topic, partitions=[partition], **consumer_args) as consumer:
        while batches := consumer.poll(100_000):
            for batch in batches:
                offsets.append(batch.offsets)
                stamps.append(batch.timestamps_ms)
                values.extend(batch.values)
                keys.extend(batch.keys)
    return RecordBatch(
        topic,
        partition,
        np.concatenate(offsets) if offsets else np.empty(0, np.int64),
        np.concatenate(stamps) if stamps else np.empty(0, np.int64),
        values,
        keys,
    )
