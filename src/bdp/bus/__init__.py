"""The event bus: topics of partitioned, offset-addressed, durable records.

`open_bus(settings)` picks the backend named by `settings.bus.backend`: "local" is the
embedded on-disk log under the data home, "kafka" a real broker (optional extra).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from bdp.bus.base import (
    Bus,
    BusCapabilities,
    Consumer,
    Producer,
    RecordBatch,
    StartFrom,
    murmur2,
    partition_for_key,
)
from bdp.config import Settings
from bdp.errors import MissingExtraError, UnknownNameError

__all__ = [
    "Bus",
    "BusCapabilities",
    "Consumer",
    "Producer",
    "RecordBatch",
    "StartFrom",
    "murmur2",
    "open_bus",
    "partition_for_key",
]


def _open_local(settings: Settings) -> Bus:
    from bdp.bus.local import LocalBus

    return LocalBus(settings.paths.bus, settings.bus)


def _open_kafka(settings: Settings) -> Bus:
    try:
        importlib.import_module("confluent_kafka")
    except ImportError:
        raise MissingExtraError("confluent-kafka", "kafka") from None
    from bdp.bus.kafka import KafkaBus

    return KafkaBus(settings)


_BACKENDS: dict[str, Callable[[Settings], Bus]] = {"kafka": _open_kafka, "local": _open_local}


def open_bus(settings: Settings) -> Bus:
    """The bus backend the configuration names."""
    name = settings.bus.backend
    factory = _BACKENDS.get(name)
    if factory is None:
        raise UnknownNameError("bus backend", name, list(_BACKENDS))
    return factory(settings)
