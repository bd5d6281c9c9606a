"""What a Kafka client of its own (Spark's Kafka source) gets from the Kafka bus, without
a broker: the address, the secret options and the names under the namespace."""

from __future__ import annotations

import pytest

from bdp.bus import BUSES
from bdp.config import BusSettings, KafkaBusSettings

pytest.importorskip("confluent_kafka")

PASSWORD = "pa55-for-the-client-only"


def test_the_kafka_bus_gives_its_connection() -> None:
    from bdp.bus.kafka import KafkaBus

    options = {"security.protocol": "SASL_SSL", "sasl.password": PASSWORD}
    kafka = KafkaBusSettings(bootstrap_servers="b1:9092,b2:9092", client_options=options)  # type: ignore[arg-type]
    bus = KafkaBus(BusSettings(namespace="team.", kafka=kafka))
    assert bus.capabilities == BUSES.capabilities("kafka")
    assert bus.capabilities.kafka_protocol and bus.capabilities.shared
    connection = bus.kafka_connection()
    assert connection.names.physical("weblogs") == "team.weblogs"
    assert connection.names.logical("team.weblogs") == "weblogs"
    assert connection.names.logical("other.weblogs") is None
    assert connection.client_config() == {"bootstrap.servers": "b1:9092,b2:9092", **options}
    assert PASSWORD not in repr(connection) + repr(bus.settings)
