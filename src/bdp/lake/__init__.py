"""The data lake: raw, quarantine and curated zones behind one interface.

`open_lake(settings)` picks the backend from the lake URL: a plain path is the local
file system; `hdfs://host:port/path` or `webhdfs://host:http_port/path` is HDFS.
The lake also owns the format of its zones' files: `bdp.lake.rawfiles` for the raw and
quarantine zones, which the stream job writes and the ETL and `bdp status` read.
"""

from __future__ import annotations

from bdp.config import Settings
from bdp.errors import ConfigError
from bdp.lake.base import FileInfo, Lake, LakeCapabilities, partition_dir

__all__ = ["FileInfo", "Lake", "LakeCapabilities", "open_lake", "partition_dir"]


def open_lake(settings: Settings) -> Lake:
    url = settings.paths.lake
    scheme = url.split("://", 1)[0] if "://" in url else "file"
    if scheme == "file":
        from bdp.lake.local import LocalLake

        return LocalLake(url.removeprefix("file://"))
    if scheme in ("hdfs", "webhdfs"):
        from bdp.lake.hdfs import HdfsLake

        return HdfsLake(
            url,
            webhdfs_port=settings.lake.webhdfs_port,
            timeout_seconds=settings.lake.webhdfs_timeout_seconds,
        )
    raise ConfigError(
        f"lake url {url!r}: scheme {scheme!r} is not supported"
        " (use a local path, hdfs://host:port/path or webhdfs://host:port/path)"
    )
