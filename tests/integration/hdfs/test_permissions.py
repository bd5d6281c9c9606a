"""HDFS with permissions checked: bdp acts as its configured user, and a lack of rights
is a clear, terminal error instead of something to retry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from bdp.bus import open_bus
from bdp.config import load_settings
from bdp.errors import TransientError
from bdp.lake import open_lake
from bdp.lake.hdfs import HdfsError, HdfsLake
from bdp.stream.embedded import EmbeddedStreamJob

from .conftest import DATASET, DAY, cli

WEBHDFS = "http://127.0.0.1:9870/webhdfs/v1"


def webhdfs(method: str, path: str, op: str, **params: str) -> dict:
    """One WebHDFS call, outside bdp (as `params["user.name"]`, when given)."""
    url = f"{WEBHDFS}{path}?{urlencode({'op': op, **params})}"
    with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=10) as resp:
        return json.load(resp)


def owner(path: str) -> str:
    return webhdfs("GET", path, "GETFILESTATUS")["FileStatus"]["owner"]


def lock(path: str, superuser: str) -> None:
    """A directory only the superuser may write in."""
    webhdfs("PUT", path, "MKDIRS", **{"user.name": superuser, "permission": "755"})


@pytest.mark.service("hdfs")
def test_bdp_acts_as_the_configured_user_who_is_not_the_superuser(
    tmp_path: Path, hdfs_env: dict[str, str], hdfs_superuser: str
) -> None:
    user = hdfs_env["BDP_LAKE__HDFS_USER"]
    assert user != hdfs_superuser  # otherwise no permission would ever be checked
    lake = open_lake(load_settings(home=tmp_path, environ=hdfs_env))
    assert isinstance(lake, HdfsLake) and lake.user == user
    lake.publish(f"raw/{DATASET}/dt={DAY}/part-0", b"line\n")
    staged = lake.staging_dir("etl")
    lake.publish(f"{staged}/part-0.parquet", b"parquet")
    lake.replace_dir(staged, f"curated/t/dt={DAY}")
    root = urlsplit(lake.url).path
    created = [
        root,
        f"{root}/raw/{DATASET}/dt={DAY}",
        f"{root}/raw/{DATASET}/dt={DAY}/part-0",  # written on the DataNode after a redirect
        f"{root}/curated/t/dt={DAY}/part-0.parquet",
    ]
    assert {path: owner(path) for path in created} == dict.fromkeys(created, user)


@pytest.mark.service("hdfs")
def test_a_lake_root_the_user_may_not_create_is_a_terminal_error_naming_it_and_the_user(
    tmp_path: Path, hdfs_env: dict[str, str], hdfs_superuser: str
) -> None:
    user = hdfs_env["BDP_LAKE__HDFS_USER"]
    # `/` is the superuser's: the lake user may not make a directory there.
    stack = urlsplit(hdfs_env["BDP_LAKE__URL"])
    denied = f"{stack.scheme}://{stack.netloc}/denied-{uuid.uuid4().hex[:10]}"
    settings = load_settings(home=tmp_path, environ={**hdfs_env, "BDP_LAKE__URL": denied})
    with pytest.raises(HdfsError) as caught:
        open_lake(settings)
    assert not isinstance(caught.value, TransientError)
    assert (caught.value.status, caught.value.exception) == (403, "AccessControlException")
    assert f"user={user}" in str(caught.value) and 'inode="/"' in str(caught.value)
    assert hdfs_superuser in str(caught.value)  # the owner of the directory that refused


@pytest.mark.service("hdfs")
def test_landing_where_the_user_may_not_write_fails_once_with_path_and_user(
    tmp_path: Path, hdfs_env: dict[str, str], hdfs_superuser: str, monkeypatch
) -> None:
    home = tmp_path / "home"
    user = hdfs_env["BDP_LAKE__HDFS_USER"]
    cli(home, hdfs_env, "simulate", DATASET, "--date", DAY, "--users", "20")
    settings = load_settings(home=home, environ=hdfs_env)
    lake = open_lake(settings)
    raw = f"{urlsplit(lake.url).path}/raw"
    lock(raw, hdfs_superuser)
    creates = []
    request = HdfsLake._request

    def counting(self, method, path, op, **kwargs):
        if op == "CREATE" and kwargs.get("target") is None and path.startswith("raw/"):
            creates.append(path)
        return request(self, method, path, op, **kwargs)

    monkeypatch.setattr(HdfsLake, "_request", counting)
    with open_bus(settings) as bus, pytest.raises(HdfsError) as caught:
        EmbeddedStreamJob(settings, lake, [DATASET], bus=bus).run(until_idle=True)
    # Terminal: the job stops at the first refusal instead of trying again.
    assert not isinstance(caught.value, TransientError)
    assert len(creates) == 1 and creates[0].startswith(f"raw/{DATASET}/dt={DAY}/")
    message = str(caught.value)
    assert "\n" not in message  # the DataNode's Java stack trace is not part of it
    assert f"user={user}" in message and f'inode="{raw}"' in message
    assert lake.list_files("raw") == []

    # The same from the CLI: an error line on stderr, exit status 1.
    env = {k: v for k, v in os.environ.items() if not k.startswith("BDP_")}
    result = subprocess.run(
        [sys.executable, "-m", "bdp", "--home", str(home), "stream", "run", "--until-idle"],
        env={**env, **hdfs_env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "at org.apache" not in result.stderr
    # (The console may wrap a long line where stderr is not a terminal: compare words.)
    said = " ".join(result.stderr.split())
    assert said.startswith(f"error: WebHDFS CREATE raw/{DATASET}/dt={DAY}/"), said
    assert "Permission denied" in said and f"user={user}" in said and f'inode="{raw}"' in said
