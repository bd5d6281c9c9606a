"""`bdp serve` on Kafka, killed with SIGKILL again and again while HTTP and forward
clients send and retry: every acknowledged event lands exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scenarios.serve_crash import kill_serve_while_clients_send


@pytest.mark.slow
@pytest.mark.service("kafka")
def test_every_acknowledged_event_lands_once_through_repeated_sigkills_on_kafka(
    tmp_path: Path, kafka_env: dict[str, str]
) -> None:
    kill_serve_while_clients_send(tmp_path / "home", kafka_env)
