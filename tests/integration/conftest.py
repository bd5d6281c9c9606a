"""Fixtures for tests against real servers started by `stack/<service> start`.

A real-service test never skips: when its server is not reachable it fails and says
how to start it, so a CI run that forgot a service goes red instead of silently green.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

STACK = Path(__file__).resolve().parents[2] / "stack"
KAFKA_BOOTSTRAP = "127.0.0.1:19092"
HDFS_URL = "hdfs://127.0.0.1:9000"
WEBHDFS = "http://127.0.0.1:9870/webhdfs/v1"


@dataclass(frozen=True)
class Service:
    """A `stack/<name>` launcher, for tests that stop and start their server."""

    name: str

    def run(self, command: str, timeout_s: float = 180) -> subprocess.CompletedProcess:
        """Run `stack/<name> <command>`; raises when it fails."""
        return subprocess.run(
            [str(STACK / self.name), command],
            check=True,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )

    def env(self) -> dict[str, str]:
        """What `stack/<name> env` exports: the settings that point bdp at the server."""
        settings = {}
        for line in self.run("env").stdout.splitlines():
            export, setting = shlex.split(line)
            assert export == "export", line
            name, _, value = setting.partition("=")
            settings[name] = value
        return settings

    def is_up(self) -> bool:
        status = subprocess.run([str(STACK / self.name), "status"], capture_output=True)
        return status.returncode == 0

    def require(self, address: str) -> str:
        """`address` when the service is healthy; otherwise fail the test, saying how to
        start it."""
        if not self.is_up():
            pytest.fail(
                f"no healthy {self.name} answers at {address}; start it with "
                f"stack/{self.name} start",
                pytrace=False,
            )
        return address


@pytest.fixture
def kafka() -> str:
    """The broker's bootstrap servers; fails the test when no broker answers."""
    return Service("kafka").require(KAFKA_BOOTSTRAP)


@pytest.fixture
def kafka_namespace(kafka: str) -> Iterator[str]:
    """A topic and group prefix of this test's own, so earlier runs stay out of sight;
    the test's topics (in nested namespaces too) are deleted afterwards."""
    namespace = f"it-{uuid.uuid4().hex[:10]}."
    yield namespace
    from bdp.bus.kafka import KafkaBus
    from bdp.config import BusSettings, KafkaBusSettings

    if Service("kafka").is_up():
        settings = BusSettings(namespace=namespace, kafka=KafkaBusSettings(bootstrap_servers=kafka))
        with KafkaBus(settings) as bus:
            for topic in bus.topics():
                bus.delete_topic(topic)


@pytest.fixture
def kafka_env(kafka: str, kafka_namespace: str) -> Iterator[dict[str, str]]:
    """Environment for `bdp` subprocesses that puts the bus on the broker."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BDP_")}
    env.update(Service("kafka").env(), BDP_BUS__NAMESPACE=kafka_namespace)
    yield env


@pytest.fixture
def kafka_service(kafka: str) -> Iterator[Service]:
    """The broker's launcher; the broker is running again after the test, whatever it did."""
    service = Service("kafka")
    yield service
    if not service.is_up():
        service.run("start")


@pytest.fixture
def hdfs() -> str:
    """The NameNode's hdfs:// URL; fails the test when HDFS is not healthy."""
    return Service("hdfs").require(HDFS_URL)


@pytest.fixture
def hdfs_env(hdfs: str) -> Iterator[dict[str, str]]:
    """`stack/hdfs env` (bdp as the stack's lake user, not HDFS's superuser), with the lake
    under a base path of this test's own in the stack's lake root, deleted afterwards."""
    env = Service("hdfs").env()
    env["BDP_LAKE__URL"] = f"{env['BDP_LAKE__URL']}/it-{uuid.uuid4().hex[:10]}"
    yield env
    from bdp.lake.hdfs import HdfsLake

    if Service("hdfs").is_up():
        # As the superuser: whoever wrote there, everything goes.
        HdfsLake(env["BDP_LAKE__URL"], user=_hdfs_superuser()).delete("")


@pytest.fixture
def hdfs_lake_url(hdfs_env: dict[str, str]) -> str:
    """A lake URL under a base path of this test's own on HDFS, deleted afterwards."""
    return hdfs_env["BDP_LAKE__URL"]


@pytest.fixture
def hdfs_superuser(hdfs: str) -> str:
    """HDFS's superuser, who may do anything there."""
    return _hdfs_superuser()


def _hdfs_superuser() -> str:
    # The stack's NameNode runs as the user who formatted it: the owner of `/`.
    with urllib.request.urlopen(f"{WEBHDFS}/?op=GETFILESTATUS", timeout=10) as resp:
        return json.load(resp)["FileStatus"]["owner"]


@pytest.fixture
def airflow_env() -> dict[str, str]:
    """`stack/airflow env`: Airflow's home, DAGs folder and executable (`BDP_AIRFLOW`);
    fails the test when its venv or database is not ready."""
    service = Service("airflow")
    service.require("stack/.run/airflow")
    return service.env()


@pytest.fixture
def mariadb_env() -> dict[str, str]:
    """`stack/mariadb env`: bdp's mysql warehouse on the stack's MariaDB, and the `mysql`
    client's settings; fails the test when the server does not answer."""
    service = Service("mariadb")
    service.require("127.0.0.1:3306")
    return service.env()


@pytest.fixture
def closed_address() -> str:
    """A loopback address nothing listens on (a port bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"
