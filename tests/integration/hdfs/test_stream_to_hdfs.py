"""The stream job landing into an HDFS lake (a real NameNode and DataNode)."""

from __future__ import annotations

import orjson
import pytest

from bdp.lake import open_lake
from bdp.lake.hdfs import HdfsLake

from .conftest import DATASET, DAY, cli, landed_lines


@pytest.mark.service("hdfs")
def test_every_record_lands_once_in_its_partition_on_hdfs(on_hdfs, on_local, hdfs_env) -> None:
    settings, stats, generated = on_hdfs()
    assert generated >= 2000
    lake = open_lake(settings)
    assert isinstance(lake, HdfsLake)
    assert (stats[DATASET].landed, stats[DATASET].quarantined) == (generated, 0)
    on_hdfs_lines = landed_lines(lake)
    assert {day: len(lines) for day, lines in on_hdfs_lines.items()} == {DAY: generated}
    # The same session landed on a local lake: the same bytes in the same partitions.
    local_settings, _, local_generated = on_local()
    assert local_generated == generated
    assert landed_lines(open_lake(local_settings)) == on_hdfs_lines
    # The checkpoint is on HDFS: a second run finds nothing new and duplicates nothing.
    assert any(f.path.startswith("_checkpoints/") for f in lake.list_files("_checkpoints"))
    from bdp.bus import open_bus
    from bdp.stream.embedded import EmbeddedStreamJob

    with open_bus(settings) as bus:
        again = EmbeddedStreamJob(settings, lake, [DATASET], bus=bus).run(until_idle=True)
    assert again[DATASET].landed == 0
    assert landed_lines(lake) == on_hdfs_lines
    # No temporary file is left, and the CLI reads the rows from HDFS.
    assert all("/." not in f.path for f in lake.list_files(""))
    status = orjson.loads(cli(settings.home, hdfs_env, "status", "--json").stdout)
    assert status["lake"][DATASET]["raw"] == {DAY: generated}
    assert status["topics"][DATASET]["lag"] == 0
