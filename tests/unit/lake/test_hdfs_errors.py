"""The HDFS lake tells failures worth retrying from final ones, against a scripted WebHDFS.

A server away, a timeout, a cut-off answer or a 5xx is a `TransientError` (the stream
job retries it); a 4xx is final, except the NameNode's own "try again" exceptions.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from bdp.errors import BdpError, TransientError
from bdp.lake.hdfs import HdfsLake
from tests.scenarios.webhdfs import Reply, WebHdfs, remote


@pytest.fixture
def webhdfs() -> Iterator[WebHdfs]:
    with WebHdfs() as script:
        yield script


def lake(port: int) -> HdfsLake:
    return HdfsLake(f"webhdfs://127.0.0.1:{port}/bdp", timeout_seconds=0.5)


@pytest.mark.parametrize(
    "reply",
    [
        (500, remote("java.lang.NullPointerException")),
        (502, b"<html>bad gateway</html>"),
        (503, remote("org.apache.hadoop.ipc.RetriableException")),
        (403, remote("org.apache.hadoop.hdfs.server.namenode.SafeModeException")),
        (403, remote("RetriableException")),
        (403, remote("org.apache.hadoop.ipc.StandbyException")),
        "hang",
        "truncate",
    ],
    ids=["500", "502", "503", "safe-mode", "retriable", "standby", "timeout", "cut-off"],
)
def test_server_trouble_is_transient(webhdfs: WebHdfs, reply: Reply | str) -> None:
    hdfs = lake(webhdfs.port)
    webhdfs.replies["LISTSTATUS"] = reply
    with pytest.raises(TransientError) as caught:
        hdfs.list_files("raw")
    assert "LISTSTATUS" in str(caught.value)


def test_a_server_that_is_not_there_is_transient() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TransientError, match="MKDIRS"):
        lake(port)  # nothing listens on the port any more


@pytest.mark.parametrize(
    "reply",
    [
        (403, remote("org.apache.hadoop.security.AccessControlException", "Permission denied")),
        (400, remote("IllegalArgumentException", "Invalid value for webhdfs parameter")),
        (401, b"unauthorized"),
    ],
    ids=["denied", "bad-request", "unauthorized"],
)
def test_a_refusal_is_final(webhdfs: WebHdfs, reply: Reply) -> None:
    hdfs = lake(webhdfs.port)
    webhdfs.replies["LISTSTATUS"] = reply
    with pytest.raises(BdpError) as caught:
        hdfs.list_files("raw")
    assert not isinstance(caught.value, TransientError)
    assert caught.value.status == reply[0]


def test_a_missing_file_is_file_not_found(webhdfs: WebHdfs) -> None:
    hdfs = lake(webhdfs.port)
    webhdfs.replies["OPEN"] = (404, remote("java.io.FileNotFoundException", "File does not exist"))
    with pytest.raises(FileNotFoundError):
        hdfs.read("raw/nothing.jsonl")


def test_a_failed_publish_reports_its_own_error_not_the_cleanup_s(webhdfs: WebHdfs) -> None:
    hdfs = lake(webhdfs.port)
    # CREATE answers at once (no redirect); the rename is refused for good, and cleaning
    # up the temporary file fails for a different, passing reason.
    webhdfs.replies["RENAME"] = (403, remote("AccessControlException", "Permission denied"))
    webhdfs.replies["DELETE"] = (503, b"busy")
    with pytest.raises(BdpError) as caught:
        hdfs.publish("raw/x.jsonl", b"{}\n")
    assert not isinstance(caught.value, TransientError)
    assert "RENAME" in str(caught.value)
