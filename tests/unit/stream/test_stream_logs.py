"""The stream job logs one structured line per landed batch, on the `bdp.stream` logger."""

from __future__ import annotations

import logging
import shlex
from pathlib import Path

import pytest

from bdp.bus import open_bus
from bdp.config import load_settings
from bdp.lake import open_lake
from bdp.stream.embedded import EmbeddedStreamJob

WEB = (
    '{"ip":"10.0.0.1","datetime":"2024-04-%02dT10:00:00Z","method":"GET","url":"/",'
    '"responseCode":200,"responseTime":%d,"sessionID":"s"}'
)


def parse(message: str) -> tuple[str, dict[str, str]]:
    event, *pairs = shlex.split(message)
    return event, dict(pair.split("=", 1) for pair in pairs)


def test_each_batch_logs_its_dataset_partition_offsets_counts_and_duration(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings(home=tmp_path, environ={"BDP_BUS__PARTITIONS": "1"}, cwd=tmp_path)
    values = [(WEB % (15 + i % 2, i)).encode() for i in range(30)] + [b"{broken"]
    with open_bus(settings) as bus:
        bus.create_topic("weblogs")
        with bus.producer() as producer:
            producer.send_batch("weblogs", values, [None] * len(values))
        job = EmbeddedStreamJob(settings, open_lake(settings), ["weblogs"], bus=bus)
        with caplog.at_level(logging.INFO, logger="bdp.stream"):
            job.run(until_idle=True)
    lines = [parse(r.getMessage()) for r in caplog.records if r.name == "bdp.stream"]
    assert [event for event, _ in lines] == ["started", "batch", "stopped"]
    batch = lines[1][1]
    assert {k: batch[k] for k in ("dataset", "topic", "partition")} == {
        "dataset": "weblogs",
        "topic": "weblogs",
        "partition": "0",
    }
    assert (batch["first_offset"], batch["last_offset"]) == ("0", "30")
    assert (batch["read"], batch["landed"], batch["quarantined"]) == ("31", "30", "1")
    assert batch["files"] == "3"  # two event dates and the quarantine
    assert batch["dates"] == "2024-04-15,2024-04-16"
    assert float(batch["seconds"]) >= 0
    assert lines[2][1]["landed"] == "30"
