"""Fixtures of the collection tests."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bdp.bus import open_bus
from bdp.collect import Ingest
from bdp.config import load_settings
from tests.unit.collect.http_harness import Stack, stack, write_settings
from tests.unit.collect.tailing import TOPIC, TailHarness


@pytest.fixture
def make_harness(tmp_path: Path) -> Iterator[Callable[..., TailHarness]]:
    """`make_harness(paths=["logs/*.log"], fmt="json", **source_keys, environ={})`."""
    made: list[TailHarness] = []

    def make(
        paths: list[str] | None = None,
        fmt: str = "json",
        environ: dict[str, str] | None = None,
        **source: Any,
    ) -> TailHarness:
        (tmp_path / "logs").mkdir(exist_ok=True)
        globs = [str(tmp_path / p) for p in (paths or ["logs/*.log"])]
        keys = {"poll_interval_ms": 20, "rotate_wait_seconds": 0.2, **source}
        toml = [
            "[[collect.tail]]",
            f'dataset = "{TOPIC}"',
            f"paths = {json.dumps(globs)}",
            f'format = "{fmt}"',
        ] + [f"{key} = {json.dumps(value)}" for key, value in keys.items()]
        config = tmp_path / "bdp.toml"
        config.write_text("\n".join(toml) + "\n")
        settings = load_settings(
            config=config,
            home=tmp_path / "home",
            environ={"BDP_BUS__PARTITIONS": "1", **(environ or {})},
        )
        bus = open_bus(settings)
        bus.create_topic(TOPIC)
        harness = TailHarness(
            tmp_path,
            bus,
            Ingest(settings, bus),
            settings,
            bus.consumer("tail-test", TOPIC, with_keys=True),
        )
        made.append(harness)
        return harness

    yield make
    for harness in made:
        harness.consumer.close()
        harness.ingest.close()
        harness.bus.close()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Stack]:
    """The collector with default settings (no tokens, loopback) and a two-partition bus."""
    with stack(write_settings(tmp_path, BDP_BUS__PARTITIONS="2")) as running:
        yield running
