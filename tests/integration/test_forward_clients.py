"""Real forward-protocol clients written by others send to bdp's forward collector: the
acceptance of the collector. Python's fluent-logger, Node's @fluent-org/logger (every
mode, acks, the shared-key handshake) and Go's fluent-logger-golang (acks, synchronous).

A client whose toolchain is missing skips here, but not in CI (`CI` set), where the
toolchain is part of the machine and its absence is a failure. Installs and builds are
cached under tests/clients/ (git-ignored) and redone only when their inputs change.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from tests.scenarios.forward import forward_settings, read_topic, running_collector

CLIENTS = Path(__file__).resolve().parents[1] / "clients"
NODE_DIR = CLIENTS / "node"
GO_DIR = CLIENTS / "go"
GO_BINARY = GO_DIR / "bin" / "forward-client"

EPOCH = 1_700_000_000
"""2023-11-14T22:13:20Z, the first record's time in every client."""


def require_tool(name: str, *fallbacks: str) -> str:
    """The tool's path; skips without it, unless in CI, where that is a failure."""
    found = shutil.which(name) or next((f for f in fallbacks if os.access(f, os.X_OK)), None)
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail(f"{name} is not installed, and CI must run the {name} forward client")
    pytest.skip(f"{name} is not installed")


def newer(target: Path, *sources: Path) -> bool:
    """Whether `target` exists and is newer than every source."""
    return target.exists() and all(target.stat().st_mtime >= s.stat().st_mtime for s in sources)


@pytest.fixture(scope="module")
def node_client() -> list[str]:
    node = require_tool("node")
    npm = require_tool("npm")
    installed = NODE_DIR / "node_modules" / ".package-lock.json"
    if not newer(installed, NODE_DIR / "package-lock.json"):
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_DIR,
            check=True,
            timeout=300,
        )
    return [node, str(NODE_DIR / "send.js")]


@pytest.fixture(scope="module")
def go_client() -> str:
    go = require_tool("go", "/usr/local/go/bin/go")
    sources = [GO_DIR / "main.go", GO_DIR / "go.mod", GO_DIR / "go.sum"]
    if not newer(GO_BINARY, *sources):
        env = dict(os.environ)
        if not env.get("HOME"):  # go keeps its caches under HOME: give it a place
            env.setdefault("GOCACHE", str(GO_DIR / "bin" / "cache"))
            env.setdefault("GOPATH", str(GO_DIR / "bin" / "gopath"))
        subprocess.run(
            [go, "build", "-o", str(GO_BINARY), "."], cwd=GO_DIR, env=env, check=True, timeout=600
        )
    return str(GO_BINARY)


def run_client(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"


# -- Python: fluent-logger ---------------------------------------------------------------


def fluent_sender() -> Any:
    """fluent-logger's sender module (the `dev` extra installs it)."""
    try:
        from fluent import sender
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("fluent-logger is not installed: pip install -e '.[dev]'")
        pytest.skip("fluent-logger is not installed")
    return sender


@pytest.mark.parametrize("nanoseconds", [False, True])
def test_python_fluent_logger(tmp_path: Path, nanoseconds: bool) -> None:
    sender_module = fluent_sender()
    with running_collector(forward_settings(tmp_path)) as server:
        sender = sender_module.FluentSender(
            "weblogs", host="127.0.0.1", port=server.port, nanosecond_precision=nanoseconds
        )
        try:
            for i in range(20):
                record = {"sessionID": "py", "url": f"/py/{i}", "status": 200}
                assert sender.emit_with_time("py", EPOCH + i + 0.25, record), sender.last_error
        finally:
            sender.close()
        landed = read_topic(server.bus, "weblogs", 20)
    assert sorted(int(r.record["url"].split("/")[2]) for r in landed) == list(range(20))
    assert {r.key for r in landed} == {b"py"}


def test_python_fluent_logger_buffers_while_the_server_is_away(tmp_path: Path) -> None:
    sender_module = fluent_sender()
    with socket.socket() as probe:  # a free port, for a server that is not there yet
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sender = sender_module.FluentSender("weblogs", host="127.0.0.1", port=port, timeout=2)
    try:
        assert not sender.emit("buffered", {"sessionID": "py", "url": "/while-away"})
        with running_collector(forward_settings(tmp_path, port=port)) as server:
            assert sender.emit("buffered", {"sessionID": "py", "url": "/after"}), sender.last_error
            landed = read_topic(server.bus, "weblogs", 2)
    finally:
        sender.close()
    assert sorted(r.record["url"] for r in landed) == ["/after", "/while-away"]


# -- Node: @fluent-org/logger ------------------------------------------------------------

NODE_MODES = ["Message", "Forward", "PackedForward", "CompressedPackedForward"]


@pytest.mark.parametrize("mode", NODE_MODES)
def test_node_fluent_logger_every_mode_with_acks(
    tmp_path: Path, node_client: list[str], mode: str
) -> None:
    with running_collector(forward_settings(tmp_path)) as server:
        run_client([*node_client, str(server.port), mode, "25", "--ack"])
        landed = read_topic(server.bus, "weblogs", 25)
        acknowledged = server.ingest.acknowledged
    assert acknowledged == 25
    assert sorted(int(r.record["url"].split("/")[2]) for r in landed) == list(range(25))
    assert {r.record["sessionID"] for r in landed} == {f"node-{mode}"}
    # Acked messages carry a chunk id: a retransmission of it would land once.
    assert all(r.id is not None and r.id.startswith(b"c:") for r in landed)


def test_node_fluent_logger_without_acks(tmp_path: Path, node_client: list[str]) -> None:
    with running_collector(forward_settings(tmp_path)) as server:
        run_client([*node_client, str(server.port), "PackedForward", "10"])
        landed = read_topic(server.bus, "weblogs", 10)
    assert all(r.id is None for r in landed)


@pytest.mark.parametrize("mode", ["Message", "CompressedPackedForward"])
def test_node_fluent_logger_with_the_shared_key_handshake(
    tmp_path: Path, node_client: list[str], mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bdp.collect")
    settings = forward_settings(tmp_path, shared_key=SecretStr("k3y"))
    with running_collector(settings) as server:
        run_client([*node_client, str(server.port), mode, "5", "--ack", "--shared-key", "k3y"])
        read_topic(server.bus, "weblogs", 5)
        wrong = [*node_client, str(server.port), mode, "1", "--ack", "--shared-key", "nope"]
        done = subprocess.run(
            [*wrong, "--deadline-ms", "3000"], capture_output=True, text=True, timeout=120
        )
        assert done.returncode != 0
        read_topic(server.bus, "weblogs", 5)  # nothing more landed
    assert any("shared key mismatch" in r.getMessage() for r in caplog.records)


# -- Go: fluent-logger-golang ------------------------------------------------------------


def test_go_fluent_logger_with_acks(tmp_path: Path, go_client: str) -> None:
    with running_collector(forward_settings(tmp_path)) as server:
        run_client([go_client, str(server.port), "30"])
        landed = read_topic(server.bus, "weblogs", 30)
        acknowledged = server.ingest.acknowledged
    assert acknowledged == 30
    assert sorted(int(r.record["url"].split("/")[2]) for r in landed) == list(range(30))
    assert all(r.id is not None and r.id.startswith(b"c:") for r in landed)
    assert {r.record["sessionID"] for r in landed} == {"go-client"}
