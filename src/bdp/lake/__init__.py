"""The data lake: raw, quarantine and curated zones behind one interface.

`open_lake(settings)` picks the backend from the lake URL's scheme, in `LAKES`: a plain
path (or `file://`) is the local file system; `hdfs://host:port/path` or
`webhdfs://host:http_port/path` is HDFS.
"""

from __future__ import annotations

from bdp.config import Settings
from bdp.lake.base import FileInfo, Lake, LakeCapabilities, partition_dir
from bdp.registry import Registry

__all__ = ["LAKES", "FileInfo", "Lake", "LakeCapabilities", "open_lake", "partition_dir"]

LAKES: Registry[Lake, LakeCapabilities] = Registry("lake URL scheme")
"""Lake backends by URL scheme; each factory takes the `Settings`."""


@LAKES.register("file", LakeCapabilities(local_paths=True))
def _open_local(settings: Settings) -> Lake:
    from bdp.lake.local import LocalLake

    return LocalLake(settings.paths.lake.removeprefix("file://"))


@LAKES.register("webhdfs", LakeCapabilities(local_paths=False))
@LAKES.register("hdfs", LakeCapabilities(local_paths=False))
def _open_hdfs(settings: Settings) -> Lake:
    from bdp.lake.hdfs import HdfsLake

    return HdfsLake(
        settings.paths.lake,
        user=settings.lake.hdfs_user,
        webhdfs_port=settings.lake.webhdfs_port,
        timeout_seconds=settings.lake.webhdfs_timeout_seconds,
    )


def open_lake(settings: Settings) -> Lake:
    url = settings.paths.lake
    scheme = url.split("://", 1)[0] if "://" in url else "file"
    return LAKES.open(scheme, settings)
