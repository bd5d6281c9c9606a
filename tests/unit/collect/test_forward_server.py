"""The forward collector on a real embedded bus, driven by bdp's own tiny client: every
mode lands and is acknowledged, and each kind of bad input closes only its own
connection, with one logged reason, keeping what came before it."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import random
import socket
import threading
import time
from pathlib import Path

import msgpack
import orjson
import pytest
from pydantic import SecretStr

from bdp.collect.base import Backpressure, IngestUnavailable
from bdp.collect.forward import ForwardCollector
from bdp.collect.forward.handshake import shared_key_digest
from bdp.collect.forward.protocol import encode_event_time
from bdp.errors import BdpError
from tests.scenarios.forward import (
    ForwardClient,
    forward_settings,
    read_topic,
    running_collector,
)

TS = 1_700_000_000
"""2023-11-14T22:13:20Z"""


def hit(i: int, session: str = "s1") -> dict[str, object]:
    return {"sessionID": session, "url": f"/page/{i}", "status": 200}


def closed_reasons(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "bdp.collect" and "reason=" in r.getMessage()
    ]


def wait_for_reason(caplog: pytest.LogCaptureFixture, text: str, timeout_s: float = 10) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = [line for line in closed_reasons(caplog) if text in line]
        if found:
            return found[0]
        time.sleep(0.02)
    raise AssertionError(f"no log line with {text!r}: {closed_reasons(caplog)}")


@pytest.fixture
def server(tmp_path: Path):
    with running_collector(forward_settings(tmp_path, max_message_bytes=1024 * 1024)) as running:
        yield running


def test_every_mode_lands_and_is_acknowledged_after_it_is_durable(server) -> None:
    packed = b"".join(msgpack.packb([TS, hit(i)]) for i in range(3, 5))
    with ForwardClient(server.port) as client:
        client.send(["weblogs.web-1", TS, hit(0), {"chunk": "m1"}])
        assert client.receive() == {"ack": "m1"}
        client.send(
            ["weblogs", [[TS, hit(1)], [encode_event_time(TS, 5_123_456), hit(2)]], {"chunk": "f1"}]
        )
        assert client.receive() == {"ack": "f1"}
        client.send(["weblogs", packed, {"chunk": "p1", "size": 2}])
        assert client.receive() == {"ack": "p1"}
        two_members = gzip.compress(msgpack.packb([TS, hit(5)])) + gzip.compress(
            msgpack.packb([TS, hit(6)])
        )
        client.send(["weblogs", two_members, {"chunk": "z1", "compressed": "gzip"}])
        assert client.receive() == {"ack": "z1"}
        client.send(["weblogs", TS, hit(7)])  # no chunk: no ack
    landed = read_topic(server.bus, "weblogs", 8)
    assert sorted(r.record["url"] for r in landed) == [f"/page/{i}" for i in range(8)]
    ids = {r.id for r in landed}
    assert b"c:m1:0" in ids and b"c:f1:1" in ids and b"c:z1:0" in ids and None in ids
    assert {r.key for r in landed if r.id is None} == {b"s1"}


def test_acks_wait_for_the_bus_and_concurrent_clients_each_get_theirs(server) -> None:
    clients = [ForwardClient(server.port) for _ in range(4)]
    try:
        for n, client in enumerate(clients):
            for m in range(5):
                client.send(["weblogs", [[TS, hit(m, f"s{n}")]] * 10, {"chunk": f"{n}-{m}"}])
        for n, client in enumerate(clients):
            assert [client.receive()["ack"] for _ in range(5)] == [f"{n}-{m}" for m in range(5)]
    finally:
        for client in clients:
            client.close()
    # Every acknowledged record is on the bus by the time its ack arrived.
    assert server.ingest.acknowledged == 200
    read_topic(server.bus, "weblogs", 200)


def deep(depth: int) -> dict[str, object]:
    record: dict[str, object] = {"leaf": 1}
    for _ in range(depth - 1):
        record = {"n": record}
    return record


HUGE = (100 * 1024 * 1024).to_bytes(4, "big")
FILLER = b"x" * (2 * 1024 * 1024)

BAD_INPUTS = {
    "random bytes": random.Random(7).randbytes(64),
    "a wrong message shape": msgpack.packb({"tag": "weblogs"}),
    "a record that is not a map": msgpack.packb(["weblogs", TS, ["not", "a", "map"]]),
    # A string or binary header is judged once its bytes arrive; until then the data
    # it claims is bounded by max_message_bytes (1 MiB here), so the client's filler ends it.
    "a huge declared string": b"\x93\xdb" + HUGE + FILLER,
    "a huge declared array": b"\xdd" + HUGE,
    "a huge declared binary": b"\x93\xa7weblogs\xc6" + HUGE + FILLER,
    "a record too deep to write as JSON": msgpack.packb(["weblogs", TS, deep(300)]),
    "an unknown tag": msgpack.packb(["nosuchdataset.x", TS, hit(0), {"chunk": "u"}]),
    "a time that is a map": msgpack.packb(["weblogs", {"at": "noon"}, hit(0)]),
    "a corrupt gzip body": msgpack.packb(
        ["weblogs", b"\x1f\x8b\x08\x00garbage", {"compressed": "gzip"}]
    ),
}

REASONS = {
    "random bytes": "reason=",
    "a wrong message shape": "must be an array",
    "a record that is not a map": "must be a map",
    "a huge declared string": "exceeds max_message_bytes",
    "a huge declared array": "exceeds max_array_len",
    "a huge declared binary": "exceeds max_message_bytes",
    "a record too deep to write as JSON": "cannot be written as JSON",
    "an unknown tag": "names no dataset",
    "a time that is a map": "time must be",
    "a corrupt gzip body": "gzip",
}


@pytest.mark.parametrize("kind", list(BAD_INPUTS))
def test_bad_input_closes_only_its_connection_and_keeps_what_came_before(
    server, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    caplog.set_level(logging.INFO, logger="bdp.collect")
    with ForwardClient(server.port) as good, ForwardClient(server.port) as bad:
        bad.send(["weblogs", [[TS, hit(0, "early")]], {"chunk": "before"}])
        assert bad.receive() == {"ack": "before"}
        bad.send(["weblogs", TS, hit(1, "early")])  # same read as the bad input below
        with contextlib.suppress(OSError):  # the server may close while it is sent
            bad.send_raw(BAD_INPUTS[kind])
        assert bad.closed_by_server()
        wait_for_reason(caplog, REASONS[kind])
        good.send(["weblogs", TS, hit(2, "good"), {"chunk": "after"}])
        assert good.receive() == {"ack": "after"}
    landed = read_topic(server.bus, "weblogs", 3)
    assert sorted(r.record["url"] for r in landed) == ["/page/0", "/page/1", "/page/2"]
    assert len([line for line in closed_reasons(caplog) if "reason=" in line]) == 1


def test_a_message_larger_than_the_limit_is_refused_without_holding_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bdp.collect")
    with running_collector(forward_settings(tmp_path, max_message_bytes=64 * 1024)) as server:
        with ForwardClient(server.port) as client:
            big = {"sessionID": "s", "blob": "x" * 200_000}
            with contextlib.suppress(OSError):  # the server closes while it is sent
                client.send(["weblogs", TS, big])
            assert client.closed_by_server()
            wait_for_reason(caplog, "max_")
        with ForwardClient(server.port) as client:
            client.send(["weblogs", TS, hit(0), {"chunk": "ok"}])
            assert client.receive() == {"ack": "ok"}


def test_idle_connections_are_closed_and_connections_beyond_the_limit_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bdp.collect")
    settings = forward_settings(tmp_path, idle_timeout_seconds=0.3, max_connections=2)
    with running_collector(settings) as server:
        idle = ForwardClient(server.port)
        busy = ForwardClient(server.port)
        busy.send(["weblogs", TS, hit(0), {"chunk": "1"}])
        assert busy.receive() == {"ack": "1"}
        with ForwardClient(server.port) as third:
            assert third.closed_by_server()
        wait_for_reason(caplog, "too many connections")
        assert idle.closed_by_server()
        wait_for_reason(caplog, "idle for")
        idle.close()
        busy.close()


@pytest.mark.parametrize("cut", [3, 40])
def test_a_client_that_closes_mid_message_is_logged_and_the_rest_kept(
    server, caplog: pytest.LogCaptureFixture, cut: int
) -> None:
    caplog.set_level(logging.INFO, logger="bdp.collect")
    with ForwardClient(server.port) as client:
        client.send(["weblogs", TS, hit(0), {"chunk": "a"}])
        assert client.receive() == {"ack": "a"}
        client.send_raw(msgpack.packb(["weblogs", TS, hit(1)])[:-cut])
    wait_for_reason(caplog, "middle of a message")
    read_topic(server.bus, "weblogs", 1)


def test_tags_map_to_datasets_by_pattern(tmp_path: Path) -> None:
    tags = {"app.access": "weblogs", "game.*": "gamelogs", "legacy.**": "weblogs"}
    with running_collector(forward_settings(tmp_path, tags=tags)) as server:
        with ForwardClient(server.port) as client:
            for n, tag in enumerate(["app.access", "game.eu", "legacy", "legacy.a.b", "weblogs"]):
                client.send([tag, TS, {**hit(n), "account": "acc"}, {"chunk": tag}])
                assert client.receive() == {"ack": tag}
        assert len(read_topic(server.bus, "weblogs", 4)) == 4
        assert len(read_topic(server.bus, "gamelogs", 1)) == 1


def test_the_shared_key_handshake(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bdp.collect")
    settings = forward_settings(tmp_path, shared_key=SecretStr("s3cret"), self_hostname="srv")
    with running_collector(settings) as server:
        for key, accepted in (("s3cret", True), ("wrong", False)):
            with ForwardClient(server.port) as client:
                kind, helo = client.receive()
                assert kind == "HELO" and helo["keepalive"] is True
                nonce, salt = helo["nonce"], b"salty"
                digest = shared_key_digest(salt, b"client", nonce, key.encode())
                client.send(["PING", "client", salt, digest, "", ""])
                pong = client.receive()
                assert pong[:2] == ["PONG", accepted]
                if accepted:
                    assert pong[3] == "srv"
                    assert pong[4] == shared_key_digest(salt, b"srv", nonce, b"s3cret")
                    client.send(["weblogs", TS, hit(0), {"chunk": "k"}])
                    assert client.receive() == {"ack": "k"}
                else:
                    assert client.closed_by_server()
        wait_for_reason(caplog, "shared key mismatch")
        with ForwardClient(server.port) as client:  # data instead of PING
            assert client.receive()[0] == "HELO"
            client.send(["weblogs", TS, hit(1), {"chunk": "x"}])
            assert client.closed_by_server()
        wait_for_reason(caplog, "expected PING")
        read_topic(server.bus, "weblogs", 1)


def test_without_a_shared_key_it_refuses_to_listen_beyond_loopback(tmp_path: Path) -> None:
    settings = forward_settings(tmp_path, host="0.0.0.0")
    with pytest.raises(BdpError, match="shared_key"), running_collector(settings):
        pass


def test_a_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings = forward_settings(tmp_path, port=taken.getsockname()[1])
        with (
            pytest.raises(BdpError, match=r"cannot listen on 127\.0\.0\.1"),
            running_collector(settings),
        ):
            pass


def test_stop_closes_waiting_connections_and_stops_listening(tmp_path: Path) -> None:
    with running_collector(forward_settings(tmp_path)) as server:
        client = ForwardClient(server.port)
        client.send(["weblogs", TS, hit(0), {"chunk": "1"}])
        assert client.receive() == {"ack": "1"}
        assert server.collector.ready
        server.call(server.collector.stop(5.0))
        assert client.closed_by_server()
        assert not server.collector.ready
        with pytest.raises(OSError):
            ForwardClient(server.port)
        client.close()


def test_collector_interface(tmp_path: Path) -> None:
    with running_collector(forward_settings(tmp_path)) as server:
        assert isinstance(server.collector, ForwardCollector)
        assert server.collector.name == "forward"
        assert server.port > 0
        assert server.collector.address == f"127.0.0.1:{server.port}"


def test_backpressure_is_waited_out_and_then_acknowledged(
    server, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_send = server.ingest.send
    refusals = []

    async def busy_once(collected) -> None:
        if not refusals:
            refusals.append(collected)
            raise Backpressure("busy", retry_after_seconds=0.05)
        await real_send(collected)

    monkeypatch.setattr(server.ingest, "send", busy_once)
    with ForwardClient(server.port) as client:
        client.send(["weblogs", TS, hit(0), {"chunk": "bp"}])
        assert client.receive() == {"ack": "bp"}
    assert len(refusals) == 1
    read_topic(server.bus, "weblogs", 1)


def test_a_bus_that_refuses_gets_no_ack_and_the_connection_closes(
    server, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bdp.collect")
    real_send = server.ingest.send

    async def unavailable(collected) -> None:
        raise IngestUnavailable("the bus's disk is full")

    monkeypatch.setattr(server.ingest, "send", unavailable)
    with ForwardClient(server.port) as client:
        client.send(["weblogs", TS, hit(0), {"chunk": "no"}])
        with pytest.raises(EOFError):
            client.receive()
    wait_for_reason(caplog, "disk is full")
    monkeypatch.setattr(server.ingest, "send", real_send)
    with ForwardClient(server.port) as client:  # the client's retry
        client.send(["weblogs", TS, hit(0), {"chunk": "no"}])
        assert client.receive() == {"ack": "no"}
    read_topic(server.bus, "weblogs", 1)


def test_stop_lets_a_message_in_flight_finish_and_be_acknowledged(
    server, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_send = server.ingest.send
    entered = threading.Event()
    release = asyncio.Event()

    async def slow(collected) -> None:
        entered.set()
        await release.wait()
        await real_send(collected)

    monkeypatch.setattr(server.ingest, "send", slow)
    with ForwardClient(server.port) as client:
        client.send(["weblogs", TS, hit(0), {"chunk": "late"}])
        assert entered.wait(10)
        stopping = asyncio.run_coroutine_threadsafe(server.collector.stop(10.0), server.loop)
        server.loop.call_soon_threadsafe(release.set)
        stopping.result(15)
        assert client.receive() == {"ack": "late"}
        assert client.closed_by_server()
    read_topic(server.bus, "weblogs", 1)


def test_a_record_nested_too_deep_for_the_lake_is_acked_and_quarantined_by_landing(
    tmp_path: Path,
) -> None:
    from bdp.lake import open_lake
    from bdp.lake.rawfiles import decode_lines
    from bdp.stream.embedded import EmbeddedStreamJob
    from tests.scenarios.serve_clients import web_event

    settings = forward_settings(tmp_path)
    with running_collector(settings) as server:
        with ForwardClient(server.port) as client:
            too_deep = {**web_event(0), "extra": deep(40)}
            client.send(["weblogs", [[TS, too_deep], [TS, web_event(1)]], {"chunk": "deep"}])
            assert client.receive() == {"ack": "deep"}
        EmbeddedStreamJob(settings, open_lake(settings), ["weblogs"], bus=server.bus).run(
            until_idle=True
        )
    lake = open_lake(settings)
    quarantined = [
        orjson.loads(line)
        for info in lake.list_files("quarantine/weblogs")
        for line in decode_lines(lake.read(info.path), info.path)
    ]
    assert [q["reason"] for q in quarantined] == ["too_deep"]
