"""Client configuration of the Kafka bus, built from `[bus.kafka]`, and the lazy import.

confluent-kafka is imported only when a client is built, so `bdp` works without it
until the Kafka backend is chosen. `bus.kafka.client_options` is applied last: it
carries security settings (SASL, SSL) and may override any tuning set here. Those
options are secret: they stay `SecretStr`s everywhere but in the dict handed to the
client.

Names on the broker are `bus.namespace` + the bdp name, for topics and groups alike,
so several platforms or test runs can share one cluster without seeing each other.
`KafkaConnection` bundles the address, the options and the names for Kafka clients
outside the bus (Spark's Kafka source), so they never rebuild any of it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from pydantic import SecretStr

from bdp.config import BusSettings, KafkaBusSettings
from bdp.errors import MissingExtraError

__all__ = [
    "KafkaConnection",
    "Names",
    "admin_config",
    "consumer_config",
    "load_client",
    "producer_config",
]

CLIENT_LOG = logging.getLogger("bdp.bus.kafka.client")
"""librdkafka's own log lines (connection failures and the like), at their own levels."""
# A library does not print unless the application configured logging.
CLIENT_LOG.addHandler(logging.NullHandler())

QUEUED_RECORDS = 1_000_000
"""Records the producer may hold unacknowledged before `send_batch` has to wait."""


def load_client() -> ModuleType:
    try:
        import confluent_kafka
        import confluent_kafka.admin  # makes `confluent_kafka.admin` reachable
    except ImportError:
        raise MissingExtraError("confluent-kafka", "kafka") from None
    return confluent_kafka


@dataclass(frozen=True)
class Names:
    """bdp names ↔ broker names under the namespace."""

    namespace: str

    def physical(self, name: str) -> str:
        return self.namespace + name

    def logical(self, name: str) -> str | None:
        """The bdp name of a broker name, or None when it is outside the namespace."""
        if not name.startswith(self.namespace) or name.startswith("__"):
            return None
        return name[len(self.namespace) :]


@dataclass(frozen=True)
class KafkaConnection:
    """How a Kafka client reaches bdp's topics and groups on the broker.

    `names` turns bdp's topic and group names into the broker's (`physical`) and back
    (`logical`). `client_options` stay secret (`repr` shows stars); `client_config()`
    reveals them, for the client and nothing else. They use librdkafka's property
    names; a Java client (Spark's Kafka source) shares many (`security.protocol`,
    `sasl.mechanism`) but not all (its credentials go in `sasl.jaas.config`).
    """

    bootstrap_servers: str
    names: Names
    client_options: Mapping[str, SecretStr]

    @classmethod
    def of(cls, settings: BusSettings) -> KafkaConnection:
        kafka = settings.kafka
        return cls(kafka.bootstrap_servers, Names(settings.namespace), kafka.client_options)

    def client_config(self) -> dict[str, str]:
        """`bootstrap.servers` and the client options, secrets revealed."""
        return {"bootstrap.servers": self.bootstrap_servers, **_revealed(self.client_options)}


def _revealed(options: Mapping[str, SecretStr]) -> dict[str, str]:
    return {key: value.get_secret_value() for key, value in options.items()}


def _common(settings: KafkaBusSettings) -> dict[str, Any]:
    return {
        "bootstrap.servers": settings.bootstrap_servers,
        "client.id": "bdp",
        "socket.connection.setup.timeout.ms": settings.connect_timeout_ms,
        "log.connection.close": False,
        "logger": CLIENT_LOG,
    }


def _with_options(config: dict[str, Any], settings: KafkaBusSettings) -> dict[str, Any]:
    config.update(_revealed(settings.client_options))
    return config


def admin_config(settings: KafkaBusSettings, on_error: Any) -> dict[str, Any]:
    config = {
        **_common(settings),
        # Asking about a topic must never create it (the admin client is a producer inside).
        "allow.auto.create.topics": False,
        "error_cb": on_error,
    }
    return _with_options(config, settings)


def producer_config(settings: KafkaBusSettings, on_delivery: Any, on_error: Any) -> dict[str, Any]:
    acks = settings.acks
    config = {
        **_common(settings),
        "acks": str(acks) if acks != "all" else "all",
        # Retries cannot duplicate or reorder records; needs acks=all.
        "enable.idempotence": acks == "all",
        "linger.ms": settings.linger_ms,
        "batch.size": settings.batch_bytes,
        "compression.type": settings.compression,
        # Keyed records land where `partition_for_key` says (Java's murmur2); unkeyed
        # ones spread (and stick to one partition per linger period).
        "partitioner": "murmur2_random",
        "message.max.bytes": settings.max_message_bytes,
        "message.timeout.ms": settings.delivery_timeout_ms,
        "queue.buffering.max.messages": QUEUED_RECORDS,
        # Delivery reports only for failures: a callback per record costs more than
        # producing it; `flush` raises whatever was reported.
        "delivery.report.only.error": True,
        "on_delivery": on_delivery,
        "error_cb": on_error,
    }
    return _with_options(config, settings)


def consumer_config(settings: KafkaBusSettings, group: str, on_error: Any) -> dict[str, Any]:
    config = {
        **_common(settings),
        "group.id": group,
        # The caller commits explicit offsets; nothing moves behind its back.
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        # Only used when a position falls outside the log (retention overtook it):
        # resume at the oldest record, as the embedded bus does.
        "auto.offset.reset": "earliest",
        "allow.auto.create.topics": False,
        "enable.partition.eof": False,
        "fetch.max.bytes": max(52_428_800, settings.max_message_bytes),
        "max.partition.fetch.bytes": max(1_048_576, settings.max_message_bytes),
        # A partition whose prefetch queue is full pauses fetching; the default pause
        # (1 s) stalls a consumer that drains the queue in a few milliseconds.
        "fetch.queue.backoff.ms": 50,
        "error_cb": on_error,
    }
    return _with_options(config, settings)
