"""Collector throughput: events/s acknowledged, and acknowledgement latency, on 127.0.0.1.

Starts `bdp serve` in a fresh data home and drives it with several concurrent clients:
HTTP (`POST /v1/events/<dataset>`, NDJSON batches of 500) and the Fluentd forward
protocol (PackedForward with `chunk`, each message waiting for its ack). A request
counts when its acknowledgement arrived, which the server sends only once the bus holds
the records durably. The bus's own append rate (the same records, sent and flushed by
one producer in this process) is measured in the same run: it is the ceiling.

A trickle is measured too: a few events a second into a running server with its stream
job, then the raw files that landed per dataset-day are counted.

    python bench/ingest.py --seconds 10 --clients 4
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import msgspec

from bdp.bus import open_bus
from bdp.config import load_settings

DATASET = "weblogs"
BATCH = 500
HTTP_TARGET = 100_000
FORWARD_TARGET = 200_000
P99_TARGET_MS = 50.0


def event(i: int) -> dict[str, object]:
    """A weblogs record of about 170 bytes with exactly the schema's fields (a record with
    fields the schema lacks takes the validator's slower structure scan)."""
    return {
        "ip": f"10.0.{i % 250}.{i % 200}",
        "datetime": "2024-04-16T09:00:00.000Z",
        "method": "GET",
        "url": f"/products/{i % 1000}?ref=bench",
        "responseCode": 200,
        "responseTime": i % 900,
        "sessionID": f"session-{i % 5000:05d}",
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Served:
    """`bdp serve` in a subprocess, stopped with SIGTERM."""

    def __init__(self, home: Path, stream: bool, extra: dict[str, str] | None = None) -> None:
        self.http_port, self.forward_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("BDP_")}
        env.update(
            BDP_COLLECT__HTTP__PORT=str(self.http_port),
            BDP_COLLECT__FORWARD__PORT=str(self.forward_port),
            **(extra or {}),
        )
        command = [sys.executable, "-m", "bdp", "--home", str(home), "serve"]
        command.append("--stream" if stream else "--no-stream")
        self.process = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not self._ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("bdp serve did not become ready")
            time.sleep(0.1)

    def _ready(self) -> bool:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=1)
            connection.request("GET", "/readyz")
            return connection.getresponse().status == 200
        except OSError:
            return False

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(120)


# -- HTTP --------------------------------------------------------------------------------


def http_client(port: int, body: bytes, until: float, latencies: list[float]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/x-ndjson"}
    while time.perf_counter() < until:
        began = time.perf_counter()
        connection.request("POST", f"/v1/events/{DATASET}", body, headers)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"HTTP {response.status}")
        latencies.append(time.perf_counter() - began)


def bench_http(port: int, clients: int, seconds: float) -> tuple[float, list[float]]:
    body = b"".join(msgspec.json.encode(event(i)) + b"\n" for i in range(BATCH))
    return run_clients(lambda until, lat: http_client(port, body, until, lat), clients, seconds)


# -- forward -----------------------------------------------------------------------------


def forward_client(port: int, entries: bytes, until: float, latencies: list[float]) -> None:
    encoder = msgspec.msgpack.Encoder()
    decoder = msgspec.msgpack.Decoder()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        buffer = b""
        sequence = 0
        while time.perf_counter() < until:
            sequence += 1
            chunk = f"{threading.get_ident():x}-{sequence}"
            message = encoder.encode([f"{DATASET}.bench", entries, {"chunk": chunk}])
            began = time.perf_counter()
            sock.sendall(message)
            while True:
                data = sock.recv(65536)
                if not data:
                    raise SystemExit("the forward collector closed the connection")
                buffer += data
                try:
                    answer = decoder.decode(buffer)
                except msgspec.DecodeError:
                    continue  # not whole yet
                buffer = b""
                break
            if answer.get("ack") != chunk:
                raise SystemExit(f"unexpected answer {answer!r}")
            latencies.append(time.perf_counter() - began)


def bench_forward(port: int, clients: int, seconds: float) -> tuple[float, list[float]]:
    now = int(time.time())
    entries = b"".join(msgspec.msgpack.encode([now, event(i)]) for i in range(BATCH))
    return run_clients(
        lambda until, lat: forward_client(port, entries, until, lat), clients, seconds
    )


def run_clients(client, clients: int, seconds: float) -> tuple[float, list[float]]:  # type: ignore[no-untyped-def]
    latencies: list[list[float]] = [[] for _ in range(clients)]
    began = time.perf_counter()
    until = began + seconds
    threads = [threading.Thread(target=client, args=(until, latencies[i])) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    flat = [x for part in latencies for x in part]
    return len(flat) * BATCH / elapsed, flat


# -- the ceiling -------------------------------------------------------------------------


def bench_bus(home: Path, seconds: float) -> float:
    settings = load_settings(home=home, environ={})
    values = [msgspec.json.encode(event(i)) for i in range(BATCH)]
    keys = [str(v["sessionID"]).encode() for v in map(event, range(BATCH))]
    sent = 0
    with open_bus(settings) as bus:
        bus.create_topic(DATASET)
        with bus.producer() as producer:
            began = time.perf_counter()
            while time.perf_counter() - began < seconds:
                producer.send_batch(DATASET, values, keys)
                producer.flush()
                sent += BATCH
            return sent / (time.perf_counter() - began)


# -- trickle -----------------------------------------------------------------------------


def bench_trickle(home: Path, rate: int, seconds: float, delay_ms: int) -> tuple[int, int]:
    served = Served(home, stream=True, extra={"BDP_STREAM__BATCH_MAX_DELAY_MS": str(delay_ms)})
    sent = 0
    try:
        connection = http.client.HTTPConnection("127.0.0.1", served.http_port, timeout=30)
        began = time.perf_counter()
        while time.perf_counter() - began < seconds:
            body = msgspec.json.encode(event(sent))
            connection.request("POST", f"/v1/events/{DATASET}", body)
            response = connection.getresponse()
            response.read()
            sent += 1
            time.sleep(max(0.0, began + sent / rate - time.perf_counter()))
    finally:
        served.stop()
    files = [p for p in (home / "lake" / "raw" / DATASET).rglob("part-*") if p.is_file()]
    return sent, len(files)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--trickle-seconds", type=float, default=60.0)
    parser.add_argument("--trickle-rate", type=int, default=10)
    parser.add_argument("--trickle-delay-ms", type=int, default=60_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        ceiling = bench_bus(root / "bus", args.seconds)
        print(f"bus append (one producer, {BATCH}/flush): {ceiling:,.0f} events/s (ceiling)")
        served = Served(root / "serve", stream=False)
        try:
            rows = []
            for name, run, target in (
                ("http", bench_http, HTTP_TARGET),
                ("forward", bench_forward, FORWARD_TARGET),
            ):
                port = served.http_port if name == "http" else served.forward_port
                rate, latencies = run(port, args.clients, args.seconds)
                p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
                rows.append((name, rate, p50, p99, target))
                print(
                    f"{name:8} {args.clients} clients × {BATCH}/request: {rate:,.0f} events/s "
                    f"acknowledged ({rate / target:.2f}× target {target:,}, "
                    f"{rate / ceiling:.2f}× bus), ack p50 {p50:.1f} ms, p99 {p99:.1f} ms "
                    f"(target ≤ {P99_TARGET_MS:.0f})"
                )
        finally:
            served.stop()
        sent, files = bench_trickle(
            root / "trickle", args.trickle_rate, args.trickle_seconds, args.trickle_delay_ms
        )
        print(
            f"trickle: {sent} events at {args.trickle_rate}/s over {args.trickle_seconds:.0f} s "
            f"with batch_max_delay_ms={args.trickle_delay_ms}: {files} raw files "
            f"(one per request would be {sent})"
        )


if __name__ == "__main__":
    main()
