"""`bdp demo` on the cluster profile: Kafka bus, HDFS lake, Spark engine, all real."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

DAY = "2024-04-16"


@pytest.mark.slow
@pytest.mark.service("kafka")
@pytest.mark.service("hdfs")
def test_the_demo_reconciles_on_kafka_hdfs_and_spark(
    tmp_path: Path, kafka_env: dict[str, str], hdfs_env: dict[str, str]
) -> None:
    # HDFS as the stack's lake user, for bdp and for Spark's Hadoop client alike.
    env = {**kafka_env, **hdfs_env, "BDP_ETL__ENGINE": "spark"}
    command = [sys.executable, "-m", "bdp", "--home", str(tmp_path), "demo", "--date", DAY]
    result = subprocess.run(
        [*command, "--scale", "0.05", "--json"],
        env=env,
        capture_output=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    summary = orjson.loads(result.stdout)
    for name, figures in summary["datasets"].items():
        assert figures["generated"] == figures["lake_rows"] + figures["quarantined"], name
        assert figures["quarantined"] == figures["injected_bad"], name
        assert figures["tables"] and all(rows >= 0 for rows in figures["tables"].values())
    game = summary["datasets"]["gamelogs"]
    assert game["tables"]["lol_analysis_log"] == game["lake_rows"] > 0
    assert Path(summary["report"]).is_file()

    # The demo's topics and lake are its own; the settings it prints find them.
    assert summary["env"]["BDP_LAKE__URL"] == f"{hdfs_env['BDP_LAKE__URL']}/demo"
    status = subprocess.run(
        [sys.executable, "-m", "bdp", "--home", summary["home"], "status", "--json"],
        env={**env, **summary["env"]},
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert status.returncode == 0, status.stderr.decode()[-3000:]
    seen = orjson.loads(status.stdout)
    for name, figures in summary["datasets"].items():
        assert seen["topics"][name]["records"] == figures["generated"], name
        assert seen["topics"][name]["lag"] == 0, name
        assert sum(seen["lake"][name]["raw"].values()) == figures["lake_rows"], name
