"""A dataset that is not one of the five, declared in bdp.toml only, sent by clients
others wrote (`curl`, PyPI's `fluent-logger`) through `bdp serve`, into the lake, its
curated table and the warehouse. Run against any bus: the environment chooses it."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import orjson

__all__ = ["ORDERS_SCHEMA", "send_own_dataset_through_serve"]

ORDERS_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "order_id": {"type": "string"},
        "customer_id": {"type": "string"},
        "ts": {"type": "string", "format": "date-time"},
        "amount": {"type": "number"},
        "items": {"type": "array", "items": {"type": "string"}},
        "shipping": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "express": {"type": "boolean"}},
        },
    },
    "required": ["order_id", "customer_id", "ts", "amount"],
}

DAY = "2024-04-16"


def order(n: int, source: str) -> dict[str, object]:
    return {
        "order_id": f"{source}-{n}",
        "customer_id": f"c{n % 5}",
        "ts": f"{DAY}T0{n % 10}:15:00.000Z",
        "amount": 10.5 * n,
        "items": [f"sku-{n}", "gift"],
        "shipping": {"city": "Seoul", "express": n % 2 == 0},
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _bdp(work: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bdp", "--home", str(work / "home"), *args],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )


def _ready(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        connection.request("GET", "/readyz")
        return connection.getresponse().status == 200
    except OSError:
        return False


def send_own_dataset_through_serve(work: Path, env: dict[str, str]) -> None:
    work.mkdir(parents=True, exist_ok=True)
    (work / "orders.schema.json").write_text(json.dumps(ORDERS_SCHEMA))
    http_port, forward_port = _free_port(), _free_port()
    (work / "bdp.toml").write_text(
        "[datasets.orders]\n"
        'schema = "orders.schema.json"\n'
        'event_time = "ts"\n'
        'key = "customer_id"\n'
        'id_field = "order_id"\n'
        "\n[collect.http]\n"
        f"port = {http_port}\n"
        "\n[collect.forward]\n"
        f"port = {forward_port}\n"
    )
    env = {**env, "BDP_STREAM__BATCH_MAX_DELAY_MS": "100"}
    serve = subprocess.Popen(
        [sys.executable, "-m", "bdp", "--home", str(work / "home"), "serve"],
        cwd=work,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while not _ready(http_port):
            if serve.poll() is not None:
                raise AssertionError(f"serve exited: {serve.stderr.read() if serve.stderr else ''}")
            assert time.monotonic() < deadline, "serve never became ready"
            time.sleep(0.05)
        # curl: 20 orders as NDJSON, then the same request again (a retry).
        body = b"".join(orjson.dumps(order(n, "curl")) + b"\n" for n in range(20))
        (work / "orders.ndjson").write_bytes(body)
        for _ in range(2):
            answer = subprocess.run(
                [
                    "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                    "-H", "Content-Type: application/x-ndjson",
                    "-H", "Idempotency-Key: first-batch",
                    "--data-binary", "@orders.ndjson",
                    f"http://127.0.0.1:{http_port}/v1/events/orders",
                ],
                cwd=work, capture_output=True, text=True, check=True,
            )  # fmt: skip
            assert answer.stdout == "200", answer
        # An invalid order is refused with the reason, and nothing of its request lands.
        bad = subprocess.run(
            [
                "curl", "-sS", "-w", "\n%{http_code}",
                "-H", "Content-Type: application/json",
                "--data-binary", '[{"order_id": "x", "customer_id": "c", "ts": "soon"}]',
                f"http://127.0.0.1:{http_port}/v1/events/orders",
            ],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert bad.stdout.rsplit("\n", 1)[1] == "400", bad.stdout
        # PyPI's fluent-logger: tag orders.web-1 names the dataset `orders`.
        sender = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys\n"
                "from fluent import sender\n"
                "from tests.scenarios.own_dataset import order\n"
                "logger = sender.FluentSender('orders', host='127.0.0.1', port=int(sys.argv[1]))\n"
                "for n in range(30):\n"
                "    assert logger.emit('web-1', order(n, 'fluent')), logger.last_error\n"
                "logger.close()\n",
                str(forward_port),
            ],
            cwd=Path(__file__).parents[2],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert sender.returncode == 0, sender.stderr
    finally:
        serve.send_signal(signal.SIGTERM)
        code = serve.wait(timeout=120)
    assert code == 0, serve.stderr.read() if serve.stderr else ""
    _bdp(work, env, "stream", "run", "--until-idle")
    _bdp(work, env, "etl", "run", "orders", "--date", DAY)
    rows = orjson.loads(
        _bdp(
            work,
            env,
            "query",
            "--json",
            "select count(*) as n, count(distinct order_id) as ids, sum(amount) as total "
            "from orders where dt = DATE '2024-04-16'",
        ).stdout
    )
    expected_total = sum(10.5 * n for n in range(20)) + sum(10.5 * n for n in range(30))
    assert rows == [{"n": 50, "ids": 50, "total": expected_total}]
