"""Fixtures for the Spark landing job against the real broker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

STACK = Path(__file__).resolve().parents[3] / "stack"


@pytest.fixture
def spark_env(kafka_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """`kafka_env`, plus one Ivy cache for every test run, so the Kafka source's jars are
    fetched from Maven Central once (into stack/.run/spark/ivy)."""
    yield {**kafka_env, "BDP_STREAM__SPARK_IVY_DIR": str(STACK / ".run" / "spark" / "ivy")}
