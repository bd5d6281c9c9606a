"""run_etl rides out a lake that fails transiently, and logs one line per stage."""

from __future__ import annotations

import datetime as dt
import logging
import shlex

import pytest

from bdp.etl import run_etl
from bdp.lake.base import LakeCapabilities
from bdp.retry import Backoff, RetriesExhausted, Retry
from tests.scenarios.flaky_lake import FlakyLake

from .conftest import write_raw

DAY = dt.date(2024, 4, 16)


def hotel(id_: str) -> str:
    return (
        f'{{"id":"{id_}","ip":"192.168.0.1","datetime":"2024-04-16T01:00:00.000Z",'
        f'"account":"a","method":"/","status":0,"gender":"female","age":"20-29"}}'
    )


def remote_like(lake, **faults) -> FlakyLake:
    """The lake failing on purpose, and without local paths: the ETL downloads the raw
    day and uploads the curated files through the lake, as on HDFS."""
    no_paths = LakeCapabilities(local_paths=False)
    return FlakyLake(lake, capabilities=no_paths, **faults)


def test_transient_lake_failures_are_retried(settings, lake, engine) -> None:
    write_raw(lake, "hotellogs", DAY, "part-00000-0-1.jsonl.zst", [hotel("h1"), hotel("h2")])
    write_raw(lake, "hotellogs", DAY, "part-00001-0-0.jsonl.gz", [hotel("h3")])
    expected = run_etl(settings, "hotellogs", DAY, lake=lake, engine=engine).tables
    flaky = remote_like(lake, operations=("list_files", "read", "publish"), fail_first=2)
    sleeps: list[float] = []
    retry = Retry(Backoff(attempts=3), sleep=sleeps.append)
    result = run_etl(settings, "hotellogs", DAY, lake=flaky, engine=engine, retry=retry)
    assert result.tables == expected and result.raw_rows == 3
    assert flaky.failures == {"list_files": 2, "read": 2, "publish": 2}
    assert len(sleeps) == 6


def test_when_the_retries_run_out_the_run_fails_with_one_line(settings, lake, engine) -> None:
    write_raw(lake, "hotellogs", DAY, "part-00000-0-1.jsonl.zst", [hotel("h1")])
    flaky = remote_like(lake, operations=("list_files",), fail_first=10)
    retry = Retry(Backoff(attempts=2), sleep=lambda _: None)
    with pytest.raises(RetriesExhausted) as caught:
        run_etl(settings, "hotellogs", DAY, lake=flaky, engine=engine, retry=retry)
    assert str(caught.value).startswith(
        "list files under raw/hotellogs/dt=2024-04-16: gave up after 2 attempts:"
    )
    assert "\n" not in str(caught.value)


def test_each_stage_and_the_run_log_a_line(settings, lake, engine, caplog) -> None:
    write_raw(lake, "hotellogs", DAY, "part-00000-0-1.jsonl.zst", [hotel("h1"), hotel("h2")])
    with caplog.at_level(logging.INFO, logger="bdp.etl"):
        result = run_etl(settings, "hotellogs", DAY, lake=lake, engine=engine)
    lines = []
    for record in caplog.records:
        if record.name == "bdp.etl":
            event, *pairs = shlex.split(record.getMessage())
            lines.append((event, dict(pair.split("=", 1) for pair in pairs)))
    stages = [(f["stage"], f["table"]) for event, f in lines if event == "stage"]
    assert sorted(f"{stage}:{table}" for stage, table in stages) == sorted(result.stage_seconds)
    loads = {f["table"]: int(f["rows"]) for event, f in lines if f.get("stage") == "load"}
    assert loads == result.tables
    assert all(float(f["seconds"]) >= 0 for _, f in lines)
    event, run = lines[-1]
    assert event == "run"
    assert (run["dataset"], run["dt"], run["status"]) == ("hotellogs", "2024-04-16", "ok")
    assert (run["raw_files"], run["raw_rows"]) == ("1", "2")
