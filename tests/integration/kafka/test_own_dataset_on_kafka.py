"""The declared-dataset story on Kafka: curl and fluent-logger through `bdp serve`, whose
collectors write to the broker (acks=all) and whose stream job reads from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scenarios.own_dataset import send_own_dataset_through_serve


@pytest.mark.service("kafka")
def test_a_declared_dataset_flows_through_serve_on_kafka(
    tmp_path: Path, kafka_env: dict[str, str]
) -> None:
    send_own_dataset_through_serve(tmp_path, kafka_env)
