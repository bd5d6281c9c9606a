"""The distributed bus: Apache Kafka through confluent-kafka (the `kafka` extra).

Files by role: `bus.py` the `Bus` (topics, groups, admin calls); `producer.py` /
`consumer.py` its clients; `batches.py` turns fetched messages into `RecordBatch`es;
`config.py` the client configuration and the lazy import of the driver; `errors.py`
the broker's errors as bdp's. Nothing here imports confluent-kafka until a client is
built.
"""

from bdp.bus.kafka.bus import KafkaBus
from bdp.bus.kafka.config import KafkaConnection, Names
from bdp.bus.kafka.errors import (
    BrokerUnavailableError,
    BusAuthorizationError,
    DeliveryError,
    KafkaBusError,
    RecordTooLargeError,
    UnknownTopicDeliveryError,
)

__all__ = [
    "BrokerUnavailableError",
    "BusAuthorizationError",
    "DeliveryError",
    "KafkaBus",
    "KafkaBusError",
    "KafkaConnection",
    "Names",
    "RecordTooLargeError",
    "UnknownTopicDeliveryError",
]
