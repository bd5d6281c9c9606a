"""The lake contract, for every lake backend: atomic publication, listing, partition swap."""

from __future__ import annotations

import shlex
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bdp.config import load_settings
from bdp.lake import Lake, open_lake

STACK_HDFS = Path(__file__).resolve().parents[2] / "stack" / "hdfs"
WEBHDFS = "http://127.0.0.1:9870/webhdfs/v1/?op=GETFILESTATUS"


def _hdfs_is_up() -> bool:
    try:
        with urllib.request.urlopen(WEBHDFS, timeout=5) as resp:
            return resp.status == 200
    except OSError:
        return False


def _stack_hdfs_env() -> dict[str, str]:
    """`stack/hdfs env`: the stack's lake root, as its lake user (an ordinary HDFS user:
    the contract holds with permissions checked)."""
    printed = subprocess.run([STACK_HDFS, "env"], capture_output=True, text=True, check=True)
    return dict(shlex.split(line)[1].split("=", 1) for line in printed.stdout.splitlines())


@pytest.fixture(params=["local", "hdfs"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Lake]:
    environ: dict[str, str] = {}
    if request.param == "hdfs":
        # A real HDFS: fail (never skip) when it is down; a base path of this test's own.
        if not _hdfs_is_up():
            pytest.fail(
                f"no HDFS answers at {WEBHDFS}; start it with stack/hdfs start", pytrace=False
            )
        environ.update(_stack_hdfs_env())
        environ["BDP_LAKE__URL"] += f"/contract-{uuid.uuid4().hex[:12]}"
    lake = open_lake(load_settings(home=tmp_path, environ=environ))
    yield lake
    if request.param == "hdfs":
        lake.delete("")


def test_publish_then_read_and_overwrite(lake: Lake) -> None:
    lake.publish("raw/d/dt=2024-04-16/part-1.jsonl", b"one\n")
    assert lake.read("raw/d/dt=2024-04-16/part-1.jsonl") == b"one\n"
    lake.publish("raw/d/dt=2024-04-16/part-1.jsonl", b"two\n")
    assert lake.read("raw/d/dt=2024-04-16/part-1.jsonl") == b"two\n"
    assert lake.exists("raw/d/dt=2024-04-16/part-1.jsonl")
    assert not lake.exists("raw/d/dt=2024-04-16/part-2.jsonl")


def test_listing_is_recursive_sorted_and_partitions_are_found(lake: Lake) -> None:
    for day, name in [("2024-04-17", "b"), ("2024-04-16", "z"), ("2024-04-16", "a")]:
        lake.publish(f"raw/d/dt={day}/{name}", name.encode())
    files = lake.list_files("raw/d")
    assert [f.path for f in files] == [
        "raw/d/dt=2024-04-16/a",
        "raw/d/dt=2024-04-16/z",
        "raw/d/dt=2024-04-17/b",
    ]
    assert all(f.size == 1 for f in files)
    assert lake.partitions("raw", "d") == ["2024-04-16", "2024-04-17"]
    assert lake.list_files("raw/nothing") == [] and lake.partitions("raw", "nothing") == []


def test_an_unfinished_write_is_never_listed(lake: Lake) -> None:
    # What a writer killed between writing and publishing leaves behind.
    staged = lake.staging_dir("crash")
    lake.publish("raw/d/dt=2024-04-16/done", b"ok")
    if lake.capabilities.local_paths:
        partial = Path(lake.uri("raw/d/dt=2024-04-16")) / ".done.123.tmp"
        partial.write_bytes(b"half")
        Path(lake.uri(staged), "part-0.parquet").write_bytes(b"half")
    else:
        # No local paths: leave the same debris through the lake itself. A temporary
        # name is hidden wherever it is, and so is everything in a staging directory.
        lake.publish("raw/d/dt=2024-04-16/.done.123.tmp", b"half")
        lake.publish(f"{staged}/part-0.parquet", b"half")
    assert [f.path for f in lake.list_files("raw")] == ["raw/d/dt=2024-04-16/done"]
    assert [f.path for f in lake.list_files("")] == ["raw/d/dt=2024-04-16/done"]


def test_replace_dir_swaps_a_whole_partition(lake: Lake) -> None:
    target = "curated/t/dt=2024-04-16"
    first = lake.staging_dir("t")
    lake.publish(f"{first}/part-0.parquet", b"old-0")
    lake.publish(f"{first}/part-1.parquet", b"old-1")
    lake.replace_dir(first, target)
    second = lake.staging_dir("t")
    lake.publish(f"{second}/part-0.parquet", b"new")
    lake.replace_dir(second, target)
    files = lake.list_files(target)
    assert [(f.path.rsplit("/", 1)[1], lake.read(f.path)) for f in files] == [
        ("part-0.parquet", b"new")
    ]
    assert lake.list_dirs("curated/t") == ["dt=2024-04-16"]


def test_staging_dirs_are_fresh_and_delete_is_forgiving(lake: Lake) -> None:
    a, b = lake.staging_dir("x"), lake.staging_dir("x")
    assert a != b and lake.list_files(a) == []
    lake.publish("raw/d/dt=2024-04-16/f", b"1")
    lake.delete("raw/d")
    lake.delete("raw/d")  # already gone: no error
    assert lake.list_files("raw") == []
