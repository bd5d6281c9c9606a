"""Clients that send to `bdp serve` the way careful shippers do: retry until acknowledged.

Each event carries a unique `url` (`/e/<n>`), so the lake can be checked for every
acknowledged event exactly once. The HTTP client sends batches with an
`Idempotency-Key`; the forward client sends PackedForward messages with a `chunk` and
waits for its ack. On any failure (the server killed, a refusal) both send the same
request again, with the same key or chunk, until it is acknowledged.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from dataclasses import dataclass, field

import msgspec

__all__ = ["ForwardSender", "HttpSender", "web_event"]


def web_event(n: int) -> dict[str, object]:
    return {
        "ip": "10.1.2.3",
        "datetime": "2024-04-16T09:00:00.000Z",
        "method": "GET",
        "url": f"/e/{n}",
        "responseCode": 200,
        "responseTime": n % 1000,
        "sessionID": f"s{n % 7}",
    }


@dataclass
class _Sender:
    port: int
    first: int
    batches: int
    batch: int = 50
    acknowledged: list[int] = field(default_factory=list)
    """Event numbers the server acknowledged."""
    retries: int = 0
    pace_s: float = 0.01
    """Pause between batches, so the sending outlasts several kills and restarts."""
    stop: threading.Event = field(default_factory=threading.Event)

    def numbers(self, index: int) -> range:
        start = self.first + index * self.batch
        return range(start, start + self.batch)

    def run(self) -> None:
        for index in range(self.batches):
            while not self.stop.is_set():
                try:
                    self.send(index)
                except (OSError, http.client.HTTPException, _Refused, msgspec.DecodeError):
                    self.retries += 1
                    self.stop.wait(0.05)  # the server is restarting: try again shortly
                    continue
                self.acknowledged.extend(self.numbers(index))
                self.stop.wait(self.pace_s)
                break

    def send(self, index: int) -> None:
        raise NotImplementedError


class _Refused(Exception):
    pass


class HttpSender(_Sender):
    def send(self, index: int) -> None:
        body = b"\n".join(msgspec.json.encode(web_event(n)) for n in self.numbers(index))
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(
                "POST",
                "/v1/events/weblogs",
                body,
                {
                    "Content-Type": "application/x-ndjson",
                    "Idempotency-Key": f"h{self.first}-{index}",
                },
            )
            response = connection.getresponse()
            response.read()
        finally:
            connection.close()
        if response.status != 200:
            raise _Refused(response.status)


class ForwardSender(_Sender):
    def send(self, index: int) -> None:
        now = int(time.time())
        entries = b"".join(msgspec.msgpack.encode([now, web_event(n)]) for n in self.numbers(index))
        chunk = f"f{self.first}-{index}"
        message = msgspec.msgpack.encode(["weblogs.crash", entries, {"chunk": chunk}])
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            sock.sendall(message)
            received = b""
            while True:
                data = sock.recv(4096)
                if not data:
                    raise _Refused("closed before the ack")
                received += data
                try:
                    answer = msgspec.msgpack.decode(received)
                    break
                except msgspec.DecodeError:
                    continue
        if not isinstance(answer, dict) or answer.get("ack") != chunk:
            raise _Refused(answer)
