"""The HTTP collector under pressure: busy bus, full disk, slow and surplus clients, a
stop with requests in flight, and who may post where."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from bdp.bus import Producer
from bdp.collect.http import HttpCollector
from bdp.collect.http.auth import Access, Tokens, is_loopback
from bdp.errors import BdpError
from tests.scenarios.failing_producer import FailingAfter

from .http_harness import Answer, Stack, read_topic, stack, web, write_settings


def eventually(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.01)


class HeldProducer(Producer):
    """A producer whose flushes wait until the test lets them through."""

    def __init__(self, inner: Producer, gate: threading.Event) -> None:
        self.inner, self.gate = inner, gate

    def _send_batch(self, topic, values, keys, timestamps_ms, partitions=None):  # type: ignore[no-untyped-def]
        self.inner.send_batch(topic, values, keys, timestamps_ms, partitions)

    def flush(self, timeout_s: float | None = None) -> None:
        assert self.gate.wait(30)
        self.inner.flush(timeout_s)

    def close(self) -> None:
        self.inner.close()


def test_a_busy_bus_answers_429_with_retry_after(tmp_path: Path) -> None:
    gate = threading.Event()
    settings = write_settings(tmp_path, BDP_COLLECT__MAX_PENDING_RECORDS="1")
    with (
        stack(settings, wrap=lambda p: HeldProducer(p, gate)) as running,
        concurrent.futures.ThreadPoolExecutor(1) as pool,
    ):
        first = pool.submit(running.served.post, "weblogs", web(1))
        eventually(lambda: running.ingest.pending_records == 1)
        busy = running.served.post("weblogs", web(2))
        assert busy.status == 429
        assert int(busy.headers["Retry-After"]) >= 1
        gate.set()
        assert first.result(30).status == 200
        assert [value for _, _, value in read_topic(running.bus, "weblogs")] == [web(1)]


def test_a_full_disk_answers_503_and_writes_nothing(tmp_path: Path) -> None:
    settings = write_settings(tmp_path)
    with stack(settings, wrap=lambda p: FailingAfter(p, 0)) as running:
        answer = running.served.post("weblogs", b"\n".join(web(i) for i in range(3)))
        assert answer.status == 503
        assert "disk is full" in answer.body["error"]
        assert int(answer.headers["Retry-After"]) >= 1
        assert read_topic(running.bus, "weblogs") == []


def test_every_acknowledged_record_is_on_the_bus_when_the_answer_arrives(
    running: Stack,
) -> None:
    def post_and_look(i: int) -> bool:
        record = web(i)
        assert running.served.post("weblogs", record).status == 200
        return record in {value for _, _, value in read_topic(running.bus, "weblogs")}

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        assert all(pool.map(post_and_look, range(60)))


def test_stop_lets_requests_in_flight_finish(tmp_path: Path) -> None:
    gate = threading.Event()
    with (
        stack(write_settings(tmp_path), wrap=lambda p: HeldProducer(p, gate)) as running,
        concurrent.futures.ThreadPoolExecutor(1) as pool,
    ):
        in_flight = pool.submit(running.served.post, "weblogs", web(1))
        eventually(lambda: running.ingest.pending_records == 1)
        stopping = running.served.run_soon(running.served.collector.stop(10.0))
        eventually(lambda: not running.served.collector.ready)
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", running.served.collector.port), 5)
        gate.set()
        assert in_flight.result(30).status == 200
        stopping.result(30)
        assert len(read_topic(running.bus, "weblogs")) == 1


def test_a_client_trickling_its_body_is_cut_off_and_others_are_served(tmp_path: Path) -> None:
    settings = write_settings(tmp_path, "request_timeout_seconds = 1\n")
    with stack(settings) as running:
        slow = socket.create_connection(("127.0.0.1", running.served.collector.port), 5)
        slow.sendall(
            b"POST /v1/events/weblogs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n"
        )
        cut = threading.Event()

        def trickle() -> None:  # one byte at a time, as a stalled client would
            try:
                while not cut.wait(0.5):
                    slow.sendall(b" ")
            except OSError:
                pass

        trickler = threading.Thread(target=trickle, daemon=True)
        trickler.start()
        try:
            assert running.served.post("weblogs", web(1)).status == 200
            slow.settimeout(20)  # the whole body would take 500 s
            answer = b""
            while chunk := slow.recv(65536):
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 408")
        finally:
            cut.set()
            trickler.join(5)
            slow.close()
        assert running.served.post("weblogs", web(2)).status == 200


def test_connections_beyond_the_limit_are_refused(tmp_path: Path) -> None:
    with stack(write_settings(tmp_path, "max_connections = 2\n")) as running:
        server = running.served.collector._web
        assert server is not None
        port = running.served.collector.port
        held = [socket.create_connection(("127.0.0.1", port), 5) for _ in range(2)]
        eventually(lambda: server.open_connections == 2)
        extra = socket.create_connection(("127.0.0.1", port), 5)
        extra.settimeout(10)
        assert extra.recv(65536).startswith(b"HTTP/1.1 503")
        extra.close()
        held.pop().close()
        eventually(lambda: server.open_connections == 1)
        assert running.served.post("weblogs", web(1)).status == 200
        for sock in held:
            sock.close()


TOKENS = """
[collect.http.tokens]
weblogs = ["web-secret-1", "web-secret-2"]
gamelogs = ["game-secret"]
"""


def test_tokens_decide_who_posts_where_and_never_reach_the_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bdp.collect")
    with stack(write_settings(tmp_path, TOKENS)) as running:

        def post(dataset: str, token: str | None) -> Answer:
            headers = {} if token is None else {"Authorization": f"Bearer {token}"}
            return running.served.post(dataset, web(1), **headers)

        missing = post("weblogs", None)
        assert missing.status == 401
        assert missing.headers["WWW-Authenticate"].startswith("Bearer")
        assert post("weblogs", "not-a-secret-at-all").status == 401
        assert post("weblogs", "game-secret").status == 403
        assert post("weblogs", "web-secret-2").status == 200
        assert post("gamelogs", "web-secret-1").status == 403
        # On loopback, a dataset without tokens takes any client (here: a bad record).
        assert post("hotellogs", None).status == 400
        assert len(read_topic(running.bus, "weblogs")) == 1
    assert "request" in caplog.text
    for secret in ("web-secret-1", "web-secret-2", "game-secret", "not-a-secret-at-all"):
        assert secret not in caplog.text


def test_no_tokens_means_loopback_only(tmp_path: Path) -> None:
    settings = write_settings(tmp_path, 'host = "0.0.0.0"\n')
    collector = HttpCollector(settings, ingest=None)  # type: ignore[arg-type]
    with pytest.raises(BdpError, match=r"beyond loopback.*collect\.http\.tokens"):
        asyncio.run(collector.start())


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("192.168.1.20", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_beyond_loopback_a_dataset_without_tokens_takes_none() -> None:
    tokens = Tokens({"weblogs": [SecretStr("w")]}, loopback_only=False)
    assert tokens.check("hotellogs", None) is Access.UNAUTHENTICATED
    assert tokens.check("hotellogs", "Bearer w") is Access.FORBIDDEN
    assert tokens.check("weblogs", "bearer  w ") is Access.ALLOWED
    assert tokens.check("weblogs", "Basic w") is Access.UNAUTHENTICATED


@dataclass
class Report:
    ready: bool
    reasons: list[str]


def test_readiness_comes_from_the_health_callback(tmp_path: Path) -> None:
    reports = [Report(False, ["the stream job is restarting"]), Report(True, [])]
    with stack(write_settings(tmp_path), health=lambda: reports[0]) as running:
        answer = running.served.request("/readyz")
        assert (answer.status, answer.body["reasons"]) == (503, ["the stream job is restarting"])
        reports.pop(0)
        assert running.served.request("/readyz").status == 200


def test_an_unforeseen_failure_is_500_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> Report:
        raise RuntimeError("health check exploded")

    with stack(write_settings(tmp_path), health=broken) as running:
        answer = running.served.request("/readyz")
        assert answer.status == 500
        assert "exploded" not in answer.body["error"]
        assert running.served.request("/healthz").status == 200
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(failures) == 1
    assert failures[0].exc_info is not None


def test_an_idle_connection_is_closed(tmp_path: Path) -> None:
    with stack(write_settings(tmp_path, "idle_timeout_seconds = 0.5\n")) as running:
        idle = socket.create_connection(("127.0.0.1", running.served.collector.port), 5)
        idle.settimeout(20)
        assert idle.recv(1) == b""  # closed by the server, long before the timeout here
        idle.close()


def test_tokens_for_an_unknown_dataset_stop_the_start(tmp_path: Path) -> None:
    settings = write_settings(tmp_path, '[collect.http.tokens]\nweblog = ["t"]\n')
    collector = HttpCollector(settings, ingest=None)  # type: ignore[arg-type]
    with pytest.raises(
        BdpError, match=r"collect\.http\.tokens: unknown dataset 'weblog'.*'weblogs'"
    ):
        asyncio.run(collector.start())
