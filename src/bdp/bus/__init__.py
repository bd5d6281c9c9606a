"""The event bus: topics of partitioned, offset-addressed, durable records.

`open_bus(settings)` opens the backend `bus.backend` names, from `BUSES`: "local" is the
embedded on-disk log under the data home (`bus/local/`), "kafka" a real broker
(`bus/kafka/`, the `kafka` extra). `BUSES.capabilities(name)` tells what a backend can
do before it is opened.
"""

from __future__ import annotations

from bdp.bus.base import (
    Bus,
    BusCapabilities,
    Consumer,
    Producer,
    RecordBatch,
    RetentionOutcome,
    StartFrom,
    murmur2,
    partition_for_key,
)
from bdp.config import Settings
from bdp.registry import Registry

__all__ = [
    "BUSES",
    "Bus",
    "BusCapabilities",
    "Consumer",
    "Producer",
    "RecordBatch",
    "RetentionOutcome",
    "StartFrom",
    "murmur2",
    "open_bus",
    "partition_for_key",
]

BUSES: Registry[Bus, BusCapabilities] = Registry("bus backend")
"""Bus backends by name; each factory takes the `Settings`."""


@BUSES.register("local", BusCapabilities(shared=False, kafka_protocol=False))
def _open_local(settings: Settings) -> Bus:
    from bdp.bus.local import LocalBus

    return LocalBus(settings.paths.bus, settings.bus)


@BUSES.register(
    "kafka",
    BusCapabilities(shared=True, kafka_protocol=True, server_retention=True),
    requires="confluent_kafka",
    extra="kafka",
)
def _open_kafka(settings: Settings) -> Bus:
    from bdp.bus.kafka import KafkaBus

    return KafkaBus(settings.bus)


def open_bus(settings: Settings) -> Bus:
    """The bus backend the configuration names."""
    return BUSES.open(settings.bus.backend, settings)
